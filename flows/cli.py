"""The `errata` command line.

`run` checks every option and reads its whole input before the flow module (and Prefect with
it) is imported: bad input is one line, `error: FILE:LINE: expected …`, exit status 2, and
nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

# Quiet the temporary server's telemetry before Prefect is imported; real errors still show.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The default 20 s is too short for a temporary server on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from typer._click.exceptions import ClickException  # typer 0.29 bundles its own click
from typer.core import TyperGroup

from errata.flows.batches import DEFAULT_SYNTHETIC_LIMIT, config_hash_for  # no Prefect there
from errata.generators.domains import check_error_types
from errata.generators.recipes.select import DEFAULT_NGRAM
from errata.generators.rendering import ANSWER_FORMATS
from errata.generators.sources.check import SourceKind, check_source
from errata.generators.sources.errors import BadInputError
from errata.generators.sources.files import check_regular_file, iter_json_lines
from errata.schemas.exports import RECIPES
from errata.schemas.records import ERROR_TYPES, Origin
from errata.store import catalog
from errata.store.catalog import DEFAULT_SHARDS, check_shard_root
from errata.store.export import DEFAULT_EXPORT, ExportDirError, export_files, is_export
from errata.store.shards import check_schema_version

console = Console()
err_console = Console(stderr=True)


def _print_error(message: str) -> None:
    # Messages quote user input (e.g. `openai/gsm8k[train]:2`); rich must not read it as markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


class OneLineErrorsGroup(TyperGroup):
    """Typer's command group, but a usage error (a bad option value, an unknown option) is one
    line, `error: <what click says>`, exit 2, instead of a framed usage box."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            # Not standalone: click raises its errors here and returns a command's exit code.
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as exc:
            _print_error(exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort:  # Ctrl-C or end of input at a prompt
            _print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=OneLineErrorsGroup, add_completion=False, no_args_is_help=False, help=__doc__)

# One name per meaning: --shards is always a shard root, --out always something written.
ShardsOption = Annotated[
    Path, typer.Option("--shards", help="Shard root: the folder of Parquet shards.")
]
ORIGINS: tuple[str, ...] = get_args(Origin)
# The runners of errata.flows.generate, named here so a wrong one fails before Prefect loads.
RunnerKind = Literal["local", "dask"]
SamplerKind = Literal["none", "llm", "replay"]
TeacherKind = Literal["none", "llm"]
InjectorKind = Literal["rules", "llm", "both"]
# Field names default to None so that passing one with a source other than `file` is caught.
FILE_FIELD_DEFAULTS = {
    "question_field": "question",
    "solution_field": "solution",
    "answer_field": "answer",
}
# How many reject reasons the stage tables show per stage, most frequent first.
TOP_REASONS = 3
# What `run` asks of a model unless told otherwise; `nightly` asks the same.
MODEL_DEFAULTS = {"samples": 4, "temperature": 0.8, "max_tokens": 1024}
ENDPOINT_DEFAULTS = {"concurrency": 64, "timeout": 60.0, "max_retries": 2}


def _fail(message: str, code: int = 2) -> None:
    _print_error(message)
    raise typer.Exit(code)


def _write_output(out: Path | None, text: str) -> None:
    """`text` to stdout, or to `out` through a temporary file beside it, so that a failure
    leaves an existing `out` as it was."""
    if out is None:
        sys.stdout.write(text)
        return
    data = text.encode("utf-8")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    except OSError as exc:
        _fail(f"--out {out}: {exc.strerror}")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        # mkstemp's file is private (0600); the output gets the mode a plain write would.
        os.chmod(temporary, _output_mode(out))
        os.replace(temporary, out)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        _fail(f"--out {out}: {exc.strerror}")


def _output_mode(out: Path) -> int:
    """The existing file's permissions, or those of a new file under the current umask."""
    if out.is_file():
        return stat.S_IMODE(out.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _check_shards(shards: Path) -> None:
    """Fail unless `shards` holds errata shards of this schema version."""
    try:
        check_shard_root(shards)
    except ValueError as exc:  # ShardRootError, SchemaVersionError
        _fail(str(exc))


def _file_fields(source: str, given: dict[str, str | None]) -> dict[str, str] | None:
    """The field mapping for `--source file`; a field option with another source is an error."""
    if source != "file":
        named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value]
        if named:
            raise ValueError(f"{', '.join(named)}: only --source file reads field names")
        return None
    return {name: value or FILE_FIELD_DEFAULTS[name] for name, value in given.items()}


@app.command()
def run(
    source: Annotated[SourceKind, typer.Option(help="Where problems come from")] = "synthetic",
    path: Annotated[
        str | None, typer.Option(help="Input file (JSONL, JSON, Parquet), or a Hub dataset id")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            help=f"Problems to use (synthetic default: {DEFAULT_SYNTHETIC_LIMIT})",
        ),
    ] = None,
    split: str = "test",
    seed: int = 0,
    error_types: Annotated[
        str | None, typer.Option(help="Comma-separated error types (default: every rule)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 100,
    workers: Annotated[int, typer.Option(min=1)] = 2,
    skip_bad: Annotated[bool, typer.Option(help="Send malformed lines to rejects")] = False,
    question_field: Annotated[
        str | None, typer.Option(help="--source file: field of the question (default: question)")
    ] = None,
    solution_field: Annotated[
        str | None,
        typer.Option(help="--source file: field of the worked solution (default: solution)"),
    ] = None,
    answer_field: Annotated[
        str | None, typer.Option(help="--source file: field of the final answer (default: answer)")
    ] = None,
    shards: ShardsOption = DEFAULT_SHARDS,
    runner: Annotated[
        RunnerKind, typer.Option(help="Where batches run: local processes or a Dask cluster")
    ] = "local",
    dask_address: Annotated[
        str | None, typer.Option(help="Scheduler of an existing Dask cluster (implies dask)")
    ] = None,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Track the run in Prefect (default: when a Prefect API is configured)",
            show_default=False,
        ),
    ] = None,
    sampler: Annotated[
        SamplerKind, typer.Option(help="Attempts: none, sampled from --model, or --replay FILE")
    ] = "none",
    teacher: Annotated[
        TeacherKind, typer.Option(help="llm: a teacher locates and fixes wrong attempts")
    ] = "none",
    injector: Annotated[
        InjectorKind,
        typer.Option(help="Mistakes made by rules, by the model (self-edit, LEMMA) or both"),
    ] = "rules",
    model: Annotated[str | None, typer.Option(help="Model name at --base-url")] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint (key from OPENAI_API_KEY)", envvar=None),
    ] = None,
    samples: Annotated[
        int, typer.Option(min=1, help="--sampler llm: samples per problem")
    ] = MODEL_DEFAULTS["samples"],
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = MODEL_DEFAULTS["temperature"],
    max_tokens: Annotated[int, typer.Option(min=1)] = MODEL_DEFAULTS["max_tokens"],
    concurrency: Annotated[
        int, typer.Option(min=1, help="Requests in flight, in all")
    ] = ENDPOINT_DEFAULTS["concurrency"],
    rpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute, in all")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="Tokens per minute, in all")] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds per request")
    ] = ENDPOINT_DEFAULTS["timeout"],
    max_retries: Annotated[
        int, typer.Option(min=0, help="HTTP retries per request")
    ] = ENDPOINT_DEFAULTS["max_retries"],
    llm_cache: Annotated[
        Path | None, typer.Option(help="Response cache folder (default: SHARDS/.llm-cache)")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(help="JSON price table: {model: {input, output}} per 1M")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option(help="--sampler replay: file of solutions sampled elsewhere")
    ] = None,
    replay_field: Annotated[
        list[str] | None,
        typer.Option(help="--replay field mapping ROLE=FIELD (question, solution, label, model)"),
    ] = None,
) -> None:
    """Run the generate flow; with no options, 200 synthetic problems through every stage."""
    if limit is None and source == "synthetic":
        limit = DEFAULT_SYNTHETIC_LIMIT
    given_fields = {
        "question_field": question_field,
        "solution_field": solution_field,
        "answer_field": answer_field,
    }
    try:
        fields = _file_fields(source, given_fields)
        types = list(check_error_types(error_types.split(","))) if error_types is not None else None
        # Reads every record the run will use, so bad input stops here, before Prefect starts.
        check_source(source, path, split, limit, fields, skip_bad)
        if shards.exists():
            check_schema_version(shards)
        llm = _llm_parameters(
            sampler,
            teacher,
            injector,
            model,
            samples,
            temperature,
            max_tokens,
            replay,
            replay_field,
        )
        endpoint = _endpoint_parameters(
            llm,
            base_url,
            concurrency,
            rpm,
            tpm,
            timeout,
            max_retries,
            llm_cache,
            prices,
            shards,
            workers,
        )
    except ValueError as exc:  # BadInputError is a ValueError too
        _fail(str(exc))
    parameters: dict[str, Any] = {
        "source": source,
        "path": path,
        "limit": limit,
        "split": split,
        "seed": seed,
        "error_types": types,
        "batch_size": batch_size,
        "shards": str(shards),
        "workers": workers,
        "skip_bad": skip_bad,
        "fields": fields,
    }
    if llm:
        parameters.update(llm=llm, endpoint=endpoint)
    engine = {"runner": runner, "dask_address": dask_address, "prefect": prefect}
    summary = _run_flow(parameters, engine, shards)
    _print_summary(summary, shards)


def _llm_parameters(
    sampler: str,
    teacher: str,
    injector: str,
    model: str | None,
    samples: int,
    temperature: float,
    max_tokens: int,
    replay: Path | None,
    replay_field: list[str] | None,
) -> dict[str, Any] | None:
    """The run's LLM settings, checked (a replay file is read whole); None for a rules-only run."""
    from errata.flows.batches import llm_settings

    fields = {}
    for item in replay_field or []:
        role, sep, name = item.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise ValueError(f"--replay-field: expected ROLE=FIELD, got {item!r}")
        fields[role.strip()] = name.strip()
    if replay is not None and sampler != "replay":
        raise ValueError("--replay: only --sampler replay reads it")
    if fields and replay is None:
        raise ValueError("--replay-field: maps the fields of --replay FILE; give the file")
    llm: dict[str, Any] = {"sampler": sampler, "teacher": teacher, "injector": injector}
    if sampler == "none" and teacher == "none" and injector == "rules" and model is None:
        return None
    llm.update(model=model, samples=samples, temperature=temperature, max_tokens=max_tokens)
    if replay is not None:
        from errata.generators.sampling.replay import read_replay

        check_regular_file(replay)
        read_replay(str(replay), fields or None)  # bad lines stop the run here
        llm.update(replay=str(replay), replay_fields=fields)
    llm_settings(llm)
    return llm


def _endpoint_parameters(
    llm: dict[str, Any] | None,
    base_url: str | None,
    concurrency: int,
    rpm: int | None,
    tpm: int | None,
    timeout: float,
    max_retries: int,
    llm_cache: Path | None,
    prices: Path | None,
    shards: Path,
    workers: int,
) -> dict[str, Any] | None:
    """The endpoint the run's batches call, checked now: a missing key stops the run here."""
    from errata.flows.batches import batch_endpoint, llm_settings

    settings = llm_settings(llm)
    if not settings.uses_model:
        if base_url is not None:
            raise ValueError("--base-url: no stage calls a model (see --sampler/--teacher)")
        return None
    endpoint: dict[str, Any] = {
        "base_url": base_url,
        "concurrency": concurrency,
        "rpm": rpm,
        "tpm": tpm,
        "timeout": timeout,
        "max_retries": max_retries,
    }
    if llm_cache is not None:
        endpoint["cache_dir"] = str(llm_cache)
    if prices is not None:
        check_regular_file(prices)
        endpoint["prices_path"] = str(prices)
    batch_endpoint(endpoint, settings, str(shards), workers)
    return endpoint


def _run_flow(parameters: dict[str, Any], engine: dict[str, Any], shards: Path) -> dict[str, Any]:
    """Call the generate run in a thread while a progress bar counts the batches written."""
    # Deferred so that --help and refused runs skip it; Prefect loads only for a tracked run.
    from errata.flows.generate import run_generate

    shard_dir = shards / "mistakes" / f"config={config_hash_for(parameters)}"
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["summary"] = run_generate(**engine, **parameters)
        except BaseException as exc:  # reported on the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    progress_dir = None
    if parameters.get("endpoint") is not None:
        # Each batch's client publishes its requests, tokens and cost here; the bar sums them.
        progress_dir = tempfile.mkdtemp(prefix="errata-progress-")
        parameters["endpoint"] = {**parameters["endpoint"], "progress_dir": progress_dir}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "{task.fields[llm]}",
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("batches", total=None, llm="")
        worker.start()
        while worker.is_alive():
            worker.join(0.25)
            done = len(list(shard_dir.glob("*.parquet"))) if shard_dir.exists() else 0
            progress.update(bar, completed=done, llm=_llm_progress(progress_dir))
    if progress_dir is not None:
        shutil.rmtree(progress_dir, ignore_errors=True)
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, ValueError | FileNotFoundError):  # incl. BadInputError
            _fail(str(error))
        raise error
    return outcome["summary"]


def _llm_progress(progress_dir: str | None) -> str:
    """Requests done, in flight, tokens and cost so far, over every process of the run."""
    if progress_dir is None:
        return ""
    from errata.generators.llm.progress import read_progress

    u = read_progress(progress_dir)
    return (
        f"requests {u.requests} ({u.cached} cached, {u.failed} failed), {u.in_flight} in flight, "
        f"tokens {u.prompt_tokens + u.completion_tokens:,}, ${u.cost_usd:.4f}"
    )


def _top_reasons(rejected_by_reason: list[dict[str, Any]]) -> str:
    ranked = sorted(rejected_by_reason, key=lambda r: (-r["n"], r["reason"]))[:TOP_REASONS]
    return ", ".join(f"{r['reason']} {r['n']}" for r in ranked)


def _print_summary(summary: dict[str, Any], shards: Path) -> None:
    rows = [
        (
            c["stage"],
            c["n_in"],
            c["n_out"],
            c["n_rejected"],
            _top_reasons(c.get("rejected_by_reason", [])),
            round(c.get("seconds", 0.0), 3),
        )
        for c in summary["counts"]
    ]
    columns = ["stage", "in", "kept", "rejected", "top reject reasons", "seconds"]
    console.print(catalog.render_table(columns, rows, "stages"))
    console.print(
        f"run [bold]{summary['run_id']}[/]: {summary['problems']} problems, "
        f"{summary['batches']} batches ({summary['batches_skipped']} already done), "
        f"{summary['wall_seconds']} s"
    )
    usage = summary.get("llm_usage")
    if usage:
        console.print(
            f"LLM: {usage['requests']} requests ({usage['cached']} from the cache, "
            f"{usage['failed']} failed), {usage['prompt_tokens']:,} prompt + "
            f"{usage['completion_tokens']:,} completion tokens, cost ${usage['cost_usd']:.4f}"
        )
    if summary.get("attempts_written"):
        console.print(f"attempts written: {summary['attempts_written']}")
    if "tracking" in summary:
        ran_on = f"; ran on {summary['runner']}" if summary.get("runner") else ""
        line = f"Prefect tracking: {summary['tracking']}{ran_on}"
        console.print(f"[dim]{escape(line)}[/]", soft_wrap=True)
    console.print(f"shards under [bold]{escape(str(shards.resolve()))}[/]")
    sql = (
        "select error_type, count(*) as mistakes from mistakes "
        f"where run_id = '{summary['run_id']}' group by 1 order by 2 desc"
    )
    columns, result = catalog.query(shards, sql)
    console.print(catalog.render_table(columns, result, "mistakes by error type"))
    console.print(f'[dim]errata query "{sql}" --shards {escape(str(shards))}[/]', soft_wrap=True)


def _annotate_file(path: Path, out: Path | None, annotate: Any) -> int:
    lines = []
    for line_no, record in iter_json_lines(path):
        try:
            lines.append(json.dumps(annotate(record), ensure_ascii=False))
        except ValueError as exc:
            expected = str(exc).removeprefix("expected ")
            raise BadInputError(str(path), line_no, expected) from exc
    text = "\n".join(lines) + ("\n" if lines else "")
    _write_output(out, text)
    return len(lines)


@app.command("verify-answers")
def verify_answers_command(
    file: Path,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 2,
    timeout: Annotated[int, typer.Option(min=1, help="Seconds per answer pair")] = 5,
) -> None:
    """Add `verdict` to each JSON line with `prediction` and `reference`."""
    from errata.generators.verify.answers import annotate_records

    try:
        numbered = list(iter_json_lines(file))
        annotated = annotate_records(numbered, workers=workers, timeout_seconds=timeout)
    except BadInputError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"{file}:{str(exc).removeprefix('line ')}")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in annotated)
    _write_output(out, text)
    if out is not None:
        verdicts: dict[str, int] = {}
        for record in annotated:
            verdicts[record["verdict"]] = verdicts.get(record["verdict"], 0) + 1
        err_console.print(f"{len(annotated)} lines -> {out}: {verdicts}")


@app.command("verify-steps")
def verify_steps_command(
    file: Path,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
) -> None:
    """Add `first_error_step` and per-step verdicts to each JSON line with `steps`."""
    from errata.generators.verify.steps import annotate_record

    try:
        count = _annotate_file(file, out, annotate_record)
    except BadInputError as exc:
        _fail(str(exc))
    if out is not None:
        err_console.print(f"{count} lines -> {out}")


ExportOption = Annotated[
    Path | None,
    typer.Option(
        "--export",
        # Parentheses, not brackets: typer renders help as rich markup, where [..] is a tag.
        help=f"Export folder whose configs become views too (default: {DEFAULT_EXPORT} if there)",
    ),
]


@app.command()
def query(
    sql: str,
    shards: ShardsOption = DEFAULT_SHARDS,
    export: ExportOption = None,
) -> None:
    """Run SQL over the shards (views: problems, attempts, mistakes, rejects, batches, runs) and
    over the export's configs (one view per config, with a `split` column; export_exclusions)."""
    import duckdb

    if export is None:
        export = DEFAULT_EXPORT if is_export(DEFAULT_EXPORT) else None
    elif not is_export(export):
        _fail(
            f"{export} is not an errata export folder (no _errata/export.json); run errata export"
        )
    _check_shards(shards)
    try:
        columns, rows = catalog.query(shards, sql, export)
    except duckdb.Error as exc:
        _fail(str(exc))
    console.print(catalog.render_table(columns, rows))


@app.command()
def stats(shards: ShardsOption = DEFAULT_SHARDS) -> None:
    """Counts by source, error type, origin, verdict and reject reason; the stages of each run."""
    _check_shards(shards)
    for name, (columns, rows) in catalog.stats_with_columns(shards).items():
        console.print(catalog.render_table(columns, rows, name.replace("_", " ")))


def _split_list(value: str | None) -> list[str] | None:
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


def _choices(option: str, noun: str, value: str | None, allowed: Sequence[str]) -> list[str] | None:
    """The comma-separated names in `value` (None if not given); ValueError names unknown ones."""
    if value is None:
        return None
    chosen = _split_list(value) or []
    unknown = [name for name in chosen if name not in allowed]
    if unknown or not chosen:
        what = f"unknown {noun} {', '.join(unknown)}" if unknown else f"no {noun} given"
        raise ValueError(f"{option}: {what}; expected any of {', '.join(allowed)}")
    return chosen


@app.command()
def export(
    recipe: Annotated[
        str, typer.Option(help=f"Comma-separated recipes, or all: {', '.join(RECIPES)}")
    ] = "all",
    out: Annotated[Path, typer.Option("--out", help="Export folder (Hub-ready)")] = DEFAULT_EXPORT,
    shards: ShardsOption = DEFAULT_SHARDS,
    seed: int = 0,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of problems in test")
    ] = 0.1,
    max_per_problem: Annotated[
        int | None, typer.Option(min=1, help="Rows per problem, per config")
    ] = None,
    error_types: Annotated[str | None, typer.Option(help="Comma-separated error types")] = None,
    origins: Annotated[
        str | None, typer.Option(help=f"Comma-separated: {', '.join(ORIGINS)}")
    ] = None,
    decontaminate: Annotated[
        list[Path] | None,
        typer.Option(help="Benchmark file (JSONL/JSON/Parquet with questions); repeatable"),
    ] = None,
    ngram: Annotated[
        int, typer.Option(min=1, help="Words per n-gram for decontamination")
    ] = DEFAULT_NGRAM,
    retry_rate: Annotated[
        float, typer.Option(min=0.0, help="retry recipe: extra retries per step")
    ] = 0.1,
    answer_format: Annotated[
        str | None,
        typer.Option(
            help=f"Final answer line: {', '.join(ANSWER_FORMATS)} (default: the source's own, "
            "#### for GSM8K-style sources)"
        ),
    ] = None,
    keep_annotations: Annotated[
        bool, typer.Option(help="Keep GSM8K calculator markup <<a*b=c>> in the rows")
    ] = False,
    show: Annotated[int, typer.Option(min=0, help="Print this many rows of each config")] = 0,
) -> None:
    """Build training sets (LEMMA, RISE, LeMa, ...) from the shards into a Hub-ready folder."""
    try:
        # Checked here as well as in the flow: a wrong name fails in one line, before Prefect.
        recipes = (
            list(RECIPES) if recipe == "all" else _choices("--recipe", "recipe", recipe, RECIPES)
        )
        chosen_error_types = _choices("--error-types", "error type", error_types, ERROR_TYPES)
        chosen_origins = _choices("--origins", "origin", origins, ORIGINS)
        if answer_format is not None:
            _choices("--answer-format", "answer format", answer_format, ANSWER_FORMATS)
        for benchmark in decontaminate or []:
            check_regular_file(benchmark)  # the contents are read by the export
    except ValueError as exc:
        _fail(str(exc))
    _check_shards(shards)
    from errata.flows.export import run_export  # Prefect loads here

    try:
        summary = run_export(
            recipes=recipes,
            shards=str(shards),
            out=str(out),
            seed=seed,
            test_fraction=test_fraction,
            max_per_problem=max_per_problem,
            error_types=chosen_error_types,
            origins=chosen_origins,
            decontaminate=[str(p) for p in decontaminate or []],
            ngram=ngram,
            retry_rate=retry_rate,
            keep_annotations=keep_annotations,
            answer_format=answer_format,
        )
    except (ValueError, FileNotFoundError, ExportDirError, BadInputError) as exc:
        _fail(str(exc))
    rows = [
        (config, counts.get("train", 0), counts.get("test", 0))
        for config, counts in summary["configs"].items()
    ]
    console.print(catalog.render_table(["config", "train", "test"], rows, "export"))
    excluded = [(*key.split("/"), n) for key, n in summary["excluded"].items()]
    if excluded:
        console.print(
            catalog.render_table(["config", "step", "reason", "rows"], excluded, "left out")
        )
    console.print(f"export under [bold]{escape(str(out.resolve()))}[/] (dataset card: README.md)")
    if show:
        _show_rows(out, show)


def _show_rows(out: Path, n: int) -> None:
    import pyarrow.parquet as pq

    for config, splits in export_files(out).items():
        first = next(iter(splits.values()))[0]
        for row in pq.read_table(first).slice(0, n).to_pylist():
            console.rule(f"[bold]{config}[/]")
            console.print_json(json.dumps(row, ensure_ascii=False))


# Commands whose options live beside their flows; their modules import no Prefect at load.
from errata.flows.nightly_cli import nightly_command, serve_command  # noqa: E402
from errata.flows.publish_cli import publish_command  # noqa: E402

app.command("publish")(publish_command)
app.command("nightly")(nightly_command)
app.command("serve")(serve_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
