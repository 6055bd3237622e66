"""The `errata` command line."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

# Quiet the temporary server's telemetry before Prefect is imported; real errors still show.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The default 20 s is too short for a temporary server on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from errata.generators.recipes.select import DEFAULT_NGRAM
from errata.generators.sources.errors import BadInputError
from errata.generators.sources.files import iter_json_lines
from errata.schemas.exports import RECIPES
from errata.store import catalog
from errata.store.export import DEFAULT_EXPORT, ExportDirError, export_files, is_export

app = typer.Typer(add_completion=False, no_args_is_help=False, help=__doc__)
console = Console()
err_console = Console(stderr=True)

OutOption = Annotated[Path, typer.Option("--out", help="Shard root (Parquet files).")]


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    source: Annotated[str, typer.Option(help="synthetic, gsm8k or file")] = "synthetic",
    path: Annotated[str | None, typer.Option(help="Input file, or a Hub dataset id")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Problems to use")] = None,
    split: str = "test",
    seed: int = 0,
    error_types: Annotated[
        str | None, typer.Option(help="Comma-separated error types (default: all rules)")
    ] = None,
    batch_size: int = 100,
    workers: int = 2,
    skip_bad: Annotated[bool, typer.Option(help="Send malformed lines to rejects")] = False,
    question_field: str = "question",
    solution_field: str = "solution",
    answer_field: str = "answer",
    out: OutOption = Path("data/shards"),
) -> None:
    """Run the generate flow; with no options, 200 synthetic problems through every stage."""
    from errata.flows.generate import (  # Prefect loads only when needed
        config_hash_for,
        run_generate,
    )

    if limit is None and source == "synthetic":
        limit = 200
    parameters: dict[str, Any] = {
        "source": source,
        "path": path,
        "limit": limit,
        "split": split,
        "seed": seed,
        "error_types": error_types.split(",") if error_types else None,
        "batch_size": batch_size,
        "out": str(out),
        "workers": workers,
        "skip_bad": skip_bad,
        "fields": {
            "question_field": question_field,
            "solution_field": solution_field,
            "answer_field": answer_field,
        }
        if source == "file"
        else None,
    }
    shard_dir = out / "mistakes" / f"config={config_hash_for(parameters)}"
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["summary"] = run_generate(**parameters)
        except BaseException as exc:  # reported on the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("batches", total=None)
        worker.start()
        while worker.is_alive():
            worker.join(0.25)
            done = len(list(shard_dir.glob("*.parquet"))) if shard_dir.exists() else 0
            progress.update(bar, completed=done)
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, BadInputError | ValueError | FileNotFoundError):
            _fail(str(error))
        raise error
    _print_summary(outcome["summary"])


def _print_summary(summary: dict[str, Any]) -> None:
    rows = [(c["stage"], c["n_in"], c["n_out"], c["n_rejected"]) for c in summary["counts"]]
    console.print(catalog.render_table(["stage", "in", "kept", "rejected"], rows, "stages"))
    root = Path(summary["out"])
    console.print(
        f"run [bold]{summary['run_id']}[/]: {summary['problems']} problems, "
        f"{summary['batches']} batches ({summary['batches_skipped']} already done), "
        f"{summary['wall_seconds']} s"
    )
    console.print(f"shards under [bold]{root.resolve()}[/]")
    sql = (
        "select error_type, count(*) as mistakes from mistakes "
        f"where run_id = '{summary['run_id']}' group by 1 order by 2 desc"
    )
    columns, result = catalog.query(root, sql)
    console.print(catalog.render_table(columns, result, "mistakes by error type"))
    console.print(f'[dim]errata query "{sql}" --out {root}[/]', soft_wrap=True)


def _annotate_file(path: Path, out: Path | None, annotate: Any) -> int:
    lines = []
    for line_no, record in iter_json_lines(path):
        try:
            lines.append(json.dumps(annotate(record), ensure_ascii=False))
        except ValueError as exc:
            expected = str(exc).removeprefix("expected ")
            raise BadInputError(str(path), line_no, expected) from exc
    text = "\n".join(lines) + ("\n" if lines else "")
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    return len(lines)


@app.command("verify-answers")
def verify_answers_command(
    file: Path,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
    workers: int = 2,
    timeout: int = 5,
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
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
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
        help=f"Export folder whose configs become views too [default: {DEFAULT_EXPORT} if there]",
    ),
]


@app.command()
def query(
    sql: str,
    out: OutOption = Path("data/shards"),
    export: ExportOption = None,
) -> None:
    """Run SQL over the shards (views: problems, attempts, mistakes, rejects, runs) and over
    the export's configs (one view per config, with a `split` column; export_exclusions)."""
    import duckdb

    if export is None:
        export = DEFAULT_EXPORT if is_export(DEFAULT_EXPORT) else None
    elif not is_export(export):
        _fail(
            f"{export} is not an errata export folder (no _errata/export.json); run errata export"
        )
    try:
        columns, rows = catalog.query(out, sql, export)
    except duckdb.Error as exc:
        _fail(str(exc))
    console.print(catalog.render_table(columns, rows))


@app.command()
def stats(out: OutOption = Path("data/shards")) -> None:
    """Counts by source, error type, origin, verdict and reject reason."""
    for name, (columns, rows) in catalog.stats_with_columns(out).items():
        console.print(catalog.render_table(columns, rows, name.replace("_", " ")))


def _split_list(value: str | None) -> list[str] | None:
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


@app.command()
def export(
    recipe: Annotated[
        str, typer.Option(help=f"Comma-separated recipes, or all: {', '.join(RECIPES)}")
    ] = "all",
    out: Annotated[Path, typer.Option("--out", help="Export folder (Hub-ready)")] = DEFAULT_EXPORT,
    shards: Annotated[Path, typer.Option(help="Shard root to read")] = Path("data/shards"),
    seed: int = 0,
    test_fraction: Annotated[float, typer.Option(help="Share of problems in test")] = 0.1,
    max_per_problem: Annotated[int | None, typer.Option(help="Rows per problem, per config")] = (
        None
    ),
    error_types: Annotated[str | None, typer.Option(help="Comma-separated error types")] = None,
    origins: Annotated[str | None, typer.Option(help="Comma-separated: injected, natural")] = None,
    decontaminate: Annotated[
        list[Path] | None,
        typer.Option(help="Benchmark file (JSONL/JSON/Parquet with questions); repeatable"),
    ] = None,
    ngram: Annotated[int, typer.Option(help="Words per n-gram for decontamination")] = (
        DEFAULT_NGRAM
    ),
    retry_rate: Annotated[float, typer.Option(help="retry recipe: extra retries per step")] = 0.1,
    show: Annotated[int, typer.Option(help="Print this many rows of each config")] = 0,
) -> None:
    """Build training sets (LEMMA, RISE, LeMa, ...) from the shards into a Hub-ready folder."""
    from errata.flows.export import run_export

    recipes = list(RECIPES) if recipe == "all" else _split_list(recipe) or []
    try:
        summary = run_export(
            recipes=recipes,
            shards=str(shards),
            out=str(out),
            seed=seed,
            test_fraction=test_fraction,
            max_per_problem=max_per_problem,
            error_types=_split_list(error_types),
            origins=_split_list(origins),
            decontaminate=[str(p) for p in decontaminate or []],
            ngram=ngram,
            retry_rate=retry_rate,
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
    console.print(f"export under [bold]{out.resolve()}[/] (dataset card: README.md)")
    if show:
        _show_rows(out, show)


def _show_rows(out: Path, n: int) -> None:
    import pyarrow.parquet as pq

    for config, splits in export_files(out).items():
        first = next(iter(splits.values()))[0]
        for row in pq.read_table(first).slice(0, n).to_pylist():
            console.rule(f"[bold]{config}[/]")
            console.print_json(json.dumps(row, ensure_ascii=False))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
