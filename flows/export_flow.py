"""The Prefect `export` flow: the export's steps as tasks, and a markdown artifact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from errata.flows import export as steps
from errata.generators.recipes.select import DEFAULT_NGRAM
from errata.store.export import DEFAULT_EXPORT


def _as_task(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    prefect_task = task(fn, name=name, cache_policy=NO_CACHE, persist_result=False)

    def call(*args: Any) -> Any:
        # quote(): Prefect would otherwise walk every record looking for futures (seconds
        # per 10,000 rows).
        return prefect_task(*(quote(a) for a in args))

    return call


TASKS = {name: _as_task(name, fn) for name, fn in steps.PLAIN_STEPS.items()}


@flow(name="export", log_prints=True)
def export_flow(
    recipes: list[str],
    shards: str = "data/shards",
    out: str = str(DEFAULT_EXPORT),
    seed: int = 0,
    test_fraction: float = 0.1,
    max_per_problem: int | None = None,
    error_types: list[str] | None = None,
    origins: list[str] | None = None,
    decontaminate: list[str] | None = None,
    ngram: int = DEFAULT_NGRAM,
    retry_rate: float = 0.1,
    keep_annotations: bool = False,
    answer_format: str | None = None,
) -> dict[str, Any]:
    """Build the training sets of the chosen recipes from the shards into a Hub-ready folder."""
    summary = steps.export(
        recipes,
        shards=shards,
        out=out,
        seed=seed,
        test_fraction=test_fraction,
        max_per_problem=max_per_problem,
        error_types=error_types,
        origins=origins,
        decontaminate=decontaminate,
        ngram=ngram,
        retry_rate=retry_rate,
        keep_annotations=keep_annotations,
        answer_format=answer_format,
        steps=TASKS,
    )
    create_markdown_artifact(steps.report_markdown(summary), key="errata-export-summary")
    return summary
