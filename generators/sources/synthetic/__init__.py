"""The embedded default source: grade-school word problems, each backed by a small program.

In the spirit of the synthetic iGSM data of "Physics of Language Models 2.2": a story is a
dependency graph of named quantities ("the apples Mia picks", "the money Leo earns"). Some are
given as numbers in the question; every other one is defined by one operation over earlier
quantities, and the question asks for the last one, which depends on all the given numbers.
Solutions are written exactly like GSM8K: one step per line, one calculator annotation per
step, `#### n` last, so downstream code treats synthetic and GSM8K problems alike.

The modules, lowest first: `vocabulary` (words and scenes), `story` (the graph being built),
`rendering` (its sentences and solution lines), `openings` and `operations` (the steps that
build it) and `api` (the knobs and what the rest of errata calls).
"""

from errata.generators.sources.synthetic.api import (
    GENERATOR_VERSION,
    LICENSE,
    MAX_NUMBER,
    MAX_OPS,
    SOURCE,
    SyntheticConfig,
    check_config,
    generate,
    make_problem,
)
from errata.generators.sources.synthetic.story import MAX_VALUE
from errata.generators.sources.synthetic.vocabulary import CONVERSIONS, PEOPLE, SINGULAR

__all__ = [
    "CONVERSIONS",
    "GENERATOR_VERSION",
    "LICENSE",
    "MAX_NUMBER",
    "MAX_OPS",
    "MAX_VALUE",
    "PEOPLE",
    "SINGULAR",
    "SOURCE",
    "SyntheticConfig",
    "check_config",
    "generate",
    "make_problem",
]
