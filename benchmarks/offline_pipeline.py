"""Offline pipeline throughput: synthetic problems through the `generate` flow and directly.

Prints verified mistake records/s against the 1,000/s target (2 cores), Prefect overhead as
the ratio of flow wall time (Prefect's process-pool task runner, one task per batch) to the same
batch function run directly (a plain process pool of the same size, no Prefect), and peak RSS
of the whole process tree against 1 GB.

    .venv/bin/python benchmarks/offline_pipeline.py [--problems 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import contextlib

from rich.console import Console
from rich.table import Table

from errata.flows.generate import run_generate

TARGET_RECORDS_PER_S = 1000
TARGET_OVERHEAD = 0.15
TARGET_RSS_BYTES = 1 << 30


class PeakRss:
    """Samples RSS of this process and its children (the process pool) every 50 ms, and PSS
    every 250 ms. RSS counts a page shared by forked workers once per process; PSS splits it
    among them, so it is the tree's real footprint when workers fork from a preloaded server."""

    def __init__(self) -> None:
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        tick = 0
        while not self._stop.is_set():
            processes = [me, *me.children(recursive=True)]
            total = 0
            for proc in processes:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            if tick % 5 == 0:
                pss = 0
                for proc in processes:
                    with contextlib.suppress(psutil.Error, AttributeError):
                        pss += proc.memory_full_info().pss
                self.peak_pss = max(self.peak_pss, pss)
            tick += 1
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _run(n: int, batch_size: int, workers: int, out: Path, prefect: bool) -> dict:
    return run_generate(
        source="synthetic",
        limit=n,
        seed=0,
        batch_size=batch_size,
        workers=workers,
        shards=str(out),
        prefect=prefect,
    )


def run_direct(n: int, batch_size: int, workers: int, out: Path) -> tuple[float, int]:
    """The same batches as the flow, without Prefect: returns (seconds, records)."""
    started = time.perf_counter()
    summary = _run(n, batch_size, workers, out, prefect=False)
    return time.perf_counter() - started, summary["mistakes_written"]


def run_flow(n: int, batch_size: int, workers: int, out: Path) -> tuple[float, float, int]:
    """(seconds for the call, seconds inside the flow, records)."""
    started = time.perf_counter()
    summary = _run(n, batch_size, workers, out, prefect=True)
    return time.perf_counter() - started, summary["wall_seconds"], summary["mistakes_written"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    direct_times, flow_calls, flow_walls, records, peaks, pss_peaks = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PREFECT_HOME", str(Path(tmp) / "prefect"))
        # Warm both paths once (worker start-up, imports, Prefect's server) outside the timing.
        # The flow first: both paths fork their workers from this process's one forkserver,
        # which then holds Prefect's task engine too (a CLI run starts its own, for one path).
        run_flow(500, args.batch_size, args.workers, Path(tmp) / "warm-flow")
        run_direct(500, args.batch_size, args.workers, Path(tmp) / "warm-direct")
        for repeat in range(args.repeats):
            with PeakRss() as rss:
                seconds, n_records = run_direct(
                    args.problems, args.batch_size, args.workers, Path(tmp) / f"direct{repeat}"
                )
                call, wall, flow_records = run_flow(
                    args.problems, args.batch_size, args.workers, Path(tmp) / f"flow{repeat}"
                )
            assert flow_records == n_records, (flow_records, n_records)
            direct_times.append(seconds)
            flow_calls.append(call)
            flow_walls.append(wall)
            records.append(n_records)
            peaks.append(rss.peak)
            pss_peaks.append(rss.peak_pss)
            console.print(
                f"repeat {repeat + 1}: direct {seconds:.2f} s, flow {wall:.2f} s "
                f"(call incl. server start {call:.2f} s), {n_records} records"
            )
    direct = statistics.median(direct_times)
    flow = statistics.median(flow_walls)
    call = statistics.median(flow_calls)
    rate = records[0] / direct
    # Paired per repeat, then the median: both sides of a pair saw the same machine load.
    overhead = statistics.median(f / d - 1 for f, d in zip(flow_walls, direct_times, strict=True))
    peak = max(peaks)
    table = Table(
        title=f"offline pipeline, {args.problems} synthetic problems, median of {args.repeats}"
    )
    for column in ("measure", "value", "target", "ratio to target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row("verified mistake records", str(records[0]), "", "")
    table.add_row(
        "records/s (direct)", f"{rate:.0f}", f">= {TARGET_RECORDS_PER_S}",
        f"{rate / TARGET_RECORDS_PER_S:.2f}x",
    )  # fmt: skip
    table.add_row("records/s (flow)", f"{records[0] / flow:.0f}", "", "")
    table.add_row(
        "flow overhead (flow wall / direct - 1)", f"{overhead:.1%}", f"<= {TARGET_OVERHEAD:.0%}",
        f"{overhead / TARGET_OVERHEAD:.2f}",
    )  # fmt: skip
    table.add_row("flow call incl. temporary server start", f"{call:.2f} s", "", "")
    table.add_row(
        "peak RSS, process tree", f"{peak / 2**20:.0f} MiB", "<= 1024 MiB",
        f"{peak / TARGET_RSS_BYTES:.2f}",
    )  # fmt: skip
    table.add_row("peak PSS, process tree", f"{max(pss_peaks) / 2**20:.0f} MiB", "", "")
    console.print(table)


if __name__ == "__main__":
    main()
