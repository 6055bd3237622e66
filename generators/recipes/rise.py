"""RISE (subtle errors): full-solution preference pairs and step pairs with the edit span."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    assistant,
    correct_solution,
    mistake_lineage,
    user,
    wrong_solution,
)
from errata.schemas.exports import RiseSolutionPairs, RiseStepPairs
from errata.schemas.records import Mistake


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        lineage = mistake_lineage(mistake)
        chosen = correct_solution(mistake)
        if chosen is None:
            out.exclude("rise_solution_pairs", "no_verified_correction", "", mistake)
        else:
            out.add(
                "rise_solution_pairs",
                RiseSolutionPairs(
                    prompt=[user(mistake.question)],
                    chosen=[assistant(chosen)],
                    rejected=[assistant(wrong_solution(mistake))],
                    answer=mistake.reference_answer,
                    **lineage,
                ),
            )
        if len(mistake.wrong_steps) != len(mistake.original_steps):
            # A skipped step leaves no single correct step to set against the wrong one.
            out.exclude(
                "rise_step_pairs",
                "no_step_pair",
                f"{mistake.error_type} changes the number of steps",
                mistake,
            )
            continue
        prefix = mistake.wrong_steps[: mistake.error_step]
        out.add(
            "rise_step_pairs",
            RiseStepPairs(
                prompt=mistake.question,
                initial_reason_steps="".join(f"{step}\n" for step in prefix),
                chosen=mistake.original_step,
                rejected=mistake.wrong_step,
                answer=mistake.reference_answer,
                dataset=mistake.source,
                step_index=mistake.error_step,
                chosen_edit_start=mistake.edit_start,
                chosen_edit_end=mistake.edit_end,
                rejected_edit_start=mistake.wrong_edit_start,
                rejected_edit_end=mistake.wrong_edit_end,
                **lineage,
            ),
        )
    return out
