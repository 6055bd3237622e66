"""The `generate` run: problems in, verified mistake records out as Parquet shards.

`run_generate` is the one entry point. With a Prefect API configured (or `--runner dask`, or
`prefect=True`) it runs `generate_flow`: one Prefect task per batch, parallel on the flow's task
runner (Prefect's process pool locally, a Dask cluster through prefect-dask). With no API
configured and the local runner, the same batch function runs in a plain process pool and the
summary says the run was not tracked: a temporary Prefect server costs more than a small run.
Both write byte-identical shards and the same `runs` record; `errata.flows.batches` holds the
work, this module only the orchestration.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.settings import get_current_settings

from errata.flows.batches import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_OUT,
    BatchOutcome,
    BatchSpec,
    RunPlan,
    config_hash_for,
    errata_version,
    finish_run,
    generate_locally,
    now_iso,
    plan_run,
    prepare_store,
    run_batch_spec,
)
from errata.store.shards import check_schema_version

Runner = Literal["local", "dask"]
RUNNERS: tuple[str, ...] = ("local", "dask")
NOT_TRACKED = "none: no Prefect API configured (set PREFECT_API_URL to track runs)"

__all__ = [
    "RUNNERS",
    "config_hash_for",
    "errata_version",
    "generate_flow",
    "prefect_api_url",
    "run_generate",
]


def prefect_api_url() -> str | None:
    """The Prefect API this process would report to (environment, profile or settings file)."""
    return os.environ.get("PREFECT_API_URL") or get_current_settings().api.url


def run_generate(
    runner: Runner = "local",
    dask_address: str | None = None,
    prefect: bool | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """Run `generate` with the given flow parameters; returns the summary of `generate_flow`.

    `runner`: "local" (processes on this machine) or "dask" (a LocalCluster of `workers`
    processes, or the scheduler at `dask_address`). `prefect`: None decides by whether a
    Prefect API is configured; True always runs the Prefect flow (a temporary server if none is
    configured); False never does (not with Dask, whose runner is Prefect's). The summary's
    `tracking` says which.
    """
    if dask_address:
        runner = "dask"
    if runner not in RUNNERS:
        raise ValueError(f"--runner: expected one of {', '.join(RUNNERS)}, got {runner!r}")
    if runner == "dask" and prefect is False:
        raise ValueError("--runner dask runs through Prefect's task runner; drop --no-prefect")
    check_schema_version(parameters.get("out", DEFAULT_OUT))  # before any server starts
    api_url = prefect_api_url() if prefect is None and runner == "local" else None
    if prefect is False or (prefect is None and runner == "local" and not api_url):
        summary = generate_locally(**parameters)
        tracking = NOT_TRACKED if prefect is None else "none: turned off for this run"
        return {**summary, "runner": "local processes", "tracking": tracking}
    workers = parameters.get("workers", 2)
    task_runner = _task_runner(runner, workers, dask_address)
    with _prefect_api() as tracking:
        summary = generate_flow.with_options(task_runner=task_runner)(**parameters)
    return {**summary, "runner": _describe(runner, workers, dask_address), "tracking": tracking}


@contextmanager
def _prefect_api() -> Iterator[str]:
    """The configured Prefect API, or Prefect's temporary server set as the API for this run.

    Prefect starts the temporary server lazily per process; the task runner's worker processes
    (Prefect's process pool, Dask's workers) would each start their own. Starting it here, and
    naming it in the settings they inherit, gives the whole run one server.
    """
    url = prefect_api_url()
    if url:
        yield f"Prefect API at {url}"
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()  # the same instance Prefect's own client would start
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield f"temporary Prefect server at {server.api_url} (set PREFECT_API_URL to keep runs)"


def _describe(runner: str, workers: int, dask_address: str | None) -> str:
    if runner == "local":
        return f"Prefect process pool of {workers}"
    return f"Dask at {dask_address}" if dask_address else f"Dask LocalCluster of {workers}"


def _task_runner(runner: str, workers: int, dask_address: str | None) -> Any:
    if runner == "local":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    # Processes, one thread each: the stages are CPU-bound Python. Their nanny processes are
    # daemonic, which is why nothing in a batch may start a multiprocessing pool.
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": workers,
            "processes": True,
            "threads_per_worker": 1,
            "dashboard_address": None,
        },
    )


# --- the Prefect flow ----------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, persist_result=False, retries=1)
def batch_task(spec: BatchSpec) -> BatchOutcome:
    """One batch, self-contained: reads its slice, writes its shards, returns counts."""
    return run_batch_spec(spec)


@flow(name="generate", log_prints=True)
def generate_flow(
    source: str = "synthetic",
    path: str | None = None,
    limit: int | None = 200,
    split: str = "test",
    seed: int = 0,
    error_types: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out: str = DEFAULT_OUT,
    workers: int = 2,
    skip_bad: bool = False,
    fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Generate verified injected mistakes (with corrections) from a problem source."""
    started, started_at = time.perf_counter(), now_iso()
    plan = plan_run(
        source=source,
        path=path,
        limit=limit,
        split=split,
        seed=seed,
        error_types=error_types,
        batch_size=batch_size,
        out=out,
        skip_bad=skip_bad,
        fields=fields,
    )
    prepare_store(plan)
    futures = batch_task.map(plan.batches)
    outcomes = [future.result() for future in futures]
    summary = finish_run(plan, outcomes, started_at, started)
    _report(plan, summary)
    return summary


def _report(plan: RunPlan, summary: dict[str, Any]) -> None:
    counts: Sequence[dict[str, Any]] = summary["counts"]
    rows = [{k: v for k, v in c.items() if k != "rejected_by_reason"} for c in counts]
    create_table_artifact(rows, key="errata-generate-stage-counts", description="Per-stage counts")
    lines = [
        f"# errata generate `{summary['run_id']}`",
        "",
        f"- problems: {summary['problems']}",
        f"- mistake records written: {summary['mistakes_written']}",
        f"- batches: {summary['batches']} ({summary['batches_skipped']} already done, skipped)",
        f"- output: `{plan.root}`",
        f"- wall time: {summary['wall_seconds']} s",
        "",
        "| stage | in | kept | rejected | seconds |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {c['stage']} | {c['n_in']} | {c['n_out']} | {c['n_rejected']} | {c['seconds']} |"
            for c in counts
        ),
    ]
    create_markdown_artifact("\n".join(lines), key="errata-generate-summary")
