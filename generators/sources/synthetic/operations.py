"""Operations on the current quantity, one solution step each, and the draw among them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from errata.generators.sources.synthetic.rendering import (
    _amount,
    _choose,
    _conjugate,
    _say,
    _sentence,
    _short,
    _step,
    _unit_word,
)
from errata.generators.sources.synthetic.story import (
    CONVERT_ONLY,
    MAX_VALUE,
    Quantity,
    _multiplier,
    _new_person,
    _others,
    _pick,
    _Story,
)
from errata.generators.sources.synthetic.vocabulary import (
    _THINGS,
    CONVERSIONS,
    LATER,
    PERIODS,
    RELATIONS,
    SHARERS,
    SINGULAR,
)


def _more(q: Quantity, d: int) -> str:
    scene = q.scene
    if scene.kind == "count":
        return f"{d} more {_unit_word(scene, q.unit, d)}"
    if scene.kind == "money":
        return f"another {_short(scene, q.unit, d)}"
    return f"another {_amount(scene, q.unit, d)}"


def op_extend(st: _Story) -> bool:
    """add: more of the same (`picks 5 more apples the next day and 3 more on the weekend`)."""
    q, rng = st.q, st.rng
    terms = 2 if rng.random() < 0.3 else 1
    room = MAX_VALUE - q.value
    if room < st.lo * terms:
        terms = 1
    if room < st.lo:
        return False
    adds: list[int] = []
    for left in range(terms, 0, -1):
        adds.append(rng.randint(st.lo, min(st.hi, room - st.lo * (left - 1))))
        room -= adds[-1]
    later = [rng.choice(LATER)]
    if terms == 2:
        later.append(rng.choice([w for w in LATER if w != later[0]]))
    mores = [f"{_more(q, d)} {when}" for d, when in zip(adds, later, strict=True)]
    listed = " and ".join(mores)
    if q.mode == "act":
        sentence = _choose(st, ["{A} [{verb}] {listed}.", "{A} also [{verb}] {listed}."])
        _say(st, sentence, q, verb=q.verb, listed=listed)
        new = q._replace(value=q.value + sum(adds), suffix=rng.choice([" in total", " altogether"]))
        steps = (
            "{A} [{verb}] {x} in total.",
            "In total, {A} [{verb}] {x}.",
            "That makes {x} in total.",
        )
    else:
        givers = [_others(st, q) for _ in adds]
        gifts = [
            f"{_more(q, d).replace('another ', '')} from {who}"
            for d, who in zip(adds, givers, strict=True)
        ]
        _say(st, "{A} then [gets] {gifts}.", q, gifts=" and ".join(gifts))
        new = q._replace(value=q.value + sum(adds), verb="has", mode="have", suffix=" now")
        steps = ["{A} now [has] {x}.", "Now {A} [has] {x}.", "After that, {A} [has] {x}."]
    _step(st, "add", "extend", [q.value, *adds], "+", new, steps)
    return True


def op_combine(st: _Story) -> bool:
    """add: quantities of different people put together (`Mia and Leo pick 14 + 42 apples`)."""
    q, rng = st.q, st.rng
    if q.scene.kind == "time" and st.ops_left > 1:
        return False  # "their time together" only reads well as the final question
    chosen: list[Quantity] = []
    taken = set(q.people)
    for other in st.groups.values():
        fits = (
            other is not q
            and other.scene is q.scene
            and other.unit == q.unit
            and other.allowed is None
            and other.mode != "each"
            and not taken & other.people
        )
        if fits and len(chosen) < 2:
            chosen.append(other)
            taken |= other.people
    if not chosen:
        return False
    if len(chosen) == 2 and rng.random() < 0.5:
        chosen = chosen[1:]
    parts = [*chosen, q]
    total = sum(p.value for p in parts)
    if total > MAX_VALUE:
        return False
    names = [p.subject for p in parts]
    subject = ", ".join(names[:-1]) + " and " + names[-1]
    verbs = {p.verb for p in parts}
    verb = q.verb if len(verbs) == 1 else "has"
    new = Quantity(
        value=total,
        unit=q.unit,
        scene=q.scene,
        subject=subject,
        plural=True,
        pronoun="they",
        possessive="their",
        verb=verb,
        mode="have",  # "they do this every week" would be ambiguous after pooling
        suffix=rng.choice([" together", " in total", " altogether"]),
        ref=f"{subject} together",
        people=frozenset(taken),
        seen_units=q.seen_units,
    )
    if st.ops_left > 1:
        pooled = {
            "count": "{A} put all their {noun} together.",
            "money": "{A} put their money together.",
            "length": "{A} put their {noun} together.",
            "mass": "{A} put their {noun} together.",
        }[q.scene.kind]
        _say(st, pooled, new, noun=q.scene.noun)
    for part in chosen:
        st.groups.pop(part.people, None)
    steps = (
        "Together, {A} [{verb}] {x}.",
        "{A} [{verb}] {x} altogether.",
        "In total, {A} [{verb}] {x}.",
    )
    _step(st, "add", "combine", [p.value for p in parts], "+", new, steps)
    return True


def op_subtract(st: _Story) -> bool:
    """subtract: some is given away, used up or taken off (`gives 3 of them to a neighbor`)."""
    q, rng = st.q, st.rng
    scene, kind = q.scene, q.scene.kind
    if kind == "count" and not scene.losses:
        return False
    d = _pick(st, 1, q.value - 1)
    if d is None:
        return False
    amt = _short(scene, q.unit, d)
    slots: dict[str, Any] = {"d": d, "amt": amt, "noun": scene.noun}
    left = ["{A} [has] {x} left.", "After that, {A} [has] {x}.", "{A} [is] left with {x}."]
    new = q._replace(value=q.value - d, verb="has", mode="have", suffix=" left")
    if kind in ("count", "length", "mass"):
        if not scene.losses:
            return False
        sentence = _choose(st, scene.losses)
        if kind != "count":
            left = ["{A} [has] {x} of {noun} left.", "After that, {A} [has] {x} of {noun}."]
    elif kind == "money" and q.mode == "act" and scene.spending:
        sentence = _choose(
            st, ["{A} [uses] a coupon for {amt} off.", "{A} [gets] a discount of {amt}."]
        )
        new = q._replace(value=q.value - d, verb="pays", suffix=" in the end")
        left = ["In the end, {A} [pays] {x}.", "After the discount, {A} [pays] {x}."]
    elif kind == "money":
        sentence = _choose(st, ["{A} [spends] {amt} on {thing}.", "{A} [gives] {amt} to {other}."])
        slots["thing"] = rng.choice(scene.things or _THINGS).format(their=q.possessive)
    else:
        sentence = _choose(
            st,
            ["{A} [spends] {amt} of that time on breaks.", "{A} [misses] {amt} because of rain."],
        )
        if "breaks" in sentence:
            new = q._replace(value=q.value - d, suffix=" without breaks")
            left = ["Without breaks, {A} [{verb}] {x}.", "So {A} [{verb}] {x} without breaks."]
        else:
            new = q._replace(value=q.value - d, suffix=" in the end")
            left = ["In the end, {A} [{verb}] {x}.", "So {A} only [{verb}] {x}."]
    if "{other}" in sentence:
        slots["other"] = _others(st, q)
    _say(st, sentence, q, **slots)
    _step(st, "subtract", "remove", [q.value, d], "-", new, left, noun=scene.noun)
    return True


def op_repeat(st: _Story) -> bool:
    """multiply: the same amount again over several periods (`does this every week for 4 weeks`)."""
    q, rng = st.q, st.rng
    if q.mode != "act" or st.repeated:
        return False
    k = _multiplier(st, q.value)
    if k is None:
        return False
    st.repeated = True
    kind = q.scene.kind
    every, periods = rng.choice(PERIODS.get(q.unit) or PERIODS[kind])
    same = {
        "count": f"the same number of {q.scene.noun}",
        "money": "the same amount",
        "time": "the same amount of time",
        "length": f"the same amount of {q.scene.noun}",
        "mass": f"the same amount of {q.scene.noun}",
    }[kind]
    sentence = rng.choice(["{A} [{verb}] {same} {every} for {k} {periods}.",
                           "{A} [does] this {every} for {k} {periods}."])  # fmt: skip
    _say(st, sentence, q, verb=q.verb, same=same, every=every, k=k, periods=periods)
    new = q._replace(value=q.value * k, suffix=rng.choice([" in all", " over those " + periods]))
    steps = (
        "Over those {periods}, {A} [{verb}] {x}.",
        "{A} [{verb}] {x} over those {periods}.",
        "In all, {A} [{verb}] {x}.",
    )
    _step(st, "multiply", "repeat", [q.value, k], "*", new, steps, periods=periods)
    return True


def op_rate(st: _Story) -> bool:
    """multiply: a price or rate turns the quantity into another kind (`sells each for $2`)."""
    q = st.q
    rate = q.scene.rate
    if rate is None or q.mode == "each" or (rate.from_units and q.unit not in rate.from_units):
        return False
    if q.scene.kind in ("length", "mass") and q.mode != "act":
        return False
    if q.scene.kind == "count" and q.unit != q.scene.noun:
        return False
    p = _pick(st, 1, MAX_VALUE // q.value)
    if p is None:
        return False
    target = rate.target
    unit1 = SINGULAR.get(q.unit, q.unit)
    _say(st, _choose(st, rate.question), q, p=p, one=q.scene.one, noun=q.scene.noun, unit1=unit1)
    new = q._replace(
        value=q.value * p,
        unit=target.units[0],
        scene=target,
        verb=target.verb,
        mode="act",
        suffix="",
        seen_units=frozenset({target.units[0]}),
    )
    _step(st, "multiply", "rate", [q.value, p], "*", new, rate.step)
    return True


def _divisor(st: _Story, value: int) -> int | None:
    options = [d for d in range(max(2, st.lo), min(st.hi, value // 2) + 1) if value % d == 0]
    return st.rng.choice(options) if options else None


def op_divide(st: _Story) -> bool:
    """divide: shared equally (`shares the apples equally among 4 friends`); always exact."""
    q, rng = st.q, st.rng
    if q.mode == "each":
        return False
    k = _divisor(st, q.value)
    if k is None:
        return False
    kind, noun = q.scene.kind, q.scene.noun
    value = q.value // k
    share = q._replace(value=value, suffix="", allowed=frozenset())
    shareable = kind == "money" or (kind == "count" and q.scene.shareable)
    if shareable and (kind == "money" or st.ops_left > 1 or rng.random() < 0.7):
        many, one = rng.choice(SHARERS)
        what = "the money" if kind == "money" else f"the {noun}"
        if kind == "money" and q.mode == "act" and q.scene.spending:
            sentence = rng.choice(
                [
                    "The cost is split equally among {k} {many}.",
                    "{A} and {their} {many} split the cost equally, {k} people in all.",
                ]
            )
            if "people" in sentence:
                one = "person"
            verb = "pays"
        else:
            sentence = rng.choice(
                [
                    "{A} [shares] {what} equally among {k} {many}.",
                    "{A} [divides] {what} equally between {k} {many}.",
                ]
            )
            verb = "gets"
        _say(st, sentence, q, k=k, many=many, what=what)
        subject = f"each {one}"
        share = Quantity(
            value=value,
            unit=q.unit,
            scene=q.scene,
            subject=subject,
            plural=False,
            pronoun="",
            possessive="their",
            verb=verb,
            mode="each",
            ref=subject,
            allowed=frozenset({"times", "fewer", "convert"}),
            seen_units=q.seen_units,
        )
        steps = ["{A} [{verb}] {x}.", "So {A} [{verb}] {x}."]
    elif st.ops_left > 1:
        return False  # the shares below end the story: nothing else reads well after them
    elif kind == "count" and shareable:
        many, one = rng.choice((("boxes", "box"), ("bags", "bag"), ("baskets", "basket")))
        _say(st, "{A} [packs] the {noun} equally into {k} {many}.", q, noun=noun, k=k, many=many)
        share = share._replace(subject=f"each {one}", plural=False, verb="holds", mode="each")
        steps = ["{A} [{verb}] {x}.", "So {A} [{verb}] {x}."]
    elif kind in ("time", "count"):
        if q.unit in ("days", "weeks"):
            return False
        what = "this time" if kind == "time" else f"the {noun}"
        _say(st, "{A} [spreads] {what} equally over {k} days.", q, k=k, what=what)
        share = share._replace(suffix=" each day", mode="each")
        steps = ["{A} [{verb}] {x} each day.", "Each day, {A} [{verb}] {x}."]
    elif kind == "length":
        _say(st, "{A} [cuts] the {noun} into {k} equal pieces.", q, noun=noun, k=k)
        share = share._replace(subject="each piece", plural=False, verb="measures", mode="each")
        steps = ["{A} [{verb}] {x}.", "So {A} [{verb}] {x}."]
    else:
        many, one = rng.choice((("jars", "jar"), ("bowls", "bowl"), ("bags", "bag")))
        _say(st, "{A} [divides] the {noun} equally into {k} {many}.", q, noun=noun, k=k, many=many)
        share = share._replace(subject=f"each {one}", plural=False, verb="holds", mode="each")
        steps = ["{A} [{verb}] {x} of {noun}.", "So {A} [{verb}] {x} of {noun}."]
    _step(st, "divide", "share", [q.value, k], "/", share, steps, noun=noun)
    return True


TIMES_AS_MANY = {
    "count": "{B} [{verb}] {k} times as many {noun} as {ref}.",
    "money": "{B} [{verb}] {k} times as much as {ref}.",
    "time": "{B} [{verb}] {k} times as long as {ref}.",
    "length": "{B} [{verb}] {k} times as much {noun} as {ref}.",
    "mass": "{B} [{verb}] {k} times as much {noun} as {ref}.",
}
FEWER_THAN = {
    "count": "{B} [{verb}] {d} fewer {noun} than {ref}.",
    "money": "{B} [{verb}] {amt} less than {ref}.",
    "time": "{B} [{verb}] {amt} less than {ref}.",
    "length": "{B} [{verb}] {amt} less {noun} than {ref}.",
    "mass": "{B} [{verb}] {amt} less {noun} than {ref}.",
}
COMPARE_STEPS = ("{A} [{verb}] {x}.", "So {A} [{verb}] {x}.", "That means {A} [{verb}] {x}.")


def _compare(st: _Story, op: str, args: list[int], value: int, sentence: str, **slots: Any) -> None:
    """A new person whose quantity is defined relative to the current one."""
    q, rng = st.q, st.rng
    name, pronoun, possessive = _new_person(st)
    intro = name
    if q.subject == q.ref and len(q.people) == 1 and rng.random() < 0.4:
        intro = f"{q.ref}'s {rng.choice(RELATIONS)} {name}"
    new = Quantity(
        value=value,
        unit=q.unit,
        scene=q.scene,
        subject=name,
        plural=False,
        pronoun=pronoun,
        possessive=possessive,
        verb=q.verb,
        mode="act" if q.mode == "each" else q.mode,
        ref=name,
        people=frozenset({name}),
        seen_units=q.seen_units,
    )
    st.last_subject = name
    st.pronoun_ok = False
    st.sentences.append(
        _sentence(_conjugate(sentence.format(B=intro, verb=q.verb, ref=q.ref, **slots), False))
    )
    _step(st, op, "compare", args, "*" if op == "times_as_many" else "-", new, COMPARE_STEPS)


def op_times(st: _Story) -> bool:
    """times as many: `Leo picks 3 times as many apples as Mia`."""
    q = st.q
    k = _multiplier(st, q.value)
    if k is None:
        return False
    sentence = TIMES_AS_MANY[q.scene.kind]
    args = [k, q.value] if st.rng.random() < 0.5 else [q.value, k]
    _compare(st, "times_as_many", args, q.value * k, sentence, k=k, noun=q.scene.noun)
    return True


def op_fewer(st: _Story) -> bool:
    """fewer than: `Sam picks 5 fewer apples than Leo`."""
    q = st.q
    d = _pick(st, 1, q.value - 1)
    if d is None:
        return False
    if q.scene.kind == "count" and q.unit != q.scene.noun:
        return False
    sentence = FEWER_THAN[q.scene.kind]
    amt = _short(q.scene, q.unit, d)
    _compare(st, "fewer_than", [q.value, d], q.value - d, sentence, d=d, amt=amt, noun=q.scene.noun)
    return True


def op_convert(st: _Story) -> bool:
    """unit conversion: `In minutes, that is 3 * 60 = <<3*60=180>>180 minutes.`"""
    q = st.q
    if q.unit not in CONVERSIONS:
        return False
    to, symbol, factor = CONVERSIONS[q.unit]
    source = "dozens" if q.unit == "dozen" else q.unit
    to = to or q.scene.noun
    if to in q.seen_units:
        return False  # never convert back to a unit already used
    if symbol == "*":
        if q.value * factor > MAX_VALUE:
            return False
        value = q.value * factor
    else:
        if q.value % factor:
            return False
        value = q.value // factor
    new = q._replace(
        value=value,
        unit=to,
        seen_units=q.seen_units | {to},
        allowed=None if q.allowed == CONVERT_ONLY else q.allowed,
    )
    steps = [f"Converting {source} to {to}: {{x}}.", "That is {x}.", "{A} [{verb}] {x}{suffix}."]
    if q.unit != "dozen":
        steps.append(f"In {to}, that is {{x}}.")
    record = {"from": q.unit, "to": to}
    _step(st, "convert", f"{q.unit}->{to}", [q.value, factor], symbol, new, steps, suffix=q.suffix)
    st.program[-1] |= record
    return True


# Each returns False, changing nothing, when it does not fit, so the draw can try another.
OPERATIONS: dict[str, tuple[Callable[[_Story], bool], float]] = {
    "extend": (op_extend, 2.0),
    "combine": (op_combine, 2.0),
    "subtract": (op_subtract, 2.0),
    "repeat": (op_repeat, 1.5),
    "rate": (op_rate, 2.0),
    "divide": (op_divide, 2.0),
    "times": (op_times, 2.5),
    "fewer": (op_fewer, 2.5),
    "convert": (op_convert, 3.0),
}


def _next_operation(st: _Story) -> None:
    """Apply one operation, drawn by weight among those that fit the current quantity."""
    allowed = st.q.allowed
    names = [name for name in OPERATIONS if allowed is None or name in allowed]
    weights = [OPERATIONS[name][1] for name in names]
    total = sum(weights)
    while names:
        pick = st.rng.random() * total
        index = 0
        while index < len(names) - 1 and pick >= weights[index]:
            pick -= weights[index]
            index += 1
        if OPERATIONS[names[index]][0](st):
            return
        total -= weights.pop(index)
        names.pop(index)
    # Extreme knobs can corner a locked share (e.g. 400 cents each with numbers in [1000, 1000]);
    # adding or taking away always fits one way or the other, so fall back to that.
    if allowed and allowed != CONVERT_ONLY and (op_extend(st) or op_subtract(st)):
        return
    raise RuntimeError(f"no operation fits {st.q!r}")  # a generator bug: tests guard against it
