"""KTO: unpaired prompt / completion / label rows."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    correct_solution,
    mistake_lineage,
    solution_lineage,
    wrong_solution,
)
from errata.schemas.exports import Kto
from errata.schemas.records import Mistake


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        out.add(
            "kto",
            Kto(
                prompt=mistake.question,
                completion=wrong_solution(mistake, settings),
                label=False,
                **mistake_lineage(mistake),
            ),
        )
        solution = correct_solution(mistake, settings)
        if solution is not None:
            # Shared by every mistake of the problem; the export's dedupe keeps one copy.
            out.add(
                "kto",
                Kto(
                    prompt=mistake.question,
                    completion=solution,
                    label=True,
                    **solution_lineage(mistake),
                ),
            )
    return out
