"""The data contracts: one pydantic model per table; Arrow schemas are derived from them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

# 2: a mistake has one core for every origin plus an optional `edit` (injections only); stage
# books carry rejects by reason and seconds, per batch in the `batches` table. Later columns
# are added as nullable (LLM usage, prompt versions, the teacher's agreement with the step
# checker), so a version-2 store written before them still reads.
SCHEMA_VERSION = "2"

Domain = Literal["math", "code"]
Verdict = Literal["correct", "incorrect", "unparseable", "timeout", "error"]
Origin = Literal["natural", "injected"]
CorrectionKind = Literal["fix_continue", "fresh_restart"]

MATH_ERROR_TYPES: tuple[str, ...] = (
    "calculation",
    "wrong_operator",
    "swapped_operands",
    "wrong_substitution",
    "misread_question",
    "deleted_term",
    "missing_step",
    "unit_conversion",
    "counting",
    "formula_confusion",
    "concept_confusion",
    "question_misinterpretation",
    "irrelevant_information",
)
CODE_ERROR_TYPES: tuple[str, ...] = (
    "off_by_one",
    "comparison_flip",
    "operator_swap",
    "wrong_variable",
    "dropped_condition",
    "wrong_return",
    "boundary",
)
ERROR_TYPES: tuple[str, ...] = MATH_ERROR_TYPES + CODE_ERROR_TYPES


class Record(BaseModel):
    """Base for table rows: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(Record):
    problem_id: str
    source: str
    source_id: str
    split: str
    domain: Domain
    question: str
    reference_solution: str
    reference_answer: str
    tests: str | None = None
    entry_point: str | None = None
    license: str
    metadata: str = "{}"  # JSON object, kept as text so every shard shares one schema
    schema_version: str = SCHEMA_VERSION


class Attempt(Record):
    attempt_id: str
    problem_id: str
    producer: str
    sampling: str = "{}"  # JSON object of sampling parameters
    steps: list[str]
    text: str
    final_answer: str | None
    verdict: Verdict
    verify_detail: str = ""
    first_error_step: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    run_id: str
    schema_version: str = SCHEMA_VERSION
    prompt_version: str | None = None  # the prompt that produced it (LLM sampling)
    source_label: str | None = None  # the verdict a replayed file carried, kept beside ours


class Correction(Record):
    kind: CorrectionKind
    reflection: str
    continuation: str  # what follows the reflection phrase
    trajectory: str  # wrong prefix + reflection + continuation
    final_answer: str | None
    verdict: Verdict


class Edit(Record):
    """What only an injection knows: the step it edited, where, and the seed it drew."""

    original_step: str  # the correct step the edit was applied to
    original_start: int  # span replaced in original_step ...
    original_end: int
    wrong_start: int  # ... and the span that replaced it in wrong_steps[first_error_step]
    wrong_end: int
    seed: int


class Mistake(Record):
    """One wrong solution with its first wrong step located, explained and corrected.

    The core is the same for every origin: a rule's injection, a teacher's located natural
    mistake, a model's self-edit. `edit` is filled only where the mistake was made by editing
    a known correct step.
    """

    mistake_id: str
    problem_id: str
    attempt_id: str | None = None  # the sampled attempt a natural mistake was found in
    source: str
    domain: Domain
    origin: Origin
    method: str  # rule:<kind>, llm:<model>, replay:<file>
    producer: str
    error_type: str
    first_error_step: int  # 0-based index of the first wrong step in wrong_steps
    question: str
    reference_steps: list[str]  # the verified correct solution the corrections draw on
    wrong_steps: list[str]
    reference_answer: str
    wrong_answer: str
    explanation: str
    corrections: list[Correction]
    edit: Edit | None = None
    run_id: str
    schema_version: str = SCHEMA_VERSION
    prompt_version: str | None = None  # the prompt that produced it, for LLM-made mistakes
    # Where a teacher located the first wrong step: the first step the step checker proves
    # wrong (None if it proves none), and False when that step comes before the teacher's.
    checker_first_error_step: int | None = None
    checker_agrees: bool | None = None


class Reject(Record):
    reject_id: str
    stage: str
    reason: str
    message: str
    item_id: str
    payload: str  # JSON of the input record, or the raw line for bad input
    run_id: str
    schema_version: str = SCHEMA_VERSION


class ReasonCount(Record):
    reason: str
    n: int


class StageCount(Record):
    """One stage's books: items in, kept, rejected (by reason) and seconds spent."""

    stage: str
    n_in: int
    n_out: int
    n_rejected: int
    rejected_by_reason: list[ReasonCount] = []
    seconds: float = 0.0


class LLMUsage(Record):
    """What a batch or a run spent on LLM requests."""

    requests: int = 0  # answered, by the server or the cache
    cached: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class BatchBooks(Record):
    """The stage books of one batch, written with its shards so a resumed run still has them."""

    batch: str
    run_id: str
    domain: Domain
    n_problems: int
    counts: list[StageCount]
    schema_version: str = SCHEMA_VERSION
    llm_usage: LLMUsage | None = None


class Run(Record):
    run_id: str
    invocation_id: str
    flow: str
    parameters: str  # JSON, never secrets
    started_at: str
    finished_at: str
    wall_seconds: float
    batches_total: int
    batches_skipped: int
    counts: list[StageCount]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errata_version: str
    schema_version: str = SCHEMA_VERSION
    llm_usage: LLMUsage | None = None


TABLES: dict[str, type[Record]] = {
    "problems": Problem,
    "attempts": Attempt,
    "mistakes": Mistake,
    "rejects": Reject,
    "batches": BatchBooks,
    "runs": Run,
}
