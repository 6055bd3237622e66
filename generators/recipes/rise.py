"""RISE (subtle errors): full-solution preference pairs and step pairs with the edit span."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    assistant,
    correct_solution,
    mistake_lineage,
    rendered,
    user,
    wrong_solution,
)
from errata.generators.spans import edit_span
from errata.schemas.exports import RiseSolutionPairs, RiseStepPairs
from errata.schemas.records import Mistake


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        lineage = mistake_lineage(mistake)
        chosen = correct_solution(mistake, settings)
        if chosen is None:
            out.exclude("rise_solution_pairs", "no_verified_correction", "", mistake)
        else:
            out.add(
                "rise_solution_pairs",
                RiseSolutionPairs(
                    prompt=[user(mistake.question)],
                    chosen=[assistant(chosen)],
                    rejected=[assistant(wrong_solution(mistake, settings))],
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
        error = mistake.first_error_step
        prefix = [rendered(mistake, s, settings) for s in mistake.wrong_steps[:error]]
        chosen = rendered(mistake, edit.original_step, settings)
        rejected = rendered(mistake, mistake.wrong_steps[error], settings)
        # Rendering can shift characters, so the spans are located again in the rendered text.
        start, chosen_end, rejected_end = edit_span(chosen, rejected)
        out.add(
            "rise_step_pairs",
            RiseStepPairs(
                prompt=mistake.question,
                initial_reason_steps="".join(f"{step}\n" for step in prefix),
                chosen=chosen,
                rejected=rejected,
                answer=mistake.reference_answer,
                dataset=mistake.source,
                first_error_step=error,
                chosen_edit_start=start,
                chosen_edit_end=chosen_end,
                rejected_edit_start=start,
                rejected_edit_end=rejected_end,
                **lineage,
            ),
        )
    return out
