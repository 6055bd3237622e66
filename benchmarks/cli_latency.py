"""Wall time of the demo commands as a user runs them: `errata run` (200 synthetic problems)
and `errata export`, each a fresh subprocess in a temp dir, and the CLI's own start-up (a run
refused for a bad option).

Every timed `run` writes to a fresh shard folder (a rerun would skip every batch); the no-op
rerun into a finished folder is timed on its own. One untimed warm-up of each command comes
first (disk cache, bytecode, a Prefect database when a server is used). Prints the median,
min and max, and the run's ratio to its 5 s target (export: reported only).

    .venv/bin/python benchmarks/cli_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

TARGET_RUN_SECONDS = 5.0


def errata_command() -> list[str]:
    """The console script installed beside this interpreter, as a user would call it."""
    script = Path(sys.executable).with_name("errata")
    return [str(script)] if script.exists() else [sys.executable, "-m", "errata.flows.cli"]


def timed(
    args: list[str], cwd: Path, env: dict[str, str], expected_code: int = 0
) -> tuple[float, str]:
    """Wall seconds of one CLI call and its stdout; exits with its output if the exit status
    is not the expected one."""
    started = time.perf_counter()
    process = subprocess.run(
        [*errata_command(), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if process.returncode != expected_code:
        sys.exit(f"errata {' '.join(args)} failed ({process.returncode}):\n{process.stderr}")
    return seconds, process.stdout


def tracking_line(stdout: str) -> str:
    """The run summary's line saying whether Prefect tracked the run, if it printed one."""
    lines = [line for line in stdout.splitlines() if line.startswith("Prefect tracking:")]
    return lines[0] if lines else "no tracking line printed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per command")
    options = parser.parse_args()
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")

    console = Console()
    with tempfile.TemporaryDirectory(prefix="errata-cli-latency-") as scratch:
        work = Path(scratch)
        # A private PREFECT_HOME: whatever Prefect does here never touches the user's profile.
        env = os.environ | {"PREFECT_HOME": str(work / "prefect-home"), "COLUMNS": "200"}

        _, run_stdout = timed(["run", "--shards", "warm-up"], work, env)
        runs = []
        for repeat in range(options.repeats):
            seconds, run_stdout = timed(["run", "--shards", f"shards-{repeat}"], work, env)
            runs.append(seconds)
        reruns = [
            timed(["run", "--shards", "warm-up"], work, env)[0] for _ in range(options.repeats)
        ]

        # The CLI's own start-up and checks: a bad option fails before the flow module loads.
        rejected = ["run", "--error-types", "bogus"]
        refusals = [timed(rejected, work, env, expected_code=2)[0] for _ in range(options.repeats)]

        timed(["export", "--shards", "warm-up", "--out", "export-warm-up"], work, env)
        exports = []
        for repeat in range(options.repeats):
            args = ["export", "--shards", "warm-up", "--out", f"export-{repeat}"]
            exports.append(timed(args, work, env)[0])
            shutil.rmtree(work / f"export-{repeat}")

    table = Table(
        title=f"errata CLI wall time, {options.repeats} calls each after a warm-up",
        caption=f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{tracking_line(run_stdout)}",
    )
    for column in ("command", "median s", "min s", "max s", "target s", "median / target"):
        table.add_column(column, justify="left" if column == "command" else "right")
    rows = [
        ("errata run (200 problems, fresh shards)", runs, TARGET_RUN_SECONDS),
        ("errata run again (every batch skipped)", reruns, None),
        ("errata run --error-types bogus (refused)", refusals, None),
        ("errata export (the demo's shards)", exports, None),
    ]
    for name, seconds, target in rows:
        median = statistics.median(seconds)
        table.add_row(
            name,
            f"{median:.2f}",
            f"{min(seconds):.2f}",
            f"{max(seconds):.2f}",
            f"{target:.1f}" if target else "",
            f"{median / target:.2f}" if target else "",
        )
    console.print(table)


if __name__ == "__main__":
    main()
