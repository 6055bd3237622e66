"""The `generate` run: problems in, verified mistake records out as Parquet shards.

`run_generate` is the one entry point. With a Prefect API configured (or `--runner dask`, or
`prefect=True`) it runs the Prefect flow `generate_flow` (`errata.flows.generate_flow`): one task
per batch on the flow's task runner (Prefect's process pool locally, a Dask cluster through
prefect-dask). With no API configured and the local runner, the same batch function runs in a
plain process pool and the summary says the run was not tracked: a temporary Prefect server
costs more than a small run, so this path does not even import Prefect. Both write
byte-identical shards and the same `runs` record; `errata.flows.batches` holds the work.
"""

from __future__ import annotations

from typing import Any, Literal

from errata.flows.batches import DEFAULT_SHARDS, config_hash_for, errata_version, generate_locally
from errata.flows.tracking import prefect_api, untracked_reason
from errata.store.shards import check_schema_version

Runner = Literal["local", "dask"]
RUNNERS: tuple[str, ...] = ("local", "dask")

__all__ = ["RUNNERS", "config_hash_for", "errata_version", "run_generate"]


def run_generate(
    runner: Runner = "local",
    dask_address: str | None = None,
    prefect: bool | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """Run `generate` with the given flow parameters; returns the run's summary.

    `runner`: "local" (processes on this machine) or "dask" (a LocalCluster of `workers`
    processes, or the scheduler at `dask_address`). `prefect`: None decides by whether a
    Prefect API is configured; True always runs the Prefect flow (Prefect's temporary server if
    none is configured); False never does (not with Dask, whose runner is Prefect's). The
    summary's `tracking` and `runner` say which.
    """
    if dask_address:
        runner = "dask"
    if runner not in RUNNERS:
        raise ValueError(f"--runner: expected one of {', '.join(RUNNERS)}, got {runner!r}")
    if runner == "dask" and prefect is False:
        raise ValueError("--runner dask runs through Prefect's task runner; drop --no-prefect")
    check_schema_version(parameters.get("shards", DEFAULT_SHARDS))  # before any server starts
    reason = untracked_reason(prefect) if runner == "local" else None
    if reason:
        summary = generate_locally(**parameters)
        return {**summary, "runner": "local processes", "tracking": reason}

    from errata.flows.generate_flow import describe_runner, generate_flow, task_runner

    workers = parameters.get("workers", 2)
    on = task_runner(runner, workers, dask_address)
    with prefect_api() as tracking:
        summary = generate_flow.with_options(task_runner=on)(**parameters)
    return {
        **summary,
        "runner": describe_runner(runner, workers, dask_address),
        "tracking": tracking,
    }


def __getattr__(name: str) -> Any:
    # `generate_flow` lives with Prefect in errata.flows.generate_flow; importing it from here
    # still works, without making every untracked run import Prefect.
    if name == "generate_flow":
        from errata.flows.generate_flow import generate_flow

        return generate_flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
