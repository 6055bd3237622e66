"""LEMMA: wrong prefix, reflection, correction (fix & continue and fresh & restart)."""

from __future__ import annotations

from collections.abc import Sequence

from errata.generators.recipes.common import (
    RecipeOutput,
    RecipeSettings,
    assistant,
    correction,
    domain_of,
    mistake_lineage,
    rendered,
    user,
)
from errata.schemas.exports import LemmaAlpaca, LemmaMessages
from errata.schemas.records import Mistake

KINDS = ("fix_continue", "fresh_restart")


def instruction(mistake: Mistake, settings: RecipeSettings) -> str:
    domain = domain_of(mistake)
    return f"{domain.prompts['solve']} {domain.answer_instruction(settings.render)}"


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
                "first_error_step": mistake.first_error_step,
            }
            trajectory = rendered(mistake, fixed.trajectory, settings)
            messages = [user(mistake.question), assistant(trajectory)]
            out.add("lemma_messages", LemmaMessages(messages=messages, **common))
            out.add(
                "lemma_alpaca",
                LemmaAlpaca(
                    instruction=instruction(mistake, settings),
                    input=mistake.question,
                    output=trajectory,
                    **common,
                ),
            )
    return out
