"""Recursive introspection: attempt, outcome-only feedback, next attempt, weighted turns."""

from __future__ import annotations

import math
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
from errata.schemas.exports import Introspect
from errata.schemas.records import Mistake

FEEDBACK_INCORRECT = "Your answer is incorrect. Please try again."
CORRECT_REWARD = 1.0
WRONG_REWARD = 0.0
TEMPERATURE = 0.4  # the final attempt is weighted exp(reward / temperature)


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        retry = correct_solution(mistake, settings)
        if retry is None:
            out.exclude("introspect", "no_verified_correction", "", mistake)
            continue
        messages = [
            user(mistake.question),
            assistant(wrong_solution(mistake, settings)),
            user(FEEDBACK_INCORRECT),
            assistant(retry),
        ]
        # Only the final attempt is trained on; the wrong one is context.
        weights = [0.0, 0.0, 0.0, round(math.exp(CORRECT_REWARD / TEMPERATURE), 6)]
        rewards = [0.0, WRONG_REWARD, 0.0, CORRECT_REWARD]
        out.add(
            "introspect",
            Introspect(
                messages=messages, weights=weights, rewards=rewards, **mistake_lineage(mistake)
            ),
        )
    return out
