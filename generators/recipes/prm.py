"""Step labels: TRL's stepwise format plus the first wrong step (ProcessBench's label)."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    correction,
    mistake_lineage,
    rendered,
    solution_lineage,
)
from errata.schemas.exports import Prm
from errata.schemas.records import Mistake

NO_ERROR = -1


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        # Steps after the first error build on its wrong value, so they are labelled wrong too.
        labels = [i < mistake.first_error_step for i in range(len(mistake.wrong_steps))]
        out.add(
            "prm",
            Prm(
                prompt=mistake.question,
                completions=[rendered(mistake, s, settings) for s in mistake.wrong_steps],
                labels=labels,
                first_error_step=mistake.first_error_step,
                **mistake_lineage(mistake),
            ),
        )
        # The verified reference solution is the all-correct counterpart; identical copies
        # from other mistakes of the same problem are removed by the export's dedupe.
        if correction(mistake, "fresh_restart") is not None:
            out.add(
                "prm",
                Prm(
                    prompt=mistake.question,
                    completions=[rendered(mistake, s, settings) for s in mistake.reference_steps],
                    labels=[True] * len(mistake.reference_steps),
                    first_error_step=NO_ERROR,
                    **solution_lineage(mistake),
                ),
            )
    return out
