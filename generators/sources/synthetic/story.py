"""The story being built: its quantities, its state and the random draws over them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from errata.generators.sources.synthetic.vocabulary import OTHERS, PEOPLE, Scene

MAX_VALUE = 9_999  # every given and intermediate value stays below 10,000
CONVERT_ONLY = frozenset({"convert"})  # lock for quantities that must be converted next


class Quantity(NamedTuple):
    """One node of the dependency graph, with the words needed to talk about it.

    A NamedTuple rather than a dataclass: `_replace` is several times faster than
    `dataclasses.replace`, and the generator copies quantities at every step.
    """

    value: int
    unit: str
    scene: Scene
    subject: str  # "Mia", "Mia and Leo", "each friend"
    plural: bool
    pronoun: str  # "she" | "he" | "they" | "" (none)
    possessive: str  # "her" | "his" | "their"
    verb: str
    mode: str  # act (the scene's action) | have (what is left / received) | each (a share)
    suffix: str = ""  # closes the question: " in total", " left", " each day"
    ref: str = ""  # how a comparison names it: "Mia", "Mia and Leo together"
    people: frozenset[str] = frozenset()
    allowed: frozenset[str] | None = None  # ops that may follow; None: any
    seen_units: frozenset[str] = frozenset()


@dataclass
class _Story:
    rng: random.Random
    lo: int
    hi: int
    ops_left: int
    sentences: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    program: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[frozenset[str], Quantity] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    last_subject: str = ""
    current: Quantity | None = None
    repeated: bool = False  # "every week for 4 weeks" twice in one story reads as nonsense
    pronoun_ok: bool = True  # False right after a sentence naming two people ("she" is unclear)
    used: set[str] = field(default_factory=set)  # templates already used in this story

    @property
    def q(self) -> Quantity:
        assert self.current is not None
        return self.current


def _new_person(st: _Story) -> tuple[str, str, str]:
    while True:
        name, pronoun, possessive = st.rng.choice(PEOPLE)
        if name not in st.used_names:
            st.used_names.add(name)
            return name, pronoun, possessive


def _pick(st: _Story, low: int, high: int) -> int | None:
    low, high = max(low, st.lo), min(high, st.hi)
    return st.rng.randint(low, high) if low <= high else None


def _multiplier(st: _Story, value: int) -> int | None:
    """A factor in the number range that keeps value * factor under MAX_VALUE; mostly small."""
    low = max(2, st.lo)
    high = min(st.hi, MAX_VALUE // max(value, 1))
    if low > high:
        return None
    if st.rng.random() < 0.7:
        high = min(high, low + 3)  # "3 times as many" is typical; "18 times as many" is rare
    return st.rng.randint(low, high)


def _others(st: _Story, q: Quantity) -> str:
    return st.rng.choice(OTHERS).format(their=q.possessive)
