"""Corrections without an LLM, and explanations that are true by construction."""

from __future__ import annotations

from errata.generators.mistakes.inject import Injection
from errata.generators.verify.arithmetic import format_number


def wrong_prefix(injection: Injection) -> list[str]:
    """The wrong attempt cut right after its first wrong step (as LEMMA does)."""
    return injection.wrong_steps[: injection.error_step + 1]


def fix_continue(
    injection: Injection, original_steps: list[str], answer: str, reflection: str
) -> tuple[str, str]:
    """Fix the wrong step and carry on: returns (continuation, full trajectory)."""
    return _join(injection, reflection, original_steps[injection.original_index :], answer)


def fresh_restart(
    injection: Injection, original_steps: list[str], answer: str, reflection: str
) -> tuple[str, str]:
    """Reflect, then solve again from the start with the reference solution."""
    return _join(injection, reflection, original_steps, answer)


def _join(injection: Injection, reflection: str, steps: list[str], answer: str) -> tuple[str, str]:
    continuation = "\n".join([*steps, f"#### {answer}"])
    trajectory = "\n".join([*wrong_prefix(injection), reflection, continuation])
    return continuation, trajectory


def explain(injection: Injection, reference_answer: str) -> str:
    """Which step is wrong, what it used, and what it should have been."""
    step = injection.error_step + 1
    facts = injection.facts
    right = f"{injection.original_expression} = {format_number(injection.original_value, 2)}"
    wrong = f"{injection.wrong_expression} = {format_number(injection.wrong_value, 2)}"
    kind = injection.error_type
    if kind == "calculation":
        head = (
            f"Step {step} miscalculates: {injection.original_expression} is "
            f"{format_number(injection.original_value, 2)}, not "
            f"{format_number(injection.wrong_value, 2)}."
        )
    elif kind == "wrong_operator":
        head = (
            f"Step {step} uses '{facts['new_op']}' where it needs '{facts['old_op']}': "
            f"it should compute {right}, not {wrong}."
        )
    elif kind == "swapped_operands":
        head = (
            f"Step {step} has the operands of '{facts['op']}' in the wrong order: "
            f"it should compute {right}, not {wrong}."
        )
    elif kind == "wrong_substitution":
        head = (
            f"Step {step} uses {facts['new']} where it should use {facts['old']} "
            f"(from {facts['origin']}): it should compute {right}, not {wrong}."
        )
    elif kind == "misread_question":
        head = (
            f"Step {step} copies {facts['old']} from the question as {facts['new']}: "
            f"it should compute {right}, not {wrong}."
        )
    elif kind == "deleted_term":
        head = (
            f"Step {step} leaves out the term {facts['term']}: "
            f"it should compute {right}, not {wrong}."
        )
    elif kind == "missing_step":
        head = (
            f"The solution skips a step: it never computes {facts['skipped_expression']} = "
            f"{facts['skipped_value']}, so step {step} uses {facts['carried']} where it should "
            f"use {facts['skipped_value']}: it should compute {right}, not {wrong}."
        )
    elif kind == "unit_conversion":
        head = (
            f"Step {step} converts units with a factor of {facts['new']} instead of "
            f"{facts['old']}: it should compute {right}, not {wrong}."
        )
    else:
        head = f"Step {step} is wrong: it should compute {right}, not {wrong}."
    return (
        f"{head} Every later step builds on that value, so the final answer comes out as "
        f"{injection.wrong_answer} instead of {reference_answer}."
    )
