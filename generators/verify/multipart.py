"""Multi-part final answers: tuples, sets, solution lists, assignments, unions of intervals.

math-verify already reads most of these shapes (`\\{1,2\\}`, `(1,2),(3,4)`, `x=1, x=2`,
`a=3, b=4`, unions) and compares them as sets or in order. What it gets wrong is handled here,
part by part:

* an extra part: it compares sets, so `1, 1, 2` equals `1, 2`; here parts are a multiset, and a
  wrong, missing or extra part makes the whole answer wrong;
* thousands separators in a list: it reads `(1,000, 2)` as `(1, 0, 2)`;
* tuples against assignments: it accepts `(2, 1)` for `x = 1, y = 2`; here the tuple must
  follow the names as written or in alphabetical order;
* `and`/`or` between parts, which make an answer look like prose to the caller;
* `\\pm` inside a fraction (`\\frac{1 \\pm \\sqrt{5}}{2}`) and declarations such as
  `k \\in \\mathbb{Z}`, which it cannot parse.

A lone tuple or interval and a union of intervals stay with math-verify when neither side holds
a thousands separator: sympy compares intervals and unions exactly as sets, which part by part
cannot (`(-\\infty, 1) \\cup [1, 2)` is `(-\\infty, 2)`).

Commas: a comma is a thousands separator only inside a run of digits and bare commas (no spaces)
grouped like thousands: 1-3 digits, then groups of exactly three, not after a decimal point
(`1,000`, `12,345,678`), as in the numeric fast path. Every other comma separates parts: `1,2`,
`1, 000`, `0.5,100`, and `(1,000,2)`, whose run is not grouped like thousands, is (1, 000, 2).
So `(1,000, 2)` is (1000, 2) and `1,000, 2,000` is {1000, 2000}. Where that reading leaves one
number alone in brackets (`(1,000)`, `[0,360)`: one number or a pair?) the answer is ambiguous
and goes to the whole-answer comparison. Commas inside braces or a function's parentheses
(`\\frac{a}{b}`, `f(1, 2)`) never split an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

# The answer checker's own readings, so a part's number or prose is judged as a whole answer's.
from errata.generators.verify.answers import AnswerCheck, _as_number, _looks_like_prose

# Matching parts costs up to n^2 comparisons under one deadline; longer lists are left whole.
MAX_PARTS = 12

# Stands for a thousands separator while the answer is split at commas.
_THOUSANDS = "\x00"
_DIGIT_RUN_RE = re.compile(r"(?<![\w.])\d+(?:,\d+)+")
_THOUSANDS_GROUPING_RE = re.compile(r"\d{1,3}(?:,\d{3})+")
_SIZING_RE = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)\s*(?=[()\[\]]|\\[{}])")
_SPACING_RE = re.compile(r"\\[,;:! ]|~")
_CONNECTIVE_RE = re.compile(
    r"\s*\\(?:text|textrm|mbox|mathrm)\s*\{\s*(?:and|or)\s*\}\s*"
    r"|\s+(?:and|or)\s+|\s*\\q?quad(?![A-Za-z])\s*|\s*;\s*"
)
# `, k \in \mathbb{Z}` after a family of solutions: says what k is, is not a part.
_PARAMETER_RE = re.compile(
    r"(?:,|\\text\s*\{\s*,?\s*(?:where|for|with)\s*\})\s*[A-Za-z]\s*\\in\s*"
    r"\\(?:mathbb|Bbb|mathbf)\s*\{?\s*Z\s*\}?\s*$"
)
_GREEK = r"alpha|beta|gamma|delta|theta|phi|varphi|psi|omega|lambda|mu|rho|sigma|tau"
_NAME = rf"(?:[A-Za-z]|\\(?:{_GREEK}))(?:_\{{?[A-Za-z0-9]+\}}?)?"
_NAME_RE = re.compile(_NAME)
_MEMBERSHIP_RE = re.compile(rf"\s*({_NAME})\s*\\in(?![A-Za-z])\s*")
_PLUS_MINUS_RE = re.compile(r"\\pm(?![A-Za-z])|±")
# Relations, set operations, text and ellipses: a part holding one is not a single value.
_NOT_A_VALUE_RE = re.compile(
    r"[=<>:±∓]|\.\.\.|\\(?:le|ge|leq|geq|ne|neq|in|notin|mid|cup|cap|setminus|subset|subseteq"
    r"|supset|pm|mp|ldots|cdots|dots|to|implies|Rightarrow|rightarrow|lor|land|vee|wedge|text"
    r"|textrm|mbox|mathrm)(?![A-Za-z])"
)
_OPENERS = ("\\{", "(", "[", "{")
_CLOSERS = ("\\}", ")", "]", "}")


class _Unrecognised(Exception):
    """Not a shape read here: the caller keeps its whole-answer comparison."""


class _Undecided(Exception):
    """A part this pass cannot compare: it needs sympy, or math-verify cannot parse it."""


@dataclass(frozen=True)
class Group:
    """A bracketed list: a tuple or interval (in order) or a set `\\{...\\}` (any order)."""

    opening: str
    closing: str
    items: tuple[Node, ...]

    @property
    def ordered(self) -> bool:
        return self.opening != "\\{"


Node = str | Group


@dataclass(frozen=True)
class Part:
    """One part of an answer and the name it is given (`x = 1`), if any."""

    name: str | None
    value: Node


@dataclass(frozen=True)
class Shape:
    """An answer read as parts: a list (any order) or, joined by `\\cup`, a union."""

    parts: tuple[Part, ...]
    union: bool = False
    thousands: bool = False
    declares_parameter: bool = False

    @property
    def structured(self) -> bool:
        return len(self.parts) > 1 or isinstance(self.parts[0].value, Group)

    @property
    def left_to_math_verify(self) -> bool:
        lone_group = len(self.parts) == 1 and isinstance(self.parts[0].value, Group)
        return (lone_group or self.union) and not self.thousands

    @property
    def assignment(self) -> dict[str, Node] | None:
        """Name -> value when every part names a different unknown (`a = 3, b = 4`)."""
        names = [part.name for part in self.parts]
        if len(names) < 2 or None in names or len(set(names)) < len(names):
            return None
        return {part.name: part.value for part in self.parts if part.name is not None}

    @property
    def unknown(self) -> str | None:
        """The one name all parts solve for (`x = 1, x = -2`), if they name one."""
        names = {part.name for part in self.parts}
        return names.pop() if len(names) == 1 else None


# --- reading -----------------------------------------------------------------------------------


def read_answer(answer: str) -> Shape | None:
    """An extracted answer read as parts; None when it is not a shape read here."""
    try:
        return _read(answer)
    except _Unrecognised:
        return None


def _read(answer: str) -> Shape:
    text = _normalise(answer)
    declaration = _PARAMETER_RE.search(text)
    if declaration:
        text = text[: declaration.start()]
    name, text = _split_membership(text)
    pieces = _split_top_level(text, "\\cup")
    union = len(pieces) > 1
    if union:
        parts = [_read_interval(piece, name) for piece in pieces]
    else:
        parts = [part for piece in _split_top_level(text, ",") for part in _read_part(piece, name)]
    parts = _expand_name_tuple(_name_every_part(_flatten_set(parts)))
    if len(parts) > MAX_PARTS:
        raise _Unrecognised
    return Shape(tuple(parts), union, _THOUSANDS in text, declaration is not None)


def _normalise(answer: str) -> str:
    """One spelling for brackets, spaces, connectives and thousands separators."""
    text = answer.replace("\\$", "").replace("$", "")
    text = text.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}")
    text = _SIZING_RE.sub("", text)
    text = _SPACING_RE.sub(" ", text)
    text = _CONNECTIVE_RE.sub(", ", text)
    return _DIGIT_RUN_RE.sub(_mark_thousands, text).strip()


def _mark_thousands(run: re.Match[str]) -> str:
    digits = run.group(0)
    if _THOUSANDS_GROUPING_RE.fullmatch(digits):
        return digits.replace(",", _THOUSANDS)
    return digits


def _split_membership(text: str) -> tuple[str | None, str]:
    """`x \\in S` -> ("x", "S"); anything else -> (None, text)."""
    match = _MEMBERSHIP_RE.match(text)
    if not match:
        return None, text
    return _clean_name(match.group(1)), text[match.end() :]


def _tokens(text: str) -> Iterator[tuple[int, int]]:
    """(position, bracket depth there) for each character or `\\{` / `\\}`."""
    depth = 0
    position = 0
    while position < len(text):
        token = text[position : position + 2]
        if token not in ("\\{", "\\}"):
            token = text[position]
        yield position, depth
        if token in _OPENERS:
            depth += 1
        elif token in _CLOSERS:
            depth -= 1
            if depth < 0:
                raise _Unrecognised
        position += len(token)
    if depth:
        raise _Unrecognised


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at `separator` outside all brackets and braces."""
    pieces: list[str] = []
    start = 0
    for position, depth in _tokens(text):
        end = position + len(separator)
        if (
            depth == 0
            and position >= start
            and text.startswith(separator, position)
            and not (separator[-1].isalpha() and text[end : end + 1].isalpha())
        ):
            pieces.append(text[start:position])
            start = end
    pieces.append(text[start:])
    return pieces


def _read_part(piece: str, name: str | None) -> list[Part]:
    """`x = 1` or `1`; `x = a \\pm b` is two parts."""
    sides = _split_top_level(piece, "=")
    if len(sides) > 2 or (len(sides) == 2 and name is not None):
        raise _Unrecognised
    if len(sides) == 2:
        name = _read_name(sides[0])
    return [Part(name, _read_node(value)) for value in _plus_and_minus(sides[-1])]


def _plus_and_minus(text: str) -> list[str]:
    """`a \\pm b` -> [`a + b`, `a - b`]; text without `\\pm` as it is."""
    signs = len(_PLUS_MINUS_RE.findall(text))
    if signs > 1:
        raise _Unrecognised  # `\\pm a \\pm b`: are the signs tied or free?
    if not signs:
        return [text]
    return [_PLUS_MINUS_RE.sub(sign, text).strip().removeprefix("+") for sign in "+-"]


def _read_interval(piece: str, name: str | None) -> Part:
    value = _read_node(piece)
    if not isinstance(value, Group):
        raise _Unrecognised  # `A \cup B` of named sets
    return Part(name, value)


def _read_name(text: str) -> str:
    """A variable (`x`, `x_1`, `\\theta`) or a tuple of them (`(x, y)`)."""
    text = text.strip()
    if _NAME_RE.fullmatch(text):
        return _clean_name(text)
    group = _read_node(text)
    if isinstance(group, Group) and group.ordered:
        names = [_read_name(item) for item in group.items if isinstance(item, str)]
        if len(names) == len(group.items):
            return f"({','.join(names)})"
    raise _Unrecognised


def _clean_name(name: str) -> str:
    return re.sub(r"[\s{}]", "", name)


def _read_node(text: str) -> Node:
    text = text.strip()
    brackets = _outer_brackets(text)
    if brackets is None:
        return _read_value(text)
    opening, closing = brackets
    inner = text[len(opening) : len(text) - len(closing)]
    items = _split_top_level(inner, ",")
    if opening != "\\{" and len(items) == 1:
        if _THOUSANDS in inner:
            raise _Unrecognised  # `(1,000)`, `[0,360)`: one number in brackets, or a pair?
        return _read_value(text)  # brackets around one expression: `(x + 1)`
    return Group(opening, closing, tuple(_read_node(item) for item in items))


def _outer_brackets(text: str) -> tuple[str, str] | None:
    """The bracket pair enclosing all of `text`, if one does."""
    opening = "\\{" if text.startswith("\\{") else text[:1]
    if opening not in ("\\{", "(", "["):
        return None
    for position, depth in _tokens(text):
        if depth == 0 and position > 0:
            return None  # the first bracket closes before the end: `(a)(b)`, `(1, 2) + 3`
    closing = "\\}" if text.endswith("\\}") else text[-1]
    if (opening == "\\{") != (closing == "\\}") or closing not in ("\\}", ")", "]"):
        raise _Unrecognised
    return opening, closing


def _read_value(text: str) -> str:
    """One value, as math-verify should read it; not a relation, a set or prose."""
    if not text or _NOT_A_VALUE_RE.search(text) or _looks_like_prose(text):
        raise _Unrecognised
    return text.replace(_THOUSANDS, "")


def _flatten_set(parts: list[Part]) -> list[Part]:
    """A lone set `\\{1, 2\\}` (or `x \\in \\{1, 2\\}`) lists its elements as parts."""
    if len(parts) == 1 and isinstance(parts[0].value, Group) and not parts[0].value.ordered:
        return [Part(parts[0].name, item) for item in parts[0].value.items]
    return parts


def _name_every_part(parts: list[Part]) -> list[Part]:
    """`x = 1, 2` solves for x twice. Names that neither repeat one unknown nor all differ
    (`x = 1, y = 2, x = 3`) are not read here."""
    names = [part.name for part in parts]
    named = {name for name in names if name is not None}
    if len(named) == 1 and names[0] is not None:
        return [replace(part, name=names[0]) for part in parts]
    if named and (None in names or len(named) < len(names)):
        raise _Unrecognised
    return parts


def _expand_name_tuple(parts: list[Part]) -> list[Part]:
    """`(x, y) = (2, 1)` assigns x = 2, y = 1 (with more parts it lists solutions)."""
    if len(parts) != 1 or not (parts[0].name or "").startswith("("):
        return parts
    names = parts[0].name.strip("()").split(",")
    value = parts[0].value
    if not isinstance(value, Group) or not value.ordered or len(value.items) != len(names):
        raise _Unrecognised
    return [Part(name, item) for name, item in zip(names, value.items, strict=True)]


def _render(node: Node) -> str:
    if isinstance(node, str):
        return node
    return f"{node.opening}{', '.join(_render(item) for item in node.items)}{node.closing}"


# --- comparing ---------------------------------------------------------------------------------

SameValue = Callable[[str, str], bool]
Outcome = tuple[bool, str]


class _Values:
    """Equivalence of single values: exact numbers, else math-verify (when allowed).

    math-verify runs under the caller's deadline; each value is parsed once.
    """

    def __init__(self, math_verify: bool) -> None:
        self._math_verify = math_verify
        self._parsed: dict[str, list] = {}

    def same(self, predicted: str, reference: str) -> bool:
        predicted_number, reference_number = _as_number(predicted), _as_number(reference)
        if predicted_number is not None and reference_number is not None:
            return bool(predicted_number.candidates() & reference_number.candidates())
        if not self._math_verify:
            raise _Undecided
        from math_verify import verify

        return verify(self._parse(reference), self._parse(predicted), timeout_seconds=None)

    def _parse(self, value: str) -> list:
        from math_verify import parse

        if value not in self._parsed:
            self._parsed[value] = parse(f"${value}$", parsing_timeout=None)
        if not self._parsed[value]:
            raise _Undecided
        return self._parsed[value]


def _same_node(predicted: Node, reference: Node, same: SameValue) -> bool:
    if isinstance(predicted, str) and isinstance(reference, str):
        return same(predicted, reference)
    if not (isinstance(predicted, Group) and isinstance(reference, Group)):
        return False
    if (predicted.opening, predicted.closing, len(predicted.items)) != (
        reference.opening,
        reference.closing,
        len(reference.items),
    ):
        return False
    if predicted.ordered:
        pairs = zip(predicted.items, reference.items, strict=True)
        return all(_same_node(p, r, same) for p, r in pairs)
    return _first_unmatched(predicted.items, reference.items, same) is None


def _first_unmatched(
    predicted: Sequence[Node], reference: Sequence[Node], same: SameValue
) -> int | None:
    """A predicted part left over by a one-to-one matching with equally many reference parts.

    Augmenting paths (Kuhn): a part may take another's partner if that one can move on.
    Comparisons are memoised; the same position and identical text are tried first.
    """
    known: dict[tuple[int, int], bool] = {}
    partner: dict[int, int] = {}  # reference index -> predicted index

    def equal(i: int, j: int) -> bool:
        if (i, j) not in known:
            known[i, j] = _same_node(predicted[i], reference[j], same)
        return known[i, j]

    def candidates(i: int) -> list[int]:
        text = _render(predicted[i])
        return sorted(range(len(reference)), key=lambda j: (_render(reference[j]) != text, j != i))

    def place(i: int, tried: set[int]) -> bool:
        for j in candidates(i):
            if j in tried or not equal(i, j):
                continue
            tried.add(j)
            if j not in partner or place(partner[j], tried):
                partner[j] = i
                return True
        return False

    return next((i for i in range(len(predicted)) if not place(i, set())), None)


def _compare_lists(predicted: Shape, reference: Shape, same: SameValue) -> Outcome:
    if predicted.unknown and reference.unknown and predicted.unknown != reference.unknown:
        return False, f"solves for {predicted.unknown}, the reference for {reference.unknown}"
    predicted_values = [part.value for part in predicted.parts]
    reference_values = [part.value for part in reference.parts]
    if len(predicted_values) != len(reference_values):
        return False, f"{len(predicted_values)} parts, the reference has {len(reference_values)}"
    unmatched = _first_unmatched(predicted_values, reference_values, same)
    if unmatched is not None:
        return False, f"no reference part matches {_render(predicted_values[unmatched])}"
    return True, f"{len(predicted_values)} parts equivalent"


def _compare_assignments(
    predicted: dict[str, Node], reference: dict[str, Node], same: SameValue
) -> Outcome:
    if set(predicted) != set(reference):
        return False, f"names {sorted(predicted)}, the reference has {sorted(reference)}"
    for name, value in reference.items():
        if not _same_node(predicted[name], value, same):
            return False, f"{name} = {_render(predicted[name])} is not {_render(value)}"
    return True, f"{len(reference)} values equivalent"


def _compare_assignment_with_tuple(
    predicted: Shape, reference: Shape, same: SameValue
) -> Outcome | None:
    """`x = 1, y = 2` against `(1, 2)`: the tuple follows the names as written or as sorted."""
    assigned = predicted if predicted.assignment else reference
    other = reference if assigned is predicted else predicted
    assignment = assigned.assignment or {}
    tuple_ = other.parts[0].value
    if len(other.parts) != 1 or not isinstance(tuple_, Group) or tuple_.opening != "(":
        return None  # `3, 4` against `a = 3, b = 4`: values in the names' order, or a set?
    if len(tuple_.items) != len(assignment):
        return False, f"{len(tuple_.items)} coordinates for {len(assignment)} names"
    orders = [list(assignment)]
    if sorted(assignment) != orders[0]:
        orders.append(sorted(assignment))
    for names in orders:
        ordered = Group("(", ")", tuple(assignment[name] for name in names))
        pair = (ordered, tuple_) if assigned is predicted else (tuple_, ordered)
        if _same_node(*pair, same):
            return True, f"tuple equivalent in the order {', '.join(names)}"
    return False, "the tuple matches the names in neither order"


def _compare(predicted: Shape, reference: Shape, same: SameValue) -> Outcome | None:
    if predicted.union != reference.union:
        if min(len(predicted.parts), len(reference.parts)) == 1:
            return None  # one interval against a union: equal only as sets, sympy's call
        return False, "a union of intervals against a list"
    predicted_assignment, reference_assignment = predicted.assignment, reference.assignment
    if predicted_assignment and reference_assignment:
        return _compare_assignments(predicted_assignment, reference_assignment, same)
    if predicted_assignment or reference_assignment:
        return _compare_assignment_with_tuple(predicted, reference, same)
    return _compare_lists(predicted, reference, same)


def _decided_here(predicted: Shape, reference: Shape) -> bool:
    """Whether the pair needs part-by-part comparison rather than math-verify's whole one."""
    if predicted.declares_parameter or reference.declares_parameter:
        return True  # math-verify cannot parse `..., k \in \mathbb{Z}`
    if not (predicted.structured and reference.structured):
        return False  # one value (`\mathbb{R}`, `x = 5`) against anything: math-verify's call
    return not (predicted.left_to_math_verify and reference.left_to_math_verify)


def _check(predicted: str, reference: str, values: _Values) -> AnswerCheck | None:
    predicted_shape, reference_shape = read_answer(predicted), read_answer(reference)
    if predicted_shape is None or reference_shape is None:
        return None
    if not _decided_here(predicted_shape, reference_shape):
        return None
    try:
        outcome = _compare(predicted_shape, reference_shape, values.same)
    except _Undecided:
        return None
    if outcome is None:
        return None
    equal, reason = outcome
    return AnswerCheck("correct" if equal else "incorrect", predicted, f"multi-part: {reason}")


def check_parts_without_sympy(predicted: str, reference: str) -> AnswerCheck | None:
    """Settle a multi-part pair by its structure and exact numbers; None hands it on."""
    return _check(predicted, reference, _Values(math_verify=False))


def check_parts(predicted: str, reference: str) -> AnswerCheck | None:
    """Compare a multi-part pair part by part, math-verify for values that are not numbers.

    None when either answer is not a multi-part shape handled here. Call it under a deadline:
    math-verify runs without its own timeout.
    """
    return _check(predicted, reference, _Values(math_verify=True))
