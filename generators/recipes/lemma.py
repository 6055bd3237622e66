"""LEMMA: wrong prefix, reflection, correction (fix & continue and fresh & restart)."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    assistant,
    correction,
    mistake_lineage,
    user,
)
from errata.schemas.exports import LemmaAlpaca, LemmaMessages
from errata.schemas.records import Mistake

INSTRUCTION = (
    "Solve the math problem step by step. If you notice a mistake, say so and correct it. "
    "End with the final answer after '####'."
)
KINDS = ("fix_continue", "fresh_restart")


def build(mistakes: Sequence[Mistake], settings: RecipeSettings) -> RecipeOutput:
    out = RecipeOutput()
    for mistake in mistakes:
        for kind in KINDS:
            fixed = correction(mistake, kind)
            if fixed is None:
                for config in ("lemma_messages", "lemma_alpaca"):
                    out.exclude(config, "no_verified_correction", f"no verified {kind}", mistake)
                continue
            common = {
                **mistake_lineage(mistake),
                "correction": kind,
                "reflection": fixed.reflection,
                "error_step": mistake.error_step,
            }
            messages = [user(mistake.question), assistant(fixed.trajectory)]
            out.add("lemma_messages", LemmaMessages(messages=messages, **common))
            out.add(
                "lemma_alpaca",
                LemmaAlpaca(
                    instruction=INSTRUCTION,
                    input=mistake.question,
                    output=fixed.trajectory,
                    **common,
                ),
            )
    return out
