"""Segments (one side of an `=`) and their exact value in int/Fraction arithmetic."""

from __future__ import annotations

from fractions import Fraction

from errata.generators.verify.arithmetic import MAX_EXPONENT, MAX_MAGNITUDE

Number = int | Fraction

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
_BINARY = frozenset("+-*/^")
_MAX_ITEMS = 200

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
        item = self.items[self.pos] if self.pos < len(self.items) else (_OP,)
        signed = item[0] == _NUM and item[2].startswith("-")
        value = self.atom()
        if self._peek_op() == "^":
            self.pos += 1
            exponent = self.unary()
            if signed:
                # `-3^2` is -(3^2): the sign was folded into the number when it was read.
                return -_apply("^", -value, exponent)
            value = _apply("^", value, exponent)
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
    if (
        len(items) == 3
        and items[0][0] == _NUM
        and items[2][0] == _NUM
        and items[1][0] == _OP
        and not (items[1][1] == "^" and items[0][1] < 0)  # `-3^2`: the parser knows
    ):
        try:
            return _apply(items[1][1], items[0][1], items[2][1])  # `a op b`, the usual case
        except (_Unreadable, ZeroDivisionError, OverflowError):
            return None
    try:
        return _Parser(items, names, left_to_right).parse()
    except (_Unreadable, ZeroDivisionError, OverflowError):
        return None
