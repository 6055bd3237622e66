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
        edit = mistake.edit
        if edit is None:
            # A found mistake has no known correct version of its wrong step to pair with.
            out.exclude(
                "rise_step_pairs", "no_edit", f"{mistake.origin} mistake has no edit", mistake
            )
            continue
        if len(mistake.wrong_steps) != len(mistake.reference_steps):
            # A skipped step leaves no single correct step to set against the wrong one.
            out.exclude(
                "rise_step_pairs",
                "no_step_pair",
                f"{mistake.error_type} changes the number of steps",
                mistake,
            )
            continue
        step = mistake.first_error_step
        prefix = mistake.wrong_steps[:step]
        out.add(
            "rise_step_pairs",
            RiseStepPairs(
                prompt=mistake.question,
                initial_reason_steps="".join(f"{step}\n" for step in prefix),
                chosen=edit.original_step,
                rejected=mistake.wrong_steps[step],
                answer=mistake.reference_answer,
                dataset=mistake.source,
                first_error_step=step,
                chosen_edit_start=edit.original_start,
                chosen_edit_end=edit.original_end,
                rejected_edit_start=edit.wrong_start,
                rejected_edit_end=edit.wrong_end,
                **lineage,
            ),
        )
    return out
