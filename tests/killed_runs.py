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
