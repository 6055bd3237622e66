"""GSM8K problems from a local JSONL/Parquet file or from the Hugging Face Hub."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from errata.generators.sources.errors import BadInputError, BadLine, SourceUnavailableError
from errata.generators.sources.files import (
    numbered_records,
    require_text,
    row_json,
    skip_or_raise,
    split_final_answer,
)
from errata.schemas.ids import canonical_json, problem_id
from errata.schemas.records import Problem

SOURCE = "gsm8k"
LICENSE = "MIT"
HUB_CONFIG = "main"
_FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".gz", ".ndjson")


def gsm8k_problem(
    row: Mapping[str, Any],
    index: int,
    split: str,
    metadata: Mapping[str, Any],
    where: str = "<rows>",
    line: int | None = None,
    nth_on_line: int = 0,
) -> Problem:
    """One GSM8K row (`question`, `answer` ending in `#### n`) as a Problem.

    reference_solution keeps the full `answer` text, `#### n` included, so it stays in the
    original format; reference_answer is n without thousands commas. `nth_on_line` is the
    row's place among the records that start on the same line (see `source_index`).
    """
    record = dict(row)
    question = require_text(record, "question", where, line)
    solution = require_text(record, "answer", where, line)
    answer = split_final_answer(solution)
    if answer is None:
        raise BadInputError(
            where,
            line,
            "string ending in a line '#### n'",
            field="answer",
            got="no '####' line",
            reason="no_final_answer",
        )
    source_id = f"{split}-{source_index(index, nth_on_line)}"
    return Problem(
        problem_id=problem_id(SOURCE, source_id),
        source=SOURCE,
        source_id=source_id,
        split=split,
        domain="math",
        question=question.strip(),
        reference_solution=solution.strip(),
        reference_answer=answer,
        license=LICENSE,
        metadata=canonical_json(dict(metadata)),
    )


def source_index(index: int, nth_on_line: int) -> str:
    """`00041` for the first record of line 42, `00041-3` for the fourth record on it.

    JSON lines hold one record a line, so their ids stay `{index:05d}` as before; a one-line
    JSON array holds every record on line 1, and the suffix keeps their ids apart.
    """
    return f"{index:05d}" if nth_on_line == 0 else f"{index:05d}-{nth_on_line}"


def problems_from_rows(
    rows: Iterable[Mapping[str, Any]],
    split: str,
    origin: str,
    skip_bad: bool = False,
    bad_lines: list[BadLine] | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Problems from in-memory rows (a `datasets.Dataset` or a list of dicts); index = position."""
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        if limit is not None and len(problems) >= limit:
            break
        try:
            problem = gsm8k_problem(
                row, index, split, {"hub_id": origin}, where=f"{origin}[{split}]", line=index + 1
            )
        except BadInputError as error:
            skip_or_raise(error, row_json(dict(row)), skip_bad, bad_lines)
            continue
        problems.append(problem)
    return problems


def _looks_like_path(text: str) -> bool:
    return text.lower().endswith(_FILE_SUFFIXES) or text.startswith((".", "/", "~")) or "\\" in text


def is_hub_id(path_or_hub_id: str) -> bool:
    """True for a Hub dataset id such as `openai/gsm8k`: no such path, and not shaped like one."""
    exists = Path(path_or_hub_id).expanduser().exists()
    return not exists and not _looks_like_path(path_or_hub_id)


def _load_hub(
    hub_id: str,
    split: str,
    skip_bad: bool,
    bad_lines: list[BadLine] | None,
    limit: int | None,
) -> list[Problem]:
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        import datasets

        dataset = datasets.load_dataset(hub_id, HUB_CONFIG, split=split)
    except Exception as exc:  # the Hub client raises many types; all mean "not available here"
        hint = (
            "HF_HUB_OFFLINE=1 is set, so only datasets already in the local Hugging Face cache "
            "can load; unset HF_HUB_OFFLINE or pass a local .jsonl/.parquet path instead"
            if offline
            else "check the id, the network and Hub access (HF_HUB_OFFLINE is not set), "
            "or pass a local .jsonl/.parquet path instead"
        )
        raise SourceUnavailableError(
            f"could not load GSM8K from the Hub dataset '{hub_id}' (config '{HUB_CONFIG}', "
            f"split '{split}'): {type(exc).__name__}: {exc}. {hint}."
        ) from exc
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return problems_from_rows(dataset, split, hub_id, skip_bad, bad_lines)


def load_gsm8k(
    path_or_hub_id: str,
    split: str = "test",
    skip_bad: bool = False,
    bad_lines: list[BadLine] | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """GSM8K problems from a local `.jsonl`/`.parquet` file, or a Hub id such as `openai/gsm8k`.

    source_id is `{split}-{index:05d}` with index = line (or row) number - 1, so ids match the
    Hub row order and stay stable when bad lines are skipped; a record that is not the first
    to start on its line (a JSON array on one line) gets `-{n}` after it. A row without a
    `#### n` answer line raises BadInputError, or with `skip_bad` becomes a BadLine.
    """
    if is_hub_id(path_or_hub_id):
        return _load_hub(path_or_hub_id, split, skip_bad, bad_lines, limit)
    path = Path(path_or_hub_id).expanduser()
    if not path.exists():
        raise BadInputError(
            path_or_hub_id, None, "an existing GSM8K .jsonl or .parquet file", got="no such file"
        )
    where = str(path_or_hub_id)
    problems: list[Problem] = []
    if limit is not None and limit <= 0:
        return problems
    for line, nth, row, raw in numbered_records(path, skip_bad, bad_lines):
        try:
            problem = gsm8k_problem(row, line - 1, split, {"file": path.name}, where, line, nth)
        except BadInputError as error:
            skip_or_raise(error, raw, skip_bad, bad_lines)
            continue
        problems.append(problem)
        # Stop before reading on: a bad line past the limit must not fail a run that skips it.
        if limit is not None and len(problems) >= limit:
            break
    return problems
