"""Read problems from local JSONL / JSON / Parquet files with a field mapping."""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import zlib
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
# A JSON escape of a UTF-16 surrogate: only then can a parsed string hold a lone one.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
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


def check_regular_file(path: str | Path) -> None:
    """BadInputError unless `path` is an existing regular file.

    A FIFO or device is refused before it is opened: reading one would block or never end.
    """
    expected = f"an existing file ({SUPPORTED})"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise BadInputError(str(path), None, expected, got="no such file") from None
    except OSError as exc:
        raise BadInputError(str(path), None, expected, got=exc.strerror) from None
    if stat.S_ISDIR(mode):
        raise BadInputError(str(path), None, expected, got="a folder")
    if stat.S_ISFIFO(mode):
        raise BadInputError(str(path), None, expected, got="a FIFO (named pipe)")
    if not stat.S_ISREG(mode):
        raise BadInputError(str(path), None, expected, got="a special file")


def read_bytes(path: Path) -> bytes:
    """The whole of a regular file, or BadInputError naming it (e.g. permission denied)."""
    check_regular_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(str(path), None, "a readable file", got=exc.strerror) from None


def _open_text_lines(path: Path) -> Iterator[bytes]:
    """The lines of a file, gunzipped for `.gz`; a damaged gzip stream names the line it hit."""
    check_regular_file(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    number = 0
    try:
        with opener(path, "rb") as handle:
            for data in handle:
                number += 1  # counted for the message should the stream break off
                yield data
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BadInputError(
            str(path), number + 1, "gzip data", detail=str(exc) or type(exc).__name__
        ) from None
    except OSError as exc:
        raise BadInputError(str(path), None, "a readable file", got=exc.strerror) from None


def _has_lone_surrogate(value: Any, text: str) -> bool:
    """True when a parsed value holds a lone UTF-16 surrogate, which no UTF-8 output can hold."""
    if not _SURROGATE_ESCAPE_RE.search(text):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_failure(exc: Exception, where: str, line: int | None, expected: str) -> BadInputError:
    """What json refused, as BadInputError: a syntax error, deep nesting, an over-long integer."""
    if isinstance(exc, json.JSONDecodeError):
        detail = f"{exc.msg} (char {exc.pos})"
    elif isinstance(exc, RecursionError):
        detail = "nested too deeply"
    else:  # ValueError: an integer of more digits than int() converts; drop Python's advice
        detail = str(exc).split(";")[0]
    return BadInputError(where, line, expected, detail=detail, reason="bad_json")


def _lone_surrogate(where: str, line: int | None) -> BadInputError:
    detail = "a lone UTF-16 surrogate escape (\\udXXX)"
    return BadInputError(where, line, "UTF-8 text", detail=detail, reason="bad_encoding")


def parse_json(text: str, where: str, line: int | None, expected: str = "a JSON object") -> Any:
    """`text` as JSON, or BadInputError for anything json.loads refuses or a writer would."""
    try:
        value = json.loads(text)
    except (RecursionError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise _parse_failure(exc, where, line, expected) from None
    if _has_lone_surrogate(value, text):
        raise _lone_surrogate(where, line)
    return value


def _empty_file(path: str | Path) -> BadInputError:
    got = "an empty file"
    return BadInputError(str(path), None, "at least one record", got=got, reason="empty")


def _iter_json_lines_raw(
    path: str | Path, skip_bad: bool, bad_lines: list[BadLine] | None
) -> Iterator[tuple[int, dict[str, Any], str]]:
    where = str(path)
    any_text = False
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
        any_text = True
        try:
            value = parse_json(text, where, number)
        except BadInputError as error:
            skip_or_raise(error, text, skip_bad, bad_lines)
            continue
        if not isinstance(value, dict):
            error = BadInputError(
                where, number, "a JSON object", got=describe_value(value), reason="not_object"
            )
            skip_or_raise(error, text, skip_bad, bad_lines)
            continue
        yield number, value, text
    if not any_text:
        raise _empty_file(path)


def iter_json_lines(
    path: str | Path, skip_bad: bool = False, bad_lines: list[BadLine] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for each non-blank line of a JSON-lines file.

    A line that is not a JSON object raises BadInputError, or with `skip_bad` is appended to
    `bad_lines` (when given) and skipped.
    """
    for number, row, _raw in _iter_json_lines_raw(path, skip_bad, bad_lines):
        yield number, row


def _decode_utf8(data: bytes, where: str) -> str:
    """UTF-8 text (a byte-order mark dropped), or BadInputError naming the line of a bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadInputError(
            where, line, "UTF-8 text", detail=str(exc.reason), reason="bad_encoding"
        ) from None


def _iter_json_array(
    path: Path, skip_bad: bool, bad_lines: list[BadLine] | None
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """Elements of a top-level JSON array, each numbered by the line it starts on."""
    where = str(path)
    text = _decode_utf8(read_bytes(path), where)
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    line = text.count("\n", 0, position) + 1
    counted_to = position
    elements = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise BadInputError(where, None, "a JSON array", got="end of file before ']'")
        if text[position] == "]":
            if not elements:
                raise _empty_file(path)
            return
        line += text.count("\n", counted_to, position)
        counted_to = position
        elements += 1
        try:
            value, end = decoder.raw_decode(text, position)
        except (RecursionError, ValueError) as exc:
            # After a syntax error the array cannot be resynchronised, so this is never skipped.
            raise _parse_failure(exc, where, line, "a JSON value") from None
        raw = text[position:end]
        position = end
        if _has_lone_surrogate(value, raw):
            raise _lone_surrogate(where, line)
        if not isinstance(value, dict):
            error = BadInputError(
                where, line, "a JSON object", got=describe_value(value), reason="not_object"
            )
            skip_or_raise(error, raw, skip_bad, bad_lines)
            continue
        yield line, value, raw


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any], str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_regular_file(path)
    number = 0
    try:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=2048):
            for row in batch.to_pylist():
                number += 1
                yield number, row, ""
    except (pa.ArrowException, OSError) as exc:  # not Parquet, a damaged page, unreadable
        line = number + 1 if number else None
        raise BadInputError(str(path), line, "a Parquet file", detail=str(exc)) from None
    if not number:
        raise _empty_file(path)


def _starts_json_array(file: Path) -> bool:
    """Whether a `.json` file's first non-blank character (after any byte-order mark) is `[`."""
    check_regular_file(file)
    try:
        with file.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise BadInputError(str(file), None, "a readable file", got=exc.strerror) from None
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"[")


def file_stem(path: str | Path) -> str:
    """The file's name without its data suffix (`.jsonl.gz`, `.json`, `.parquet`, ...)."""
    name = Path(path).name
    for suffix in (*JSON_LINES_SUFFIXES, ".json", ".parquet"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def iter_raw_records(
    path: str | Path, skip_bad: bool = False, bad_lines: list[BadLine] | None = None
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line, row, raw text) for any supported file; raw is the row as JSON for Parquet.

    Raises BadInputError for a path that is not a regular readable file, or holds no record.
    """
    file = Path(path)
    name = file.name.lower()
    check_regular_file(file)
    if name.endswith(".parquet"):
        for number, row, _ in _iter_parquet(file):
            yield number, row, row_json(row)
    elif name.endswith(JSON_LINES_SUFFIXES):
        yield from _iter_json_lines_raw(file, skip_bad, bad_lines)
    elif name.endswith(".json"):
        if _starts_json_array(file):
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


def _source_id(row: dict[str, Any], path: str, line: int, nth_on_line: int) -> str:
    if "id" not in row or row["id"] is None:
        # Records of a one-line JSON array share a line; the first keeps the plain number.
        return str(line) if nth_on_line == 0 else f"{line}-{nth_on_line}"
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


def numbered_records(
    path: str | Path, skip_bad: bool, bad_lines: list[BadLine] | None
) -> Iterator[tuple[int, int, dict[str, Any], str]]:
    """(line, nth record starting on that line, row, raw) for each record of the file.

    `nth` counts only the records read back as objects: with `--skip-bad`, a skipped non-object
    element of a one-line array shifts the suffixes of the records after it on that line.
    """
    previous_line, nth = None, 0
    for line, row, raw in iter_raw_records(path, skip_bad, bad_lines):
        nth = nth + 1 if line == previous_line else 0
        previous_line = line
        yield line, nth, row, raw


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
    line number (`line-n` for the n-th further record of a one-line JSON array).
    """
    where = str(path)
    source_name = source or f"file:{file_stem(path)}"
    problems: list[Problem] = []
    first_line_of_id: dict[str, int] = {}
    for line, nth_on_line, row, raw in numbered_records(path, skip_bad, bad_lines):
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
            source_id = _source_id(row, where, line, nth_on_line)
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
