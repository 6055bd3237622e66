"""The facts an export's dataset card states: counts, rates, sources, options."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from errata.generators.recipes.assemble import Assembled, ExportOptions
from errata.generators.recipes.select import Contamination
from errata.generators.stages import sum_stage_counts
from errata.schemas.exports import EXPORT_CONFIGS, CardFacts, ConfigFacts
from errata.schemas.records import BatchBooks, Problem

TITLE = "errata mistake-correction data"


def stage_totals(books: Sequence[BatchBooks], run_ids: set[str]) -> dict[str, tuple[int, int]]:
    """(in, out) per stage over the batches of the runs that made the exported mistakes.

    Each batch's books are written once, with its shards, so a crash and resume, or a rerun
    that skips every batch, counts nothing twice (the `runs` table has a row per invocation).
    """
    unique = {(b.run_id, b.batch): b for b in books if b.run_id in run_ids}
    totals = sum_stage_counts([c for key in sorted(unique) for c in unique[key].counts])
    return {count.stage: (count.n_in, count.n_out) for count in totals}


def decontamination_facts(
    assembled: Assembled, contamination: Contamination | None, files: Sequence[str]
) -> dict[str, Any]:
    """What the card says about decontamination; file names only, never the user's paths."""
    if contamination is None:
        return {}
    dropped = [e for e in assembled.excluded if e.step == "decontaminate"]
    return {
        "files": [Path(f).name for f in files],
        "questions": contamination.n_questions,
        "n": contamination.n,
        "dropped_rows": len(dropped),
        "problems": len({e.problem_id for e in dropped}),
    }


def card_facts(
    assembled: Assembled,
    options: ExportOptions,
    problems: Sequence[Problem],
    books: Sequence[BatchBooks],
    files: dict[str, dict[str, list[str]]],
    decontamination: dict[str, Any],
    errata_version: str,
) -> CardFacts:
    used = assembled.mistakes_used
    used_sources = {m.source for m in used}
    licenses = {p.source: p.license for p in problems if p.source in used_sources}
    for source in used_sources - set(licenses):
        licenses[source] = "unknown"
    used_problems = {m.problem_id for m in used}
    configs = [
        ConfigFacts(
            name=config,
            recipe=EXPORT_CONFIGS[config][0],
            description=EXPORT_CONFIGS[config][2],
            files=files[config],
            rows=assembled.counts(config),
        )
        for config in options.configs()
        if files.get(config)
    ]
    return CardFacts(
        title=TITLE,
        configs=configs,
        licenses=dict(sorted(licenses.items())),
        problems_per_source=dict(
            Counter(p.source for p in problems if p.problem_id in used_problems)
        ),
        mistakes_per_source=dict(Counter(m.source for m in used)),
        mistakes_per_error_type=dict(Counter(m.error_type for m in used)),
        mistakes_per_origin=dict(Counter(m.origin for m in used)),
        stage_counts=stage_totals(books, {m.run_id for m in used}),
        excluded=dict(assembled.excluded_counts()),
        options={k: v for k, v in asdict(options).items() if v is not None},
        decontamination=decontamination,
        errata_version=errata_version,
    )
