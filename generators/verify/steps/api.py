"""The public API: per-step verdicts for a worked solution, and for a JSON record."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from errata.generators.verify.steps.annotations import _annotation_segments, _check_annotations
from errata.generators.verify.steps.claims import _Tally
from errata.generators.verify.steps.latex import check_latex, has_latex
from errata.generators.verify.steps.latex_value import latex_side
from errata.generators.verify.steps.parse import Number
from errata.generators.verify.steps.scan import _Scanner

Verdict = Literal["ok", "wrong", "unchecked"]


@dataclass(frozen=True)
class StepVerdict:
    """The arithmetic verdict on one step."""

    index: int
    verdict: Verdict  # ok: >=1 claim, all hold; unchecked: no checkable claim
    claims: int
    detail: str


Bindings = tuple[tuple[str, Number], ...]


@lru_cache(maxsize=32768)
def _check_line(step: str, bindings: Bindings) -> tuple[Verdict, int, str, Bindings]:
    """One step's verdict, claim count, detail and the names bound after it.

    Cached: the pipeline re-checks solutions that differ from an earlier one in one step.
    """
    if "=" not in step:
        return "unchecked", 0, "", bindings
    names = dict(bindings)
    tally = _Tally()
    visible = check_latex(step, tally) if has_latex(step) else step
    hidden_equals = _check_annotations(step, names, tally) if "<<" in step else 0
    if visible.count("=") > hidden_equals:
        _Scanner(visible, names, tally).run()
    after = tuple(names.items()) if names else bindings
    if tally.claims == 0:
        return "unchecked", 0, "", after
    if tally.failure_at >= 0:
        return "wrong", tally.claims, tally.failure, after
    return "ok", tally.claims, "", after


@lru_cache(maxsize=1)
def _overlong_number_re(limit: int) -> re.Pattern[str]:
    return re.compile(rf"\d{{{limit + 1}}}")


def _too_long_to_check(text: str) -> bool:
    """Whether `text` holds a number of more digits than Python converts to int (4,300 by
    default); reading it would raise, so such a step is left unchecked, not failed."""
    limit = sys.get_int_max_str_digits()
    return limit > 0 and _overlong_number_re(limit).search(text) is not None


def clear_caches() -> None:
    """Forget memoized results (for cold-start timing)."""
    _check_line.cache_clear()
    _annotation_segments.cache_clear()
    latex_side.cache_clear()


def check_steps(steps: list[str], question: str | None = None) -> list[StepVerdict]:
    """Check every arithmetic claim of each step; names bound earlier carry forward."""
    bindings: Bindings = ()
    if question and "=" in question and not _too_long_to_check(question):
        # Definitions such as `x = 12` in the question itself seed the names.
        names: dict[str, Number] = {}
        # LaTeX is hidden first: read as text, `x = 2^{3}` would bind x to 2.
        visible = check_latex(question, _Tally()) if has_latex(question) else question
        _Scanner(visible, names, _Tally()).run()
        bindings = tuple(names.items())
    verdicts = []
    for index, step in enumerate(steps):
        if _too_long_to_check(step):
            verdicts.append(StepVerdict(index, "unchecked", 0, "a number too long to read"))
            continue
        verdict, claims, detail, bindings = _check_line(step, bindings)
        verdicts.append(StepVerdict(index, verdict, claims, detail))
    return verdicts


def first_error_step(verdicts: list[StepVerdict]) -> int | None:
    """Index of the first step whose arithmetic does not hold, or None."""
    for verdict in verdicts:
        if verdict.verdict == "wrong":
            return verdict.index
    return None


def annotate_record(record: dict) -> dict:
    """The record plus `first_error_step` and `step_verdicts` (for `errata verify-steps`)."""
    steps = record.get("steps") if isinstance(record, dict) else None
    if not isinstance(steps, list) or not all(isinstance(step, str) for step in steps):
        raise ValueError("expected field 'steps' as a list of strings")
    question = record.get("question")
    verdicts = check_steps(steps, question if isinstance(question, str) else None)
    return {
        **record,
        "first_error_step": first_error_step(verdicts),
        "step_verdicts": [
            {"index": v.index, "verdict": v.verdict, "claims": v.claims, "detail": v.detail}
            for v in verdicts
        ],
    }
