"""LaTeX arithmetic in a step: `$\\frac{3}{4} \\cdot 8 = 6$`, `\\(2^{10} = 1024\\)`, bare
`\\sqrt{16} + 3 = 7`.

Math is what stands between `$...$`, `$$...$$`, `\\(...\\)` or `\\[...\\]`, or a bare run of math
characters with a LaTeX mark in it (a command or a brace). A run is split at its top-level
relations and prose (`\\approx`, `<`, `\\text{...}`, `\\quad`, `, `) into links; two adjacent
links joined by `=` whose values can both be read (see `latex_value`) make a claim, under the
same rules as plain text. The runs are then blanked out for the plain-text scanner, which
cannot read LaTeX and would take its fragments for claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from errata.generators.verify.steps.claims import (
    _number_holds,
    _shown_text,
    _Tally,
    _values_close,
)
from errata.generators.verify.steps.latex_value import LatexSide, _bare_number, latex_side
from errata.generators.verify.steps.parse import Number
from errata.generators.verify.steps.scan import _LINK_WORDS
from errata.generators.verify.steps.tokens import _SCALE_WORDS, _word_set

_DELIMITED_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<!\\)\$(.+?)(?<!\\)\$", re.DOTALL
)
_TEXT_COMMAND = r"\\(?:text[a-z]*|mbox|mathrm|operatorname)\s*\{[^{}]*\}"
# Characters of bare math: a `.` or `,` only inside a number, a `!` only as a factorial.
_BARE_RUN_RE = re.compile(
    rf"(?:{_TEXT_COMMAND}|\\(?:begin|end)\{{[A-Za-z]*\*?\}}|\\[A-Za-z]+|\\[^A-Za-z\s]|\{{,\}}"
    r"|[\d{}()\[\]|^_+\-*/=<>'~& \t·×÷−]|[.,](?=\d)|!(?=\s*[=+\-*/^)\]}\\<>]))+"
)
_LATEX_MARK_RE = re.compile(r"\\[A-Za-z%$,{}\\]|[{}]")
# Where links end: relations, then prose inside math. Only `=` joins two links into a claim.
_SEPARATOR_RE = re.compile(
    rf"{_TEXT_COMMAND}"
    r"|\\(?:approx|neq?|leq?|geq?|lt|gt|equiv|simeq|sim|cong|propto|Rightarrow|Longrightarrow"
    r"|rightarrow|implies|iff|to|therefore|because|quad|qquad|text|mbox)(?![A-Za-z])"
    r"|<=|>=|!=|:=|[=<>;]|,(?=\s)"
)
_OPENING, _CLOSING = "{([", "})]"
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{(.*)\}", re.DOTALL)
# Words that apply an operation to the math after them (`half $...$`, `3 times $...$`).
_OPERATOR_WORDS = _SCALE_WORDS | _word_set(
    "twice thrice double triple quadruple negative minus plus times over than squared cubed"
)
# Words that tie the math to a quantity written just before them (`20% of $...$`).
_TYING_WORDS = _LINK_WORDS | _word_set("to into")
_LAST_CLAUSE_RE = re.compile(r".*(?:[.,;:!?](?=\s)|[(\n])", re.DOTALL)
_PROSE_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'’]*|\d|%")
_QUANTITY_LOOKBACK = 3
_LOOKBACK_CHARS = 200
# Delimiter pairs are searched with lazy patterns; a step beyond this is left unchecked.
_MAX_STEP_CHARS = 20_000
# Words that end a clause inside `\text{...}`; other text (`\text{ cm}`) may be a unit
# within an expression that goes on after it.
_CLAUSE_WORDS = _word_set(
    "so then and thus therefore hence which is are was were gives means since because but or"
    " get have where"
)
_BULLET_RE = re.compile(r"\s*(?:[-*•]|\d+[.)]|\(?[a-z]\))?\s*")
_OPERATOR_START_RE = re.compile(r"\s*(?:[+*/]|\\cdot|\\times|\\div)")
_MULTIPLIES_RE = re.compile(r"\\cdot|\\times|\\div|\\frac|[*/]")
_ADDS_RE = re.compile(r"(?<=[\d})\]])\s*[-+]")
_HEAD_RE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(?:[-+*/]|\\cdot|\\times|\\div)")


class _Link(NamedTuple):
    text: str  # as written, for the failure detail
    start: int  # where it starts in the step
    joined: bool  # joined to the previous link by `=`
    whole: bool  # after a break, starts a whole expression (not `\text{ cm} \times 4`)


class _Run(NamedTuple):
    start: int  # the run with its delimiters, as blanked for the scanner
    end: int
    body_start: int  # the math inside the delimiters
    body_end: int


def has_latex(step: str) -> bool:
    """Might the step hold LaTeX? A cheap test that keeps plain steps off this path."""
    return "\\" in step or "{" in step


def check_latex(step: str, tally: _Tally) -> str:
    """Check the claims of every LaTeX run; return the step with the runs blanked out."""
    if len(step) > _MAX_STEP_CHARS:
        return ""  # unread, and hidden from the scanner too
    pieces, shown_from = [], 0
    for run in _runs(step):
        if "=" in step[run.body_start : run.body_end]:
            _check_run(step, run, tally)
        # `;` ends the scanner's chains, so prose on either side cannot join across a run.
        pieces += [step[shown_from : run.start], ";", " " * (run.end - run.start - 1)]
        shown_from = run.end
    return "".join([*pieces, step[shown_from:]])


def _runs(step: str) -> Iterator[_Run]:
    """Delimited math, then bare runs with a LaTeX mark in the text between it."""
    prose_start = 0
    for match in _DELIMITED_RE.finditer(step):
        yield from _bare_runs(step, prose_start, match.start())
        group = next(index for index in range(1, 5) if match.group(index) is not None)
        yield _Run(match.start(), match.end(), match.start(group), match.end(group))
        prose_start = match.end()
    yield from _bare_runs(step, prose_start, len(step))


def _bare_runs(step: str, start: int, end: int) -> Iterator[_Run]:
    for match in _BARE_RUN_RE.finditer(step, start, end):
        text = match.group()
        if not _LATEX_MARK_RE.search(text):
            continue  # plain arithmetic: the scanner's
        body_start = match.start() + len(text) - len(text.lstrip())
        body_end = match.end() - len(text) + len(text.rstrip())
        yield _Run(body_start, body_end, body_start, body_end)


def _check_run(step: str, run: _Run, tally: _Tally) -> None:
    whole_start = _starts_expression(step[max(0, run.start - _LOOKBACK_CHARS) : run.start])
    links = list(_links(step, run.body_start, run.body_end, whole_start))
    if run.start == run.body_start and run.start and step[run.start - 1].isalpha():
        # `f(3) = ...`: the first link is a call's argument; the chain restarts at its `=`.
        links[0] = links[0]._replace(text="")
    _check_links(links, tally)


def _links(step: str, start: int, end: int, whole_start: bool) -> Iterator[_Link]:
    """The run's links, split at separators outside brackets."""
    depth, position, link_start, joined, whole = 0, start, start, False, whole_start
    for match in _SEPARATOR_RE.finditer(step, start, end):
        depth += _depth_change(step[position : match.start()])
        position = match.end()
        if depth == 0:
            yield _Link(step[link_start : match.start()], link_start, joined, whole)
            separator = match.group()
            link_start, joined = match.end(), separator == "="
            whole = _separator_starts_expression(separator)
        depth += _depth_change(match.group())
    yield _Link(step[link_start:end], link_start, joined, whole)


def _depth_change(text: str) -> int:
    text = text.replace("\\{", "{").replace("\\}", "}")
    return sum(text.count(char) for char in _OPENING) - sum(text.count(char) for char in _CLOSING)


def _starts_expression(before: str) -> bool:
    """Does math after this text start a whole expression, not the tail of one (`half of`)?"""
    clause = _LAST_CLAUSE_RE.sub("", before).rstrip().rstrip("*_").rstrip()
    if not clause or _BULLET_RE.fullmatch(clause) or clause[-1] == "=":
        return True
    if not clause[-1].isalpha():
        return False  # a number, an operator or more math: the expression goes on
    tokens = _PROSE_TOKEN_RE.findall(clause)
    last = tokens[-1].lower()
    if (len(last) == 1 and last not in "ai") or last in _OPERATOR_WORDS:
        return False  # `x + $...$`, `twice $...$`
    if last in _TYING_WORDS:
        quantities = tokens[-1 - _QUANTITY_LOOKBACK : -1]
        return not any(_is_quantity(token) for token in quantities)
    return True


def _is_quantity(token: str) -> bool:
    return token[0].isdigit() or token == "%" or token.lower() in _OPERATOR_WORDS


def _separator_starts_expression(separator: str) -> bool:
    """After a relation or a clause break a link is whole; after `\\text{...}` only if the
    text ends a clause (`\\text{ so }`), not if it is a unit (`\\text{ cm}`)."""
    if not separator.startswith("\\") or "{" not in separator:
        return separator not in ("\\text", "\\mbox")
    words = separator[separator.index("{") + 1 : -1].strip()
    if words and words[-1] in ".:;,!?":
        return True
    return bool(words) and words.split()[-1].lower() in _CLAUSE_WORDS


def _side(link: _Link) -> LatexSide | None:
    text = link.text.strip().rstrip(".,").strip()
    if not text or _OPERATOR_START_RE.match(text):
        return None  # `\times 4` after a unit is the tail of an expression
    boxed = _BOXED_RE.fullmatch(text)
    return latex_side(boxed.group(1) if boxed else text)


def _check_links(links: list[_Link], tally: _Tally) -> None:
    """Check each `=` between two readable links, as `claims._check_chain` does for text.

    A chain starts at a break, or at an `=` after a link that cannot be read; its first
    claim may only confirm when its first link might be the tail of a longer expression.
    """
    sides = [_side(link) for link in links]
    first, whole, abandoned, run_on = True, links[0].whole, False, False
    for i in range(1, len(links)):
        left, right = sides[i - 1], sides[i]
        if not links[i].joined or left is None:
            first, whole, abandoned, run_on = True, links[i].whole or links[i].joined, False, False
            continue
        if abandoned or right is None:
            continue
        if left.shown is not None and right.shown is not None:
            first = False
            continue  # `0.5 = 50\%`: two written numbers restate, they do not compute
        holds, next_run_on, computed, shown = _judge(left, right, links[i - 1], links[i], run_on)
        if not holds and first and not whole:
            abandoned = True  # the chain may start inside an expression (`half of $...$`)
            continue
        if not holds and first and left.shown is not None:
            first = False
            continue  # `2 = 1 + 3`: a leading bare number is usually a label
        first, run_on = False, next_run_on
        if tally.count((computed, shown.shown[1] if shown.shown else None), holds):
            claim = f"{_display(links[i - 1].text)} = {_display(links[i].text)}"
            tally.fail(f"{claim} but is {_value_text(computed, shown)}", links[i].start)


def _judge(
    left: LatexSide, right: LatexSide, left_link: _Link, right_link: _Link, run_on: bool
) -> tuple[bool, bool, Number, LatexSide]:
    """(holds, opens a run-on, the computed value, the side showing the claimed value)."""
    holds, computed, shown = _claim_holds(left, right)
    if holds:
        return True, False, computed, shown
    head = _HEAD_RE.match(right_link.text) if left.shown is None else None
    if head is not None and _written_holds(left.value, _bare_number(head.group(1))):
        return True, True, computed, shown  # `2 \cdot 3 = 6 + 4 = 10`: the claim is 2*3 = 6
    # A run-on's tail may be computed left to right (`6 + 4 \cdot 2 = 20`): do not guess.
    return run_on and _mixes_precedence(left_link.text), False, computed, shown


def _claim_holds(left: LatexSide, right: LatexSide) -> tuple[bool, Number, LatexSide]:
    """(holds, the computed value, the side that shows the claimed value)."""
    if right.shown is not None:
        return _written_holds(left.value, right.shown), left.value, right
    if left.shown is not None:
        return _written_holds(right.value, left.shown), right.value, left
    if left.approximate or right.approximate:
        return _values_close(left.value, right.value), left.value, right
    return left.value == right.value, left.value, right


def _written_holds(value: Number, shown: tuple) -> bool:
    """A written number's rules, less the sign moved into words (`200 less`): math has none."""
    return _number_holds(value, shown) and not value < 0 < shown[1]


def _mixes_precedence(text: str) -> bool:
    return bool(_MULTIPLIES_RE.search(text)) and bool(_ADDS_RE.search(text))


def _value_text(value: Number, shown: LatexSide) -> str:
    """The true value for a failure detail: like the written number, else as a fraction."""
    if shown.shown is not None or getattr(value, "denominator", 1) == 1:
        return _shown_text(value, shown.shown)
    return str(value)


def _display(text: str) -> str:
    """A link as a failure detail quotes it, without alignment marks (`&`, `\\\\`)."""
    return " ".join(text.replace("&", " ").replace("\\\\", " ").split())
