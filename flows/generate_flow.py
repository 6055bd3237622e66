"""The Prefect flow `generate`: one task per batch on the flow's task runner.

Thin: it plans the run, maps `batch_task` over the batches (each self-contained, see
`errata.flows.batches`) and writes the run's books. `errata.flows.generate.run_generate`
chooses the task runner and whether to run this flow at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Self

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner

from errata.flows.batches import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SHARDS,
    BatchOutcome,
    BatchSpec,
    RunPlan,
    finish_run,
    forkserver_context,
    now_iso,
    plan_run,
    prepare_store,
    run_batch_spec,
)


def describe_runner(runner: str, workers: int, dask_address: str | None) -> str:
    if runner == "local":
        return f"Prefect process pool of {workers}"
    return f"Dask at {dask_address}" if dask_address else f"Dask LocalCluster of {workers}"


class ForkserverProcessPoolTaskRunner(ProcessPoolTaskRunner):
    """Prefect's process-pool task runner, its workers forked from a forkserver, not spawned.

    A spawned worker imports Prefect's task engine and this flow before its first task: about
    6 s of every flow run on these 2-core machines, against under a second when the workers
    fork from a server that imported them once. A forkserver child is as clean as a spawned
    one (the server runs no threads); everything else is Prefect's runner as it is.
    """

    PRELOAD = ("prefect.context", "prefect.task_engine", __name__)

    def __enter__(self) -> Self:
        super().__enter__()
        spawning = self._executor  # no worker has started yet: they start on submit
        assert spawning is not None
        self._executor = ProcessPoolExecutor(
            max_workers=self._max_workers,
            mp_context=forkserver_context(self.PRELOAD),
            initializer=spawning._initializer,  # Prefect's event and log forwarding
            initargs=spawning._initargs,
        )
        spawning.shutdown(wait=False)
        return self


def task_runner(runner: str, workers: int, dask_address: str | None = None) -> TaskRunner[Any]:
    """Prefect's process pool of `workers` (local), or prefect-dask's runner (dask)."""
    if runner == "local":
        return ForkserverProcessPoolTaskRunner(max_workers=workers)
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
            "dashboard_address": ":0",  # any free port: 8787 may belong to another cluster
        },
    )


# Each Prefect task run costs about 0.15 s of API calls from its worker process here: with a
# task per batch of 250 problems that was 10-22% of a 10,000-problem run. A task takes a
# contiguous group of batches instead, a few groups per worker so the runner can balance them;
# a batch stays the unit of work and of resume (its shards).
TASKS_PER_WORKER = 4


@task(cache_policy=NO_CACHE, persist_result=False, retries=1)
def batch_task(specs: list[BatchSpec]) -> list[BatchOutcome]:
    """Batches in order, each self-contained: reads its slice, writes its shards, returns
    counts. A retry skips the batches already written."""
    return [run_batch_spec(spec) for spec in specs]


def group_batches(batches: Sequence[BatchSpec], groups: int) -> list[list[BatchSpec]]:
    """Contiguous groups of nearly equal size, at most `groups` of them, none empty."""
    size, extra = divmod(len(batches), max(1, groups))
    out, start = [], 0
    for index in range(min(groups, len(batches))):
        end = start + size + (1 if index < extra else 0)
        out.append(list(batches[start:end]))
        start = end
    return out


@flow(name="generate", log_prints=True)
def generate_flow(
    source: str = "synthetic",
    path: str | None = None,
    limit: int | None = 200,
    split: str = "test",
    seed: int = 0,
    error_types: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    shards: str = DEFAULT_SHARDS,
    workers: int = 2,
    skip_bad: bool = False,
    fields: dict[str, str] | None = None,
    llm: dict[str, Any] | None = None,
    endpoint: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate verified mistakes (with corrections) from a problem source: rule injections,
    and with `llm` settings sampled attempts, a teacher's corrections and model-made mistakes
    through the OpenAI-compatible `endpoint` (its API key comes from the environment only)."""
    started, started_at = time.perf_counter(), now_iso()
    plan = plan_run(
        source=source,
        path=path,
        limit=limit,
        split=split,
        seed=seed,
        error_types=error_types,
        batch_size=batch_size,
        shards=shards,
        skip_bad=skip_bad,
        fields=fields,
        llm=llm,
        endpoint=endpoint,
        workers=workers,
    )
    hold = prepare_store(plan)
    try:
        futures = batch_task.map(group_batches(plan.batches, workers * TASKS_PER_WORKER))
        outcomes = [outcome for future in futures for outcome in future.result()]
    except BaseException:
        hold.release()  # a failed batch must not leave the store locked for a later run
        raise
    summary = finish_run(plan, hold, outcomes, started_at, started)
    _report(plan, summary)
    return summary


def _report(plan: RunPlan, summary: dict[str, Any]) -> None:
    """The run's Prefect artifacts: its figures as markdown and its stages as a table."""
    from pathlib import Path

    from errata.store.report import facts_markdown, facts_table, run_facts

    if "://" in plan.root:  # the report reads local shards through DuckDB
        return
    facts = run_facts(Path(plan.root), summary["run_id"])
    create_table_artifact(
        facts_table(facts), key="errata-generate-stage-counts", description="Per-stage counts"
    )
    create_markdown_artifact(facts_markdown(facts), key="errata-generate-summary")
