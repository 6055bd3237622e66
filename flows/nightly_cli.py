"""`errata nightly` and `errata serve`: one incremental night now, or the nightly schedule
served from this process.

`errata nightly` is tracked in Prefect when an API is configured, and otherwise runs the same
steps in this process. `errata serve` needs a real Prefect server: the temporary one a flow run
starts lives only as long as that run, so no schedule would ever fire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from errata.flows.batches import DEFAULT_BATCH_SIZE
from errata.flows.nights import DEFAULT_MAX_PROBLEMS, DEFAULT_RECIPES
from errata.generators.sources.check import SourceKind
from errata.store.catalog import DEFAULT_SHARDS
from errata.store.export import DEFAULT_EXPORT

NIGHTLY_CRON = "0 2 * * *"
DEFAULT_RECIPES_OPTION = ",".join(DEFAULT_RECIPES)

SourceOption = Annotated[SourceKind, typer.Option(help="Where problems come from")]
PathOption = Annotated[
    str | None, typer.Option(help="Input file (JSONL, JSON, Parquet), or a Hub dataset id")
]
LimitOption = Annotated[
    int | None,
    typer.Option(min=1, help="Stop at this many problems of the source (default: its end)"),
]
MaxProblemsOption = Annotated[int, typer.Option(min=1, help="New problems per night")]
MaxRequestsOption = Annotated[
    int | None, typer.Option(min=1, help="Model requests per night (with --model)")
]
MaxCostOption = Annotated[
    float | None, typer.Option("--max-cost", min=0.0, help="Model spend per night, USD")
]
RecipesOption = Annotated[str, typer.Option(help="Comma-separated recipes to export")]
ExportOption = Annotated[Path, typer.Option("--export", help="Export folder rebuilt each night")]
ShardsOption = Annotated[Path, typer.Option("--shards", help="Shard root")]
RepoOption = Annotated[
    str | None, typer.Option(help="Hub dataset id to publish to (default: publish nothing)")
]
PrivateOption = Annotated[bool, typer.Option("--private/--public", help="Hub visibility")]
ModelOption = Annotated[
    str | None, typer.Option(help="Model for the LLM stages (teacher and sampler)")
]
BaseUrlOption = Annotated[
    str | None, typer.Option(help="OpenAI-compatible endpoint (key from OPENAI_API_KEY)")
]


def night_parameters(
    source: str,
    path: str | None,
    split: str,
    seed: int,
    limit: int | None,
    max_problems: int,
    max_requests: int | None,
    max_cost: float | None,
    recipes: str,
    export: Path,
    shards: Path,
    repo_id: str | None,
    private: bool,
    batch_size: int,
    workers: int,
    model: str | None,
    base_url: str | None,
) -> dict[str, Any]:
    """The `nightly` flow's parameters from the command's options, checked (ValueError)."""
    from errata.flows.cli import (
        ENDPOINT_DEFAULTS,
        MODEL_DEFAULTS,
        _choices,
        _endpoint_parameters,
        _llm_parameters,
    )
    from errata.schemas.exports import RECIPES

    chosen = _choices("--recipes", "recipe", recipes, RECIPES)
    if (max_requests is not None or max_cost is not None) and model is None:
        raise ValueError("--max-requests and --max-cost budget a model's use: add --model")
    # With a model: sampled attempts and a teacher's corrections beside the rule injections.
    sampler, teacher = ("llm", "llm") if model else ("none", "none")
    llm = _llm_parameters(
        sampler, teacher, "rules", model, **MODEL_DEFAULTS, replay=None, replay_field=None
    )
    endpoint = _endpoint_parameters(
        llm, base_url, **ENDPOINT_DEFAULTS, rpm=None, tpm=None, llm_cache=None, prices=None,
        shards=shards, workers=workers,
    )  # fmt: skip
    return {
        "source": source,
        "path": path,
        "split": split,
        "seed": seed,
        "limit": limit,
        "llm": llm,
        "endpoint": endpoint,
        "max_problems": max_problems,
        "max_requests": max_requests,
        "max_cost_usd": max_cost,
        "recipes": chosen,
        "export": str(export),
        "shards": str(shards),
        "repo_id": repo_id,
        "private": private,
        "batch_size": batch_size,
        "workers": workers,
    }


def nightly_command(
    source: SourceOption = "synthetic",
    path: PathOption = None,
    split: str = "test",
    seed: int = 0,
    limit: LimitOption = None,
    max_problems: MaxProblemsOption = DEFAULT_MAX_PROBLEMS,
    max_requests: MaxRequestsOption = None,
    max_cost: MaxCostOption = None,
    recipes: RecipesOption = DEFAULT_RECIPES_OPTION,
    export: ExportOption = DEFAULT_EXPORT,
    shards: ShardsOption = DEFAULT_SHARDS,
    repo_id: RepoOption = None,
    private: PrivateOption = True,
    batch_size: Annotated[int, typer.Option(min=1)] = DEFAULT_BATCH_SIZE,
    workers: Annotated[int, typer.Option(min=1)] = 2,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Track the night in Prefect (default: when a Prefect API is configured)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run one incremental night now: the next --max-problems problems, then the export."""
    from errata.flows.cli import _fail, console
    from errata.flows.nights import run_nightly

    try:
        parameters = night_parameters(
            source, path, split, seed, limit, max_problems, max_requests, max_cost, recipes,
            export, shards, repo_id, private, batch_size, workers, model, base_url,
        )  # fmt: skip
        summary = run_nightly(prefect=prefect, **parameters)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(summary["message"], soft_wrap=True)
    if summary.get("export"):
        console.print(f"export: {summary['export']['out']}")
    console.print(f"[dim]Prefect tracking: {summary['tracking']}[/]", soft_wrap=True)


def serve_command(
    cron: Annotated[str, typer.Option(help="When nights start (cron)")] = NIGHTLY_CRON,
    timezone: Annotated[str, typer.Option(help="IANA time zone of --cron")] = "UTC",
    source: SourceOption = "synthetic",
    path: PathOption = None,
    split: str = "test",
    seed: int = 0,
    limit: LimitOption = None,
    max_problems: MaxProblemsOption = DEFAULT_MAX_PROBLEMS,
    max_requests: MaxRequestsOption = None,
    max_cost: MaxCostOption = None,
    recipes: RecipesOption = DEFAULT_RECIPES_OPTION,
    export: ExportOption = DEFAULT_EXPORT,
    shards: ShardsOption = DEFAULT_SHARDS,
    repo_id: RepoOption = None,
    private: PrivateOption = True,
    batch_size: Annotated[int, typer.Option(min=1)] = DEFAULT_BATCH_SIZE,
    workers: Annotated[int, typer.Option(min=1)] = 2,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """Serve the nightly deployment from this process: a night at --cron until stopped.

    Needs a Prefect server (`prefect server start`, then PREFECT_API_URL) to keep the schedule.
    """
    from errata.flows.cli import _fail
    from errata.flows.tracking import prefect_api_url

    if not prefect_api_url():
        _fail(
            "errata serve needs a Prefect server to keep its schedule: run `prefect server "
            "start` and set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)"
        )
    try:
        parameters = night_parameters(
            source, path, split, seed, limit, max_problems, max_requests, max_cost, recipes,
            export, shards, repo_id, private, batch_size, workers, model, base_url,
        )  # fmt: skip
        schedule = nightly_schedule(cron, timezone)
    except ValueError as exc:
        _fail(str(exc))
    from errata.flows.nightly_flow import nightly_flow

    print(f"serving nightly at {cron} ({timezone}) with {json.dumps(parameters)}")
    nightly_flow.serve(name="nightly", schedules=[schedule], parameters=parameters)


def nightly_schedule(cron: str, timezone: str) -> Any:
    """Prefect's cron schedule, checked now: a bad cron or time zone is a ValueError."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.schedules import Cron
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ValueError(f"--cron {cron!r} --timezone {timezone!r}: {reasons}") from None
    return Cron(cron, timezone=timezone)
