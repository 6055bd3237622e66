"""Incremental nights: how far a source has got under one configuration, what the next night
runs, and one night composed from its steps (generate, export, publish).

A night runs the same `generate` work as `errata run`, with the source's limit set to the
problems already done plus the night's budget: the batches already written are skipped and
only the new ones run. A night that died half-way is resumed by the next one, without
duplicates, because a batch is done exactly when its shards exist. No Prefect here: the
`nightly` flow passes Prefect steps (subflows), `errata nightly` without a Prefect API passes
the plain functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errata.flows.batches import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SHARDS,
    config_hash,
    plan_run,
    plan_source,
)
from errata.generators.domains.base import add_usage as add_usage_records
from errata.schemas.records import BatchBooks, LLMUsage
from errata.store.export import DEFAULT_EXPORT, MANIFEST, META_DIR, is_export
from errata.store.shards import batch_done, batches_at, read_shard_records

DEFAULT_MAX_PROBLEMS = 1000
DEFAULT_RECIPES = ["lemma", "rise", "lema"]
NOTHING_NEW = "nothing new"

# The settings that make a generate run (and so its identity); the rest are the night's own.
GENERATE_SETTINGS = (
    "source",
    "path",
    "split",
    "seed",
    "error_types",
    "fields",
    "llm",
    "endpoint",
    "batch_size",
    "shards",
    "workers",
    "skip_bad",
)


# --- how far a source has got ----------------------------------------------------------------


def _batch_problems(root: str, config_key: str, batch: str) -> int:
    """Problems of one committed batch (its mistakes shard exists), else 0."""
    if not batch_done(root, ["batches", "mistakes"], config_key, batch):
        return 0
    try:
        [books] = read_shard_records(root, "batches", config_key, batch)
    except (OSError, ValueError):  # unreadable: the run's quarantine moves it, its batch redone
        return 0
    assert isinstance(books, BatchBooks)
    return books.n_problems


def done_problems(shards: str, config_key: str, batch_size: int) -> int:
    """Problems of the source done under one configuration: the committed batches from the
    first position on, up to the first gap or the first partial batch.

    Counting only the unbroken prefix keeps a night within its budget: batches a killed night
    left beyond a gap are skipped (not counted twice) when the next night reaches them.
    """
    done = 0
    for position in range(10**6):
        names = batches_at(shards, "mistakes", config_key, f"{position:05d}")
        # Two cuts at one position only after a crash between writing one and removing the
        # other; the larger covers the smaller.
        size = max((_batch_problems(shards, config_key, name) for name in names), default=0)
        done += size
        if size < batch_size:
            break
    return done


# --- what a night runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class NightPlan:
    """Where the night starts (`done`), the source limit it runs to, and the limits of its
    waves: budgets are checked after each wave, so a spent budget stops the next one."""

    done: int
    limit: int
    waves: list[int] = field(default_factory=list)

    @property
    def new(self) -> int:
        return max(0, self.limit - self.done)


def night_plan(
    done: int,
    max_problems: int,
    source_size: int | None,
    batch_size: int,
    wave_problems: int | None = None,
) -> NightPlan:
    """The next `max_problems` of the source after `done`, capped by its size (None: no end).

    `wave_problems` (a multiple of the batch size) splits the night into waves ending on batch
    boundaries; None runs it as one wave.
    """
    if max_problems < 1:
        raise ValueError(f"max_problems must be at least 1, got {max_problems}")
    target = done + max_problems
    if source_size is not None:
        target = min(target, source_size)
    if target <= done:
        return NightPlan(done=done, limit=done)
    if not wave_problems:
        return NightPlan(done=done, limit=target, waves=[target])
    waves, reached = [], done
    while reached < target:
        reached = min(target, (reached // batch_size) * batch_size + wave_problems)
        waves.append(reached)
    return NightPlan(done=done, limit=target, waves=waves)


def requests_spent(usage: dict[str, Any] | None) -> int:
    """Requests that reached the endpoint: answered ones not from the cache, and failed ones."""
    if not usage:
        return 0
    return int(usage["requests"]) - int(usage["cached"]) + int(usage["failed"])


def spent_budget(
    usage: dict[str, Any] | None, max_requests: int | None, max_cost_usd: float | None
) -> str | None:
    """The LLM budget the night's usage has reached (its name), or None."""
    if not usage:
        return None
    if max_requests is not None and requests_spent(usage) >= max_requests:
        return "max_requests"
    if max_cost_usd is not None and float(usage["cost_usd"]) >= max_cost_usd:
        return "max_cost_usd"
    return None


def add_usage(total: dict[str, Any] | None, more: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sum of two run summaries' usage (dicts of LLMUsage); None when both are."""
    summed = add_usage_records(
        LLMUsage.model_validate(total) if total else None,
        LLMUsage.model_validate(more) if more else None,
    )
    return summed.model_dump() if summed else None


def export_is_current(out: str, shards: str) -> bool:
    """True when the export in `out` was written after the newest mistakes shard: a night
    with nothing new then leaves it alone. A night that died after its batches but before its
    export finds it stale and rebuilds it."""
    if "://" in shards:
        return True  # no cheap modification times on object stores: trust the last night
    if not is_export(Path(out)):
        return False
    manifest = Path(out) / META_DIR / MANIFEST
    newest = max((p.stat().st_mtime for p in Path(shards).glob("mistakes/*/*.parquet")), default=0)
    return manifest.stat().st_mtime >= newest


# --- one night -------------------------------------------------------------------------------


@dataclass
class NightSteps:
    """How a night runs its parts, each called with keywords and returning its summary:
    `generate` (errata run's parameters), `export` (the export's), `publish` (repo_id, export,
    shards, private)."""

    generate: Callable[..., dict[str, Any]]
    export: Callable[..., dict[str, Any]]
    publish: Callable[..., dict[str, Any]]


def check_can_publish() -> None:
    """Refuse a night that is to publish before any work when there is no Hub token."""
    from errata.store.publish import require_token

    require_token()


def publish_export(repo_id: str, export: str, shards: str, private: bool) -> dict[str, Any]:
    """The plain publish step: every gate, then one upload (errata.store.publish)."""
    from errata.store.publish import publish

    return publish(repo_id, Path(export), Path(shards), private=private)


def run_night(
    steps: NightSteps,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
    max_requests: int | None = None,
    max_cost_usd: float | None = None,
    limit: int | None = None,
    recipes: list[str] | None = None,
    export: str = str(DEFAULT_EXPORT),
    decontaminate: list[str] | None = None,
    repo_id: str | None = None,
    private: bool = True,
    **run_parameters: Any,
) -> dict[str, Any]:
    """One night: the next `max_problems` problems of the source (`limit` caps the source),
    then the export rebuilt and, with `repo_id`, published. A night with nothing new does no
    work. LLM budgets (`max_requests`, `max_cost_usd`) apply when a stage calls a model.
    `run_parameters` are `errata run`'s (source, path, split, seed, llm, endpoint, shards, ...).
    """
    unknown = sorted(set(run_parameters) - set(GENERATE_SETTINGS))
    if unknown:
        raise ValueError(f"unknown night parameter(s) {unknown}")
    if repo_id:
        check_can_publish()
    shards = str(run_parameters.setdefault("shards", DEFAULT_SHARDS))
    batch_size = run_parameters.setdefault("batch_size", DEFAULT_BATCH_SIZE)
    workers = run_parameters.get("workers", 2)
    # The configuration the source's progress is kept under: the run's, whatever its limit.
    spec, config = plan_source(**{**run_parameters, "limit": None})
    config_key = config_hash(spec, config, batch_size)
    done = done_problems(shards, config_key, batch_size)
    # The source's size up to the night's reach (a file source is read here, a model endpoint
    # checked: a missing API key stops the night before any work).
    reach = done + max_problems if limit is None else min(limit, done + max_problems)
    source_size = plan_run(**run_parameters, limit=reach).n_problems
    budgeted = config.llm.uses_model and (max_requests is not None or max_cost_usd is not None)
    plan = night_plan(
        done, max_problems, source_size, batch_size, batch_size * workers if budgeted else None
    )
    summary: dict[str, Any] = {
        "problems_before": done,
        "limit": plan.limit,
        "waves": 0,
        "mistakes_written": 0,
        "batches_run": 0,
        "llm_usage": None,
        "stopped_by": None,
        "export": None,
        "published": None,
        "shards": shards,
    }
    for wave_limit in plan.waves:
        run = steps.generate(**run_parameters, limit=wave_limit)
        summary["run_id"] = run["run_id"]
        summary["waves"] += 1
        summary["mistakes_written"] += run["mistakes_written"]
        summary["batches_run"] += run["batches"] - run["batches_skipped"]
        summary["llm_usage"] = add_usage(summary["llm_usage"], run.get("llm_usage"))
        if spent := spent_budget(summary["llm_usage"], max_requests, max_cost_usd):
            if wave_limit < plan.limit:
                summary["stopped_by"] = spent
            break
    after = done_problems(shards, config_key, batch_size) if plan.waves else done
    summary.update(problems_after=after, new_problems=after - done)
    if summary["batches_run"] == 0 and export_is_current(export, shards):
        summary["night"] = NOTHING_NEW
        summary["message"] = (
            f"nothing new: {done} problems of this source already done"
            + (f" (source size {source_size})" if plan.new == 0 else "")
            + "; no batch ran, the export and the Hub are left as they are"
        )
        return summary
    summary["export"] = steps.export(
        recipes=recipes or DEFAULT_RECIPES,
        shards=shards,
        out=export,
        decontaminate=decontaminate,
    )
    if repo_id:
        summary["published"] = steps.publish(
            repo_id=repo_id, export=export, shards=shards, private=private
        )
    summary["night"] = "ran"
    summary["message"] = (
        f"{after - done} new problems ({done} -> {after}), {summary['mistakes_written']} "
        f"mistakes written in {summary['waves']} wave(s)"
        + (f"; stopped by {summary['stopped_by']}" if summary["stopped_by"] else "")
        + (f"; published to {repo_id}" if repo_id else "")
    )
    return summary


def run_nightly(prefect: bool | None = None, **parameters: Any) -> dict[str, Any]:
    """One night under Prefect when an API is configured (or `prefect` forces it), else with
    the plain steps in this process; the summary's `tracking` says which."""
    from errata.flows.tracking import prefect_api, untracked_reason

    reason = untracked_reason(prefect)
    if reason:
        from errata.flows.batches import generate_locally
        from errata.flows.export import export as export_folder

        steps = NightSteps(generate=generate_locally, export=export_folder, publish=publish_export)
        return {**run_night(steps, **parameters), "tracking": reason}
    from errata.flows.nightly_flow import nightly_flow

    with prefect_api() as tracking:
        return {**nightly_flow(**parameters), "tracking": tracking}


def night_markdown(summary: dict[str, Any]) -> str:
    """The night's report (a Prefect artifact under the flow)."""
    lines = [
        f"# errata nightly: {summary['night']}",
        "",
        summary["message"],
        "",
        f"- problems done: {summary['problems_before']} -> "
        f"{summary.get('problems_after', summary['problems_before'])}",
        f"- batches run: {summary['batches_run']}, mistakes written: {summary['mistakes_written']}",
        f"- shards: `{summary['shards']}`",
    ]
    if summary["export"]:
        lines.append(f"- export: `{summary['export']['out']}`")
    if summary["llm_usage"]:
        usage = summary["llm_usage"]
        lines.append(f"- LLM: {requests_spent(usage)} requests sent, cost ${usage['cost_usd']:.4f}")
    return "\n".join(lines)
