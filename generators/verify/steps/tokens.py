"""The tokenizer: one precompiled regex, token kinds, operator spellings and name keys."""

from __future__ import annotations

import re

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
