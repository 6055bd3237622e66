"""The `generate` run without an engine: its plan, one self-contained batch, and its books.

Whoever runs the batches (Prefect's task runner, a Dask cluster, a plain process pool, or the
caller itself) calls `run_batch_spec` with a small `BatchSpec`: the batch reads its own slice
of the source, runs the domains' stages and writes its shards, and only counts come back. This
module imports no Prefect, so a run that is not tracked starts in well under a second.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from errata.generators.domains import StageConfig, check_error_types, run_batch
from errata.generators.domains.base import (
    INJECTORS,
    SAMPLERS,
    TEACHERS,
    LLMSettings,
    add_usage,
)
from errata.generators.sources.errors import BadLine
from errata.generators.sources.files import load_mapped
from errata.generators.sources.gsm8k import load_gsm8k
from errata.generators.sources.synthetic import SyntheticConfig, check_config, make_problem
from errata.generators.stages import sum_stage_counts
from errata.schemas.ids import content_hash
from errata.schemas.records import (
    SCHEMA_VERSION,
    BatchBooks,
    LLMUsage,
    Problem,
    ReasonCount,
    Reject,
    Run,
    StageCount,
)
from errata.store.shards import (
    StoreLock,
    batch_done,
    batch_item_ids,
    batch_key,
    batches_at,
    check_schema_version,
    clean_orphans,
    lock_store,
    quarantine_unreadable,
    read_shard_records,
    remove_batch,
    write_records,
)

DEFAULT_SHARDS = "data/shards"
DEFAULT_BATCH_SIZE = 100
DEFAULT_SYNTHETIC_LIMIT = 200
log = logging.getLogger("errata")

# Every table a batch writes; `mistakes` last, so its shard is the batch's commit point. A run
# that samples or replays attempts writes them too.
BATCH_TABLES = ("problems", "rejects", "batches", "mistakes")
BATCH_TABLES_WITH_ATTEMPTS = ("problems", "attempts", "rejects", "batches", "mistakes")


@dataclass(frozen=True)
class SourceSpec:
    """Where problems come from; everything here (but `limit`) defines their identity."""

    kind: str = "synthetic"  # synthetic | gsm8k | file
    path: str | None = None  # file path or Hub dataset id
    split: str = "test"
    limit: int | None = DEFAULT_SYNTHETIC_LIMIT
    seed: int = 0
    n_ops_min: int = 2
    n_ops_max: int = 5
    number_max: int = 20
    fields: dict[str, str] = field(default_factory=dict)  # question/solution/answer mapping

    def identity(self) -> dict[str, Any]:
        spec = asdict(self)
        spec.pop("limit")
        return spec


@dataclass(frozen=True)
class BatchSpec:
    """All one batch needs, small enough to send to any worker: no records travel."""

    source: SourceSpec
    position: int
    start: int
    stop: int
    root: str
    config: StageConfig
    run_id: str
    problems_key: str
    skip_bad: bool = False
    endpoint: Any = None  # an errata.generators.llm Endpoint when a model is used; no key

    @property
    def config_key(self) -> str:
        return self.run_id.removeprefix("run-")

    @property
    def tables(self) -> tuple[str, ...]:
        return BATCH_TABLES if self.config.llm.sampler == "none" else BATCH_TABLES_WITH_ATTEMPTS


@dataclass
class BatchOutcome:
    """What a batch reports back: counts only."""

    batch: str
    skipped: bool
    books: list[StageCount]
    mistakes: int = 0
    rejects: int = 0
    paths: list[str] = field(default_factory=list)
    usage: LLMUsage | None = None  # spent by this batch now (None: no model, or skipped)
    attempts: int = 0


@dataclass(frozen=True)
class RunPlan:
    """A run's identity, its source's size and its batches."""

    source: SourceSpec
    config: StageConfig
    batch_size: int
    root: str
    run_id: str
    problems_key: str
    n_problems: int
    bad_lines: list[BadLine]
    batches: list[BatchSpec]

    @property
    def config_key(self) -> str:
        return self.run_id.removeprefix("run-")


# --- identity ----------------------------------------------------------------------------------


def source_hash(spec: SourceSpec, batch_size: int) -> str:
    """Names the problems' shards: batch boundaries depend on the batch size."""
    return content_hash("source", spec.identity(), batch_size, SCHEMA_VERSION)


def config_hash(spec: SourceSpec, config: StageConfig, batch_size: int) -> str:
    """Names a run: rerunning the same source, config and batch size resumes it."""
    return content_hash("generate", spec.identity(), config.identity(), batch_size, SCHEMA_VERSION)


def plan_source(
    source: str = "synthetic",
    path: str | None = None,
    limit: int | None = DEFAULT_SYNTHETIC_LIMIT,
    split: str = "test",
    seed: int = 0,
    error_types: Sequence[str] | None = None,
    fields: dict[str, str] | None = None,
    llm: dict[str, Any] | None = None,
    **_: Any,
) -> tuple[SourceSpec, StageConfig]:
    """The source and stage config that a set of run parameters stands for."""
    spec = SourceSpec(
        kind=source, path=path, split=split, limit=limit, seed=seed, fields=fields or {}
    )
    types = check_error_types(error_types) if error_types else None
    return spec, StageConfig(seed=seed, error_types=types, llm=llm_settings(llm))


def llm_settings(llm: dict[str, Any] | None) -> LLMSettings:
    """LLM settings from run parameters, checked, with the versions of the prompts they use."""
    if not llm:
        return LLMSettings()
    fields = dict(llm)
    fields["replay_fields"] = tuple(sorted((fields.get("replay_fields") or {}).items()))
    settings = LLMSettings(**fields)
    for option, value, allowed in (
        ("--sampler", settings.sampler, SAMPLERS),
        ("--teacher", settings.teacher, TEACHERS),
        ("--injector", settings.injector, INJECTORS),
    ):
        if value not in allowed:
            raise ValueError(f"{option}: expected one of {', '.join(allowed)}, got {value!r}")
    if settings.model and not settings.uses_model:
        raise ValueError(
            "--model: no stage calls a model; add --sampler llm, --teacher llm or --injector llm"
        )
    if settings.uses_model and not settings.model:
        raise ValueError("--model: these stages call a model; name it (e.g. --model gpt-4o-mini)")
    if settings.teacher != "none" and settings.sampler == "none":
        raise ValueError("--teacher needs attempts to correct: add --sampler llm or replay")
    if settings.sampler == "replay" and not settings.replay:
        raise ValueError("--sampler replay reads solutions from a file: add --replay FILE")
    if settings.samples < 1 or settings.max_tokens < 1 or not 0 <= settings.temperature <= 2:
        raise ValueError("--samples and --max-tokens must be at least 1, --temperature 0 to 2")
    if settings == LLMSettings():
        return settings
    from errata.generators.domains.math_llm import prompts_in_use

    return dataclasses.replace(settings, prompts=prompts_in_use(settings))


def config_hash_for(parameters: dict[str, Any]) -> str:
    """The config hash (shard partition) of a run given its parameters."""
    return config_hash(*plan_source(**parameters), parameters.get("batch_size", DEFAULT_BATCH_SIZE))


# --- the source --------------------------------------------------------------------------------


def load_problems(
    spec: SourceSpec, skip_bad: bool, start: int = 0, stop: int | None = None
) -> tuple[list[Problem], list[BadLine]]:
    """Problems `start:stop` of the source (capped at its limit), and the bad lines read."""
    stop = spec.limit if stop is None else min(stop, spec.limit or stop)
    bad_lines: list[BadLine] = []
    if spec.kind == "synthetic":
        knobs = SyntheticConfig(
            n_ops_min=spec.n_ops_min,
            n_ops_max=spec.n_ops_max,
            number_max=spec.number_max,
            seed=spec.seed,
        )
        check_config(knobs)
        end = DEFAULT_SYNTHETIC_LIMIT if stop is None else stop
        return [make_problem(index, knobs) for index in range(start, end)], bad_lines
    if not spec.path:
        raise ValueError(f"source {spec.kind!r} needs a path (--path FILE or a Hub dataset id)")
    if spec.kind == "gsm8k":
        problems = load_gsm8k(spec.path, spec.split, skip_bad, bad_lines, stop)
    elif spec.kind == "file":
        problems = load_mapped(
            spec.path, **spec.fields, split=spec.split, skip_bad=skip_bad, bad_lines=bad_lines
        )[:stop]
    else:
        raise ValueError(f"unknown source {spec.kind!r}: expected synthetic, gsm8k or file")
    return problems[start:], bad_lines


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


# --- planning ----------------------------------------------------------------------------------


def plan_run(
    shards: str = DEFAULT_SHARDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    skip_bad: bool = False,
    endpoint: dict[str, Any] | None = None,
    workers: int = 2,
    **parameters: Any,
) -> RunPlan:
    """Identity and batches of a run. Only a file or Hub source is read here, to count it.

    A model endpoint is checked here, before any work: a missing API key stops the run."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    spec, config = plan_source(**parameters)
    run_id = f"run-{config_hash(spec, config, batch_size)}"
    problems_key = source_hash(spec, batch_size)
    if spec.kind == "synthetic":
        n_problems, bad_lines = spec.limit or DEFAULT_SYNTHETIC_LIMIT, []
        load_problems(spec, skip_bad, 0, 0)  # checks the knobs before any batch starts
    else:
        problems, bad_lines = load_problems(spec, skip_bad)
        n_problems = len(problems)
    # Batches that run at once share the run's concurrency and rate limits.
    at_once = min(workers, max(1, -(-n_problems // batch_size)))
    per_batch_endpoint = batch_endpoint(endpoint, config.llm, shards, at_once)
    batches = [
        BatchSpec(
            source=spec,
            position=position,
            start=start,
            stop=min(start + batch_size, n_problems),
            # Absolute, so a worker started elsewhere (a Dask cluster) writes to the same place.
            root=str(shards) if "://" in str(shards) else os.path.abspath(shards),
            config=config,
            run_id=run_id,
            problems_key=problems_key,
            skip_bad=skip_bad,
            endpoint=per_batch_endpoint,
        )
        for position, start in enumerate(range(0, n_problems, batch_size))
    ]
    return RunPlan(
        spec, config, batch_size, str(shards), run_id, problems_key, n_problems, bad_lines, batches
    )


def batch_endpoint(
    endpoint: dict[str, Any] | None, settings: LLMSettings, shards: str, workers: int
) -> Any:
    """The endpoint each batch's client uses: the run's concurrency and rate limits shared out
    over the batches that run at once (one per worker), the cache beside local shards."""
    if not settings.uses_model:
        return None
    from errata.generators.llm.endpoint import Endpoint, check_endpoint, split_endpoint

    given = dict(endpoint or {})
    if not given.get("base_url"):
        raise ValueError("--base-url: these stages call a model; give its OpenAI-compatible URL")
    if "cache_dir" not in given and "://" not in str(shards):
        given["cache_dir"] = os.path.join(os.path.abspath(shards), ".llm-cache")
    whole_run = Endpoint(**given)
    check_endpoint(whole_run)  # the user's numbers, before they are divided
    return split_endpoint(whole_run, workers)


@dataclass
class StoreHold:
    """What a run holds on its store from `prepare_store` to `finish_run`: the writer lock,
    and the shards it quarantined, for the summary."""

    lock: StoreLock | None
    quarantined: list[str] = field(default_factory=list)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def quarantine_damaged(root: str) -> list[str]:
    """Move shards that do not read back to the quarantine, each with a warning line."""
    moved = [str(p) for p in quarantine_unreadable(root)]
    for path in moved:
        log.warning(
            "errata: a shard did not read back whole; moved to %s, its batch is redone", path
        )
    return moved


def prepare_store(plan: RunPlan) -> StoreHold:
    """Before any batch: refuse an old store, lock it for this run, quarantine damaged shards,
    clear stale temp files, write source rejects. The caller passes the hold to `finish_run`,
    or releases it if the batches fail."""
    check_schema_version(plan.root)
    hold = StoreHold(lock=lock_store(plan.root))
    try:
        hold.quarantined = quarantine_damaged(plan.root)
        clean_orphans(plan.root)
        rejects = bad_line_rejects(plan.bad_lines, plan.run_id)
        if rejects:
            key = batch_key([r.item_id for r in rejects])
            write_records(plan.root, "rejects", plan.config_key, key, rejects)
    except BaseException:
        hold.release()
        raise
    return hold


# --- one batch ---------------------------------------------------------------------------------


def _books(root: str, config_key: str, batch: str) -> list[StageCount]:
    [books] = read_shard_records(root, "batches", config_key, batch)
    assert isinstance(books, BatchBooks)
    return books.counts


def _batch_domain(problems: Sequence[Problem]) -> str:
    domains = sorted({p.domain for p in problems})
    if len(domains) != 1:
        # BatchBooks holds one domain; a mixed batch would need one row per domain.
        raise ValueError(f"a batch mixes domains {domains}; one domain per source is supported")
    return domains[0]


def run_batch_spec(spec: BatchSpec) -> BatchOutcome:
    """Run the stages over one batch and write its shards, unless they already exist.

    Batch names start with the batch's position, so a rerun with a larger or smaller limit
    finds the batch that held a different cut of the same position (the last, partial one):
    a larger cut already written covers this one; a smaller one is replaced by this one.
    """
    problems, _ = load_problems(spec.source, spec.skip_bad, spec.start, spec.stop)
    prefix = f"{spec.position:05d}"
    key = f"{prefix}-{batch_key([p.problem_id for p in problems])}"
    root, config_key = spec.root, spec.config_key
    tables = {t: spec.problems_key if t == "problems" else config_key for t in spec.tables}
    if all(batch_done(root, [table], ck, key) for table, ck in tables.items()):
        return BatchOutcome(batch=key, skipped=True, books=_books(root, config_key, key))
    ids = {p.problem_id for p in problems}
    superseded = []
    for other in batches_at(root, "mistakes", config_key, prefix):
        if other == key or not batch_done(root, ["problems"], spec.problems_key, other):
            continue
        members = batch_item_ids(root, "problems", spec.problems_key, other, "problem_id")
        if ids <= members and batch_done(root, ["batches"], config_key, other):
            # A larger earlier cut covers it: its books stand for this batch.
            return BatchOutcome(batch=other, skipped=True, books=_books(root, config_key, other))
        if members <= ids:
            superseded.append(other)
    result = run_batch(problems, spec.config, spec.run_id, spec.endpoint)
    books = BatchBooks(
        batch=key,
        run_id=spec.run_id,
        domain=_batch_domain(problems),
        n_problems=len(problems),
        counts=result.counts,
        llm_usage=result.usage,
    )
    paths = [
        write_records(root, "problems", spec.problems_key, key, problems),
        *(
            [write_records(root, "attempts", config_key, key, result.attempts)]
            if "attempts" in spec.tables
            else []
        ),
        write_records(root, "rejects", config_key, key, result.rejects),
        write_records(root, "batches", config_key, key, [books]),
        # Mistakes last: with the all-tables check above this is the batch's commit point.
        write_records(root, "mistakes", config_key, key, result.mistakes),
    ]
    for other in superseded:  # only once the batch that replaces it is written
        remove_batch(root, tables, other)
    return BatchOutcome(
        batch=key,
        skipped=False,
        books=result.counts,
        mistakes=len(result.mistakes),
        rejects=len(result.rejects),
        paths=[str(p) for p in paths],
        usage=result.usage,
        attempts=len(result.attempts),
    )


# --- running without an engine -----------------------------------------------------------------


def run_batches_locally(batches: Sequence[BatchSpec], workers: int) -> list[BatchOutcome]:
    """Run the batches inline (one batch or one worker) or in a process pool of `workers`.

    The pool belongs to this call, not to a task: it is what the task runner is when no
    engine tracks the run.
    """
    if len(batches) <= 1 or workers <= 1:
        return [run_batch_spec(spec) for spec in batches]
    context = forkserver_context([__name__])
    with ProcessPoolExecutor(min(workers, len(batches)), mp_context=context) as pool:
        return list(pool.map(run_batch_spec, batches))


def forkserver_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose workers fork from a clean single-threaded server.

    Safe where plain fork is not (the CLI runs a flow in a thread; Prefect runs threads), and
    fast where spawn is not: the server imports `preload` once and every worker inherits it.
    The server is started once per process; modules asked for after that are imported by
    each worker itself.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(dict.fromkeys([*_forkserver_preload, *preload])))
    _forkserver_preload.extend(m for m in preload if m not in _forkserver_preload)
    return context


_forkserver_preload: list[str] = []


# --- the run's books ---------------------------------------------------------------------------


def source_count(plan: RunPlan) -> StageCount:
    reasons = Counter(bad.reason for bad in plan.bad_lines)
    return StageCount(
        stage="source",
        n_in=plan.n_problems + len(plan.bad_lines),
        n_out=plan.n_problems,
        n_rejected=len(plan.bad_lines),
        rejected_by_reason=[ReasonCount(reason=r, n=n) for r, n in reasons.items()],
    )


def errata_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("errata")
    except PackageNotFoundError:
        return os.environ.get("ERRATA_VERSION", "0+unknown")


def finish_run(
    plan: RunPlan,
    hold: StoreHold,
    outcomes: Sequence[BatchOutcome],
    started_at: str,
    started: float,
) -> dict[str, Any]:
    """Write the run's `runs` record, release the store and return the run's summary.

    The counts are the source's plus the books of every batch of the run, whether it ran now
    or was already done, so a resumed run reports the same totals as an uninterrupted one.
    `quarantined` lists the damaged shards moved aside at the start (their batches redone).
    """
    try:
        summary = _write_run(plan, outcomes, started_at, started)
    finally:
        hold.release()
    return {**summary, "quarantined": hold.quarantined}


def _write_run(
    plan: RunPlan, outcomes: Sequence[BatchOutcome], started_at: str, started: float
) -> dict[str, Any]:
    counts = sum_stage_counts([source_count(plan), *(c for o in outcomes for c in o.books)])
    usage = None
    for outcome in outcomes:
        usage = add_usage(usage, outcome.usage)
    run = Run(
        run_id=plan.run_id,
        invocation_id=uuid.uuid4().hex,
        flow="generate",
        parameters=json.dumps(
            {
                "source": asdict(plan.source),
                "config": asdict(plan.config),
                "batch_size": plan.batch_size,
                "endpoint": endpoint_parameters(plan),
            },
            sort_keys=True,
        ),
        started_at=started_at,
        finished_at=now_iso(),
        wall_seconds=round(time.perf_counter() - started, 3),
        batches_total=len(plan.batches),
        batches_skipped=sum(o.skipped for o in outcomes),
        counts=counts,
        errata_version=errata_version(),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cost_usd=usage.cost_usd if usage else 0.0,
        llm_usage=usage,
    )
    write_records(plan.root, "runs", plan.config_key, run.invocation_id, [run])
    return {
        "run_id": plan.run_id,
        "shards": plan.root,
        "problems": plan.n_problems,
        "mistakes_written": sum(o.mistakes for o in outcomes),
        "batches": len(plan.batches),
        "batches_skipped": run.batches_skipped,
        "wall_seconds": run.wall_seconds,
        "counts": [c.model_dump() for c in counts],
        "shard_files": [p for o in outcomes for p in o.paths],
        "attempts_written": sum(o.attempts for o in outcomes),
        "llm_usage": usage.model_dump() if usage else None,
    }


def endpoint_parameters(plan: RunPlan) -> dict[str, Any] | None:
    """The endpoint settings a run used, for its `runs` record (the key is never there)."""
    endpoint = plan.batches[0].endpoint if plan.batches else None
    if endpoint is None:
        return None
    fields = asdict(endpoint)
    fields.pop("progress_dir", None)  # a temporary folder of the terminal that started it
    return fields


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def generate_locally(workers: int = 2, **parameters: Any) -> dict[str, Any]:
    """A whole run with no engine: plan, prepare the store, the batches, the books."""
    started, started_at = time.perf_counter(), now_iso()
    plan = plan_run(workers=workers, **parameters)
    hold = prepare_store(plan)
    try:
        outcomes = run_batches_locally(plan.batches, workers)
    except BaseException:
        hold.release()
        raise
    return finish_run(plan, hold, outcomes, started_at, started)
