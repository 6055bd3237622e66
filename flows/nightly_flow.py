"""The Prefect flow `nightly`: one incremental night, its steps as subflows.

Thin: `errata.flows.nights.run_night` decides what the night runs; here its steps are the
`generate` flow (on Prefect's process pool of `workers`), the `export` flow and, with a
`repo_id`, the `publish` flow. Deployed from `prefect.yaml` (cron `0 2 * * *`) or served by
`errata serve`. The API key of a model endpoint comes from the worker's environment only.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from errata.flows.batches import DEFAULT_BATCH_SIZE, DEFAULT_SHARDS
from errata.flows.export_flow import export_flow
from errata.flows.generate_flow import generate_flow, task_runner
from errata.flows.nights import (
    DEFAULT_MAX_PROBLEMS,
    DEFAULT_RECIPES,
    NightSteps,
    night_markdown,
    run_night,
)
from errata.flows.publish_flow import publish as publish_flow
from errata.store.export import DEFAULT_EXPORT


def generate_step(workers: int = 2, **parameters: Any) -> dict[str, Any]:
    """One wave of the night: the `generate` flow as a subflow on a process pool."""
    on = task_runner("local", workers)
    return generate_flow.with_options(task_runner=on)(workers=workers, **parameters)


@flow(name="nightly", log_prints=True)
def nightly_flow(
    source: str = "synthetic",
    path: str | None = None,
    split: str = "test",
    seed: int = 0,
    error_types: list[str] | None = None,
    fields: dict[str, str] | None = None,
    limit: int | None = None,
    llm: dict[str, Any] | None = None,
    endpoint: dict[str, Any] | None = None,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
    max_requests: int | None = None,
    max_cost_usd: float | None = None,
    recipes: list[str] | None = None,
    export: str = str(DEFAULT_EXPORT),
    shards: str = DEFAULT_SHARDS,
    decontaminate: list[str] | None = None,
    repo_id: str | None = None,
    private: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 2,
) -> dict[str, Any]:
    """One incremental night: the next `max_problems` problems of the source (`limit` caps the
    source; `max_requests` and `max_cost_usd` cap a model's use, whichever binds first), the
    export rebuilt and, with `repo_id`, published. A night with nothing new does no work."""
    steps = NightSteps(generate=generate_step, export=export_flow, publish=publish_flow)
    summary = run_night(
        steps,
        max_problems=max_problems,
        max_requests=max_requests,
        max_cost_usd=max_cost_usd,
        limit=limit,
        recipes=recipes or DEFAULT_RECIPES,
        export=export,
        decontaminate=decontaminate,
        repo_id=repo_id,
        private=private,
        source=source,
        path=path,
        split=split,
        seed=seed,
        error_types=error_types,
        fields=fields,
        llm=llm,
        endpoint=endpoint,
        batch_size=batch_size,
        shards=shards,
        workers=workers,
    )
    print(summary["message"])
    create_markdown_artifact(night_markdown(summary), key="errata-nightly-summary")
    return summary
