"""The `generate` flow: problems in, verified mistake records out as Parquet shards.

Thin orchestration: one task loads the source, one task per batch runs the stages (in a
process pool, since verification is CPU-bound and math-verify needs a main thread) and
writes that batch's shards. A batch whose shards exist is skipped, so a rerun resumes.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from errata.generators.pipeline import STAGES, MathConfig, run_math_batch
from errata.generators.sources.errors import BadLine
from errata.generators.sources.files import load_mapped
from errata.generators.sources.gsm8k import load_gsm8k
from errata.generators.sources.synthetic import SyntheticConfig, generate
from errata.schemas.ids import content_hash
from errata.schemas.records import SCHEMA_VERSION, Problem, Reject, Run, StageCount
from errata.store.shards import (
    batch_done,
    batch_item_ids,
    batch_key,
    batches_at,
    clean_orphans,
    remove_batch,
    write_records,
)

DEFAULT_OUT = Path("data/shards")
DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class SourceSpec:
    """Where problems come from; everything here (but `limit`) defines their identity."""

    kind: str = "synthetic"  # synthetic | gsm8k | file
    path: str | None = None  # file path or Hub dataset id
    split: str = "test"
    limit: int | None = 200
    seed: int = 0
    n_ops_min: int = 2
    n_ops_max: int = 5
    number_max: int = 20
    fields: dict[str, str] = field(default_factory=dict)  # question/solution/answer mapping

    def identity(self) -> dict[str, Any]:
        spec = asdict(self)
        spec.pop("limit")
        return spec


@dataclass
class BatchOutcome:
    batch: str
    skipped: bool
    mistakes: int = 0
    rejects: int = 0
    counts: list[StageCount] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def source_hash(spec: SourceSpec, batch_size: int) -> str:
    """Names the problems' shards: batch boundaries depend on the batch size."""
    return content_hash("source", spec.identity(), batch_size, SCHEMA_VERSION)


def config_hash(spec: SourceSpec, config: MathConfig, batch_size: int) -> str:
    """Names a run: rerunning the same source, config and batch size resumes it."""
    return content_hash("generate", spec.identity(), asdict(config), batch_size, SCHEMA_VERSION)


def plan(
    source: str = "synthetic",
    path: str | None = None,
    limit: int | None = 200,
    split: str = "test",
    seed: int = 0,
    error_types: list[str] | None = None,
    fields: dict[str, str] | None = None,
    **_: Any,
) -> tuple[SourceSpec, MathConfig]:
    """The source and stage config that a set of flow parameters stands for."""
    spec = SourceSpec(
        kind=source, path=path, split=split, limit=limit, seed=seed, fields=fields or {}
    )
    config = MathConfig(seed=seed, **({"error_types": tuple(error_types)} if error_types else {}))
    return spec, config


def config_hash_for(parameters: dict[str, Any]) -> str:
    return config_hash(*plan(**parameters), parameters.get("batch_size", DEFAULT_BATCH_SIZE))


def load_source(spec: SourceSpec, skip_bad: bool) -> tuple[list[Problem], list[BadLine]]:
    bad_lines: list[BadLine] = []
    if spec.kind == "synthetic":
        knobs = SyntheticConfig(
            n_ops_min=spec.n_ops_min,
            n_ops_max=spec.n_ops_max,
            number_max=spec.number_max,
            seed=spec.seed,
        )
        return generate(spec.limit or 200, knobs), bad_lines
    if not spec.path:
        raise ValueError(f"source {spec.kind!r} needs a path (--path FILE or a Hub dataset id)")
    if spec.kind == "gsm8k":
        problems = load_gsm8k(spec.path, spec.split, skip_bad, bad_lines, spec.limit)
    elif spec.kind == "file":
        problems = load_mapped(
            spec.path, **spec.fields, split=spec.split, skip_bad=skip_bad, bad_lines=bad_lines
        )[: spec.limit]
    else:
        raise ValueError(f"unknown source {spec.kind!r}: expected synthetic, gsm8k or file")
    return problems, bad_lines


def execute_batch(
    problems: Sequence[Problem],
    root: Path,
    config: MathConfig,
    run_id: str,
    problems_key: str,
    pool: ProcessPoolExecutor | None = None,
    position: int = 0,
) -> BatchOutcome:
    """Run the stages over one batch and write its shards, unless they already exist.

    Batch names start with the batch's position, so a rerun with a larger or smaller limit
    finds the batch that held a different cut of the same position (the last, partial one).
    """
    prefix = f"{position:05d}"
    key = f"{prefix}-{batch_key([p.problem_id for p in problems])}"
    config_key = run_id.removeprefix("run-")
    tables = {"problems": problems_key, "rejects": config_key, "mistakes": config_key}
    if all(batch_done(root, [table], ck, key) for table, ck in tables.items()):
        return BatchOutcome(batch=key, skipped=True)
    ids = {p.problem_id for p in problems}
    superseded = []
    for other in batches_at(root, "mistakes", config_key, prefix):
        if other == key or not batch_done(root, ["problems"], problems_key, other):
            continue
        members = batch_item_ids(root, "problems", problems_key, other, "problem_id")
        if ids <= members:
            return BatchOutcome(batch=other, skipped=True)  # a larger earlier cut covers it
        if members <= ids:
            superseded.append(other)
    arguments = (list(problems), root, config, run_id, config_key, problems_key, key)
    if pool is None:
        outcome = _compute_and_write(*arguments)
    else:
        outcome = pool.submit(_compute_and_write, *arguments).result()
    for other in superseded:  # only once the batch that replaces it is written
        remove_batch(root, tables, other)
    return outcome


def _compute_and_write(
    problems: list[Problem],
    root: Path,
    config: MathConfig,
    run_id: str,
    config_key: str,
    problems_key: str,
    key: str,
) -> BatchOutcome:
    # Runs in a pool worker: records never travel back to the flow's process, only counts.
    result = run_math_batch(problems, config, run_id)
    paths = [
        write_records(root, "problems", problems_key, key, problems),
        write_records(root, "rejects", config_key, key, result.rejects),
        # Mistakes last: with the store's all-tables check this is the batch's commit point.
        write_records(root, "mistakes", config_key, key, result.mistakes),
    ]
    return BatchOutcome(
        batch=key,
        skipped=False,
        mistakes=len(result.mistakes),
        rejects=len(result.rejects),
        counts=result.counts,
        paths=[str(p) for p in paths],
    )


_POOL: ProcessPoolExecutor | None = None


def _pool(workers: int) -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor(max_workers=workers)
    return _POOL


@task(cache_policy=NO_CACHE, persist_result=False)
def load_problems_task(spec: SourceSpec, skip_bad: bool) -> tuple[list[Problem], list[BadLine]]:
    return load_source(spec, skip_bad)


@task(cache_policy=NO_CACHE, persist_result=False, retries=1)
def batch_task(
    problems: list[Problem],
    position: int,
    root: str,
    config: MathConfig,
    run_id: str,
    problems_key: str,
    workers: int,
) -> BatchOutcome:
    pool = _pool(workers)
    return execute_batch(problems, Path(root), config, run_id, problems_key, pool, position)


def sum_counts(
    outcomes: Sequence[BatchOutcome], extra: Sequence[StageCount] = ()
) -> list[StageCount]:
    totals: dict[str, list[int]] = {}
    for count in [*extra, *(c for o in outcomes for c in o.counts)]:
        total = totals.setdefault(count.stage, [0, 0, 0])
        total[0] += count.n_in
        total[1] += count.n_out
        total[2] += count.n_rejected
    order = ["source", *STAGES]
    return [
        StageCount(stage=s, n_in=t[0], n_out=t[1], n_rejected=t[2])
        for s, t in sorted(totals.items(), key=lambda item: order.index(item[0]))
    ]


def bad_line_rejects(bad_lines: Sequence[BadLine], run_id: str) -> list[Reject]:
    return [
        Reject(
            reject_id="r-" + content_hash("source", bad.path, bad.line, run_id),
            stage="source",
            reason=bad.reason,
            message=bad.message,
            item_id=f"{bad.path}:{bad.line}",
            payload=bad.raw,
            run_id=run_id,
        )
        for bad in bad_lines
    ]


@flow(name="generate", log_prints=True)
def generate_flow(
    source: str = "synthetic",
    path: str | None = None,
    limit: int | None = 200,
    split: str = "test",
    seed: int = 0,
    error_types: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out: str = str(DEFAULT_OUT),
    workers: int = 2,
    skip_bad: bool = False,
    fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Generate verified injected mistakes (with corrections) from a problem source."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    clean_orphans(root)
    spec, config = plan(source, path, limit, split, seed, error_types, fields)
    config_key = config_hash(spec, config, batch_size)
    run_id = f"run-{config_key}"
    problems_key = source_hash(spec, batch_size)

    problems, bad_lines = load_problems_task(spec, skip_bad)
    source_rejects = bad_line_rejects(bad_lines, run_id)
    if source_rejects:
        source_batch = batch_key([r.item_id for r in source_rejects])
        write_records(root, "rejects", config_key, source_batch, source_rejects)
    batches = [problems[i : i + batch_size] for i in range(0, len(problems), batch_size)]
    # quote(): Prefect would otherwise walk every record of every batch looking for futures
    # (about 3 s per 10,000 problems on this machine).
    futures = batch_task.map(
        [quote(batch) for batch in batches],
        list(range(len(batches))),
        root=str(root),
        config=config,
        run_id=run_id,
        problems_key=problems_key,
        workers=workers,
    )
    outcomes: list[BatchOutcome] = [f.result() for f in futures]

    source_count = StageCount(
        stage="source",
        n_in=len(problems) + len(bad_lines),
        n_out=len(problems),
        n_rejected=len(bad_lines),
    )
    counts = sum_counts(outcomes, [source_count])
    wall = time.perf_counter() - started
    run = Run(
        run_id=run_id,
        invocation_id=uuid.uuid4().hex,
        flow="generate",
        parameters=json.dumps(
            {"source": asdict(spec), "config": asdict(config), "batch_size": batch_size},
            sort_keys=True,
        ),
        started_at=started_at,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        wall_seconds=round(wall, 3),
        batches_total=len(batches),
        batches_skipped=sum(o.skipped for o in outcomes),
        counts=counts,
        errata_version=errata_version(),
    )
    write_records(root, "runs", config_key, run.invocation_id, [run])
    summary = {
        "run_id": run_id,
        "out": str(root),
        "problems": len(problems),
        "mistakes_written": sum(o.mistakes for o in outcomes),
        "batches": len(batches),
        "batches_skipped": run.batches_skipped,
        "wall_seconds": run.wall_seconds,
        "counts": [c.model_dump() for c in counts],
        "shards": [p for o in outcomes for p in o.paths],
    }
    _report(summary, counts)
    return summary


def _report(summary: dict[str, Any], counts: Sequence[StageCount]) -> None:
    rows = [c.model_dump() for c in counts]
    create_table_artifact(rows, key="errata-generate-stage-counts", description="Per-stage counts")
    lines = [
        f"# errata generate `{summary['run_id']}`",
        "",
        f"- problems: {summary['problems']}",
        f"- mistake records written: {summary['mistakes_written']}",
        f"- batches: {summary['batches']} ({summary['batches_skipped']} already done, skipped)",
        f"- output: `{summary['out']}`",
        f"- wall time: {summary['wall_seconds']} s",
        "",
        "| stage | in | kept | rejected |",
        "|---|---:|---:|---:|",
        *(f"| {c.stage} | {c.n_in} | {c.n_out} | {c.n_rejected} |" for c in counts),
    ]
    create_markdown_artifact("\n".join(lines), key="errata-generate-summary")


def errata_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("errata")
    except PackageNotFoundError:
        return os.environ.get("ERRATA_VERSION", "0+unknown")


def run_generate(**parameters: Any) -> dict[str, Any]:
    """Call the flow with a bounded thread pool: one thread per concurrent batch."""
    workers = parameters.get("workers", 2)
    runner = ThreadPoolTaskRunner(max_workers=workers)
    return generate_flow.with_options(task_runner=runner)(**parameters)
