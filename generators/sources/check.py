"""Check a problem source before any work starts, so bad input fails fast and alone.

The CLI calls this before it starts the flow: a bad line is reported as `FILE:LINE: expected …`
with nothing written and no orchestration started. The flow reads the source again itself;
for local files that costs far less than starting a run that would fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from errata.generators.sources.errors import BadLine
from errata.generators.sources.files import load_mapped
from errata.generators.sources.gsm8k import is_hub_id, load_gsm8k

SourceKind = Literal["synthetic", "gsm8k", "file"]
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)


@dataclass(frozen=True)
class SourceCheck:
    """What a source holds: `problems` is None for a Hub dataset, which is read by the run."""

    problems: int | None
    bad_lines: list[BadLine] = field(default_factory=list)


def check_source(
    kind: str,
    path: str | None,
    split: str = "test",
    limit: int | None = None,
    fields: Mapping[str, str] | None = None,
    skip_bad: bool = False,
) -> SourceCheck:
    """Read every record the run would use; raise what the run would raise.

    BadInputError names the file and line; ValueError is a wrong combination of options.
    With `skip_bad`, bad records are returned as `bad_lines` instead.
    """
    if kind not in SOURCE_KINDS:
        raise ValueError(f"--source: expected one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    if kind == "synthetic":
        if path is not None:
            raise ValueError("--path: the synthetic source is built in and reads no file")
        return SourceCheck(problems=limit)
    if not path:
        raise ValueError(f"--source {kind} needs --path (a .jsonl/.json/.parquet file)")
    bad_lines: list[BadLine] = []
    if kind == "gsm8k":
        if is_hub_id(path):
            # Reading a Hub dataset needs `datasets` and often the network: the run does that.
            return SourceCheck(problems=None)
        problems = load_gsm8k(path, split, skip_bad, bad_lines, limit)
    else:
        mapped = load_mapped(
            Path(path), **(fields or {}), split=split, skip_bad=skip_bad, bad_lines=bad_lines
        )
        problems = mapped[:limit]
    return SourceCheck(problems=len(problems), bad_lines=bad_lines)
