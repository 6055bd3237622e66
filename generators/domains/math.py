"""The math domain: annotated worked solutions, rule-based slips, verification by execution."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.domains.base import BatchResult, Domain, StageConfig
from errata.generators.mistakes.inject import RULE_ERROR_TYPES
from errata.generators.pipeline import STAGES, MathConfig, run_math_batch
from errata.schemas.records import Problem

ANSWER_MARK = "####"


def render_answer(answer: str) -> str:
    """The final line of a worked solution, GSM8K style."""
    return f"{ANSWER_MARK} {answer}"


def run_batch(problems: Sequence[Problem], config: StageConfig, run_id: str) -> BatchResult:
    types = tuple(t for t in config.error_types or RULE_ERROR_TYPES if t in RULE_ERROR_TYPES)
    result = run_math_batch(problems, MathConfig(seed=config.seed, error_types=types), run_id)
    return BatchResult(result.mistakes, result.rejects, result.counts)


DOMAIN = Domain(
    name="math",
    error_types=RULE_ERROR_TYPES,
    stages=STAGES,
    run_batch=run_batch,
    render_answer=render_answer,
)
