"""LeMa: name the incorrect step, explain it, and correct the solution from there."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    assistant,
    correction,
    domain_of,
    mistake_lineage,
    rendered,
    user,
)
from errata.schemas.exports import LemaCompletion, LemaMessages
from errata.schemas.records import Mistake


def numbered(steps: Sequence[str], first: int = 1) -> list[str]:
    return [f"Step {first + i}: {step}" for i, step in enumerate(steps)]


def prompt_text(mistake: Mistake, settings: RecipeSettings) -> str:
    domain = domain_of(mistake)
    numbered_solution = domain.render_solution(numbered(mistake.wrong_steps), mistake.wrong_answer)
    solution = rendered(mistake, numbered_solution, settings)
    instruction = domain.prompts["find_mistake"]
    return f"{instruction}\n\nQuestion: {mistake.question}\n\nSolution:\n{solution}\n"


def completion_text(mistake: Mistake, continuation: str) -> str:
    """Incorrect step, explanation, then the corrected steps with earlier ones elided."""
    lines = continuation.split("\n")
    steps, answer = lines[:-1], lines[-1]
    step = mistake.first_error_step + 1
    corrected = "\n".join([*(["..."] if step > 1 else []), *numbered(steps, first=step), answer])
    return (
        f"Incorrect step: Step {step}\n"
        f"Explanation: {mistake.explanation}\n"
        f"Correct solution:\n{corrected}"
    )


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        fixed = correction(mistake, "fix_continue")
        if fixed is None:
            for config in ("lema_completion", "lema_messages"):
                out.exclude(config, "no_verified_correction", "no verified fix_continue", mistake)
            continue
        prompt = prompt_text(mistake, settings)
        completion = completion_text(mistake, rendered(mistake, fixed.continuation, settings))
        common = {**mistake_lineage(mistake), "first_error_step": mistake.first_error_step}
        out.add("lema_completion", LemaCompletion(prompt=prompt, completion=completion, **common))
        out.add(
            "lema_messages",
            LemaMessages(messages=[user(prompt), assistant(completion)], **common),
        )
    return out
