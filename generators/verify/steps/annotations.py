"""GSM8K calculator annotations `<<expr=value>>` and the number printed right after them."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from errata.generators.verify.steps.claims import _check_chain, _shown_holds, _Tally
from errata.generators.verify.steps.parse import (
    _LP,
    _NAME,
    _NUM,
    _OP,
    _RP,
    Number,
    _number_value,
    _Segment,
)
from errata.generators.verify.steps.tokens import (
    _ANNOTATION_RE,
    _OPERATORS,
    _SCALE_WORDS,
    _name_key,
    _tokenize,
)

# The number printed right after `>>`: sign, `$`, digits; what follows decides if it is usable.
_AFTER_RE = re.compile(
    r"\s*\$?\s*(-?)((?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?|\.\d+)([A-Za-z]*)(\s\d)?(.?)"
)


def _check_annotations(step: str, names: dict[str, Number], tally: _Tally) -> int:
    """Check every `<<expr=value>>` of a step; return how many `=` they hold."""
    equals = 0
    for match in _ANNOTATION_RE.finditer(step):
        body = match.group(1)
        if "=" not in body:
            continue
        equals += body.count("=")
        segments = _annotation_segments(body)
        if segments is None:
            continue
        # Strict: in `<<6=7>>` even two bare numbers are a claim, the calculator's.
        values = _check_chain(
            segments, None, body, names, tally, offset=match.start(1), strict=True
        )
        exact, result = values[0], values[-1]
        if result is not None:
            _check_printed_result(step, match, result, tally)
            if exact is not None:
                tally.calculated[exact] = result
    return equals


@lru_cache(maxsize=8192)
def _annotation_segments(body: str) -> tuple[_Segment, ...] | None:
    """The sides of `<<a=b=c>>`, or None if any side is not arithmetic. Segments are never
    mutated after parsing, so re-checks of the same solution share them."""
    segments = []
    offset = 0
    for part in body.split("="):
        segment = _strict_segment(body, offset, offset + len(part))
        if segment is None:
            return None
        segments.append(segment)
        offset += len(part) + 1
    return tuple(segments)


def _strict_segment(body: str, start: int, end: int) -> _Segment | None:
    """body[start:end] as one segment, or None if any of it is not arithmetic."""
    segment = _Segment(start)
    items = segment.items
    depth = 0
    for kind, token, _, _ in _tokenize(body, start, end):
        expects = not items or items[-1][0] in (_OP, _LP)
        if kind == "num" and expects:
            value = _number_value(token)
            if items and items[-1] == (_OP, "u-"):
                items.pop()
                value, token = -value, "-" + token
            items.append((_NUM, value, token, False))
        elif kind in ("op", "times"):
            op = "*" if kind == "times" else _OPERATORS[token]
            if expects:
                if op not in ("-", "+"):
                    return None
                op = "u" + op
            else:
                segment.binops += 1
            items.append((_OP, op))
        elif kind == "pct" and not expects and items[-1][0] == _NUM and not items[-1][3]:
            _, value, token_text, _ = items[-1]
            items[-1] = (_NUM, Fraction(value) / 100, token_text + "%", True)
            segment.percent = True
        elif kind == "lp" and expects:
            items.append((_LP,))
            depth += 1
        elif kind == "rp" and not expects and depth:
            items.append((_RP,))
            depth -= 1
        elif kind == "word" and expects and " " not in token and _name_key(token) is not None:
            items.append((_NAME, _name_key(token), token))  # resolved when evaluated
        elif kind != "cur":
            return None
    if not items or depth:
        return None
    segment.end = end
    return segment


def _check_printed_result(step: str, match: re.Match, value: Number, tally: _Tally) -> None:
    """`<<9*2=18>>18`: the number printed after the annotation must be its value."""
    after = _AFTER_RE.match(step, match.end())
    if after is None:
        return
    sign, digits, suffix, digit_after_space, next_char = after.groups()
    if next_char in ("/", ":") or suffix.lower() in _SCALE_WORDS or digit_after_space:
        return  # `1/2 cup`, `2:30`, `20k`: a different notation, not a plain number
    digits = digits.rstrip(".")
    shown = _number_value(digits)
    holds = _shown_holds(abs(value), shown, digits)
    if not holds and next_char == "%":
        holds = _shown_holds(value, Fraction(shown) / 100, digits)
    if holds:
        return  # a consistency check on the annotation's claim, not a claim of its own
    if tally.count((("printed", match.group(1)), shown), holds):
        tally.fail(f"<<{match.group(1)}>> is printed as {sign}{digits}", match.end())
