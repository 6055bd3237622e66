"""Read problems from local JSONL / JSON / Parquet files with a field mapping."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from errata.generators.domains import DOMAINS
from errata.generators.sources.errors import BadInputError, BadLine, describe_value
from errata.schemas.ids import canonical_json, problem_id
from errata.schemas.records import Problem

# Mapped files hold math word problems; the domain also says how a final-answer line is written.
DOMAIN = "math"
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
SUPPORTED = ".jsonl, .ndjson, .json, .parquet (or .jsonl.gz)"

_FINAL_LINE_RE = re.compile(r"^\s*####\s*(\S.*?)\s*$")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def skip_or_raise(
    error: BadInputError, raw: str, skip_bad: bool, bad_lines: list[BadLine] | None
) -> None:
    """Raise `error`, or with `skip_bad` record it as a BadLine (when a list is given)."""
    if not skip_bad:
        raise error
    if bad_lines is not None:
        bad_lines.append(error.to_bad_line(raw))


def row_json(row: Any) -> str:
    """A row as JSON text, for BadLine.raw when there is no source line."""
    return json.dumps(row, ensure_ascii=False, default=str)


def normalize_answer(text: str) -> str:
    """An answer as stored: trimmed, thousands commas removed (`1,000` -> `1000`)."""
    return _THOUSANDS_RE.sub("", text.strip())


def split_final_answer(solution: str) -> str | None:
    """The `n` of a GSM8K-style last line `#### n`, or None when there is no such line."""
    lines = [line for line in solution.splitlines() if line.strip()]
    if not lines:
        return None
    match = _FINAL_LINE_RE.match(lines[-1])
    return normalize_answer(match.group(1)) if match else None


def _open_text_lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from handle


def _iter_json_lines_raw(
    path: str | Path, skip_bad: bool, bad_lines: list[BadLine] | None
) -> Iterator[tuple[int, dict[str, Any], str]]:
    where = str(path)
    for number, data in enumerate(_open_text_lines(Path(path)), start=1):
        try:
            # utf-8-sig drops a byte-order mark, which some editors put on line 1.
            raw = data.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raw = data.decode("utf-8", errors="replace")
            error = BadInputError(
                where, number, "UTF-8 text", detail=str(exc.reason), reason="bad_encoding"
            )
            skip_or_raise(error, raw.rstrip("\r\n"), skip_bad, bad_lines)
            continue
        text = raw.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            error = BadInputError(
                where,
                number,
                "a JSON object",
                detail=f"{exc.msg} (char {exc.pos})",
                reason="bad_json",
            )
            skip_or_raise(error, text, skip_bad, bad_lines)
            continue
        if not isinstance(value, dict):
            error = BadInputError(
                where, number, "a JSON object", got=describe_value(value), reason="not_object"
            )
            skip_or_raise(error, text, skip_bad, bad_lines)
            continue
        yield number, value, text


def iter_json_lines(
    path: str | Path, skip_bad: bool = False, bad_lines: list[BadLine] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for each non-blank line of a JSON-lines file.

    A line that is not a JSON object raises BadInputError, or with `skip_bad` is appended to
    `bad_lines` (when given) and skipped.
    """
    for number, row, _raw in _iter_json_lines_raw(path, skip_bad, bad_lines):
        yield number, row


def _iter_json_array(
    path: Path, skip_bad: bool, bad_lines: list[BadLine] | None
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """Elements of a top-level JSON array, each numbered by the line it starts on."""
    where = str(path)
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    line = text.count("\n", 0, position) + 1
    counted_to = position
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise BadInputError(where, None, "a JSON array", got="end of file before ']'")
        if text[position] == "]":
            return
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            # After a syntax error the array cannot be resynchronised, so this is never skipped.
            raise BadInputError(
                where, line, "a JSON value", detail=f"{exc.msg} (char {exc.pos})", reason="bad_json"
            ) from exc
        raw = text[position:end]
        position = end
        if not isinstance(value, dict):
            error = BadInputError(
                where, line, "a JSON object", got=describe_value(value), reason="not_object"
            )
            skip_or_raise(error, raw, skip_bad, bad_lines)
            continue
        yield line, value, raw


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any], str]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise BadInputError(str(path), None, "a Parquet file", detail=str(exc)) from exc
    number = 0
    for batch in parquet.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            number += 1
            yield number, row, ""


def iter_raw_records(
    path: str | Path, skip_bad: bool = False, bad_lines: list[BadLine] | None = None
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line, row, raw text) for any supported file; raw is the row as JSON for Parquet."""
    file = Path(path)
    name = file.name.lower()
    if not file.is_file():
        got = "a folder" if file.is_dir() else "no such file"
        raise BadInputError(str(path), None, f"an existing file ({SUPPORTED})", got=got)
    if name.endswith(".parquet"):
        for number, row, _ in _iter_parquet(file):
            yield number, row, row_json(row)
    elif name.endswith(JSON_LINES_SUFFIXES):
        yield from _iter_json_lines_raw(file, skip_bad, bad_lines)
    elif name.endswith(".json"):
        with file.open("r", encoding="utf-8-sig") as handle:
            head = handle.read(4096).lstrip()
        if head.startswith("["):
            yield from _iter_json_array(file, skip_bad, bad_lines)
        else:
            yield from _iter_json_lines_raw(file, skip_bad, bad_lines)
    else:
        raise BadInputError(str(path), None, f"a file ending in {SUPPORTED}", got=repr(file.suffix))


def read_records(
    path: str | Path, skip_bad: bool = False, bad_lines: list[BadLine] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) from `.jsonl`/`.json` (JSON lines or one array) or `.parquet` (row number)."""
    for number, row, _raw in iter_raw_records(path, skip_bad, bad_lines):
        yield number, row


def require_text(row: dict[str, Any], field: str, path: str, line: int | None) -> str:
    """A non-empty string field, or BadInputError naming file, line and field."""
    if field not in row:
        raise BadInputError(
            path, line, "string", field=field, got="nothing", reason="missing_field"
        )
    value = row[field]
    if not isinstance(value, str):
        reason = "missing_field" if value is None else "wrong_type"
        raise BadInputError(
            path, line, "string", field=field, got=describe_value(value), reason=reason
        )
    if not value.strip():
        raise BadInputError(
            path, line, "string", field=field, got="an empty string", reason="empty_field"
        )
    return value


def _answer_text(value: Any) -> str | None:
    """A usable answer value as text, or None if it is not a non-empty string or number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and value.strip():
        return normalize_answer(value)
    return None


def _source_id(row: dict[str, Any], path: str, line: int) -> str:
    if "id" not in row or row["id"] is None:
        return str(line)
    value = row["id"]
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise BadInputError(
            path,
            line,
            "string or integer",
            field="id",
            got=describe_value(value),
            reason="wrong_type",
        )
    return str(value).strip()


def load_mapped(
    path: str | Path,
    question_field: str = "question",
    solution_field: str = "solution",
    answer_field: str = "answer",
    source: str | None = None,
    split: str = "train",
    license: str = "unknown",
    skip_bad: bool = False,
    bad_lines: list[BadLine] | None = None,
) -> list[Problem]:
    """Problems from any JSONL/JSON/Parquet file, given which fields hold what.

    The answer comes from `answer_field`, or, when that field is absent (or is the solution
    field itself), from a last solution line `#### n`. A solution without that line gets it
    appended from the answer field, since the stages read the answer from the solution.
    `source` defaults to `file:<stem>`; source_id is the row's `id` when present, else its
    line number.
    """
    where = str(path)
    stem = Path(path).name
    for suffix in (*JSON_LINES_SUFFIXES, ".json", ".parquet"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    source_name = source or f"file:{stem}"
    problems: list[Problem] = []
    first_line_of_id: dict[str, int] = {}
    for line, row, raw in iter_raw_records(path, skip_bad, bad_lines):
        try:
            question = require_text(row, question_field, where, line)
            solution = require_text(row, solution_field, where, line)
            answer = None
            if answer_field != solution_field and row.get(answer_field) is not None:
                answer = _answer_text(row[answer_field])
                if answer is None:
                    raise BadInputError(
                        where,
                        line,
                        "string or number",
                        field=answer_field,
                        got=describe_value(row[answer_field]),
                        reason="wrong_type",
                    )
            solution_answer = split_final_answer(solution)
            if answer is not None and solution_answer is None:
                solution = f"{solution.rstrip()}\n{DOMAINS[DOMAIN].render_answer(answer)}"
            answer = answer if answer is not None else solution_answer
            if answer is None:
                raise BadInputError(
                    where,
                    line,
                    f"string or number, or a last line '#### n' in '{solution_field}'",
                    field=answer_field,
                    got="nothing",
                    reason="no_final_answer",
                )
            source_id = _source_id(row, where, line)
            if source_id in first_line_of_id:
                raise BadInputError(
                    where,
                    line,
                    "a unique value",
                    field="id",
                    got=f"{source_id!r} again (first on line {first_line_of_id[source_id]})",
                    reason="duplicate_id",
                )
        except BadInputError as error:
            skip_or_raise(error, raw, skip_bad, bad_lines)
            continue
        first_line_of_id[source_id] = line
        problems.append(
            Problem(
                problem_id=problem_id(source_name, source_id),
                source=source_name,
                source_id=source_id,
                split=split,
                domain=DOMAIN,
                question=question,
                reference_solution=solution,
                reference_answer=answer,
                license=license,
                metadata=canonical_json({"file": Path(path).name, "line": line}),
            )
        )
    return problems
