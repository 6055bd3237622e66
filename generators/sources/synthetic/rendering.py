"""Words for the story: grammar, question sentences, annotated solution lines, the ask."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from errata.generators.sources.synthetic.story import Quantity, _Story
from errata.generators.sources.synthetic.vocabulary import SINGULAR, Scene

_VERB_RE = re.compile(r"\[([^\]]+)\]")
_IRREGULAR = {"has": "have", "is": "are", "does": "do", "goes": "go"}


def plural_verb(phrase: str) -> str:
    """`picks` -> `pick`, `studies for the exam` -> `study for the exam`."""
    verb, space, rest = phrase.partition(" ")
    if verb in _IRREGULAR:
        base = _IRREGULAR[verb]
    elif verb.endswith("ies"):
        base = verb[:-3] + "y"
    elif verb.endswith(("ches", "shes", "sses", "xes", "zes")):
        base = verb[:-2]
    else:
        base = verb[:-1]
    return base + space + rest


def _conjugate(text: str, plural: bool) -> str:
    if not plural:
        return text.replace("[", "").replace("]", "")
    return _VERB_RE.sub(lambda m: plural_verb(m.group(1)), text)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def _unit_word(scene: Scene, unit: str, n: int) -> str:
    if scene.kind == "count" and unit != "dozen":
        return scene.one if n == 1 else scene.noun
    return SINGULAR.get(unit, unit) if n == 1 else unit


def _short(scene: Scene, unit: str, n: int) -> str:
    """An amount without the material: `$5`, `5 hours`, `5 feet`, `5` (for items)."""
    if scene.kind == "money":
        return f"${n}" if unit == "dollars" else f"{n} {_unit_word(scene, unit, n)}"
    if scene.kind == "count":
        return f"{n} dozen" if unit == "dozen" else str(n)
    return f"{n} {_unit_word(scene, unit, n)}"


def _amount(scene: Scene, unit: str, n: int) -> str:
    """An amount as given in a question: `5 apples`, `3 dozen eggs`, `$5`, `5 feet of ribbon`."""
    if scene.kind == "count":
        return f"{n} dozen {scene.noun}" if unit == "dozen" else f"{n} {_unit_word(scene, unit, n)}"
    if scene.kind in ("length", "mass"):
        return f"{_short(scene, unit, n)} of {scene.noun}"
    return _short(scene, unit, n)


def _given(scene: Scene, unit: str, n: int) -> str:
    """The amount right after the scene verb: time reads `practices piano for 3 hours`."""
    text = _amount(scene, unit, n)
    return f"for {text}" if scene.kind == "time" else text


def _choose(st: _Story, options: Sequence[str]) -> str:
    """A random template, avoiding ones this story already used (repeated wording reads badly)."""
    choice = st.rng.choice(options)
    if choice in st.used:
        fresh = [option for option in options if option not in st.used]
        if fresh:
            choice = st.rng.choice(fresh)
    st.used.add(choice)
    return choice


def _say(st: _Story, template: str, subject: Quantity | None, **slots: Any) -> None:
    """Add a question sentence; a repeated subject that opens it may become a pronoun."""
    plural = subject.plural if subject else False
    if subject is not None:
        name = subject.subject
        if (
            template.startswith("{A}")
            and name == st.last_subject
            and st.pronoun_ok
            and subject.pronoun
            and st.rng.random() < 0.5
        ):
            name = subject.pronoun
        slots.setdefault("A", name)
        slots.setdefault("their", subject.possessive)
        st.last_subject = subject.subject
    st.pronoun_ok = True
    st.sentences.append(_sentence(_conjugate(template.format(**slots), plural)))


def _apply(args: Sequence[int], symbol: str) -> int:
    if symbol == "+":
        return sum(args)
    if symbol == "-":
        return args[0] - args[1]
    if symbol == "*":
        return args[0] * args[1]
    quotient, remainder = divmod(args[0], args[1])
    if remainder:
        raise ValueError(f"{args[0]} / {args[1]} is not a whole number")
    return quotient


def _step(
    st: _Story,
    op: str,
    form: str,
    args: Sequence[int],
    symbol: str,
    new: Quantity,
    templates: Sequence[str],
    **slots: Any,
) -> None:
    """Write one solution line `... a + b = <<a+b=c>>c unit ...` and make `new` current."""
    result = new.value
    if _apply(args, symbol) != result:
        raise AssertionError(f"{op} {args} does not give {result}")
    numbers = [str(a) for a in args]
    visible = f" {symbol} ".join(numbers)
    annotation = symbol.join(numbers)
    unit = _unit_word(new.scene, new.unit, result)
    x = f"{visible} = <<{annotation}={result}>>{result} {unit}"
    template = _choose(st, templates)
    line = _conjugate(template.format(x=x, A=new.subject, verb=new.verb, **slots), new.plural)
    st.steps.append(_sentence(line))
    st.program.append(
        {"op": op, "form": form, "args": list(args), "result": result, "unit": new.unit}
    )
    st.ops_left -= 1
    old = st.current
    # The old node is superseded when the same people now hold something else (or shared it out).
    if old is not None and old.people and (not new.people or old.people <= new.people):
        st.groups.pop(old.people, None)
    if new.people:
        st.groups[new.people] = new
    st.current = new


_ASK_COMMON = (
    "How many {what} {does} {s} {base}{tail}?",
    "How many {what} {does} {s} {base}{tail}?",
    "Find the number of {what} {s} {verb}{tail}.",
    "What is the number of {what} that {s} {verb}{tail}?",
)
ASKS = {
    "count": _ASK_COMMON,
    "money": (*_ASK_COMMON, "How much money, in {unit}, {does} {s} {base}{tail}?"),
    "time": (*_ASK_COMMON, "How long, in {unit}, {does} {s} {base}{tail}?"),
    "length": (*_ASK_COMMON, "How much {noun}, in {unit}, {does} {s} {base}{tail}?"),
    "mass": (*_ASK_COMMON, "How much {noun}, in {unit}, {does} {s} {base}{tail}?"),
}


def _ask(st: _Story) -> str:
    """The final question, about the current quantity."""
    q, rng = st.q, st.rng
    scene = q.scene
    does = "do" if q.plural else "does"
    base = plural_verb(q.verb)
    verb = base if q.plural else q.verb
    unit = _unit_word(scene, q.unit, 2)
    what = f"{unit} of {scene.noun}" if scene.kind in ("length", "mass") else unit
    template = rng.choice(ASKS[scene.kind])
    return template.format(
        what=what, does=does, s=q.subject, base=base, verb=verb, tail=q.suffix, unit=unit,
        noun=scene.noun,
    )  # fmt: skip
