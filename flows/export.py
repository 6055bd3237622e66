"""The `export` flow: shards in, a Hub-ready folder of training sets out.

Thin orchestration: read the store, assemble the rows of each recipe's configs, write the
folder (Parquet per config and split, exclusion log, manifest, dataset card) and swap it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from errata.flows.generate import errata_version
from errata.generators.recipes.assemble import Assembled, ExportOptions, assemble
from errata.generators.recipes.report import card_facts, decontamination_facts
from errata.generators.recipes.select import DEFAULT_NGRAM, Contamination
from errata.schemas.exports import RECIPES
from errata.schemas.records import ERROR_TYPES, Mistake, Origin, Problem, Run
from errata.store.card import write_card
from errata.store.export import (
    DEFAULT_EXPORT,
    publish,
    staging_dir,
    write_config,
    write_exclusions,
    write_manifest,
)
from errata.store.shards import read_records


@task(cache_policy=NO_CACHE)
def read_store(shards: str) -> tuple[list[Mistake], list[Problem], list[Run]]:
    root = Path(shards)
    return (
        read_records(root, "mistakes"),
        read_records(root, "problems"),
        read_records(root, "runs"),
    )


@task(cache_policy=NO_CACHE)
def assemble_rows(
    mistakes: list[Mistake], options: ExportOptions, contamination: Contamination | None
) -> Assembled:
    return assemble(mistakes, options, contamination)


@task(cache_policy=NO_CACHE)
def write_folder(
    out: str,
    assembled: Assembled,
    options: ExportOptions,
    problems: list[Problem],
    runs: list[Run],
    decontamination: dict[str, Any],
) -> dict[str, dict[str, list[str]]]:
    staging = staging_dir(Path(out))
    files = {
        config: write_config(staging, config, assembled.rows[config])
        for config in options.configs()
    }
    files = {config: splits for config, splits in files.items() if splits}
    write_exclusions(staging, assembled.excluded)
    version = errata_version()
    facts = card_facts(assembled, options, problems, runs, files, decontamination, version)
    write_card(staging, facts)
    write_manifest(
        staging,
        {
            "recipes": list(options.recipes),
            "options": facts.options,
            "decontamination": decontamination,
            "files": files,
            "rows": {c: assembled.counts(c) for c in files},
        },
    )
    publish(staging, Path(out))
    return files


def check_choices(what: str, chosen: list[str] | None, allowed: Sequence[str]) -> None:
    unknown = sorted(set(chosen or []) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; choose from {list(allowed)}")


def load_contamination(paths: list[str], ngram: int) -> Contamination | None:
    if not paths:
        return None
    return Contamination.from_files([Path(p) for p in paths], n=ngram)


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
) -> dict[str, Any]:
    """Build the training sets of the chosen recipes from the shards into a Hub-ready folder."""
    check_choices("recipe", recipes, RECIPES)
    check_choices("error type", error_types, ERROR_TYPES)
    check_choices("origin", origins, get_args(Origin))
    if not Path(shards).is_dir():
        raise FileNotFoundError(f"no shards at {shards}: run `errata run` first")
    options = ExportOptions(
        recipes=tuple(recipes),
        seed=seed,
        test_fraction=test_fraction,
        max_per_problem=max_per_problem,
        error_types=tuple(error_types) if error_types else None,
        origins=tuple(origins) if origins else None,
        retry_rate=retry_rate,
    )
    contamination = load_contamination(decontaminate or [], ngram)
    mistakes, problems, runs = read_store(shards)
    if not mistakes:
        raise ValueError(f"no mistake records under {shards}: run `errata run` first")
    assembled = assemble_rows(quote(mistakes), options, contamination)
    if not any(rows for splits in assembled.rows.values() for rows in splits.values()):
        raise ValueError(
            f"no rows left for {', '.join(recipes)} after the filters "
            f"(error types {error_types or 'all'}, origins {origins or 'all'})"
        )
    decon = decontamination_facts(assembled, contamination, decontaminate or [])
    files = write_folder(out, quote(assembled), options, quote(problems), quote(runs), decon)
    summary = {
        "out": str(Path(out)),
        "configs": {c: assembled.counts(c) for c in files},
        "excluded": {
            f"{config}/{step}/{reason}": n
            for (config, step, reason), n in sorted(assembled.excluded_counts().items())
        },
        "decontamination": decon,
    }
    _report(summary)
    return summary


def _report(summary: dict[str, Any]) -> None:
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
    create_markdown_artifact("\n".join(lines), key="errata-export-summary")


def run_export(**parameters: Any) -> dict[str, Any]:
    return export_flow(**parameters)
