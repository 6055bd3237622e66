"""The scanner: reads `=` chains from a line's visible text and checks each as it closes."""

from __future__ import annotations

import re
from fractions import Fraction

from errata.generators.verify.steps.claims import _check_chain, _Tally
from errata.generators.verify.steps.parse import (
    _BINARY,
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
    _OPERATORS,
    _SCALE_WORDS,
    _name_key,
    _tokenize,
    _word_set,
)

# Words that end a unit phrase: `3 countries is -48 + 21` is prose, not `3 countries - 48`.
_PROSE_WORDS = _word_set(
    "is are was were be so then and or which that because since but if than equals equal gives"
    " makes means leaves left thus therefore hence"
)
# Words that tie one quantity to the next: `24 eggs in 1 tray x 2 trays` is one expression
# the scanner cannot read whole, so a claim starting at `1 tray` may not flag.
_LINK_WORDS = _word_set("of in per each for at with from by on")
# Punctuation where the scanner certainly resets (a subset of its breaks: not a decimal
# point, a thousands comma, a clock's colon or the `...` of `33.333...`).
_CLAUSE_BREAK = r"(?:[;!?]|[,:](?=\s)|(?<!\.\.)\.(?=\s))"
_LAST_BREAK_RE = re.compile(rf".*{_CLAUSE_BREAK}", re.DOTALL)
_NEXT_BREAK_RE = re.compile(_CLAUSE_BREAK)
_WORD_OPERATORS = {"times": "*", "plus": "+", "minus": "-"}
_MAX_UNIT_WORDS = 4


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


def _is_call(tokens: list[tuple[str, str, int, int]], paren: int) -> bool:
    """Is the `(` at `paren` written against a word, as in `f(3)` or `round(2.5)`?"""
    return _is_word(tokens, paren - 1) and tokens[paren - 1][3] == tokens[paren][2]


def _after_call(tokens: list[tuple[str, str, int, int]], i: int) -> int:
    """Where reading resumes after a call whose `(` ends right before `i`: past its `)` and
    the rest of the side it is part of (`g(2) + 1`), at the next `=` or word."""
    depth = 1
    while i < len(tokens) and depth:
        kind = tokens[i][0]
        depth += (kind == "lp") - (kind == "rp")
        i += 1
    while i < len(tokens) and tokens[i][0] not in ("eq", "word", "other"):
        i += 1
    return i


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
        if self._expects_operand() and _is_call(tokens, i - 1):
            # `f(3) = 2*3 + 1 = 7`: a side with a function call has no value here; the
            # sides after its `=` are still read.
            self._close()
            self.loose_words = None
            return _after_call(tokens, i)
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
            # The side before this `=` was not read (`A + B = 3 + 4 = 7`, `f(3) = ...`), so
            # the next side starts at the `=` and is whole: its claims may flag.
            self.partial = False
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
