"""LEMMA-style mistakes made on purpose: a model writes a plausible wrong solution with an
error of a given type, carries on to a wrong answer, then names and corrects its slip.

A reply is kept only when its answer verifiably differs from the reference, the step it
names exists, the step checker proves no earlier step wrong, and a correction is given.
Fresh & restart is left to the reference solution; fix & continue uses the model's steps.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from errata.generators.llm.requests import ChatRequest, StructuredResult, response_format_for
from errata.generators.mistakes.draft import Draft, natural_draft
from errata.generators.mistakes.reflections import pick_reflection
from errata.generators.mistakes.teacher import (
    Rejection,
    accepted_reply,
    clean_steps,
    reply_prompt_version,
)
from errata.generators.prompt_files import Prompt
from errata.generators.sampling.attempts import is_answer_line
from errata.generators.verify.answers import verify_answer
from errata.generators.verify.steps.api import check_steps, first_error_step
from errata.schemas.ids import item_seed
from errata.schemas.records import Problem

# What each error type asks the model to do, in the words the prompt shows it.
ERROR_DESCRIPTIONS: dict[str, str] = {
    "calculation": "an arithmetic slip: one computation gives a wrong result",
    "wrong_operator": "one operation uses the wrong operator, such as adding instead of "
    "multiplying",
    "swapped_operands": "two operands of a subtraction or division are taken in the wrong order",
    "wrong_substitution": "a quantity from the question or an earlier step is used in place of "
    "the right one",
    "misread_question": "a number or condition of the question is read wrongly",
    "deleted_term": "one term is left out of a calculation",
    "missing_step": "a needed step is skipped, so a later step works with an incomplete value",
    "unit_conversion": "a conversion between units is done wrongly or forgotten",
    "counting": "items, days or intervals are counted wrongly, such as one too many or too few",
    "formula_confusion": "the wrong formula is applied, such as perimeter for area",
    "concept_confusion": "a concept is misunderstood, such as percent of versus percent more",
    "question_misinterpretation": "the solution answers a different question than the one asked",
    "irrelevant_information": "a detail that does not matter is used in the computation",
}

_ITEM_MARK = "/wrong/"


class WrongSolutionReply(BaseModel):
    """A made-up wrong solution with its first wrong step located and corrected."""

    model_config = ConfigDict(extra="forbid")

    steps: list[str]  # the wrong solution, no final-answer line
    first_error_step: int  # 1-based
    explanation: str
    wrong_final_answer: str
    corrected_steps: list[str]  # from the wrong step on, that step fixed
    reflection: str


def pick_error_types(
    problem: Problem, error_types: Sequence[str], seed: int, per_problem: int = 1
) -> list[str]:
    """The types this problem gets, drawn without repeats by its seed (the same on a rerun)."""
    pool = sorted(set(error_types))
    rng = random.Random(item_seed(seed, f"{problem.problem_id}/wrong_solution"))
    return rng.sample(pool, min(per_problem, len(pool)))


def wrong_solution_requests(
    problem: Problem,
    error_types: Sequence[str],
    model: str,
    params: dict[str, Any],
    prompt: Prompt,
    seed: int,
    per_problem: int = 1,
) -> list[ChatRequest]:
    """One request per error type picked for the problem; see `requested_error_type`."""
    requests = []
    for error_type in pick_error_types(problem, error_types, seed, per_problem):
        if error_type not in ERROR_DESCRIPTIONS:
            raise ValueError(f"not a math error type: {error_type!r}")
        item_id = f"{problem.problem_id}{_ITEM_MARK}{error_type}"
        messages = prompt.messages(
            question=problem.question,
            reference_solution=problem.reference_solution,
            reference_answer=problem.reference_answer,
            error_type=error_type,
            error_description=ERROR_DESCRIPTIONS[error_type],
        )
        requests.append(
            ChatRequest.build(
                model=model,
                messages=messages,
                params={**params, "seed": item_seed(seed, item_id)},
                response_format=response_format_for("wrong_solution", WrongSolutionReply),
                prompt_version=prompt.version,
                item_id=item_id,
            )
        )
    return requests


def requested_error_type(request: ChatRequest) -> str:
    """The error type a request from `wrong_solution_requests` asked for."""
    return request.item_id.rsplit(_ITEM_MARK, 1)[1]


def wrong_solution_draft(
    problem: Problem, error_type: str, reply: StructuredResult, model: str
) -> Draft | Rejection:
    """A Draft of the model's wrong solution, or why the reply is not kept."""
    payload: dict[str, Any] = {"problem_id": problem.problem_id, "error_type": error_type}
    value = accepted_reply(reply, WrongSolutionReply, payload)
    if isinstance(value, Rejection):
        return value
    payload["reply"] = value.model_dump()
    if error_type not in ERROR_DESCRIPTIONS:
        return Rejection("unknown_error_type", f"{error_type!r} is no math error type", payload)

    # Steps are cleaned one by one, never dropped from the middle, so the numbering holds.
    steps = [" ".join(step.split()) for step in value.steps]
    while steps and is_answer_line(steps[-1]):
        steps.pop()
    if not steps or not all(steps):
        return Rejection("empty_step", "the solution is empty or has a blank step", payload)
    if not 1 <= value.first_error_step <= len(steps):
        message = f"step {value.first_error_step} of {len(steps)} steps"
        return Rejection("no_such_step", message, payload)
    first_wrong = value.first_error_step - 1
    corrected = clean_steps(value.corrected_steps)
    if not corrected:
        return Rejection("empty_correction", "no corrected steps", payload)
    if not value.explanation.strip():
        return Rejection("empty_explanation", "no explanation", payload)
    check = verify_answer(value.wrong_final_answer, problem.reference_answer)
    if check.verdict == "correct":
        message = f"{value.wrong_final_answer[:80]!r} equals the reference answer"
        return Rejection("answer_not_wrong", message, payload)
    if check.verdict != "incorrect":
        message = f"{value.wrong_final_answer[:80]!r}: {check.verdict}"
        return Rejection("wrong_answer_unverifiable", message, payload)
    checker_first = first_error_step(check_steps(steps, problem.question))
    if checker_first is not None and checker_first < first_wrong:
        message = f"step {checker_first + 1} is already wrong: the error is not where named"
        return Rejection("error_before_named_step", message, payload)

    draft = natural_draft(
        problem,
        steps,
        first_wrong,
        error_type,
        value.explanation.strip(),
        value.wrong_final_answer.strip(),
        method=f"llm-wrong:{model}",
        producer=f"lemma:{model}",
    )
    return dataclasses.replace(
        draft,
        fix_steps=corrected,
        reflection=value.reflection.strip() or pick_reflection(draft.seed),
        prompt_version=reply_prompt_version(reply),
        checker_first_error_step=checker_first,
        checker_agrees=True,  # an earlier proven error was rejected above
    )
