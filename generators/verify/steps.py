"""Find the first step of a worked solution whose arithmetic does not hold.

A step is one line of text. Every arithmetic claim in it is checked exactly:

* GSM8K calculator annotations `<<expr=value>>`, and the number printed right after `>>`;
* `=` chains in the visible text: `16 - 3 - 4 = 9`, `$5 x 4 = $20`, `20% of 50 = 10`,
  `5 hours * 60 minutes = 300 minutes`, and run-ons such as `2 * 3 = 6 + 4 = 10`
  (read as 2*3=6, then 6+4=10);
* names bound by earlier claims (`cost = 5 * 4 = 20`, `x = 12`) used by later ones.

Anything that cannot be read as plain arithmetic is skipped, never flagged: a false alarm on a
correct solution costs more than a missed slip. This runs on the pipeline's hot path, so it
tokenizes with one precompiled regex and evaluates its own token lists with int/Fraction
arithmetic instead of going through `ast`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

from errata.generators.verify.arithmetic import (
    MAX_EXPONENT,
    MAX_MAGNITUDE,
    claim_holds,
    format_number,
)

Number = int | Fraction
Verdict = Literal["ok", "wrong", "unchecked"]


@dataclass(frozen=True)
class StepVerdict:
    """The arithmetic verdict on one step."""

    index: int
    verdict: Verdict  # ok: >=1 claim, all hold; unchecked: no checkable claim
    claims: int
    detail: str


_VULGAR = {
    "½": Fraction(1, 2),
    "¼": Fraction(1, 4),
    "¾": Fraction(3, 4),
    "⅓": Fraction(1, 3),
    "⅔": Fraction(2, 3),
    "⅛": Fraction(1, 8),
    "⅜": Fraction(3, 8),
    "⅝": Fraction(5, 8),
    "⅞": Fraction(7, 8),
}
_OPERATORS = {
    "+": "+",
    "-": "-",
    "−": "-",
    "–": "-",
    "*": "*",
    "∗": "*",
    "·": "*",
    "/": "/",
    "÷": "/",
    "^": "^",
    "**": "^",
}


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORD = r"[A-Za-z_][A-Za-z0-9_]*(?:'[a-z]+)?"
# Words with a meaning in arithmetic stay tokens of their own; other words merge into runs,
# which keeps prose cheap to pass over.
_SOLO_WORD = r"(?:of|times|plus|minus|percent|percentage)\b"
# One token per match; leading whitespace is absorbed so positions can be summed up and a
# token's kind read from its first character. No groups: `findall` is several times faster.
_TOKEN_RE = re.compile(
    r"\s*(?:"
    r"<<[^<>]*>>|"  # a calculator annotation: checked on its own, invisible to the scanner
    r"(?<![A-Za-z_])[xX](?=\s*[\d($.½¼¾])"  # `5 x 4`, `2x4`: times
    rf"|{_SOLO_WORD}|{_WORD}(?:\s+(?!{_SOLO_WORD}|[xX]\s*[\d($.½¼¾]){_WORD})*"  # prose runs
    r"|(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)(?:\.\.\.|…)?"
    r"|\d*[½¼¾⅓⅔⅛⅜⅝⅞]"
    r"|\*\*|\S)"
)
_CHAR_KINDS = {"(": "lp", ")": "rp", "=": "eq", "%": "pct", "$": "cur", "×": "times"}
_CHAR_KINDS.update(dict.fromkeys("+-*/÷^−–·∗", "op"))
_TIMES_FOLLOWERS = frozenset("0123456789($.½¼¾")
_SPACES = frozenset(" \t\n\r\f\v\u00a0")
# A token's kind from its first character; the kinds in _CHECK_KINDS need a closer look.
_FIRST_CHAR_KINDS = {
    **dict.fromkeys("0123456789½¼¾⅓⅔⅛⅜⅝⅞", "num"),
    **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWYZabcdefghijklmnopqrstuvwyz_", "word"),
    **dict.fromkeys("+-*/÷^−–·∗", "op"),
    **_CHAR_KINDS,
    "x": "x",
    "X": "x",
    ".": "dot",
    "<": "lt",
}
_CHECK_KINDS = frozenset({"x", "dot", "lt", "other"})
_ANNOTATION_RE = re.compile(r"<<([^<>]*)>>")
# The number printed right after `>>`: sign, `$`, digits; what follows decides if it is usable.
_AFTER_RE = re.compile(
    r"\s*\$?\s*(-?)((?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?|\.\d+)([A-Za-z]*)(\s\d)?(.?)"
)

# Words that change a number's scale or meaning (`5 million`, `50k`, `3rd`): never guess.
_SCALE_WORDS = _word_set(
    "k m b bn mil x th st nd rd thousand thousands million millions billion billions trillion"
    " hundred hundreds dozen dozens score grand half quarter pm am"
)
# Words that never name a value, even when written as `is = 5`.
_NOT_NAMES = _word_set(
    "is are was were be been the an and or so of to in on at for by then that this it he she"
    " they we you his her their its which equals equal means gives makes per each every"
)
# Words that end a unit phrase: `3 countries is -48 + 21` is prose, not `3 countries - 48`.
_PROSE_WORDS = _word_set(
    "is are was were be so then and or which that because since but if than equals equal gives"
    " makes means leaves left thus therefore hence"
)
# Words that tie one quantity to the next: `24 eggs in 1 tray x 2 trays` is one expression
# the scanner cannot read whole, so a claim starting at `1 tray` may not flag.
_LINK_WORDS = _word_set("of in per each for at with from by on")
_BINARY = frozenset("+-*/^")
# Punctuation where the scanner certainly resets (a subset of its breaks: not a decimal
# point, a thousands comma, a clock's colon or the `...` of `33.333...`).
_CLAUSE_BREAK = r"(?:[;!?]|[,:](?=\s)|(?<!\.\.)\.(?=\s))"
_LAST_BREAK_RE = re.compile(rf".*{_CLAUSE_BREAK}", re.DOTALL)
_NEXT_BREAK_RE = re.compile(_CLAUSE_BREAK)
_DECIMAL_COMMA_RE = re.compile(r"\d{1,3},\d{3}")
_WORD_OPERATORS = {"times": "*", "plus": "+", "minus": "-"}
_MAX_UNIT_WORDS = 4
_MAX_ITEMS = 200
_FLOAT_NOISE = Fraction(1, 10**9)
_EXPR_TOLERANCE = Fraction(1, 100)

# Token kinds inside a segment.
_NUM, _OP, _LP, _RP, _NAME = range(5)


class _Unreadable(Exception):
    """A segment that is not plain arithmetic (unknown name, bad shape, huge value)."""


class _Segment:
    """One side of an `=`: a flat token list plus what the claim rules need to know."""

    __slots__ = ("ambiguous", "binops", "end", "ends", "items", "percent", "start", "unit_end")

    def __init__(self, start: int) -> None:
        self.items: list[tuple] = []
        self.ends: list[int] = []  # where each item ends in the text, to trim a dangling tail
        self.binops = 0
        self.start = start
        self.end = start
        self.ambiguous = False  # readable two ways (`100 / 2 pages/1.5 minutes`): skip it
        self.unit_end = False  # unit words right before its `=` (`1/4 container = 60/4`)
        self.percent = False  # holds a percent number

    def is_bare_number(self) -> bool:
        return len(self.items) == 1 and self.items[0][0] == _NUM

    def is_bare_name(self) -> bool:
        return len(self.items) == 1 and self.items[0][0] == _NAME

    def adds_percent(self) -> bool:
        """`120 - 30%` means 120 * 0.7 to some writers and 119.7 to others: unreadable."""
        items = self.items
        for k, item in enumerate(items):
            if item[0] != _NUM or not item[3]:
                continue
            for op_at, other_at in ((k - 1, k - 2), (k + 1, k + 2)):
                if 0 <= other_at < len(items) and items[op_at][0] == _OP:
                    other = items[other_at]
                    if items[op_at][1] in "+-" and other[0] == _NUM and not other[3]:
                        return True
        return False

    def mixes_precedence(self) -> bool:
        ops = {item[1] for item in self.items if item[0] == _OP}
        return bool(ops & {"+", "-"}) and bool(ops & {"*", "/"})


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


# ---------------------------------------------------------------- numbers and evaluation


def _number_value(text: str) -> Number:
    if text[-1] in ".…":
        text = text.rstrip(".…")  # `33.333...`: a repeating decimal, compared by truncation
    last = text[-1]
    if last in _VULGAR:
        return (int(text[:-1]) if len(text) > 1 else 0) + _VULGAR[last]
    if "," in text:
        text = text.replace(",", "")
    if "." in text:
        whole, frac = text.split(".")
        scale = 10 ** len(frac)
        return Fraction(int(whole or "0") * scale + int(frac or "0"), scale)
    return int(text)


def _checked(value: Number) -> Number:
    if abs(value) > MAX_MAGNITUDE:
        raise _Unreadable("too large")
    return value


def _apply(op: str, left: Number, right: Number) -> Number:
    if op == "+":
        return _checked(left + right)
    if op == "-":
        return _checked(left - right)
    if op == "*":
        return _checked(left * right)
    if op == "/":
        if right == 0:
            raise _Unreadable("division by zero")
        if type(left) is int and type(right) is int:
            quotient, remainder = divmod(left, right)
            return quotient if remainder == 0 else Fraction(left, right)
        return _checked(Fraction(left) / right)
    # "^": integer exponents only, as in `arithmetic.evaluate`.
    if getattr(right, "denominator", 1) != 1 or abs(right) > MAX_EXPONENT:
        raise _Unreadable("unsupported exponent")
    exponent = int(right)
    if exponent < 0:
        if left == 0:
            raise _Unreadable("division by zero")
        return _checked(Fraction(1) / Fraction(left) ** -exponent)
    return _checked(left**exponent)


class _Parser:
    """Recursive descent over a segment's items; `left_to_right` ignores precedence."""

    __slots__ = ("items", "left_to_right", "names", "pos")

    def __init__(self, items: list[tuple], names: dict[str, Number], left_to_right: bool):
        self.items = items
        self.names = names
        self.left_to_right = left_to_right
        self.pos = 0

    def _peek_op(self) -> str | None:
        if self.pos < len(self.items) and self.items[self.pos][0] == _OP:
            return self.items[self.pos][1]
        return None

    def parse(self) -> Number:
        value = self.sum()
        if self.pos != len(self.items):
            raise _Unreadable("trailing tokens")
        return value

    def sum(self) -> Number:
        if self.left_to_right:
            value = self.unary()
            while (op := self._peek_op()) in _BINARY:
                self.pos += 1
                value = _apply(op, value, self.unary())
            return value
        value = self.product()
        while (op := self._peek_op()) in ("+", "-"):
            self.pos += 1
            value = _apply(op, value, self.product())
        return value

    def product(self) -> Number:
        value = self.unary()
        while (op := self._peek_op()) in ("*", "/"):
            self.pos += 1
            value = _apply(op, value, self.unary())
        return value

    def unary(self) -> Number:
        op = self._peek_op()
        if op in ("u-", "u+"):
            self.pos += 1
            value = self.unary()
            return -value if op == "u-" else value
        value = self.atom()
        if self._peek_op() == "^":
            self.pos += 1
            value = _apply("^", value, self.unary())
        return value

    def atom(self) -> Number:
        if self.pos >= len(self.items):
            raise _Unreadable("missing operand")
        item = self.items[self.pos]
        self.pos += 1
        kind = item[0]
        if kind == _NUM:
            return item[1]
        if kind == _NAME:
            if item[1] not in self.names:
                raise _Unreadable("unknown name")
            return self.names[item[1]]
        if kind == _LP:
            value = self.sum()
            if self.pos >= len(self.items) or self.items[self.pos][0] != _RP:
                raise _Unreadable("unbalanced parenthesis")
            self.pos += 1
            return value
        raise _Unreadable("operand expected")


def _evaluate(
    segment: _Segment, names: dict[str, Number], left_to_right: bool = False
) -> Number | None:
    """The segment's exact value, or None when it is not plain arithmetic."""
    items = segment.items
    if len(items) == 1 and items[0][0] == _NUM:
        return items[0][1]
    if segment.ambiguous or (segment.percent and segment.adds_percent()):
        return None
    if len(items) > _MAX_ITEMS:
        return None  # keeps the recursive parser far from Python's recursion limit
    if len(items) == 3 and items[0][0] == _NUM and items[2][0] == _NUM and items[1][0] == _OP:
        try:
            return _apply(items[1][1], items[0][1], items[2][1])  # `a op b`, the usual case
        except (_Unreadable, ZeroDivisionError, OverflowError):
            return None
    try:
        return _Parser(items, names, left_to_right).parse()
    except (_Unreadable, ZeroDivisionError, OverflowError):
        return None


# ---------------------------------------------------------------- comparing values


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


def _segment_text(source: str, segment: _Segment) -> str:
    return _ANNOTATION_RE.sub("", source[segment.start : segment.end]).strip()


# ---------------------------------------------------------------- chains


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
            is_percent = shown.is_bare_number() and shown.items[0][3]
            true_value = (
                format_number(Fraction(computed) * 100) + "%"
                if is_percent
                else format_number(Fraction(computed))
            )
            claim = f"{_segment_text(source, expr)} = {_segment_text(source, shown)}"
            tally.fail(f"{claim} but is {true_value}", offset + right.start)
    if label is None and len(segments) >= 2 and segments[0].is_bare_name():
        label = segments[0].items[0][1]
    if label is not None and values[-1] is not None:
        names[label] = values[-1]
    return values


def _name_key(word: str) -> str | None:
    """The key a word is bound under, or None for words that never name a value."""
    if len(word) == 1:
        return None if word in "aI" else word
    lowered = word.lower()
    return None if lowered in _NOT_NAMES else lowered


def _tokenize(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, str, int, int]]:
    """(kind, text, start, end) for every token of text[start:end]; whitespace is dropped."""
    raw_tokens = _TOKEN_RE.findall(text, start, len(text) if end is None else end)
    tokens = []
    append = tokens.append
    position = start
    for k, raw in enumerate(raw_tokens):
        token_start = position
        position += len(raw)
        token = raw
        if raw[0] in _SPACES:
            token = raw.lstrip()
            token_start = position - len(token)
        kind = _FIRST_CHAR_KINDS.get(token[0], "other")
        if kind in _CHECK_KINDS:
            kind = _settle_kind(kind, token, raw_tokens, k)
            if kind is None:
                continue
        append((kind, token, token_start, position))
    return tokens


def _settle_kind(kind: str, token: str, raw_tokens: list[str], k: int) -> str | None:
    """Kinds a first character cannot tell: `.5` or `.`, `x` as times, `<<...>>`, `é`."""
    if kind == "dot":
        return "num" if len(token) > 1 else "other"
    if kind == "x":
        following = raw_tokens[k + 1].lstrip()[0] if k + 1 < len(raw_tokens) else ""
        return "times" if len(token) == 1 and following in _TIMES_FOLLOWERS else "word"
    if kind == "lt":
        return None if token.startswith("<<") else "other"
    return "word" if token[0].isalpha() else "other"


def _math_window(text: str) -> tuple[int, int]:
    """The clauses that hold an `=`: the scanner resets at clause breaks anyway."""
    before = _LAST_BREAK_RE.match(text, 0, text.find("="))
    after = _NEXT_BREAK_RE.search(text, text.rfind("="))
    return (before.end() if before else 0), (after.start() if after else len(text))


def _is_word(tokens: list[tuple[str, str, int, int]], index: int) -> bool:
    return 0 <= index < len(tokens) and tokens[index][0] == "word"


def _is_clock(tokens: list[tuple[str, str, int, int]], colon: int) -> bool:
    """Is the `:` at `colon` inside `2:30` or `3:2`?"""
    if colon < 1 or colon + 1 >= len(tokens):
        return False
    before, after = tokens[colon - 1], tokens[colon + 1]
    start, end = tokens[colon][2], tokens[colon][3]
    return before[0] == "num" and after[0] == "num" and before[3] == start and after[2] == end


def _first_word(run: str) -> str:
    return run.split(None, 1)[0] if " " in run else run


def _last_word(run: str) -> str:
    return run.rsplit(None, 1)[-1] if " " in run else run


def _looks_like_variable(tokens: list[tuple[str, str, int, int]], index: int) -> bool:
    if not _is_word(tokens, index):
        return False
    word = _last_word(tokens[index][1])
    return len(word) == 1 or not word.islower()


def _starts_clause(tokens: list[tuple[str, str, int, int]], index: int) -> bool:
    """Does the run at `index` open its line or clause, in at most two words (`Total cost`)?"""
    if len(tokens[index][1].split()) > 2:
        return False
    before = index - 1
    if _is_word(tokens, before):
        before -= 1
    return before < 0 or tokens[before][0] == "other"


class _Scanner:
    """Turns a line's tokens into `=` chains and checks each chain as soon as it closes."""

    def __init__(self, source: str, names: dict[str, Number], tally: _Tally) -> None:
        self.source = source
        self.names = names
        self.tally = tally
        self.tokens = _tokenize(source, *_math_window(source))
        # Words read since arithmetic that no chain consumed (a lone number, a dropped
        # operator); None once a clause boundary, prose or a complete chain intervenes.
        self.loose_words: int | None = None
        self.loose_operator = False  # the loose arithmetic was an operator (`+ his 1 ...`)
        self.loose_linked = False  # words since it link quantities (`8 packs of 5 bags`)
        self._reset()

    def _reset(self) -> None:
        self.chain: list[_Segment] = []
        self.segment: _Segment | None = None
        self.depth = 0
        self.label: str | None = None
        self.partial: bool | None = None

    def _expects_operand(self) -> bool:
        seg = self.segment
        return seg is None or not seg.items or seg.items[-1][0] in (_OP, _LP)

    def _start_chain(self) -> None:
        if self.partial is None:
            self.partial = (
                self.loose_words is not None
                and self.loose_words <= 2
                and (self.loose_operator or self.loose_linked)
            )

    def _push(self, item: tuple, start: int, end: int) -> None:
        if self.segment is None:
            self._start_chain()
            self.segment = _Segment(start)
        self.segment.items.append(item)
        self.segment.ends.append(end)
        self.segment.end = end

    def _push_operator(self, op: str, start: int, end: int) -> None:
        self._push((_OP, op), start, end)
        self.segment.binops += 1

    def _close(self) -> None:
        """End the current chain: trim a dangling tail, then check it."""
        seg = self.segment
        loose = False
        if seg is not None:
            while seg.items and seg.items[-1][0] in (_OP, _LP):
                item = seg.items.pop()
                seg.ends.pop()
                seg.end = seg.ends[-1] if seg.ends else seg.start
                loose = True
                if item[0] == _LP:
                    self.depth -= 1
                elif item[1] in _BINARY:
                    seg.binops -= 1
            if seg.items and self.depth == 0:
                self.chain.append(seg)
        if len(self.chain) >= 2 or (self.label is not None and self.chain):
            _check_chain(
                self.chain, self.label, self.source, self.names, self.tally, bool(self.partial)
            )
            self.loose_words = None
        elif loose or self.chain:
            self._mark_loose(operator=loose)
        self._reset()

    def _mark_loose(self, operator: bool) -> None:
        self.loose_words, self.loose_operator, self.loose_linked = 0, operator, False

    def _count_words(self, run: str, base: int) -> None:
        """Count a run of words since loose arithmetic; prose (`because`) cuts the link."""
        words = run.lower().split()
        if any(word in _PROSE_WORDS for word in words):
            self.loose_words = None
            return
        self.loose_words = base + len(words)
        self.loose_linked = self.loose_linked or any(word in _LINK_WORDS for word in words)

    def _skip_tainted(self, i: int) -> int:
        """Abandon the current chain unchecked and skip ahead to where prose resumes."""
        self._reset()
        while i < len(self.tokens) and self.tokens[i][0] not in ("word", "other"):
            i += 1
        self._mark_loose(operator=True)
        return i

    def _unit_words_end(self, start: int) -> int | None:
        """If words after a number are its unit (`hours`, `eggs a day`, `/hour`), where the
        arithmetic resumes; None if the words are prose or change the number's meaning."""
        tokens = self.tokens
        j, words = start, 0
        while j < len(tokens):
            kind, text = tokens[j][0], tokens[j][1]
            if kind == "word":
                for word in text.lower().split():
                    if word in _SCALE_WORDS or word in _WORD_OPERATORS or word in _PROSE_WORDS:
                        return None
                    words += 1
                if words > _MAX_UNIT_WORDS:
                    return None
            elif not (kind == "cur" or (kind == "op" and text == "/" and _is_word(tokens, j + 1))):
                break  # `$5/hour`: the slash and the word are part of the unit
            j += 1
        if j < len(tokens) and tokens[j][0] in ("op", "times", "eq", "rp"):
            return j
        return None

    def run(self) -> None:
        tokens = self.tokens
        i = 0
        while i < len(tokens):
            kind, text, start, end = tokens[i]
            i += 1
            if kind == "word":
                if self.loose_words is not None:
                    self._count_words(text, self.loose_words)
                if self.segment is None and not self.chain and not self.names:
                    continue  # prose between chains
                i = self._word(text, start, end, i)
            elif kind == "num":
                i = self._number(text, start, end, i)
            elif kind in ("op", "times"):
                i = self._operator(text, kind, start, end, i)
            elif kind == "eq":
                self._equals(end, i)
            elif kind == "pct":
                self._percent(end)
            elif kind == "lp":
                i = self._open_paren(start, end, i)
            elif kind == "rp":
                if self.depth > 0 and not self._expects_operand():
                    self.depth -= 1
                    self._push((_RP,), start, end)
                else:
                    self._close()
            elif kind == "other":
                if text == ":" and _is_clock(tokens, i - 1):
                    i = self._skip_tainted(i)  # `2:30`, `3:2`: clock times and ratios
                else:
                    self._close()
                    self.loose_words = None
        self._close()

    def _number(self, text: str, start: int, end: int, i: int) -> int:
        tokens = self.tokens
        following = tokens[i] if i < len(tokens) else None
        if following and following[0] == "word" and following[2] == end:
            suffix = _first_word(following[1])
            # `50k`, `3rd`, `2x`, `10h`, `1Dachshund`: scale, ordinal or algebra, not a unit.
            if len(suffix) == 1 or suffix[0].isupper() or suffix.lower() in _SCALE_WORDS:
                return self._skip_tainted(i + 1)
        if (
            following
            and following[1] == "-"
            and following[2] == end
            and _is_word(tokens, i + 1)
            and tokens[i + 1][2] == following[3]
        ):
            # `a 400-meter race`, `2-slice sandwiches`: an adjective, not a subtraction.
            self._close()
            self.loose_words = None
            return i + 2
        if not self._expects_operand():
            # Two numbers side by side (`3 1/2`, `$350 000`): do not guess.
            return self._skip_tainted(i)
        value = _number_value(text)
        seg = self.segment
        if seg is not None and seg.items and seg.items[-1] == (_OP, "u-"):
            seg.items.pop()
            seg.ends.pop()
            value, text = -value, "-" + text
        self._push((_NUM, value, text, False), start, end)
        return i

    def _word(self, text: str, start: int, end: int, i: int) -> int:
        """Handle a run of words (`text` may hold several, separated by spaces)."""
        if self._expects_operand():
            # A known name starts or continues an expression (`the cost + 3`, `5 * cost`).
            idle = self.segment is None and not self.chain
            word = _last_word(text) if idle else text
            key = _name_key(word) if self.names else None
            if key is not None and key in self.names:
                self._push((_NAME, key, word), end - len(word), end)
            else:
                self._close_before_words(text)
            return i
        last = self.segment.items[-1]
        lowered = _first_word(text).lower()
        if lowered == "of" and self._of_multiplies():
            self._push_operator("*", start, end)
            return i
        if (
            lowered in _WORD_OPERATORS
            and i < len(self.tokens)
            and self.tokens[i][0] in ("num", "lp", "cur")
        ):
            self._push_operator(_WORD_OPERATORS[lowered], start, end)
            return i
        if lowered in ("percent", "percentage") and last[0] == _NUM and not last[3]:
            self.segment.items[-1] = (_NUM, Fraction(last[1]) / 100, last[2] + "%", True)
            self.segment.percent = True
            self.segment.end = self.segment.ends[-1] = end
            return i
        resume = self._unit_words_end(i - 1)
        if resume is not None:
            kind, op_text, op_start, _ = self.tokens[resume]
            if kind == "eq":
                self.segment.unit_end = True
            elif (
                op_text == "/"
                and op_start == self.tokens[resume - 1][3]
                and (_OP, "/") in self.segment.items
            ):
                # `2 snowballs/15 minutes` is a rate; after another `/` its grouping is unclear.
                self.segment.ambiguous = True
            return resume
        if lowered in _SCALE_WORDS:
            # `5 million`, `4 dozen`: drop the chain unchecked; prose resumes right here.
            self._reset()
            self._mark_loose(operator=True)
            self._count_words(text, -1)
            return i
        self._close_before_words(text)
        return i

    def _close_before_words(self, run: str) -> None:
        """Close the chain at a run of prose words, which then count as words since it."""
        self._close()
        if self.loose_words is not None:
            self._count_words(run, -1)

    def _of_multiplies(self) -> bool:
        """`20% of 50`, `1/2 of 30`: `of` after a percent or a fraction multiplies."""
        items = self.segment.items
        if items[-1][0] != _NUM:
            return False
        if items[-1][3]:
            return True
        return len(items) >= 3 and items[-2] == (_OP, "/") and items[-3][0] == _NUM

    def _operator(self, text: str, kind: str, start: int, end: int, i: int) -> int:
        op = "*" if kind == "times" else _OPERATORS[text]
        tokens = self.tokens
        following = tokens[i] if i < len(tokens) else None
        if not self._expects_operand():
            if op == "/" and following and following[0] == "word" and self._is_unit(following):
                return i  # `$30/hour`: a rate's unit, not a division; the words follow as units
            self._push_operator(op, start, end)
            return i
        # A sign only when written against its number (`-3`); a spaced ` - ` is a dash, and
        # after an unknown like `X` the operator is binary (`X+20+10 = 90`).
        if (
            op in ("-", "+")
            and following
            and following[2] == end
            and following[0] != "word"
            and not _looks_like_variable(tokens, i - 2)
        ):
            self._push((_OP, "u" + op), start, end)
            return i
        self._close()
        self._mark_loose(operator=True)
        return i

    def _is_unit(self, token: tuple[str, str, int, int]) -> bool:
        """After `/`, a word is a unit (`$30/hour`) unless it names a value (`40 / x`)."""
        return " " in token[1] or _name_key(token[1]) not in self.names

    def _open_paren(self, start: int, end: int, i: int) -> int:
        tokens = self.tokens
        if not self._expects_operand():
            if _is_word(tokens, i) and i + 1 < len(tokens) and tokens[i + 1][0] == "rp":
                return i + 2  # `93 (average) * 5 (tests)`: a unit in brackets
            # `2(3 + 4)` multiplies; `70 (70%)` is an aside.
            if self.segment.items[-1][0] != _NUM or self.segment.end != start:
                self._close()
                return i
            self._push_operator("*", start, start)
        self._push((_LP,), start, end)
        self.depth += 1
        return i

    def _percent(self, end: int) -> None:
        seg = self.segment
        if seg and seg.items and seg.items[-1][0] == _NUM and not seg.items[-1][3]:
            _, value, text, _ = seg.items[-1]
            seg.items[-1] = (_NUM, Fraction(value) / 100, text + "%", True)
            seg.percent = True
            seg.end = seg.ends[-1] = end
        else:
            self._close()

    def _equals(self, end: int, i: int) -> None:
        seg = self.segment
        if seg is None or not seg.items:
            if self.chain:
                self._close()  # `==` or `= =`
                return
            if _is_word(self.tokens, i - 2) and _starts_clause(self.tokens, i - 2):
                self.label = _name_key(_last_word(self.tokens[i - 2][1]))
            self._start_chain()
            self.segment = _Segment(end)
            return
        if self._expects_operand():
            self._close()
            return
        if self.depth:
            # `(5 + 3 = 8)`: a bracket opened before the whole chain; its `)` will end it.
            opens = sum(1 for item in seg.items if item[0] == _LP)
            if self.chain or self.depth != 1 or seg.items[0][0] != _LP or opens != 1:
                self._reset()
                return
            seg.items.pop(0)
            seg.ends.pop(0)
            self.depth = 0
        self.chain.append(seg)
        self.segment = _Segment(end)


# ---------------------------------------------------------------- annotations


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


# ---------------------------------------------------------------- public API


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
    hidden_equals = _check_annotations(step, names, tally) if "<<" in step else 0
    if step.count("=") > hidden_equals:
        _Scanner(step, names, tally).run()
    after = tuple(names.items()) if names else bindings
    if tally.claims == 0:
        return "unchecked", 0, "", after
    if tally.failure_at >= 0:
        return "wrong", tally.claims, tally.failure, after
    return "ok", tally.claims, "", after


def clear_caches() -> None:
    """Forget memoized results (for cold-start timing)."""
    _check_line.cache_clear()
    _annotation_segments.cache_clear()


def check_steps(steps: list[str], question: str | None = None) -> list[StepVerdict]:
    """Check every arithmetic claim of each step; names bound earlier carry forward."""
    bindings: Bindings = ()
    if question and "=" in question:
        # Definitions such as `x = 12` in the question itself seed the names.
        names: dict[str, Number] = {}
        _Scanner(question, names, _Tally()).run()
        bindings = tuple(names.items())
    verdicts = []
    for index, step in enumerate(steps):
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
