"""The persistent response cache: one sqlite file, safe across processes (WAL).

Rows are keyed by `ChatRequest.key` and hold what a result needs to be rebuilt exactly (content,
finish reason, the original token counts and cost), so a rerun's records are identical to the
first run's. Never the API key, never headers.

Reads come in batches (a stage looks up all its requests up front) and writes are buffered and
committed in batches, so the cache costs microseconds per request, not a commit each.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

CACHE_FILE_NAME = "responses.sqlite"
# sqlite allows at most 32766 parameters per statement (999 before 3.32); stay well under.
_KEYS_PER_QUERY = 900
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    content TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID
"""


def _is_locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


# Switching a new file to WAL takes an exclusive lock and sqlite answers "database is locked"
# at once, without its busy timeout, when another process is doing the same: ask again.
@retry(
    retry=retry_if_exception(_is_locked),
    stop=stop_after_delay(30),
    wait=wait_random(0.005, 0.05),
    reraise=True,
)
def _set_up(db: sqlite3.Connection) -> None:
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses at most the last commits on power loss, never consistency;
    # a lost row is only asked again.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(_SCHEMA)


class CachedReply(NamedTuple):
    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class ResponseCache:
    """`<cache_dir>/responses.sqlite`; add() buffers, flush() commits, close() does both."""

    def __init__(self, cache_dir: str, flush_rows: int = 256, flush_seconds: float = 2.0) -> None:
        directory = Path(cache_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / CACHE_FILE_NAME
        # Another process may hold the write lock for a moment: wait for it, do not fail.
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        _set_up(self._db)
        self._pending: list[tuple[str, str, str, str | None, int, int, float, float]] = []
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._last_flush = time.monotonic()

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedReply]:
        """The cached replies among `keys`, in as few queries as sqlite allows."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, CachedReply] = {}
        for start in range(0, len(unique), _KEYS_PER_QUERY):
            chunk = unique[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT key, content, finish_reason, prompt_tokens, completion_tokens, cost_usd "
                f"FROM responses WHERE key IN ({marks})",
                chunk,
            )
            for key, *reply in rows:
                found[key] = CachedReply(*reply)
        return found

    def get(self, key: str) -> CachedReply | None:
        row = self._db.execute(
            "SELECT content, finish_reason, prompt_tokens, completion_tokens, cost_usd "
            "FROM responses WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else CachedReply(*row)

    def add(self, key: str, model: str, reply: CachedReply) -> None:
        """Buffers a row; commits when enough rows or time have gathered."""
        now = time.time()
        self._pending.append((key, model, *reply, now))
        if (
            len(self._pending) >= self._flush_rows
            or time.monotonic() - self._last_flush >= self._flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        # One transaction per batch; the first writer of a key wins (same request, same reply).
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r}, pending={len(self._pending)})"
