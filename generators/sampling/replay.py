"""Replay: solutions sampled elsewhere, read from a file and matched to problems by question.

Two formats:

* GSM8K's example model solutions, detected by line: a `question` and one or more objects
  holding a `solution` (and `is_correct`), one per model key. Each becomes a solution from
  producer `replay:<file stem>/<model key>`.
* Any JSONL / JSON array / Parquet file with a field mapping `fields`: `question` and
  `solution` (required), `label` (bool, 1/0 or "correct"/"incorrect") and `model` (optional).

A file's label is kept as `source_label` only; errata verifies every solution itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errata.generators.sampling.attempts import AttemptInput
from errata.generators.sources.errors import BadInputError, BadLine, describe_value
from errata.generators.sources.files import (
    file_stem,
    iter_raw_records,
    require_text,
    skip_or_raise,
)
from errata.schemas.ids import content_hash
from errata.schemas.records import Problem

DEFAULT_FIELDS = {"question": "question", "solution": "solution"}
FIELD_ROLES = ("question", "solution", "label", "model")
LABEL_EXPECTED = "a boolean, 1/0 or 'correct'/'incorrect'"
_LABEL_WORDS = {
    "correct": "correct", "true": "correct", "yes": "correct", "1": "correct",
    "incorrect": "incorrect", "false": "incorrect", "no": "incorrect", "0": "incorrect",
    "wrong": "incorrect",
}  # fmt: skip
# Typographic quotes and apostrophes differ between copies of the same question.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "′": "'", "“": '"', "”": '"', "″": '"'})
_SPACE_RE = re.compile(r"\s+")
# What marks a model's entry in the example-solutions format.
_MODEL_ENTRY_KEYS = ("solution", "is_correct")


@dataclass(frozen=True)
class ReplayedSolution:
    """One solution as a file gave it."""

    question: str
    text: str
    producer: str  # replay:<file stem>[/<model>]
    source_label: str | None  # "correct"/"incorrect" as the file said, or None
    where: str  # "file:line"


def question_key(question: str) -> str:
    """A hash of the question with case, whitespace and typographic quotes normalised."""
    text = unicodedata.normalize("NFKC", question).translate(_QUOTES)
    return content_hash("question", _SPACE_RE.sub(" ", text).strip().casefold())


def _label(value: Any, field: str, where: str, line: int) -> str | None:
    """A file's grade as "correct"/"incorrect" (None when absent), or BadInputError."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "correct" if value else "incorrect"
    if isinstance(value, int | float) and value in (0, 1):
        return "correct" if value == 1 else "incorrect"
    if isinstance(value, str) and value.strip().lower() in _LABEL_WORDS:
        return _LABEL_WORDS[value.strip().lower()]
    raise BadInputError(
        where, line, LABEL_EXPECTED, field=field, got=describe_value(value), reason="wrong_type"
    )


def _model_entries(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (model key, entry) pairs of an example-solutions line; empty for any other row."""
    if "question" not in row:
        return []
    return [
        (key, value)
        for key, value in row.items()
        if isinstance(value, dict) and any(mark in value for mark in _MODEL_ENTRY_KEYS)
    ]


def _example_solutions(
    row: dict[str, Any], entries: list[tuple[str, dict[str, Any]]], stem: str, path: str, line: int
) -> list[ReplayedSolution]:
    question = require_text(row, "question", path, line)
    solutions = []
    for key, entry in entries:
        text = entry.get("solution")
        if not isinstance(text, str) or not text.strip():
            got = describe_value(text) if "solution" in entry else "nothing"
            reason = (
                "wrong_type" if isinstance(text, int | float | list | dict) else "missing_field"
            )
            raise BadInputError(
                path, line, "string", field=f"{key}.solution", got=got, reason=reason
            )
        label = _label(entry.get("is_correct"), f"{key}.is_correct", path, line)
        solutions.append(
            ReplayedSolution(question, text, f"replay:{stem}/{key}", label, f"{path}:{line}")
        )
    return solutions


def _mapped_solution(
    row: dict[str, Any], fields: dict[str, str], stem: str, path: str, line: int
) -> ReplayedSolution:
    question = require_text(row, fields["question"], path, line)
    text = require_text(row, fields["solution"], path, line)
    label = None
    if "label" in fields:
        label = _label(row.get(fields["label"]), fields["label"], path, line)
    producer = f"replay:{stem}"
    if "model" in fields:
        producer += "/" + require_text(row, fields["model"], path, line).strip()
    return ReplayedSolution(question, text, producer, label, f"{path}:{line}")


def _checked_fields(fields: dict[str, str] | None) -> dict[str, str] | None:
    if fields is None:
        return None
    unknown = sorted(set(fields) - set(FIELD_ROLES))
    if unknown:
        raise ValueError(f"unknown replay field roles {unknown}; expected some of {FIELD_ROLES}")
    return {**DEFAULT_FIELDS, **fields}


def read_replay(
    path: str,
    fields: dict[str, str] | None = None,
    skip_bad: bool = False,
    bad_lines: list[BadLine] | None = None,
) -> dict[str, list[ReplayedSolution]]:
    """Replayed solutions by `question_key`, each list in file order.

    Without `fields`, a line in the example-solutions format is read as such and any other
    line with the default fields `question` and `solution`. A bad line raises BadInputError
    naming file, line and the expected field, or with `skip_bad` goes to `bad_lines`.
    """
    mapping = _checked_fields(fields)
    stem = file_stem(path)
    where = str(path)
    by_question: dict[str, list[ReplayedSolution]] = {}
    for line, row, raw in iter_raw_records(path, skip_bad, bad_lines):
        try:
            entries = _model_entries(row) if mapping is None else []
            if entries:
                solutions = _example_solutions(row, entries, stem, where, line)
            else:
                solutions = [_mapped_solution(row, mapping or DEFAULT_FIELDS, stem, where, line)]
        except BadInputError as error:
            skip_or_raise(error, raw, skip_bad, bad_lines)
            continue
        by_question.setdefault(question_key(solutions[0].question), []).extend(solutions)
    return by_question


def _split_where(where: str) -> tuple[str, str]:
    file, _, line = where.rpartition(":")
    return Path(file).name, line


def replay_inputs(
    problems: Sequence[Problem], replay: dict[str, list[ReplayedSolution]]
) -> list[AttemptInput]:
    """Attempt inputs for the problems a replayed solution matches, in problem order.

    Each replayed line is used once: when k problems share a question, the i-th file line
    with it goes to problem i mod k (a file of GSM8K rows gives duplicates their own rows).
    """
    keys = [question_key(problem.question) for problem in problems]
    sharing: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        sharing.setdefault(key, []).append(index)
    inputs: list[AttemptInput] = []
    for index, (problem, key) in enumerate(zip(problems, keys, strict=True)):
        owners = sharing[key]
        # Distinct file lines with this question, in file order.
        lines = list(dict.fromkeys(solution.where for solution in replay.get(key, [])))
        mine = {where for n, where in enumerate(lines) if owners[n % len(owners)] == index}
        samples: dict[str, int] = {}
        for solution in replay.get(key, []):
            if solution.where not in mine:
                continue
            # The same model on the same problem twice: a second sample, a distinct id.
            sample = samples.get(solution.producer, 0)
            samples[solution.producer] = sample + 1
            file, line = _split_where(solution.where)
            inputs.append(
                AttemptInput(
                    problem=problem,
                    text=solution.text,
                    producer=solution.producer,
                    sample=sample,
                    sampling={"replayed_from": f"{file}:{line}"},
                    source_label=solution.source_label,
                )
            )
    return inputs
