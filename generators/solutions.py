"""Worked solutions as programs: steps, calculator annotations and their dataflow.

A GSM8K-style solution writes each computation twice: a visible expression and a calculator
annotation `<<expr=value>>`, followed by the shown result. Parsing recovers, for every number
an annotation uses, where it comes from: an earlier step's result, a number in the question,
or a constant. That dataflow lets the injector change one step and re-execute the rest.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

from errata.generators.verify.arithmetic import (
    NUMBER_RE,
    ArithmeticError_,
    claim_holds,
    decimals_shown,
    evaluate,
    format_number,
    normalize_expression,
    parse_number,
)

ANNOTATION_RE = re.compile(r"<<([^<>]*?)=([^<>=]*)>>")
# The one place the math domain writes its final-answer line.
ANSWER_MARK = "####"
FINAL_ANSWER_RE = re.compile(rf"^\s*{ANSWER_MARK}\s*(.+?)\s*$")
_EXPR_TOKEN_RE = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|(\*\*|[-+*/()]))")
# A signed operand where a prose computation starts with a negative number, `-6 + 3 = -3`.
_SIGNED_NUMBER_RE = re.compile(r"\s*(-\d+(?:\.\d*)?|-\.\d+)")
_MIRROR_CHARS = set("0123456789.,$%+-*/x×÷() ")
_MIRROR_TAIL_RE = re.compile(r"[\s=$]*$")
_NUM = r"\$?\d[\d,]*(?:\.\d+)?%?"
# Up to two lowercase unit words after an operand, as in `7 puppies / 20 puppies * 100% = 35%`;
# `x` is the times sign there, never a unit. More words than that is a sentence, not a sum.
# A rate such as `miles/day` is one unit word.
_NOT_UNIT = r"(?![xX]\b|plus\b|minus\b|times\b|divided\b|equals\b)"
_UNIT_WORDS = rf"(?:\s+{_NOT_UNIT}[a-z]+(?:/[a-z]+)?){{0,2}}"
_UNIT_WORDS_RE = re.compile(rf"(?:\s+{_NOT_UNIT}[a-z]+(?:/[a-z]+)?)+")
# Operators and `=` spelled out: "He has $26 more because 200 minus 174 equals 26."
_WORD_OPERATORS = {"plus": "+", "minus": "-", "times": "*", "divided by": "/"}
_WORD_OPERATOR = r"\s+(?:plus|minus|times|divided by)\s+"
_EQUALS = r"(?:\s*=\s*|\s+equals\s+)"
# An operand of a prose claim: a number (`.6` too) or one level of parentheses, `(1/4)`.
_TERM = rf"(?:{_NUM}|\.\d+%?|\([^()=<>\n]{{1,60}}\))"
# Between terms an operator, or nothing beside a parenthesis: `2(40+9)` and `(1/4)24` multiply.
_JOIN = rf"(?:\s*[-+*/x×÷−–]\s*|{_WORD_OPERATOR}|(?=\()|(?<=\)))"
# The first term may be a negative result carried on right after an `=`: `= -6 + 3 = -3`.
_SIGN = r"(?:(?<==)-|(?<==\s)-)?"
_PROSE_EXPRESSION = rf"(?<![\w.,()])({_SIGN}{_TERM}{_UNIT_WORDS}(?:{_JOIN}{_TERM}{_UNIT_WORDS})+)"
# A visible computation `a op b = c` outside annotations, as in `99 + 5 = $104` (final steps
# often lack an annotation); the result must not run into a variable: `2(2x)=4x` is algebra.
# Where it may start after an `=` is `_clean_start`'s call. A result may be negative,
# `2 - 8 = -6`: the sign is part of the number the step states.
PROSE_CLAIM_RE = re.compile(
    rf"{_PROSE_EXPRESSION}{_EQUALS}\$?(-?(?:\d[\d,]*(?:\.\d+)?|\.\d+))(?![\d,]*\d)(?![A-Za-z])"
)
# The same computation written just before an annotation that only restates its result:
# `7.5 / .5 = <<15=15>>15` (read on the masked step, so the annotation is not there).
_EXPRESSION_BEFORE_RE = re.compile(rf"{_PROSE_EXPRESSION}{_EQUALS}\$?$")
# Where the left side of an `=` chain begins: a clause boundary or an earlier `=`.
_CLAUSE_BOUNDARY_RE = re.compile(r"[=:;\0]|[.,!?](?=\s)")
_IMPLICIT_TIMES_RE = re.compile(r"(?<=[\d%)])(?=\()|(?<=\))(?=[\d.$])")

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
}  # fmt: skip
_NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)

# Results must be written as decimals: `2/5` as a result cannot be re-rendered faithfully.
_DECIMAL_RE = re.compile(r"\$?-?(?:\d[\d,]*(?:\.\d*)?|\.\d+)%?")

# An operator between two written numbers; `/hour` or `30-minute` are words, not operators.
_GAP_OPERATOR_RE = re.compile(r"(?<![A-Za-z])(?:[+*×÷−–]|-(?![A-Za-z])|/(?![A-Za-z])|[xX](?=\s))")
_OPERATOR_NAMES = {"+": "+", "-": "-", "−": "-", "–": "-", "*": "*", "×": "*", "x": "*",
                   "X": "*", "/": "/", "÷": "/"}  # fmt: skip

Source = Literal["step", "question", "const"]


class SolutionParseError(ValueError):
    """A solution that cannot be turned into a program; `reason` is a reject code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Quantity:
    """A number written in the question."""

    value: Fraction
    text: str
    start: int


@dataclass(frozen=True)
class Token:
    """One token of an annotation expression; numbers carry where their value comes from."""

    text: str
    is_number: bool
    source: Source = "const"
    ref: int | None = None  # node index (source "step") or quantity index (source "question")

    @functools.cached_property
    def value(self) -> Fraction:
        return Fraction(self.text)


@dataclass(frozen=True)
class Node:
    """One calculator annotation: a computation in a step."""

    index: int
    step: int
    tokens: tuple[Token, ...]
    value: Fraction
    places: int  # decimals the solution shows for this result
    annotation_span: tuple[int, int] | None  # `<<...>>` in the step text; None if inline only
    shown_span: tuple[int, int] | None  # the result written after `>>`
    mirror_span: tuple[int, int] | None  # the visible copy of the expression before `<<`
    # Without a clean copy, the operands and operators as written with words between them
    # (`8 pounds / 4 weeks`): enough to change numbers or an operator in place.
    loose_mirror: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] | None = None
    # The annotation only restates the result (`9 - 3 = <<6=6>>6`); the computation is the
    # visible expression, and a rewritten annotation restates the new result the same way.
    restated: bool = False

    @property
    def expression(self) -> str:
        return "".join(t.text for t in self.tokens)

    @property
    def operands(self) -> list[tuple[int, Token]]:
        return [(i, t) for i, t in enumerate(self.tokens) if t.is_number]


@dataclass
class Program:
    question: str
    steps: list[str]  # solution lines without the final-answer line
    answer_text: str
    answer: Fraction
    answer_node: int
    nodes: list[Node]
    quantities: list[Quantity]
    consumers: dict[int, list[int]] = field(default_factory=dict)  # node -> nodes using it
    # The answer line states the answer node's value times this: 100 when the question asks
    # in cents or percent and the last step computes dollars or a fraction.
    answer_scale: Fraction = Fraction(1)

    def nodes_in_step(self, step: int) -> list[Node]:
        return [n for n in self.nodes if n.step == step]


def split_steps(text: str) -> tuple[list[str], str | None]:
    """Split a solution into step lines and the `#### n` answer (None if absent)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines:
        match = FINAL_ANSWER_RE.match(lines[-1])
        if match:
            return lines[:-1], match.group(1)
    return lines, None


def question_quantities(question: str) -> list[Quantity]:
    """Numbers written in a question, as digits or as common number words."""
    found = [
        Quantity(value, m.group(0), m.start())
        for m in NUMBER_RE.finditer(question)
        if (value := parse_number(m.group(0))) is not None
    ]
    found += [
        Quantity(Fraction(NUMBER_WORDS[m.group(1).lower()]), m.group(0), m.start())
        for m in _NUMBER_WORD_RE.finditer(question)
    ]
    return sorted(found, key=lambda q: q.start)


def tokenize_expression(expr: str, signed: bool = False) -> list[Token]:
    """Tokens of an annotation expression; raise SolutionParseError on anything else.

    With `signed`, a minus that starts the expression or follows `(` is part of its number:
    `-6 + 3` written after `2 - 8 = -6` uses that result, -6, as one operand."""
    text = expr.replace(",", "").strip()
    tokens, pos = [], 0
    while pos < len(text):
        unary = not tokens or tokens[-1].text == "("
        match = (signed and unary and _SIGNED_NUMBER_RE.match(text, pos)) or _EXPR_TOKEN_RE.match(
            text, pos
        )
        if not match or match.end() == pos:
            raise SolutionParseError(
                "unsupported_annotation", f"cannot read {expr!r} at {text[pos:]!r}"
            )
        number, op = match.groups() if match.re is _EXPR_TOKEN_RE else (match.group(1), None)
        tokens.append(Token(number.rstrip("."), True) if number else Token(op, False))
        pos = match.end()
    if not any(t.is_number for t in tokens):
        raise SolutionParseError("unsupported_annotation", f"no numbers in {expr!r}")
    return tokens


def find_mirror(step: str, before: int, after: int, operands: list[Fraction]) -> tuple[int, int]:
    """Span of the visible expression written just before an annotation, or (-1, -1)."""
    head = step[after:before]
    head = head[: _MIRROR_TAIL_RE.search(head).start()]
    start = len(head)
    while start > 0 and head[start - 1] in _MIRROR_CHARS:
        start -= 1
    numbers = list(NUMBER_RE.finditer(head, start))
    if len(numbers) < len(operands):
        return -1, -1
    numbers = numbers[len(numbers) - len(operands) :]
    if [parse_number(m.group(0)) for m in numbers] != operands:
        return -1, -1
    first = numbers[0].start()
    while first > start and head[first - 1] in "($":
        first -= 1
    return after + first, after + len(head.rstrip())


def find_loose_mirror(
    step: str, before: int, after: int, tokens: list[Token]
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] | None:
    """Spans of operands and operators written with words between them, or None."""
    operators = [t.text for t in tokens if not t.is_number]
    operands = [t.value for t in tokens if t.is_number]
    if "(" in operators or len(operators) != len(operands) - 1:
        return None
    head = step[after:before]
    head = head[: _MIRROR_TAIL_RE.search(head).start()]
    numbers = list(NUMBER_RE.finditer(head))[-len(operands) :]
    if len(numbers) != len(operands) or [parse_number(m[0]) for m in numbers] != operands:
        return None
    operator_spans = []
    for left, right, operator in zip(numbers, numbers[1:], operators, strict=False):
        gap = head[left.end() : right.start()]
        found = list(_GAP_OPERATOR_RE.finditer(gap))
        if "=" in gap or len(found) != 1 or _OPERATOR_NAMES[found[0][0]] != operator:
            return None
        operator_spans.append(
            (after + left.end() + found[0].start(), after + left.end() + found[0].end())
        )
    number_spans = tuple((after + m.start(), after + m.end()) for m in numbers)
    return number_spans, tuple(operator_spans)


def _masked(step: str) -> str:
    """The step with its annotations blanked out, offsets kept: `<<5*2=10>>` holds a claim
    the annotation parser already read, and must not glue onto the text around it."""
    return ANNOTATION_RE.sub(lambda m: "\0" * len(m.group(0)), step)


def _clean_start(text: str, start: int) -> bool:
    """Whether a prose computation may start at `start`: anywhere but inside an `=` chain of
    arithmetic. In `5+2(6)=5+6=11`, `5+6` is the middle of a chain and editing it alone would
    leave the chain inconsistent; after a name (`x = 200/20 = 10`, `2V = 2 * 11 = 22`,
    `Drop 8 degrees = 2 - 8`) the computation is the first arithmetic of its chain."""
    before = text[:start].rstrip()
    if not before.endswith("="):
        return True
    before = before[:-1]
    cut = max((m.end() for m in _CLAUSE_BOUNDARY_RE.finditer(before)), default=0)
    left = before[cut:].rstrip()
    if not left or not left[-1].isalpha():
        return False  # `... 4 = 2 + 2 = 4`, `2(6)= 12`: the left side is arithmetic
    numbers = list(NUMBER_RE.finditer(left))
    return not any(
        _GAP_OPERATOR_RE.search(left, a.end(), b.start()) for a, b in itertools.pairwise(numbers)
    )  # `2 babies / 4 babies = .5 * 100%`: the left side computes too


def _written_expression(written: str, percent_result: bool) -> str:
    """A prose computation as an annotation expression: units dropped, words made symbols."""
    for word, symbol in _WORD_OPERATORS.items():  # before unit words: `by` is not a unit
        written = re.sub(rf"\s+{word}\s+", f" {symbol} ", written)
    written = _IMPLICIT_TIMES_RE.sub("*", _UNIT_WORDS_RE.sub("", written))
    if percent_result:
        # A result stated in percent: `x 100%` and `80%` are the numbers as written, so
        # `12/20 x 100% = 60%` reads as 12/20*100 = 60.
        written = written.replace("%", "")
    return normalize_expression(written)


def _inline_claims(
    step: str, start: int
) -> list[tuple[str, str, tuple[int, int], tuple[int, int]]]:
    """Visible computations `a op b = c` after the step's last annotation (from `start`), as
    (expression, claimed result, result span, expression span).

    Many final answers are computed only in prose after the annotated steps ("This is 12/20 x
    100% = 60%"); reading from the last annotation on keeps the nodes in written order.
    """
    text = _masked(step)
    claims = []
    pos = start
    while match := PROSE_CLAIM_RE.search(text, pos):
        if not _clean_start(text, match.start()):
            pos = match.start() + 1
            continue
        pos = match.end()
        written = _written_expression(match.group(1), step.startswith("%", match.end(2)))
        claims.append((written, match.group(2), match.span(2), match.span(1)))
    return claims


def _expression_before(
    step: str, start: int, end: int, result_end: int
) -> tuple[str, tuple[int, int]] | None:
    """The visible computation that ends just before an annotation at `end` (from `start`),
    as (expression, span); for annotations that only restate a result, `9 - 3 = <<6=6>>6`."""
    text = _masked(step)[:end]
    pos = start
    while match := _EXPRESSION_BEFORE_RE.search(text, pos):
        if _clean_start(text, match.start()):
            return _written_expression(match.group(1), step.startswith("%", result_end)), (
                match.span(1)
            )
        pos = match.start() + 1
    return None


def _attribute(
    token: Token, earlier: list[Node], quantities: list[Quantity]
) -> Token:  # the latest earlier result wins: solutions reuse what they just computed
    value = token.value
    for node in reversed(earlier):
        if node.value == value:
            return replace(token, source="step", ref=node.index)
    for q_index, quantity in enumerate(quantities):
        if quantity.value == value:
            return replace(token, source="question", ref=q_index)
    return token


def _worded_mirror(step: str, start: int, end: int, tokens: list[Token]) -> tuple[int, int] | None:
    """The visible copy of an annotation with its operators in words, `83 plus 91 equals
    <<83+91=174>>`: the same numbers and operators in order, and no other words (a copy with
    units between the numbers is `find_loose_mirror`'s, which keeps them in place)."""
    found = _expression_before(step, start, end, end)
    if found is None:
        return None
    written, span = found
    if re.search(r"[A-WYZa-wyz]", written):
        return None
    try:
        same = token_meaning(tokenize_expression(written)) == token_meaning(tokens)
    except SolutionParseError:
        return None
    return span if same else None


def token_meaning(tokens: Sequence[Token]) -> list[Fraction | str]:
    """Tokens compared by value, so `0.50` and `0.5` are the same operand."""
    return [t.value if t.is_number else t.text for t in tokens]


def _node(
    step: str,
    step_index: int,
    earlier: list[Node],
    quantities: list[Quantity],
    expr: str,
    claim_text: str,
    *,
    annotation: tuple[int, int] | None,
    shown: tuple[int, int] | None,
    mirror_from: int = 0,
    mirror: tuple[int, int] | None = None,
) -> Node:
    # A computation read from prose (its visible copy given) may start with a signed number.
    tokens = tokenize_expression(expr, signed=mirror is not None)
    claimed = parse_number(claim_text) if _DECIMAL_RE.fullmatch(claim_text) else None
    if claimed is None:
        raise SolutionParseError("unsupported_annotation", f"result {claim_text!r}")
    try:
        computed = evaluate("".join(t.text for t in tokens))
    except ArithmeticError_ as exc:
        raise SolutionParseError("unsupported_annotation", str(exc)) from exc
    if not claim_holds(computed, claimed, claim_text):
        raise SolutionParseError(
            "reference_arithmetic",
            f"step {step_index}: {expr} is {format_number(computed)}, not {claim_text}",
        )
    if shown and parse_number(step[shown[0] : shown[1]]) != claimed:
        shown = None
    tokens = [_attribute(t, earlier, quantities) if t.is_number else t for t in tokens]
    loose = None
    if mirror is None and annotation is not None:
        operand_values = [t.value for t in tokens if t.is_number]
        found = find_mirror(step, annotation[0], mirror_from, operand_values)
        mirror = found if found[0] >= 0 else None
        if mirror is None:
            loose = find_loose_mirror(step, annotation[0], mirror_from, tokens)
        if mirror is None and loose is None:
            mirror = _worded_mirror(step, mirror_from, annotation[0], tokens)
    return Node(
        index=len(earlier),
        step=step_index,
        tokens=tuple(tokens),
        value=claimed,
        places=decimals_shown(claim_text),
        annotation_span=annotation,
        shown_span=shown,
        mirror_span=mirror,
        loose_mirror=loose,
    )


def _restated_computation(
    step: str,
    step_index: int,
    earlier: list[Node],
    quantities: list[Quantity],
    annotation: re.Match,
    shown: tuple[int, int] | None,
    cursor: int,
) -> Node | None:
    """An annotation that only restates its result (`9 - 3 = <<6=6>>6`) as the computation
    written before it, or None: the visible expression is the step's real calculation."""
    expr, claim_text = annotation.group(1).strip(), annotation.group(2).strip()
    if expr != claim_text or not _DECIMAL_RE.fullmatch(claim_text):
        return None
    found = _expression_before(step, cursor, annotation.start(), (shown or annotation.span())[1])
    if found is None:
        return None
    written, mirror = found
    try:
        node = _node(
            step,
            step_index,
            earlier,
            quantities,
            written,
            claim_text,
            annotation=annotation.span(),
            shown=shown,
            mirror=mirror,
        )
    except SolutionParseError:
        return None  # not the computation of this result; keep the restatement
    return replace(node, restated=True)


# The sentence that asks for the answer, when it asks in cents or percent.
_HUNDREDTHS_QUESTION_RE = re.compile(r"\b(?:in cents|how many cents|percent(?:age)?)\b", re.I)


def _asks_in_hundredths(question: str) -> bool:
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", question.strip()) if s]
    return bool(sentences) and bool(_HUNDREDTHS_QUESTION_RE.search(sentences[-1]))


def parse_program(question: str, solution: str) -> Program:
    """Parse a worked solution with calculator annotations into a program.

    A solution that writes dollar amounts with spaces between thousands (`$400 000`) and
    links no computation to its answer that way is read again with those amounts as
    `$400,000`; the program (its steps and question) then writes them with commas, the form
    the step checker and the injector read and write. Only dollar amounts are joined: in
    `3 100 ml` the space may separate two numbers.
    """
    try:
        return _parse_program(question, solution)
    except SolutionParseError as exc:
        if exc.reason != "space_thousands":
            raise
        rejected = exc
    joined = (_comma_thousands(question), _comma_thousands(solution))
    if joined == (question, solution):  # no dollar amount to join: the same parse would fail
        raise rejected from None
    try:
        return _parse_program(*joined)
    except SolutionParseError:
        raise rejected from None


# A dollar amount with spaces between its thousands, `$400 000`.
_DOLLAR_SPACE_THOUSANDS_RE = re.compile(r"(?<=\$)\d{1,3}(?: \d{3})+(?![\d,]*\d)")


def _comma_thousands(text: str) -> str:
    """`$400 000` as `$400,000`; offsets are kept (a space becomes a comma)."""
    return _DOLLAR_SPACE_THOUSANDS_RE.sub(lambda m: m[0].replace(" ", ","), text)


def _parse_program(question: str, solution: str) -> Program:
    steps, answer_text = split_steps(solution)
    if answer_text is None:
        raise SolutionParseError("no_final_answer", "expected a last line '#### <answer>'")
    answer = parse_number(answer_text)
    if answer is None:
        raise SolutionParseError("non_numeric_answer", f"final answer {answer_text!r}")
    quantities = question_quantities(question)
    nodes: list[Node] = []
    miscomputed: list[tuple[Fraction | None, str]] = []  # prose claims whose arithmetic fails
    for step_index, step in enumerate(steps):
        cursor = 0
        for match in ANNOTATION_RE.finditer(step):
            expr, claim_text = match.group(1).strip(), match.group(2).strip()
            if expr == claim_text and not _DECIMAL_RE.fullmatch(claim_text):
                continue  # `<<3/4=3/4>>` names a fraction; it computes nothing
            shown = NUMBER_RE.match(step, match.end())
            shown_span = shown.span() if shown and shown.start() == match.end() else None
            node = _restated_computation(
                step, step_index, nodes, quantities, match, shown_span, cursor
            ) or _node(
                step,
                step_index,
                nodes,
                quantities,
                expr,
                claim_text,
                annotation=match.span(),
                shown=shown_span,
                mirror_from=cursor,
            )
            nodes.append(node)
            cursor = node.shown_span[1] if node.shown_span else match.end()
        for expr, claim_text, claim_span, mirror_span in _inline_claims(step, cursor):
            try:
                node = _node(
                    step,
                    step_index,
                    nodes,
                    quantities,
                    expr,
                    claim_text,
                    annotation=None,
                    shown=claim_span,
                    mirror=mirror_span,
                )
            except SolutionParseError as exc:
                # Only a whole claim can be the reference's slip: not `1/2 + 2 = 8` out of
                # `1 1/2 + 2 = 8`, nor percents, which the claim may mean either way.
                whole = not re.search(r"\d\s*$", step[: mirror_span[0]])
                percent = "%" in step[mirror_span[0] : claim_span[1] + 1]
                if exc.reason == "reference_arithmetic" and whole and not percent:
                    miscomputed.append((parse_number(claim_text), str(exc)))
                continue  # prose that only looks like arithmetic; annotations are the truth
            nodes.append(node)
    answer_node = next((n.index for n in reversed(nodes) if n.value == answer), None)
    answer_scale = Fraction(1)
    # "How much will each razor cost, in cents?" over `$2.00/8 = $0.25`: the answer line
    # writes the last result in cents (or a fraction in percent) without a computation.
    hundredths = answer_node is None and nodes and nodes[-1].value * 100 == answer
    if hundredths and _asks_in_hundredths(question):
        answer_node, answer_scale = nodes[-1].index, Fraction(100)
    if answer_node is None:
        raise _unlinked_answer(steps, nodes, answer, answer_text, miscomputed)
    consumers: dict[int, list[int]] = {}
    for node in nodes:
        for _, token in node.operands:
            if token.source == "step":
                consumers.setdefault(token.ref, []).append(node.index)
    return Program(
        question=question,
        steps=steps,
        answer_text=answer_text,
        answer=answer,
        answer_node=answer_node,
        nodes=nodes,
        quantities=quantities,
        consumers=consumers,
        answer_scale=answer_scale,
    )


# A one-letter unknown set to a number, `x = 18` or `X = $26`: the end of solving an equation.
_SOLVED_UNKNOWN_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]\s*=\s*(\$?\d[\d,]*(?:\.\d+)?)(?![\d,]*\d)")


# A number written with spaces between its thousands, `$400 000`: read as two numbers.
_SPACE_THOUSANDS_RE = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d,]*\d)")
# `48 quarts = 12 gallons`: a result restated in another unit, its factor never written.
_UNIT_RESTATED_RE = re.compile(rf"({_NUM})\s+[a-z]+\s*=\s*({_NUM})\s+[a-z]+")
_ROUNDS_RE = re.compile(r"\bround", re.IGNORECASE)


def _unlinked_answer(
    steps: list[str],
    nodes: list[Node],
    answer: Fraction,
    answer_text: str,
    miscomputed: list[tuple[Fraction | None, str]],
) -> SolutionParseError:
    """Why no computation yields the final answer, as specific a reject code as we can tell.

    The solution is rejected either way; the code says which kind of solution the parser
    cannot follow, so the rejects show what a further parse ability would win.
    """
    plain = [ANNOTATION_RE.sub("", step) for step in steps]  # `x = <<9=9>>9` reads `x = 9`
    solved = [m for step in plain for m in _SOLVED_UNKNOWN_RE.finditer(step)]
    solution = next((m[0] for m in solved if parse_number(m.group(1)) == answer), None)
    if solution:
        return SolutionParseError(
            "answer_by_algebra",
            f"final answer {answer_text} solves an equation for an unknown ({solution}); "
            "the parser does not solve equations and no written computation gives it",
        )
    if answer < 0:
        return SolutionParseError(
            "answer_negative",
            f"final answer {answer_text} is negative and no computation gives it; only prose "
            "chains such as `2 - 8 = -6` and `= -6 + 3 = -3` read signed numbers",
        )
    wrong = next((message for value, message in miscomputed if value == answer), None)
    if wrong:
        return SolutionParseError(
            "answer_miscomputed",
            f"the reference computes its final answer {answer_text} with wrong arithmetic "
            f"({wrong})",
        )
    spaced = next((m[0] for step in steps for m in _SPACE_THOUSANDS_RE.finditer(step)), None)
    if spaced:
        return SolutionParseError(
            "space_thousands",
            f"the solution writes numbers with spaces between thousands ({spaced!r}), which "
            f"read as separate numbers, so no computation gives {answer_text}",
        )
    if not nodes:
        return SolutionParseError(
            "no_annotations",
            "no calculator annotations <<expr=value>> and no prose computation `a op b = c`",
        )
    scaled = next((n for n in reversed(nodes) if n.value * 100 == answer), None)
    if scaled:
        return SolutionParseError(
            "answer_in_other_unit",
            f"final answer {answer_text} is step {scaled.step}'s result "
            f"{format_number(scaled.value)} times 100 (cents or percent), but the question does "
            "not ask in cents or percent, or a later step computes something else",
        )
    values = {n.value for n in nodes}
    for step in plain:
        for m in _UNIT_RESTATED_RE.finditer(step):
            if parse_number(m.group(2)) == answer and parse_number(m.group(1)) in values:
                return SolutionParseError(
                    "answer_in_other_unit",
                    f"final answer {answer_text} converts a step's result to another unit "
                    f"({m[0]!r}) without writing the conversion",
                )
    if any(
        n.value.denominator != 1 and answer in (math.floor(n.value), math.ceil(n.value))
        for n in nodes
    ):
        return SolutionParseError(
            "answer_rounded", f"final answer {answer_text} rounds a step's result to a whole"
        )
    for step in plain:
        if _ROUNDS_RE.search(step) and any(
            parse_number(m[0]) == answer for m in NUMBER_RE.finditer(step)
        ):
            return SolutionParseError(
                "answer_rounded",
                f"final answer {answer_text} is rounded in words from a result that is not "
                f"read as a computation: {step!r}",
            )
    if solved:
        return SolutionParseError(
            "answer_by_algebra",
            f"the solution solves an equation ({solved[-1][0]}) and derives final answer "
            f"{answer_text} from it in words, with no written computation",
        )
    return SolutionParseError(
        "answer_unlinked", f"final answer {answer_text} is not the result of any step"
    )


def spaced_expression(expression: str) -> str:
    """`5*4-2` as a person writes it: `5 * 4 - 2`."""
    return re.sub(r"(?<=[\d)])([-+*/])", r" \1 ", expression).replace("  ", " ")


def render_answer(answer: str) -> str:
    """The final line of a worked solution, GSM8K style."""
    return f"{ANSWER_MARK} {answer}"


def render_solution(steps: list[str], answer: str) -> str:
    """Steps and final answer in the GSM8K layout."""
    return "\n".join([*steps, render_answer(answer)])
