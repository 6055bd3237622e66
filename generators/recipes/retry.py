"""Retry data (Physics of Language Models 2.2): a wrong step, [BACK], then the right step.

The injected wrong step always appears once, at the step it was injected. Every other step
also gets a retry with probability `retry_rate`, using the cheap variant from the paper: a
later step's content stands in as the wrong step.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    correction,
    mistake_lineage,
    rendered,
)
from errata.schemas.exports import Retry
from errata.schemas.ids import item_seed
from errata.schemas.records import Mistake

BACK = "[BACK]"


def retried(wrong: str, right: str) -> str:
    return f"{wrong} {BACK} {right}"


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        fixed = correction(mistake, "fix_continue")
        if fixed is None:
            out.exclude("retry", "no_verified_correction", "no verified fix_continue", mistake)
            continue
        error = mistake.first_error_step
        *after, answer = rendered(mistake, fixed.continuation, settings).split("\n")
        prefix = [rendered(mistake, s, settings) for s in mistake.wrong_steps[:error]]
        right_steps = [*prefix, *after]
        wrong_step = rendered(mistake, mistake.wrong_steps[error], settings)
        rng = random.Random(item_seed(settings.seed, mistake.mistake_id))
        lines, retries = [], 0
        for i, step in enumerate(right_steps):
            if i == error:
                lines.append(retried(wrong_step, step))
                retries += 1
            elif i + 1 < len(right_steps) and rng.random() < settings.retry_rate:
                lines.append(retried(right_steps[rng.randrange(i + 1, len(right_steps))], step))
                retries += 1
            else:
                lines.append(step)
        out.add(
            "retry",
            Retry(
                prompt=mistake.question,
                completion="\n".join([*lines, answer]),
                retries=retries,
                first_error_step=mistake.first_error_step,
                **mistake_lineage(mistake),
            ),
        )
    return out
