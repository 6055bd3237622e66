"""Export throughput: shards of synthetic problems to the rows of every recipe, without Prefect.

Times the chain the `export` flow runs (read the mistakes, assemble every recipe's configs with
GSM8K test decontamination, write each config's Parquet) and prints rows written/s against the
20,000/s target (2 cores), the seconds of each phase, the ratio of the chain to writing the same
rows with pyarrow alone (what recipes, dedupe and decontamination cost over plain writing), and
peak RSS of the whole process tree against 2 GiB. The shards are generated once, untimed.

    .venv/bin/python benchmarks/export_throughput.py [--problems 10000] [--repeats 3]
        [--shards DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from rich.console import Console
from rich.table import Table

from benchmarks.offline_pipeline import PeakRss, run_direct
from errata.generators.recipes.assemble import ExportOptions, assemble
from errata.generators.recipes.select import Contamination
from errata.schemas.arrow import arrow_schema
from errata.schemas.exports import EXPORT_CONFIGS, RECIPES
from errata.store.export import write_config
from errata.store.shards import read_records

TARGET_ROWS_PER_S = 20_000
TARGET_RSS_BYTES = 2048 * 2**20
GSM8K_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"
NGRAM = 13
PHASES = ("read", "assemble", "write")


def make_shards(n: int, batch_size: int, workers: int, out: Path) -> float:
    """The `generate` flow's batches, run directly as offline_pipeline.py does; batches already
    in `out` are skipped. Returns seconds. The run's process pool ends with the call, so its
    workers don't count towards the export's RSS."""
    seconds, _ = run_direct(n, batch_size, workers, out)
    return seconds


def run_export(
    shards: Path, out: Path, contamination: Contamination | None
) -> tuple[dict[str, float], int, dict[str, dict[str, list[dict[str, Any]]]]]:
    """The flow's read, assemble and write steps: (seconds per phase, mistakes in, rows)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    mistakes = read_records(shards, "mistakes")
    seconds["read"] = time.perf_counter() - started
    started = time.perf_counter()
    options = ExportOptions(recipes=RECIPES)
    assembled = assemble(mistakes, options, contamination)
    seconds["assemble"] = time.perf_counter() - started
    started = time.perf_counter()
    out.mkdir(parents=True)
    for config in options.configs():
        write_config(out, config, assembled.rows[config])
    seconds["write"] = time.perf_counter() - started
    return seconds, len(mistakes), assembled.rows


def raw_write(out: Path, rows: dict[str, dict[str, list[dict[str, Any]]]]) -> float:
    """The same rows written with pyarrow alone, one zstd file per config and split."""
    started = time.perf_counter()
    out.mkdir(parents=True)
    for config, splits in rows.items():
        schema = arrow_schema(EXPORT_CONFIGS[config][1])
        for split, split_rows in splits.items():
            if split_rows:
                table = pa.Table.from_pylist(split_rows, schema=schema)
                pq.write_table(table, out / f"{config}-{split}.parquet", compression="zstd")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shards", type=Path, default=None, help="reuse/cache shards here")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    console = Console()
    times: dict[str, list[float]] = {phase: [] for phase in (*PHASES, "chain", "raw")}
    ratios, peaks, mistakes_in, rows_out = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PREFECT_HOME", str(Path(tmp) / "prefect"))
        shards = args.shards or Path(tmp) / "shards"
        setup = make_shards(args.problems, args.batch_size, args.workers, shards)
        console.print(f"setup: shards for {args.problems} problems at {shards} in {setup:.1f} s")
        contamination = None
        if GSM8K_TEST.is_file():
            started = time.perf_counter()
            contamination = Contamination.from_files([GSM8K_TEST], n=NGRAM)
            console.print(
                f"setup: contamination index of {contamination.n_questions} GSM8K test "
                f"questions (n={NGRAM}) in {time.perf_counter() - started:.2f} s"
            )
        else:
            console.print(f"setup: {GSM8K_TEST} missing, no decontamination")
        for repeat in range(args.repeats):
            gc.collect()
            with PeakRss() as rss:
                seconds, n_mistakes, rows = run_export(
                    shards, Path(tmp) / f"export{repeat}", contamination
                )
                raw = raw_write(Path(tmp) / f"raw{repeat}", rows)
            n_rows = sum(len(r) for splits in rows.values() for r in splits.values())
            del rows
            chain = sum(seconds.values())
            for phase in PHASES:
                times[phase].append(seconds[phase])
            times["chain"].append(chain)
            times["raw"].append(raw)
            ratios.append(chain / raw)
            peaks.append(rss.peak)
            mistakes_in.append(n_mistakes)
            rows_out.append(n_rows)
            console.print(
                f"repeat {repeat + 1}: "
                + " + ".join(f"{p} {seconds[p]:.2f}" for p in PHASES)
                + f" = {chain:.2f} s, raw {raw:.2f} s"
            )
    assert len(set(rows_out)) == 1, rows_out
    median = {name: statistics.median(values) for name, values in times.items()}
    rate = rows_out[0] / median["chain"]
    # Paired per repeat, then the median: both sides of a pair saw the same machine load.
    ratio = statistics.median(ratios)
    write_ratio = statistics.median(
        w / r for w, r in zip(times["write"], times["raw"], strict=True)
    )
    peak = max(peaks)
    table = Table(
        title=f"export, {args.problems} synthetic problems, all recipes, median of {args.repeats}"
    )
    for column in ("measure", "value", "target", "ratio to target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row("mistakes in", str(mistakes_in[0]), "", "")
    table.add_row("rows out (all configs and splits)", str(rows_out[0]), "", "")
    table.add_row(
        "rows/s (read + assemble + write)", f"{rate:.0f}", f">= {TARGET_ROWS_PER_S}",
        f"{rate / TARGET_ROWS_PER_S:.2f}x",
    )  # fmt: skip
    table.add_row("chain seconds", f"{median['chain']:.2f} s", "", "")
    table.add_row("raw pyarrow write seconds", f"{median['raw']:.2f} s", "", "")
    table.add_row("export chain / raw pyarrow write", f"{ratio:.2f}x", "", "")
    table.add_row("write phase / raw pyarrow write", f"{write_ratio:.2f}x", "", "")
    table.add_row(
        "peak RSS, process tree", f"{peak / 2**20:.0f} MiB", "<= 2048 MiB",
        f"{peak / TARGET_RSS_BYTES:.2f}",
    )  # fmt: skip
    console.print(table)
    for phase in PHASES:
        share = median[phase] / median["chain"]
        console.print(f"phase {phase:<8} {median[phase]:7.2f} s  ({share:.0%} of chain, median)")
    console.print(f"phase {'raw':<8} {median['raw']:7.2f} s  (pyarrow alone, same rows)")


if __name__ == "__main__":
    main()
