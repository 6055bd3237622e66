"""Training-set recipes: each turns verified mistake records into rows of its configs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from errata.generators.recipes import introspect, kto, lema, lemma, prm, retry, rise
from errata.generators.recipes.common import RecipeOutput, RecipeSettings
from errata.schemas.records import Mistake

Builder = Callable[[Sequence[Mistake], RecipeSettings], RecipeOutput]

BUILDERS: dict[str, Builder] = {
    "lemma": lemma.build,
    "rise": rise.build,
    "lema": lema.build,
    "introspect": introspect.build,
    "prm": prm.build,
    "retry": retry.build,
    "kto": kto.build,
}
