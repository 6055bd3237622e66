"""The `export` flow: shards in, a Hub-ready folder of training sets out.

Thin orchestration of three steps: read the store, assemble the rows of each recipe's
configs, write the folder (Parquet per config and split, exclusion log, dataset card,
manifest). Under Prefect each step is a task of the `export` flow; with no Prefect API
configured the same steps run directly (see flows/tracking.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

from errata.generators.recipes.assemble import Assembled, ExportOptions, assemble
from errata.generators.recipes.report import card_facts, decontamination_facts
from errata.generators.recipes.select import DEFAULT_NGRAM, Contamination
from errata.generators.rendering import ANSWER_FORMATS
from errata.schemas.exports import RECIPES
from errata.schemas.records import ERROR_TYPES, BatchBooks, Mistake, Origin, Problem
from errata.store.card import render_card
from errata.store.export import DEFAULT_EXPORT, write_export
from errata.store.report import CARD_CHARTS, write_report
from errata.store.shards import check_schema_version, read_records


def read_store(shards: str) -> tuple[list[Mistake], list[Problem], list[BatchBooks]]:
    root = Path(shards)
    return (
        read_records(root, "mistakes"),
        read_records(root, "problems"),
        read_records(root, "batches"),
    )


def assemble_rows(
    mistakes: list[Mistake], options: ExportOptions, contamination: Contamination | None
) -> Assembled:
    return assemble(mistakes, options, contamination)


def write_folder(
    out: str,
    assembled: Assembled,
    options: ExportOptions,
    problems: list[Problem],
    books: list[BatchBooks],
    decontamination: dict[str, Any],
) -> dict[str, dict[str, list[str]]]:
    from errata.flows.generate import errata_version

    version = errata_version()

    def card(files: dict[str, dict[str, list[str]]]) -> str:
        facts = card_facts(assembled, options, problems, books, files, decontamination, version)
        return render_card(facts, CARD_CHARTS)  # write_report draws them once the folder is written

    manifest = {
        "recipes": list(options.recipes),
        "options": {k: v for k, v in vars(options).items() if v is not None},
        "decontamination": decontamination,
        "rows": {c: assembled.counts(c) for c in options.configs()},
    }
    rows = {config: assembled.rows[config] for config in options.configs()}
    files = write_export(Path(out), rows, assembled.excluded, card, manifest)
    return files


PLAIN_STEPS: dict[str, Callable[..., Any]] = {
    "read_store": read_store,
    "assemble_rows": assemble_rows,
    "write_folder": write_folder,
}


def check_choices(what: str, chosen: list[str] | None, allowed: Sequence[str]) -> None:
    unknown = sorted(set(chosen or []) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; choose from {list(allowed)}")


def load_contamination(paths: list[str], ngram: int) -> Contamination | None:
    if not paths:
        return None
    return Contamination.from_files([Path(p) for p in paths], n=ngram)


def export(
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
    steps: dict[str, Callable[..., Any]] | None = None,
) -> dict[str, Any]:
    """Build the training sets of the chosen recipes from the shards into a Hub-ready folder.

    `steps` maps each name in STEPS to the function that runs it (Prefect tasks in the flow).
    """
    step = {**PLAIN_STEPS, **(steps or {})}
    check_choices("recipe", recipes, RECIPES)
    check_choices("error type", error_types, ERROR_TYPES)
    check_choices("origin", origins, get_args(Origin))
    check_choices("answer format", [answer_format] if answer_format else [], ANSWER_FORMATS)
    if not Path(shards).is_dir():
        raise FileNotFoundError(f"no shards at {shards}: run `errata run` first")
    check_schema_version(shards)
    options = ExportOptions(
        recipes=tuple(recipes),
        seed=seed,
        test_fraction=test_fraction,
        max_per_problem=max_per_problem,
        error_types=tuple(error_types) if error_types else None,
        origins=tuple(origins) if origins else None,
        retry_rate=retry_rate,
        keep_annotations=keep_annotations,
        answer_format=answer_format,
    )
    contamination = load_contamination(decontaminate or [], ngram)
    mistakes, problems, books = step["read_store"](shards)
    if not mistakes:
        raise ValueError(f"no mistake records under {shards}: run `errata run` first")
    assembled = step["assemble_rows"](mistakes, options, contamination)
    if not any(rows for splits in assembled.rows.values() for rows in splits.values()):
        raise ValueError(
            f"no rows left for {', '.join(recipes)} after the filters "
            f"(error types {error_types or 'all'}, origins {origins or 'all'})"
        )
    decon = decontamination_facts(assembled, contamination, decontaminate or [])
    files = step["write_folder"](out, assembled, options, problems, books, decon)
    write_report(Path(shards), Path(out))
    return {
        "out": str(Path(out)),
        "configs": {c: assembled.counts(c) for c in files},
        "excluded": {
            f"{config}/{step_name}/{reason}": n
            for (config, step_name, reason), n in sorted(assembled.excluded_counts().items())
        },
        "decontamination": decon,
    }


def report_markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# errata export to `{summary['out']}`",
        "",
        "| config | train | test |",
        "|---|---:|---:|",
        *(
            f"| {config} | {rows.get('train', 0)} | {rows.get('test', 0)} |"
            for config, rows in summary["configs"].items()
        ),
    ]
    return "\n".join(lines)


def run_export(prefect: bool | None = None, **parameters: Any) -> dict[str, Any]:
    """Export under Prefect when an API is configured (or `prefect` forces it), else directly."""
    from errata.flows.tracking import prefect_api, untracked_reason

    reason = untracked_reason(prefect)
    if reason:
        return {**export(**parameters), "tracking": reason}
    from errata.flows.export_flow import export_flow

    with prefect_api() as tracking:
        return {**export_flow(**parameters), "tracking": tracking}
