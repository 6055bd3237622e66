"""One side of a LaTeX claim (`\\frac{3}{4} \\cdot 8`, `1{,}024`) as an exact value.

latex2sympy2_extended, math-verify's LaTeX front end, does the parsing; this module decides
what it may be given and walks the result with int/Fraction arithmetic under the bounds of
plain text. A side is refused (its claims stay unchecked) when it holds:

* letters outside the commands of arithmetic: variables, units, `e`, `\\pi`;
* numbers side by side (`1 000`, `2\\frac{1}{2}`, `2^10`): a spaced thousands group, a mixed
  number and a two-digit exponent are each read two ways; so are subscripts (`1010_2`),
  colons (`2:30`), primes and commas that are not thousands separators;
* more than _MAX_CHARS characters or _MAX_DEPTH nested brackets: the parse runs in worker
  threads, where no alarm can stop it, so its input is what is bounded;
* an exponent beyond MAX_EXPONENT, a value beyond MAX_MAGNITUDE, or a root that is not exact.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from errata.generators.verify.arithmetic import MAX_EXPONENT
from errata.generators.verify.steps.parse import (
    _NUM,
    Number,
    _apply,
    _checked,
    _number_value,
    _Unreadable,
)

_MAX_CHARS = 200
_MAX_DEPTH = 12
_MAX_ROOT = 12
_MAX_FACTORIAL = 20

# `1{,}000`, `1\,000`, `1,000`: digit groups of three, joined without a space.
_THOUSANDS_RE = re.compile(r"(?<![\d.])\d{1,3}(?:(?:\{,\}|\\,|,)\d{3})+(?![\d])")
_THOUSANDS_SEPARATOR_RE = re.compile(r"\{,\}|\\,|,")
# Spacing, alignment (`&=`, `\\\\`) and layout commands: none of them changes a value.
_LAYOUT_RE = re.compile(
    r"\\\\|&|~|\\[,;:! ]|\\(?:q?quad|displaystyle)(?![A-Za-z])|\\(?:begin|end)\{[A-Za-z]*\*?\}"
)
_UNICODE_OPERATORS = str.maketrans({"×": r"\times ", "÷": r"\div ", "·": r"\cdot ", "−": "-"})
_ARITHMETIC_COMMANDS = frozenset(["frac", "dfrac", "tfrac", "cdot", "times", "div", "sqrt"])
_COMMAND_RE = re.compile(r"\\([A-Za-z]+)")
_ESCAPE_RE = re.compile(r"\\[^A-Za-z{}%]")
_LETTER_RE = re.compile(r"[A-Za-z]")
# A side is not read when its numbers could be meant two ways.
_AMBIGUOUS_RE = re.compile(
    r"\d\s+\.?\d"  # `1 000`: a thousands space, or two numbers
    r"|\d\s*\\[dt]?frac"  # `2\frac{1}{2}`: a mixed number, or a product
    r"|\^\s*\d\d"  # `2^10`: TeX sets 2^1 then 0
    r"|\^\s*(?:\{[^{}]*\}|[^\s{])\s*\^"  # `2^3^2`: a double superscript
    r"|(?<!\\)%\s*\d"  # `5%3`: TeX's comment sign, or a remainder
    r"|[_:'\",]"  # a base (`1010_2`), a ratio or clock time, a prime, a list or decimal comma
    r"|(?:\\div|/)(?=.*(?:[\d)\]}!]\s*[(\[]|[)\]]\s*[\d(\[]))"  # `6 \div 2(1+2)`: 1 or 9
)
_BARE_NUMBER_RE = re.compile(r"(-?)((?:\d+(?:\.\d+)?|\.\d+))(\\?%)?")


@dataclass(frozen=True)
class LatexSide:
    """A side's exact value; `shown` is set when the side is one written number."""

    value: Number
    shown: tuple | None  # a parse._NUM item, for the claim rules on written numbers
    approximate: bool  # holds a decimal, which may carry rounding from an earlier step


def _join_thousands(text: str) -> str:
    return _THOUSANDS_RE.sub(lambda m: _THOUSANDS_SEPARATOR_RE.sub("", m.group()), text)


def _clean(text: str) -> str:
    """The side with thousands joined and spacing, `\\$` and `\\left`/`\\right` dropped."""
    text = _join_thousands(text.translate(_UNICODE_OPERATORS))
    text = _LAYOUT_RE.sub(" ", text).replace("\\$", "")
    return re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])", "", text).strip()


def _bare_number(text: str) -> tuple | None:
    """`1024`, `-3.5`, `25\\%` as a _NUM item, or None for anything else."""
    match = _BARE_NUMBER_RE.fullmatch(text)
    if match is None:
        return None
    sign, digits, percent = match.groups()
    value = _number_value(digits)
    value = -value if sign else value
    if percent:
        return (_NUM, Fraction(value) / 100, sign + digits + "%", True)
    return (_NUM, value, sign + digits, False)


def _readable(text: str) -> bool:
    """May the parser be given this side? (See the module docstring.)"""
    if not text or len(text) > _MAX_CHARS or _AMBIGUOUS_RE.search(text):
        return False
    if any(name not in _ARITHMETIC_COMMANDS for name in _COMMAND_RE.findall(text)):
        return False
    if _ESCAPE_RE.search(text) or _LETTER_RE.search(_COMMAND_RE.sub(" ", text)):
        return False
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    return deepest <= _MAX_DEPTH


@lru_cache(maxsize=8192)
def latex_side(text: str) -> LatexSide | None:
    """The exact value of one side of a LaTeX `=`, or None when it cannot be read."""
    text = _clean(text)
    shown = _bare_number(text)
    if shown is not None:
        return LatexSide(shown[1], shown, "." in text)
    if not _readable(text):
        return None
    expression = _parse(text)
    if expression is None:
        return None
    try:
        value = _exact(expression)
    except (_Unreadable, ZeroDivisionError, OverflowError, ValueError):
        return None
    return LatexSide(value, None, "." in text)


_PARSE_LOCK = threading.Lock()
_converter_class: Any = None


def _parse(text: str) -> Any:
    """latex2sympy's unevaluated expression for `text`, or None when it does not parse."""
    import sympy

    with _PARSE_LOCK:  # one parse at a time: the ANTLR runtime shares its caches
        try:
            expression = _converter().parse(_normalize(text))
        except Exception:  # the parser reports bad input with bare Exceptions
            return None
    return expression if isinstance(expression, sympy.Expr) else None


def _normalize(text: str) -> str:
    from latex2sympy2_extended import NormalizationConfig, normalize_latex

    return normalize_latex(text, NormalizationConfig(basic_latex=True, boxed="none"))


def _converter() -> Any:
    """A latex2sympy converter on which juxtaposition always multiplies.

    latex2sympy reads `3(4)` as the mixed number 3 + 4 = 7 (and `(2)(3)` as 5), whatever its
    `interpret_as_mixed_fractions` says; products written that way are common, mixed numbers
    are refused before parsing, so a juxtaposed list here is a product.
    """
    global _converter_class
    if _converter_class is None:
        import sympy
        from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

        class _Multiplying(_Latex2Sympy):
            def convert_postfix_list(self, arr: list, i: int = 0) -> Any:
                if len(arr) - i < 2:
                    return super().convert_postfix_list(arr, i)
                factors = [self.convert_postfix(item) for item in arr[i:]]
                if not all(isinstance(factor, sympy.Expr) for factor in factors):
                    raise _Unreadable("not a product")
                return sympy.Mul(*factors, evaluate=False)

        _converter_class = _Multiplying
    return _converter_class()


def _exact(expression: Any) -> Number:
    """Walk latex2sympy's tree with int/Fraction arithmetic; raise _Unreadable on the rest."""
    import sympy

    if expression.is_Integer:
        return _checked(int(expression))
    if expression.is_Rational:
        return _checked(Fraction(int(expression.p), int(expression.q)))
    if expression.is_Float:
        return _checked(Fraction(str(expression)))  # 15 digits: what a written decimal has
    args = expression.args
    if isinstance(expression, sympy.UnevaluatedExpr):  # the 1/100 of a percent
        return _exact(args[0])
    if expression.is_Add:
        return _fold("+", args)
    if expression.is_Mul:
        return _fold("*", args)
    if expression.is_Pow:
        return _power(_exact(args[0]), _exact(args[1]))
    if isinstance(expression, sympy.Abs):
        return abs(_exact(args[0]))
    if isinstance(expression, sympy.factorial):
        return _factorial(_exact(args[0]))
    raise _Unreadable(type(expression).__name__)


def _fold(op: str, args: tuple) -> Number:
    value = _exact(args[0])
    for arg in args[1:]:
        value = _apply(op, value, _exact(arg))
    return value


def _power(base: Number, exponent: Number) -> Number:
    """base ** exponent, exact: integer exponents, or roots that come out rational."""
    if base == 0 and exponent <= 0:
        raise _Unreadable("0 to a power that is not positive")
    exponent = Fraction(exponent)
    if exponent.denominator == 1:
        return _apply("^", base, int(exponent))
    if exponent.denominator > _MAX_ROOT or abs(exponent.numerator) > MAX_EXPONENT:
        raise _Unreadable("unsupported exponent")
    root = _exact_root(Fraction(base), exponent.denominator)
    return _apply("^", root, exponent.numerator)


def _exact_root(value: Fraction, degree: int) -> Fraction:
    """The real `degree`-th root of value when it is rational (`\\sqrt[3]{-27}` is -3)."""
    if value < 0:
        if degree % 2 == 0:
            raise _Unreadable("even root of a negative number")
        return -_exact_root(-value, degree)
    numerator, denominator = value.numerator, value.denominator
    return Fraction(_integer_root(numerator, degree), _integer_root(denominator, degree))


def _integer_root(n: int, degree: int) -> int:
    guess = math.isqrt(n) if degree == 2 else round(n ** (1 / degree))
    for candidate in (guess - 1, guess, guess + 1):
        if candidate >= 0 and candidate**degree == n:
            return candidate
    raise _Unreadable("not an exact root")


def _factorial(value: Number) -> int:
    if getattr(value, "denominator", 1) != 1 or not 0 <= value <= _MAX_FACTORIAL:
        raise _Unreadable("unsupported factorial")
    return math.factorial(int(value))
