"""Live progress across processes: each client writes one small JSON file, a reader sums them.

A client publishes `<progress_dir>/<pid>-<uuid>.json` at most every half second and once at
close, each time as a whole new file (temp file + rename), so a reader never sees half a file.
The CLI polls `read_progress` while a run goes on.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, fields
from pathlib import Path

from errata.generators.llm.requests import Usage

PUBLISH_EVERY_SECONDS = 0.5
_USAGE_FIELDS = tuple(f.name for f in fields(Usage))


class ProgressFile:
    """This client's progress file."""

    def __init__(self, progress_dir: str) -> None:
        self.directory = Path(progress_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}.json"
        self._temporary = self.directory / f".{self.path.name}.tmp"

    def publish(self, usage: Usage, closed: bool = False) -> None:
        document = asdict(usage)
        document.update(pid=os.getpid(), updated=time.time(), closed=closed)
        self._temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(self._temporary, self.path)


def read_progress(progress_dir: str) -> Usage:
    """The sum over every process's progress file in `progress_dir` (empty if none yet)."""
    total = Usage()
    directory = Path(progress_dir)
    if not directory.is_dir():
        return total
    for path in directory.glob("*.json"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed or replaced between listing and reading: the next poll has it
        if isinstance(document, dict):
            total.add(Usage(**{name: document.get(name, 0) for name in _USAGE_FIELDS}))
    return total
