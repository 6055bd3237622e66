"""The steps an export applies to training rows: dedupe, decontaminate, cap rows per problem.

Each step has one job and returns `(kept, excluded)`: every dropped row becomes an `Excluded`
with a reason, so `len(rows) == len(kept) + len(excluded)` holds per step and callers count
exclusions by step and reason. Every choice is a seeded content hash, never input order or
Python's per-process hash seed, so reruns on any machine select the same rows.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errata.generators.sources.files import check_regular_file, read_bytes
from errata.schemas.ids import content_hash

LINEAGE_COLUMNS = ("problem_id", "mistake_id", "source", "origin", "error_type")
QUESTION_FIELDS = ("question", "problem", "prompt")
DEFAULT_NGRAM = 13  # words, as in GPT-3's contamination analysis
_WORD_RE = re.compile(r"\w+")
_UNIT = 16**15  # content_hash(..., length=15) is uniform on [0, 16**15)


@dataclass(frozen=True)
class Excluded:
    """One row a step dropped, and why."""

    config: str  # which export config the row belonged to
    step: str  # "dedupe" | "decontaminate" | "max_per_problem"
    reason: str  # short code: "duplicate_row", "ngram_overlap", "over_limit"
    detail: str  # a sentence a person can check: which n-gram, which row it duplicates
    problem_id: str
    mistake_id: str | None


def _excluded(config: str, step: str, reason: str, detail: str, row: dict[str, Any]) -> Excluded:
    return Excluded(config, step, reason, detail, row["problem_id"], row.get("mistake_id"))


def row_key(row: dict[str, Any]) -> str:
    """Content hash of what a row teaches: lineage columns and "split" are left out, so two
    mistakes that yield the same training text count as duplicates."""
    content = {k: v for k, v in row.items() if k not in LINEAGE_COLUMNS and k != "split"}
    return content_hash("row", content)


def _unit_hash(*parts: Any) -> float:
    """A stable draw in [0, 1) from `parts` (sha256, not `hash()`, which varies per process)."""
    return int(content_hash(*parts, length=15), 16) / _UNIT


def assign_split(problem_id: str, seed: int, test_fraction: float) -> str:
    """ "test" or "train" for a problem, from a hash of (seed, problem_id) alone, so every row
    of a problem lands in the same split whatever order or machine the rows come from."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    return "test" if _unit_hash("split", seed, problem_id) < test_fraction else "train"


def _lineage(row: dict[str, Any]) -> tuple[str, ...]:
    # A tie-break only: these columns hold strings or None (sorted as "").
    return tuple(row.get(c) or "" for c in (*LINEAGE_COLUMNS, "split"))


def _describe(row: dict[str, Any]) -> str:
    return f"problem {row['problem_id']} mistake {row.get('mistake_id')}"


def dedupe(config: str, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Excluded]]:
    """Exact dedupe by `row_key`, keeping the first row of each key in a canonical order.

    Rows are sorted by (problem_id, mistake_id or "", row_key) and the output keeps that order;
    the lineage columns break remaining ties, so which duplicate survives never depends on the
    input order.
    """
    keyed = [(row_key(row), row) for row in rows]
    keyed.sort(
        key=lambda kr: (kr[1]["problem_id"], kr[1].get("mistake_id") or "", kr[0], _lineage(kr[1]))
    )
    first: dict[str, dict[str, Any]] = {}
    kept, excluded = [], []
    for key, row in keyed:
        original = first.get(key)
        if original is None:
            first[key] = row
            kept.append(row)
        else:
            detail = f"same content (row_key {key}) as {_describe(original)}"
            excluded.append(_excluded(config, "dedupe", "duplicate_row", detail, row))
    return kept, excluded


def _ngram_list(text: str, n: int) -> list[tuple[str, ...]]:
    words = _WORD_RE.findall(unicodedata.normalize("NFKC", text).lower())
    if not words:
        return []
    if len(words) < n:
        return [tuple(words)]
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def question_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """Word n-grams of `text` after NFKC, lowercasing and keeping only \\w+ runs, so case,
    punctuation and whitespace differences don't hide an overlap.

    A text shorter than n words yields one tuple of all its words: a short benchmark question
    then still matches a training question that is the same question word for word (but not
    one that merely contains it). An empty text yields no n-grams and matches nothing.
    """
    return set(_ngram_list(text, n))


class Contamination:
    """An index of benchmark question n-grams to test training questions against.

    It holds Python hashes of the n-gram tuples rather than the tuples, which keeps ~10k
    questions at a few MB; the index lives only within one process, so the per-process string
    hash seed doesn't matter, and a 64-bit collision is far too unlikely to worry about.
    """

    def __init__(self, questions: Iterable[str], n: int = DEFAULT_NGRAM) -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self.n = n
        self.n_questions = 0
        self._hashes: set[int] = set()
        for question in questions:
            self.n_questions += 1
            self._hashes.update(hash(gram) for gram in _ngram_list(question, n))

    @classmethod
    def from_files(
        cls, paths: Sequence[Path], n: int = DEFAULT_NGRAM, field: str = "question"
    ) -> Contamination:
        """Index the `field` of every record in .jsonl, .json (array) or .parquet files, falling
        back to "problem" then "prompt" where `field` is absent."""
        fields = tuple(dict.fromkeys((field, "problem", "prompt")))
        questions: list[str] = []
        for path in map(Path, paths):
            if not path.exists():
                raise FileNotFoundError(f"benchmark file not found: {path}")
            check_regular_file(path)  # a folder or FIFO: named as such; a FIFO would block
            found = len(questions)
            questions.extend(_read_questions(path, fields))
            if len(questions) == found:  # most likely the wrong file: it would match nothing
                raise ValueError(f"{path}: expected at least one question, got an empty file")
        return cls(questions, n=n)

    def match(self, question: str) -> tuple[str, ...] | None:
        """The first n-gram of `question` (in text order) that a benchmark question shares."""
        for gram in _ngram_list(question, self.n):
            if hash(gram) in self._hashes:
                return gram
        return None


def _not_json(path: Path, where: str, exc: Exception, expected: str) -> ValueError:
    """A parse failure as one line naming file and place; deep nesting and an integer of more
    digits than int() reads fail json as RecursionError / ValueError, not JSONDecodeError."""
    if isinstance(exc, json.JSONDecodeError):
        reason = exc.msg
    elif isinstance(exc, RecursionError):
        reason = "nested too deeply"
    else:
        reason = str(exc).split(";")[0]
    return ValueError(f"{path}: {where}: not valid JSON ({reason}); expected {expected}")


def _read_text(path: Path) -> str:
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from None


def _read_questions(path: Path, fields: tuple[str, ...]) -> Iterator[str]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for number, line in enumerate(_read_text(path).split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (RecursionError, ValueError) as exc:
                raise _not_json(path, f"line {number}", exc, "one JSON object per line") from None
            yield _question(record, fields, path, f"line {number}")
    elif suffix == ".json":
        try:
            records = json.loads(_read_text(path))
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}"
            raise _not_json(path, where, exc, "a JSON array of objects") from None
        except (RecursionError, ValueError) as exc:
            raise _not_json(path, "line 1", exc, "a JSON array of objects") from None
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON array of objects")
        for number, record in enumerate(records, start=1):
            yield _question(record, fields, path, f"item {number}")
    elif suffix == ".parquet":
        yield from _parquet_questions(path, fields)
    else:
        raise ValueError(
            f"{path}: unsupported benchmark file type; expected .jsonl, .json, .parquet"
        )


def _parquet_questions(path: Path, fields: tuple[str, ...]) -> Iterator[str]:
    import pyarrow as pa  # only parquet inputs need it
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        column = next((f for f in fields if f in names), None)
        values = pq.read_table(path, columns=[column]).column(0).to_pylist() if column else []
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: expected a Parquet file: {exc}") from None
    if column is None:
        raise ValueError(f"{path}: no column {' / '.join(fields)}; columns are {names}")
    for number, value in enumerate(values, 1):
        yield _question({column: value}, (column,), path, f"row {number}")


def _valid_text(text: str, path: Path, where: str) -> str:
    """The text, unless JSON smuggled in a lone surrogate, which no UTF-8 text can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{path}: {where}: expected text, got a lone surrogate") from None
    return text


def _question(record: Any, fields: tuple[str, ...], path: Path, where: str) -> str:
    if isinstance(record, dict):
        for name in fields:
            if name in record:
                value = record[name]
                if isinstance(value, str):
                    return _valid_text(value, path, where)
                raise ValueError(
                    f"{path}: {where}: field {name!r} is {type(value).__name__}, expected a string"
                )
    names = " / ".join(map(repr, fields))
    raise ValueError(f"{path}: {where}: expected a JSON object with a string field {names}")


def decontaminate(
    config: str,
    rows: list[dict[str, Any]],
    questions: dict[str, str],
    index: Contamination | None,
) -> tuple[list[dict[str, Any]], list[Excluded]]:
    """Drop non-test rows whose problem's question shares an n-gram with the benchmark index.

    Test-split rows are kept so a benchmark question may still be evaluated. A row with no
    "split" is treated like train: when in doubt, keep benchmark text out of training data.
    `questions` maps problem_id to question text; a problem missing from it is a KeyError
    rather than a silent pass.
    """
    if index is None:
        return list(rows), []
    matches: dict[str, tuple[str, ...] | None] = {}  # many rows share one problem
    kept, excluded = [], []
    for row in rows:
        if row.get("split") == "test":
            kept.append(row)
            continue
        problem = row["problem_id"]
        if problem not in matches:
            if problem not in questions:
                raise KeyError(f"no question text for problem {problem!r}")
            matches[problem] = index.match(questions[problem])
        gram = matches[problem]
        if gram is None:
            kept.append(row)
        else:
            detail = f"question shares the {len(gram)}-gram {' '.join(gram)!r} with the benchmark"
            excluded.append(_excluded(config, "decontaminate", "ngram_overlap", detail, row))
    return kept, excluded


def limit_per_problem(
    config: str, rows: list[dict[str, Any]], max_per_problem: int | None, seed: int
) -> tuple[list[dict[str, Any]], list[Excluded]]:
    """Keep at most `max_per_problem` rows per problem, in the input's relative order.

    Which rows survive is chosen by the lowest seeded hash of each row's content (lineage breaks
    ties), so it doesn't depend on input order and doesn't favour the first mistakes generated.
    """
    if max_per_problem is None:
        return list(rows), []
    if max_per_problem < 0:
        raise ValueError(f"max_per_problem must be >= 0, got {max_per_problem}")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row["problem_id"]].append(i)
    dropped: set[int] = set()
    for indices in groups.values():
        if len(indices) <= max_per_problem:
            continue
        ranked = sorted(
            indices,
            key=lambda i: (content_hash("limit", seed, row_key(rows[i])), _lineage(rows[i])),
        )
        dropped.update(ranked[max_per_problem:])
    kept, excluded = [], []
    for i, row in enumerate(rows):
        if i not in dropped:
            kept.append(row)
            continue
        total = len(groups[row["problem_id"]])
        detail = f"problem has {total} rows; kept the {max_per_problem} ranked first by seed {seed}"
        excluded.append(_excluded(config, "max_per_problem", "over_limit", detail, row))
    return kept, excluded
