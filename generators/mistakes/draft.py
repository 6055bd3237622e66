"""A mistake before its corrections: the core every origin shares, plus what only some know."""

from __future__ import annotations

from dataclasses import dataclass

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
