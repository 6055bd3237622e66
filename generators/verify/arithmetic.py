"""Exact arithmetic over an AST whitelist: never `eval`."""

from __future__ import annotations

import ast
import functools
import math
import re
from decimal import Decimal
from fractions import Fraction

MAX_EXPONENT = 64
MAX_MAGNITUDE = Fraction(10) ** 30
FLOAT_NOISE = Fraction(1, 10**12)

# A written number; `x` may precede it because solutions write `11x6` for 11 * 6.
NUMBER_RE = re.compile(
    r"(?<![A-WYZa-wyz\d_.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)"
    r"|(?<![A-WYZa-wyz\d_.])(?:\d+(?:\.\d+)?|\.\d+)"
)

_SYMBOLS = {
    "×": "*",
    "∗": "*",
    "·": "*",
    "÷": "/",
    "−": "-",
    "–": "-",
    "^": "**",
    "x": "*",
    "X": "*",
}
_PERCENT_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")
_LETTER_TIMES_RE = re.compile(r"(?<=[\d)\s])[xX](?=[\s\d(.])")


class ArithmeticError_(ValueError):
    """An expression that is not plain arithmetic or cannot be evaluated."""


def parse_number(text: str) -> Fraction | None:
    """A number as written in prose or an annotation (`80,000`, `$5`, `.5`, `12%`)."""
    cleaned = text.strip().replace("$", "").replace(",", "").rstrip(".")
    percent = cleaned.endswith("%")
    cleaned = cleaned.rstrip("%").strip()
    try:
        value = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None
    return value / 100 if percent else value


def normalize_expression(text: str) -> str:
    """Turn written arithmetic into Python syntax: `2 x $3,000 ÷ 4` -> `2 * 3000 / 4`."""
    expr = text.replace("$", "")
    expr = _THOUSANDS_RE.sub("", expr)
    expr = _PERCENT_RE.sub(r"(\1/100)", expr)
    expr = _LETTER_TIMES_RE.sub("*", expr)
    for symbol, replacement in _SYMBOLS.items():
        if symbol not in "xX":
            expr = expr.replace(symbol, replacement)
    return expr.strip()


def _eval(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Fraction(str(node.value)) if isinstance(node.value, float) else Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            result = left + right
        elif isinstance(op, ast.Sub):
            result = left - right
        elif isinstance(op, ast.Mult):
            result = left * right
        elif isinstance(op, ast.Div | ast.FloorDiv | ast.Mod):
            if right == 0:
                raise ArithmeticError_("division by zero")
            if isinstance(op, ast.Div):
                result = left / right
            elif isinstance(op, ast.FloorDiv):
                result = Fraction(left // right)
            else:
                result = left % right
        elif isinstance(op, ast.Pow):
            if right.denominator != 1 or abs(right) > MAX_EXPONENT:
                raise ArithmeticError_("unsupported exponent")
            if left == 0 and right < 0:
                raise ArithmeticError_("division by zero")
            result = left ** int(right)
        else:
            raise ArithmeticError_(f"operator {type(op).__name__} not allowed")
        if abs(result) > MAX_MAGNITUDE:
            raise ArithmeticError_("result too large")
        return result
    raise ArithmeticError_(f"{type(node).__name__} not allowed in arithmetic")


@functools.lru_cache(maxsize=65536)
def evaluate(expression: str) -> Fraction:
    """Evaluate written arithmetic exactly; raise ArithmeticError_ on anything else."""
    normalized = normalize_expression(expression)
    if not normalized:
        raise ArithmeticError_("empty expression")
    try:
        tree = ast.parse(normalized, mode="eval")
    except SyntaxError as exc:
        raise ArithmeticError_(f"not arithmetic: {expression!r}") from exc
    return _eval(tree)


def decimals_shown(text: str) -> int:
    """How many decimal places a written number shows (`3.33` -> 2)."""
    cleaned = text.strip().replace(",", "").rstrip("%")
    return len(cleaned.split(".", 1)[1]) if "." in cleaned else 0


def claim_holds(computed: Fraction, shown: Fraction, shown_text: str) -> bool:
    """Does a written result match the exact value, allowing rounding to what is shown?"""
    if computed == shown:
        return True
    if abs(computed - shown) <= FLOAT_NOISE * max(1, abs(computed)):
        return True  # a calculator's float output, e.g. 99.00000000000001
    if computed.denominator == 1:
        return False
    scale = 10 ** decimals_shown(shown_text)
    rounded = abs(computed - shown) <= Fraction(1, 2 * scale)
    truncated = Fraction(math.trunc(computed * scale), scale) == shown
    return rounded or truncated


def format_number(value: Fraction, places: int | None = None) -> str:
    """Write a value the way solutions do: integers bare, otherwise up to `places` decimals."""
    if value.denominator == 1:
        return str(value.numerator)
    if places is None:
        places = 2
    rounded = round(value, places)
    text = f"{float(rounded):.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_like(value: Fraction, like: str) -> str:
    """Write `value` in the style of `like`: same decimals (`4.00`), thousands commas."""
    places = decimals_shown(like)
    if places and terminating_places(value, places) is not None:
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        text = str(exact.quantize(Decimal(1).scaleb(-places)))
    else:
        text = format_number(value, max(places, 2))
    if "," in like and abs(value) >= 1000:
        whole, _, fraction = text.partition(".")
        text = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return text


def terminating_places(value: Fraction, limit: int = 4) -> int | None:
    """Decimal places needed to write `value` exactly, or None if more than `limit`."""
    for places in range(limit + 1):
        if (value * 10**places).denominator == 1:
            return places
    return None
