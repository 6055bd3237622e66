"""A mistake before its corrections: the core every origin shares, plus what only some know."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from errata.generators.solutions import split_steps
from errata.schemas.ids import content_hash, item_seed
from errata.schemas.records import Edit, Problem


@dataclass(frozen=True)
class Draft:
    """A located mistake waiting to be corrected and verified.

    A rule's injection and a model's self-edit carry the `edit`; a teacher or a model that
    wrote its own correction carries `fix_steps` (the corrected solution from the first wrong
    step on) and may carry `restart_steps` (a fresh solution). Without them the corrections
    are built from `reference_steps`.
    """

    problem: Problem
    item_id: str
    method: str
    producer: str
    error_type: str
    first_error_step: int
    wrong_steps: list[str]
    wrong_answer: str
    explanation: str
    reference_steps: list[str]
    seed: int
    attempt_id: str | None = None
    edit: Edit | None = None
    resume_step: int | None = None  # where fix & continue resumes the reference, if known
    fix_steps: list[str] | None = None
    restart_steps: list[str] | None = None
    reflection: str | None = None  # a model's own reflection phrase; else one from the bank
    prompt_version: str | None = None
    origin: str | None = None  # natural or injected; by default, injected exactly when edited
    checker_first_error_step: int | None = None
    checker_agrees: bool | None = None


def natural_draft(
    problem: Problem,
    wrong_steps: Sequence[str],
    first_error_step: int,
    error_type: str,
    explanation: str,
    wrong_answer: str,
    method: str,
    producer: str,
    attempt_id: str | None = None,
    seed: int = 0,
) -> Draft:
    """A mistake that was found in a wrong attempt rather than made: no edit to record, and
    the reference solution's steps to correct it with."""
    reference_steps, _ = split_steps(problem.reference_solution)
    return Draft(
        problem=problem,
        item_id=f"{problem.problem_id}/{method}/{attempt_id or content_hash(list(wrong_steps))}",
        method=method,
        producer=producer,
        error_type=error_type,
        first_error_step=first_error_step,
        wrong_steps=list(wrong_steps),
        wrong_answer=wrong_answer,
        explanation=explanation,
        reference_steps=reference_steps,
        seed=item_seed(seed, attempt_id or content_hash(list(wrong_steps))),
        attempt_id=attempt_id,
    )
