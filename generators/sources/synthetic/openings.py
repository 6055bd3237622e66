"""Openings: the first quantity, given outright or built by the first operation."""

from __future__ import annotations

import random

from errata.generators.sources.synthetic.rendering import _choose, _given, _say, _short, _step
from errata.generators.sources.synthetic.story import (
    CONVERT_ONLY,
    MAX_VALUE,
    Quantity,
    _new_person,
    _pick,
    _Story,
)
from errata.generators.sources.synthetic.vocabulary import (
    CONVERSIONS,
    DAY_PARTS,
    PERIODS,
    SCENES,
    TREES,
    Scene,
)


def _person_quantity(scene: Scene, unit: str, value: int, person: tuple[str, str, str]) -> Quantity:
    name, pronoun, possessive = person
    return Quantity(
        value=value,
        unit=unit,
        scene=scene,
        subject=name,
        plural=False,
        pronoun=pronoun,
        possessive=possessive,
        verb=scene.verb,
        mode="act",
        ref=name,
        people=frozenset({name}),
        seen_units=frozenset({unit}),
    )


def _open_given(
    st: _Story, scene: Scene, person: tuple[str, str, str], unit: str, value: int
) -> None:
    q = _person_quantity(scene, unit, value, person)
    if unit == "dozen":
        q = q._replace(allowed=CONVERT_ONLY)
    place = st.rng.choice(scene.places).format(their=q.possessive)
    templates = ["{A} [{verb}] {given}{place}."]
    if place:
        templates.append("{A} [{verb}] {given}{place} one day.")
    if scene.kind in ("count", "length", "mass"):
        templates.append("{A} [{verb}] {given}{place} this week.")
    _say(
        st, st.rng.choice(templates), q, verb=q.verb, given=_given(scene, unit, value), place=place
    )
    st.current = q
    st.groups[q.people] = q


def _open_parts(st: _Story, scene: Scene, person: tuple[str, str, str]) -> bool:
    """add: `Mia picks 4 apples in the morning, 7 in the afternoon and 3 in the evening.`"""
    parts = st.rng.choice(scene.parts)
    if parts not in (DAY_PARTS, TREES):
        st.repeated = True  # parts on different days: "every day for 4 days" would contradict
    terms = min(len(parts), 3 if st.rng.random() < 0.5 else 2)
    unit = st.rng.choice(scene.units)
    values = [st.rng.randint(st.lo, st.hi) for _ in range(terms)]
    q = _person_quantity(scene, unit, sum(values), person)
    phrases = [_given(scene, unit, values[0])] + [_short(scene, unit, v) for v in values[1:]]
    pieces = [f"{phrase} {part}" for phrase, part in zip(phrases, parts, strict=False)]
    if st.rng.random() < 0.6:
        listed = ", ".join(pieces[:-1]) + " and " + pieces[-1]
        _say(st, "{A} [{verb}] {listed}.", q, verb=q.verb, listed=listed)
    else:
        _say(st, "{A} [{verb}] {piece}.", q, verb=q.verb, piece=pieces[0])
        for piece in pieces[1:]:
            lead = _choose(st, ["{A} [{verb}] {piece}.", "{A} also [{verb}] {piece}."])
            _say(st, lead, q, verb=q.verb, piece=piece)
    new = q._replace(suffix=st.rng.choice([" in total", " altogether", " in all"]))
    steps = (
        "{A} [{verb}] {x} in total.",
        "In total, {A} [{verb}] {x}.",
        "Altogether, {A} [{verb}] {x}.",
    )
    st.current = None
    _step(st, "add", "parts", values, "+", new, steps)
    return True


def _open_groups(st: _Story, scene: Scene, person: tuple[str, str, str]) -> bool:
    """multiply: `Mia fills 4 baskets with 6 apples each` or `saves $5 every week for 3 weeks`."""
    rng = st.rng
    unit = rng.choice(scene.units)
    count = _pick(st, 2, st.hi)
    size = _pick(st, 1, MAX_VALUE // count) if count else None
    if count is None or size is None:
        return False
    whole = False
    if unit == "minutes" and rng.random() < 0.8:
        # Whole hours of minutes, so that "minutes -> hours" (an exact / 60) can happen at all.
        whole_hours = [
            (c, m)
            for c in range(max(2, st.lo), min(st.hi, 60) + 1)
            for m in range(st.lo, min(st.hi, 120) + 1)
            if c * m % 60 == 0
        ]
        if whole_hours:
            count, size = rng.choice(whole_hours)
            whole = True
    q = _person_quantity(scene, unit, count * size, person)
    kind = scene.kind
    if scene.containers and rng.random() < 0.6:
        many, one = rng.choice(scene.containers)
        if kind == "count":
            sentence = rng.choice(
                [
                    "{A} [{verb}] {k} {many} with {m} {noun} in each {one}.",
                    "{A} [{verb}] {k} {many}, and each {one} has {m} {noun}.",
                ]
            )
        elif kind == "money":
            sentence = "{A} [buys] {k} {many} at ${m} each."
        elif kind == "length":
            sentence = "{A} [{verb}] {k} {many} of {noun} that are each {amt} long."
        else:
            sentence = "{A} [{verb}] {k} {many} of {noun} that each weigh {amt}."
        args = [count, size]
        _say(st, sentence, q, verb=q.verb, k=count, m=size, many=many, one=one, noun=scene.noun,
             amt=_short(scene, unit, size))  # fmt: skip
    else:
        st.repeated = True
        every, periods = rng.choice(PERIODS.get(unit) or PERIODS[kind])
        _say(st, "{A} [{verb}] {given} {every} for {k} {periods}.", q, verb=q.verb,
             given=_given(scene, unit, size), every=every, k=count, periods=periods)  # fmt: skip
        args = [size, count]
    new = q._replace(suffix=rng.choice([" in total", " in all", ""]))
    if whole:
        new = new._replace(allowed=CONVERT_ONLY)  # ask in hours: the point of whole hours
    steps = ["{A} [{verb}] {x}.", "In total, {A} [{verb}] {x}.", "So {A} [{verb}] {x} in all."]
    st.current = None
    _step(st, "multiply", "groups", args, "*", new, steps)
    return True


def _opening(st: _Story, scene: Scene) -> None:
    """The first quantity: given outright, or made by the first operation (sum or product)."""
    rng = st.rng
    person = _new_person(st)
    roll = rng.random()
    if roll < 0.3 and _open_parts(st, scene, person):
        return
    if roll < 0.55 and _open_groups(st, scene, person):
        return
    units = list(scene.units)
    if scene.dozens and st.hi * 12 <= MAX_VALUE and rng.random() < 0.5:
        units = ["dozen"]
    unit = rng.choice(units)
    value = rng.randint(st.lo, st.hi)
    if unit in CONVERSIONS and CONVERSIONS[unit][1] == "*" and rng.random() < 0.5:
        # Small enough to convert later (kilograms -> grams needs under 10).
        cap = MAX_VALUE // CONVERSIONS[unit][2]
        if cap >= st.lo:
            value = rng.randint(st.lo, min(st.hi, cap))
    _open_given(st, scene, person, unit, value)


def _choose_scene(rng: random.Random, lo: int, hi: int) -> Scene:
    scene = rng.choice(SCENES)
    if scene.kind == "mass" and lo > MAX_VALUE // 1000 and rng.random() < 0.5:
        scene = rng.choice(SCENES)  # kilograms could never become grams with these numbers
    return scene
