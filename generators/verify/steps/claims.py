"""The claim rules: when `A = B` holds, and the per-step tally of claims and failures."""

from __future__ import annotations

import re
from fractions import Fraction

from errata.generators.verify.arithmetic import claim_holds, format_number
from errata.generators.verify.steps.parse import (
    _NUM,
    _OP,
    Number,
    _evaluate,
    _number_value,
    _Segment,
)
from errata.generators.verify.steps.tokens import _ANNOTATION_RE

_DECIMAL_COMMA_RE = re.compile(r"\d{1,3},\d{3}")
_FLOAT_NOISE = Fraction(1, 10**9)
_EXPR_TOLERANCE = Fraction(1, 100)


class _Tally:
    """Claims counted in one step and the first one that fails."""

    __slots__ = ("calculated", "claims", "failure", "failure_at", "seen")

    def __init__(self) -> None:
        self.calculated: dict[Number, Number] = {}  # exact value -> the annotation's result
        self.claims = 0
        self.failure = ""
        self.failure_at = -1
        self.seen: set[tuple] = set()

    def count(self, key: tuple, holds: bool) -> bool:
        """Count a claim; True when its failure detail should be recorded."""
        # The visible `9 * 2 = 18` and its annotation `<<9*2=18>>` are one claim, not two.
        if holds and key in self.seen:
            return False
        self.seen.add(key)
        self.claims += 1
        return not holds

    def fail(self, detail: str, position: int) -> None:
        if self.failure_at < 0 or position < self.failure_at:
            self.failure, self.failure_at = detail, position


def _shown_holds(computed: Number, shown: Number, shown_text: str) -> bool:
    """Does a written number match an exact value, allowing what careful writers do?"""
    if computed == shown:
        return True
    if computed < 0 and shown <= 0:
        # `claim_holds` truncates toward -inf; `-9.38` for -9.3888 truncates toward zero.
        computed, shown = -computed, -shown
    if claim_holds(computed, shown, shown_text):
        return True
    # Calculator float output such as `1.6666666666666665` or `16.830000000000002`.
    places = len(shown_text.rsplit(".", 1)[1]) if "." in shown_text else 0
    return places >= 8 and abs(computed - shown) <= _FLOAT_NOISE * max(1, abs(computed))


def _number_holds(computed: Number, item: tuple) -> bool:
    """Compare with a bare number item; a percent may be meant as `25%` or as `25`."""
    _, shown, text, is_percent = item
    if computed == shown and not is_percent:
        return True
    text = text.lstrip("-").rstrip("%").rstrip(".…")
    if is_percent:
        # Rounding applies to the digits as written, so compare in percent units.
        written = shown * 100
        return _shown_holds(computed * 100, written, text) or _shown_holds(computed, written, text)
    if _shown_holds(computed, shown, text):
        return True
    if _DECIMAL_COMMA_RE.fullmatch(text):
        # `18,800 / 3,200 = 5,875`: a decimal comma, as much of the world writes it.
        decimal_text = text.replace(",", ".")
        if _shown_holds(computed, _number_value(decimal_text), decimal_text):
            return True
    # `1800 - 2000 = 200 less`: the sign moved into the words.
    return computed < 0 < shown and _shown_holds(-computed, shown, text)


def _values_close(left: Number, right: Number) -> bool:
    """Two expressions claimed equal: exact for integers, else allow carried rounding."""
    if left == right:
        return True
    if getattr(left, "denominator", 1) == 1 and getattr(right, "denominator", 1) == 1:
        return False
    return abs(left - right) <= _EXPR_TOLERANCE * max(abs(left), abs(right))


def _shown_text(value: Number, shown: tuple | None) -> str:
    """A value as a failure detail writes it, next to the number the claim showed: `25%`
    for a percent, whether the expression computed 0.25 or already multiplied by 100."""
    if shown is None or not shown[3]:
        return format_number(Fraction(value))
    written = shown[1] * 100
    as_fraction = Fraction(value) * 100
    percent = value if abs(value - written) < abs(as_fraction - written) else as_fraction
    return format_number(Fraction(percent)) + "%"


def _segment_text(source: str, segment: _Segment) -> str:
    return _ANNOTATION_RE.sub("", source[segment.start : segment.end]).strip()


def _check_chain(
    segments: list[_Segment],
    label: str | None,
    source: str,
    names: dict[str, Number],
    tally: _Tally,
    partial: bool = False,
    offset: int = 0,
    strict: bool = False,
) -> list[Number | None]:
    """Check each `A = B` of a chain and bind its label (or leading bare name) to the result.

    `partial` marks a chain whose first side may be the tail of a longer expression the
    scanner could not read (`24 eggs in 1 tray x 2 trays = 48`); its first claim may only
    confirm, never flag.
    """
    values = [_evaluate(segment, names) for segment in segments]
    run_on = [False] * len(segments)
    for i in range(len(segments) - 1):
        left, right = segments[i], segments[i + 1]
        left_value, right_value = values[i], values[i + 1]
        if left_value is None or right_value is None or left.is_bare_name():
            continue
        if left.binops == 0 and right.binops == 0 and not strict:
            continue  # `300 minutes = 5 hours`, `20% = 0.2`: restatements, not arithmetic
        if right.is_bare_number():
            shown_item = right.items[0]
            holds = _number_holds(left_value, shown_item)
            if not holds and run_on[i] and left.mixes_precedence():
                # Run-ons are computed as written: `2 * 3 = 6 + 4 * 2 = 20`.
                ltr_value = _evaluate(left, names, left_to_right=True)
                holds = ltr_value is not None and _number_holds(ltr_value, shown_item)
            if not holds and left_value in tally.calculated:
                # The text copies the calculator's float (`<<4.2+9.45+1.35=14.999999999999998>>`
                # printed as 14.99): a truncation of what the annotation said, not a slip.
                holds = _number_holds(tally.calculated[left_value], shown_item)
            computed, expr, shown = left_value, left, right
        elif left.is_bare_number():
            holds = _number_holds(right_value, left.items[0])
            computed, expr, shown = right_value, right, left
        else:
            holds = _values_close(left_value, right_value)
            computed, expr, shown = left_value, left, right
        if not holds:
            head = right.items[0]
            # `2 * 3 = 6 + 4 = 10`: the claim is 2*3 = 6; `6 + 4` is the next claim.
            if left.binops and right.binops and head[0] == _NUM and right.items[1][0] == _OP:
                holds = _number_holds(left_value, head)
                run_on[i + 1] = holds
            if not holds and i == 0 and label is None and not strict:
                if partial:
                    return values  # the chain's start is not what the writer computed from
                if left.is_bare_number():
                    continue  # `Week 2 = 5 + 3 = 8`: a leading bare number is usually a label
            if (
                not holds
                and left.unit_end
                and not (right.is_bare_number() or left.is_bare_number())
            ):
                continue  # `1/4 container = 60/4`: a conversion between units
        if tally.count((computed, shown.items[0][1] if shown.is_bare_number() else None), holds):
            true_value = _shown_text(computed, shown.items[0] if shown.is_bare_number() else None)
            claim = f"{_segment_text(source, expr)} = {_segment_text(source, shown)}"
            tally.fail(f"{claim} but is {true_value}", offset + right.start)
    if label is None and len(segments) >= 2 and segments[0].is_bare_name():
        label = segments[0].items[0][1]
    if label is not None and values[-1] is not None:
        names[label] = values[-1]
    return values
