"""Worked solutions as programs: steps, calculator annotations and their dataflow.

A GSM8K-style solution writes each computation twice: a visible expression and a calculator
annotation `<<expr=value>>`, followed by the shown result. Parsing recovers, for every number
an annotation uses, where it comes from: an earlier step's result, a number in the question,
or a constant. That dataflow lets the injector change one step and re-execute the rest.
"""

from __future__ import annotations

import functools
import math
import re
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
# A visible computation `a op b = c` outside annotations, as in `99 + 5 = $104` (final steps
# often lack an annotation); the result must not run into a variable: `2(2x)=4x` is algebra.
PROSE_CLAIM_RE = re.compile(
    rf"(?<![\w.,=()])(?<!=\s)({_TERM}{_UNIT_WORDS}(?:{_JOIN}{_TERM}{_UNIT_WORDS})+)"
    rf"{_EQUALS}\$?(\d[\d,]*(?:\.\d+)?|\.\d+)(?![\d,]*\d)(?![A-Za-z])"
)
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


def tokenize_expression(expr: str) -> list[Token]:
    """Tokens of an annotation expression; raise SolutionParseError on anything else."""
    text = expr.replace(",", "").strip()
    tokens, pos = [], 0
    while pos < len(text):
        match = _EXPR_TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise SolutionParseError(
                "unsupported_annotation", f"cannot read {expr!r} at {text[pos:]!r}"
            )
        number, op = match.groups()
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
    for match in PROSE_CLAIM_RE.finditer(text, start):
        written = _IMPLICIT_TIMES_RE.sub("*", _UNIT_WORDS_RE.sub("", match.group(1)))
        for word, symbol in _WORD_OPERATORS.items():
            written = re.sub(rf"\s+{word}\s+", f" {symbol} ", written)
        if step.startswith("%", match.end(2)):
            # A result stated in percent: `x 100%` and `80%` are the numbers as written, so
            # `12/20 x 100% = 60%` reads as 12/20*100 = 60.
            written = written.replace("%", "")
        claims.append((normalize_expression(written), match.group(2), match.span(2), match.span(1)))
    return claims


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
    tokens = tokenize_expression(expr)
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


def parse_program(question: str, solution: str) -> Program:
    """Parse a worked solution with calculator annotations into a program."""
    steps, answer_text = split_steps(solution)
    if answer_text is None:
        raise SolutionParseError("no_final_answer", "expected a last line '#### <answer>'")
    answer = parse_number(answer_text)
    if answer is None:
        raise SolutionParseError("non_numeric_answer", f"final answer {answer_text!r}")
    quantities = question_quantities(question)
    nodes: list[Node] = []
    for step_index, step in enumerate(steps):
        cursor = 0
        for match in ANNOTATION_RE.finditer(step):
            shown = NUMBER_RE.match(step, match.end())
            shown_span = shown.span() if shown and shown.start() == match.end() else None
            node = _node(
                step,
                step_index,
                nodes,
                quantities,
                match.group(1),
                match.group(2).strip(),
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
            except SolutionParseError:
                continue  # prose that only looks like arithmetic; annotations are the truth
            nodes.append(node)
    answer_node = next((n.index for n in reversed(nodes) if n.value == answer), None)
    if answer_node is None:
        raise _unlinked_answer(steps, nodes, answer, answer_text)
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
    )


# A one-letter unknown set to a number, `x = 18` or `X = $26`: the end of solving an equation.
_SOLVED_UNKNOWN_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]\s*=\s*(\$?\d[\d,]*(?:\.\d+)?)(?![\d,]*\d)")


def _unlinked_answer(
    steps: list[str], nodes: list[Node], answer: Fraction, answer_text: str
) -> SolutionParseError:
    """Why no computation yields the final answer, as specific a reject code as we can tell.

    The solution is rejected either way; the code says which kind of solution the parser
    cannot follow, so the rejects show what a further parse ability would win.
    """
    solved = any(
        parse_number(m.group(1)) == answer
        for step in steps
        for m in _SOLVED_UNKNOWN_RE.finditer(step)
    )
    if solved:
        return SolutionParseError(
            "answer_by_algebra", f"final answer {answer_text} solves an equation for an unknown"
        )
    if not nodes:
        return SolutionParseError("no_annotations", "no calculator annotations <<expr=value>>")
    if any(n.value * 100 == answer for n in nodes):
        return SolutionParseError(
            "answer_in_other_unit",
            f"final answer {answer_text} is a step's result times 100 (cents or percent)",
        )
    if any(
        n.value.denominator != 1 and answer in (math.floor(n.value), math.ceil(n.value))
        for n in nodes
    ):
        return SolutionParseError(
            "answer_rounded", f"final answer {answer_text} rounds a step's result to a whole"
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
