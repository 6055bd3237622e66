"""Kill a real run mid-way: the shared half of the kill-and-resume tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO


def kill_after_batches(
    command: list[str], env: dict[str, str], out: Path, batches: int, at_least: int = 3
) -> int:
    """Start `command` in its own process group, SIGKILL the whole group once `at_least`
    mistakes shards exist under `out`, and return how many batches were done at the kill."""
    child = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and child.poll() is None:
        if len(list(out.glob("mistakes/*/*.parquet"))) >= at_least:
            break
        time.sleep(0.05)
    assert child.poll() is None, "the run finished before it could be interrupted"
    os.killpg(child.pid, signal.SIGKILL)  # the run and every process it started
    child.wait()
    done = len(list(out.glob("mistakes/*/*.parquet")))
    assert at_least <= done < batches, f"{done} of {batches} batches were done at the kill"
    return done


def kill_at_first_write(
    command: list[str], env: dict[str, str], watch: Path, deadline_seconds: float = 60.0
) -> list[Path]:
    """Start `command` in its own process group and SIGKILL the group the moment a file (a
    shard's hidden `.tmp`, or a first shard) appears under `watch`, or at the deadline.

    Returns the files under `watch` at the kill. The poll does not sleep: a small shard's temp
    file lives for milliseconds, and the point is to kill while one is being written.
    """
    child = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and child.poll() is None:
        if watch.exists() and any(_written_files(watch)):
            break
    assert child.poll() is None, "the command finished before it could be interrupted"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return sorted(_written_files(watch)) if watch.exists() else []


def _written_files(watch: Path) -> list[Path]:
    """Shards and temp files under `watch` (not the run's lock file)."""
    return [p for p in watch.rglob("*") if p.suffix in (".tmp", ".parquet")]
