"""Rule-based subtle error injection over solution programs.

Each rule edits one computation, then the program is re-executed so every later step carries
the wrong value forward, the way a real slip propagates. Rules choose their site from a seeded
RNG, so the same (seed, problem) always gives the same mistake.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction

from errata.generators.solutions import (
    Node,
    Program,
    Token,
    spaced_expression,
    token_meaning,
)
from errata.generators.verify.arithmetic import (
    NUMBER_RE,
    ArithmeticError_,
    evaluate,
    format_like,
    format_number,
    parse_number,
    terminating_places,
)

OPERATOR_CONFUSIONS = {"+": ("-", "*"), "-": ("+",), "*": ("+", "/"), "/": ("*", "-")}
# Conversion factors, the units they convert between, and the factor a careless solver uses.
CONVERSION_MIXUPS: dict[int, tuple[str, tuple[int, ...]]] = {
    60: (r"second|minute|hour", (100, 30)),
    100: (r"cent|centimet", (10, 1000)),
    12: (r"inch|foot|feet|month|dozen", (10, 6)),
    24: (r"hour|day", (12, 60)),
    7: (r"day|week", (5, 10)),
    1000: (r"gram|kilo|met|millilit|ml|liter|litre", (100, 10)),
    52: (r"week|year", (48, 50)),
    365: (r"day|year", (360, 300)),
    16: (r"ounce|pound", (8, 10)),
}
UNIT_WORD_RES = {
    factor: re.compile(rf"\b({units})", re.IGNORECASE)
    for factor, (units, _) in CONVERSION_MIXUPS.items()
}
_SPACED_OP_RE = re.compile(r"\d\s+[-+*/x×÷]\s+\d")
# Words that lead from a premise to the calculation that uses it.
_PREMISE_RE = re.compile(r"\b(?:so|then)\b", re.IGNORECASE)


class InjectionFailed(Exception):
    """No valid injection of this kind; `reason` is the reject code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Edit:
    """One rule's change to one computation."""

    node: int
    tokens: tuple[Token, ...]
    value_override: Fraction | None = None  # a wrong result for a correct expression
    removed_step: int | None = None  # missing_step drops the step that computed `node`'s input
    allow_fraction: bool = False  # a swapped division really does give 0.5 of a whole thing
    in_place: bool = True  # numbers may be rewritten where they stand (not for swaps: units)
    facts: dict[str, str] = field(default_factory=dict)  # what the explanation states


@dataclass(frozen=True)
class Injection:
    error_type: str
    node: int
    first_error_step: int  # first wrong step, indexed in wrong_steps
    resume_step: int  # where the correct continuation starts, indexed in the original steps
    removed_step: int | None
    wrong_steps: list[str]
    wrong_answer: str
    original_expression: str
    wrong_expression: str
    original_value: Fraction
    wrong_value: Fraction
    facts: dict[str, str]


# ---------------------------------------------------------------- candidate sites per rule


def _calculation(program: Program, rng: random.Random) -> Iterator[Edit]:
    untried: list[tuple[Node, list[Fraction]]] = []
    for node in _shuffled(program.nodes, rng):
        if all(t.is_number for t in node.tokens):
            continue  # `<<40=40>>` restates a value; there is no calculation to get wrong
        value = node.value
        options = [value + 1, value - 1, value + 2, value + 10, value - 10, _digit_swap(value)]
        # A wrong result keeps the sign of the right one (a temperature of -30 may become -31).
        options = [v for v in options if v is not None and v * value > 0 and v != value]
        wrong = rng.choice(options) if options else None
        if wrong is not None:
            untried.append((node, [v for v in options if v != wrong]))
            yield Edit(node.index, node.tokens, value_override=wrong)
    # Then the other wrong results, where the first one made a later step fractional
    # (`26 / 5`) but another divides (`35 / 5`).
    for node, options in untried:
        for wrong in options:
            yield Edit(node.index, node.tokens, value_override=wrong)


def _wrong_operator(program: Program, rng: random.Random) -> Iterator[Edit]:
    for node in _shuffled(program.nodes, rng):
        ops = [i for i, t in enumerate(node.tokens) if t.text in OPERATOR_CONFUSIONS and i > 0]
        for i in _shuffled(ops, rng):
            old = node.tokens[i].text
            for new in _shuffled(list(OPERATOR_CONFUSIONS[old]), rng):
                tokens = _with(node.tokens, i, Token(new, False))
                yield Edit(node.index, tokens, facts={"old_op": old, "new_op": new})


def _swapped_operands(program: Program, rng: random.Random) -> Iterator[Edit]:
    for node in _shuffled(program.nodes, rng):
        for i in _shuffled(_simple_binary_ops(node.tokens, "-/"), rng):
            left, right = node.tokens[i - 1], node.tokens[i + 1]
            if left.value == right.value:
                continue
            tokens = _with(_with(node.tokens, i - 1, right), i + 1, left)
            facts = {"op": node.tokens[i].text}
            yield Edit(node.index, tokens, facts=facts, allow_fraction=True, in_place=False)


def _wrong_substitution(program: Program, rng: random.Random) -> Iterator[Edit]:
    for node in _shuffled(program.nodes, rng):
        context = [q.value for q in program.quantities] + [
            n.value for n in program.nodes if n.index < node.index
        ]
        for i, token in _shuffled(node.operands, rng):
            if token.source == "const":
                continue
            others = sorted({v for v in context if v != token.value and v > 0})
            if others:
                new = rng.choice(others)
                pinned = Token(format_number(new), True)
                yield Edit(
                    node.index, _with(node.tokens, i, pinned), facts=_operand_facts(token, new)
                )


def _misread_question(program: Program, rng: random.Random) -> Iterator[Edit]:
    earlier_results = {n.value for n in program.nodes}
    for node in _shuffled(program.nodes, rng):
        for i, token in _shuffled(node.operands, rng):
            # Only numbers that unambiguously come from the question text.
            if token.source != "question" or token.value in earlier_results:
                continue
            for new in _shuffled(_misreadings(token.value), rng):
                pinned = Token(format_number(new), True)
                yield Edit(
                    node.index, _with(node.tokens, i, pinned), facts=_operand_facts(token, new)
                )


def _deleted_term(program: Program, rng: random.Random) -> Iterator[Edit]:
    for node in _shuffled(program.nodes, rng):
        tokens = node.tokens
        if "(" in (t.text for t in tokens) or len(node.operands) < 3:
            continue
        # In a flat chain `a + b + c`, dropping `op term` keeps valid arithmetic.
        for i, token in _shuffled(node.operands, rng):
            if i == 0 or tokens[i - 1].text not in "+-":
                continue
            following = tokens[i + 1].text if i + 1 < len(tokens) else "+"
            if following not in "+-":
                continue
            trimmed = tokens[: i - 1] + tokens[i + 1 :]
            yield Edit(node.index, trimmed, facts={"term": token.text, "op": tokens[i - 1].text})


def _missing_step(program: Program, rng: random.Random) -> Iterator[Edit]:
    for skipped in _shuffled(program.nodes, rng):
        consumers = program.consumers.get(skipped.index, [])
        if (
            skipped.index == program.answer_node
            or not consumers
            or len(program.nodes_in_step(skipped.step)) != 1
        ):
            continue
        consumer = program.nodes[consumers[0]]
        if consumer.step == skipped.step or any(
            program.nodes[c].step != consumer.step for c in consumers
        ):
            continue
        carried = skipped.operands[0][1]  # the value the step would have transformed
        tokens = tuple(
            Token(carried.text, True)
            if t.is_number and t.source == "step" and t.ref == skipped.index
            else t
            for t in consumer.tokens
        )
        if len(consumers) > 1 or tokens == consumer.tokens:
            continue
        yield Edit(
            consumer.index,
            tokens,
            removed_step=skipped.step,
            facts={
                "skipped_expression": spaced_expression(skipped.expression),
                "skipped_value": format_number(skipped.value),
                "carried": carried.text,
                "skipped_node": str(skipped.index),
            },
        )


def _unit_conversion(program: Program, rng: random.Random) -> Iterator[Edit]:
    for node in _shuffled(program.nodes, rng):
        for i, token in _shuffled(node.operands, rng):
            # A factor the solver supplies (not a number from the question) next to its units.
            if token.source != "const" or token.value not in CONVERSION_MIXUPS:
                continue
            factor = int(token.value)
            if not UNIT_WORD_RES[factor].search(program.steps[node.step]):
                continue
            new = Fraction(rng.choice(CONVERSION_MIXUPS[factor][1]))
            pinned = Token(format_number(new), True)
            yield Edit(node.index, _with(node.tokens, i, pinned), facts=_operand_facts(token, new))


# ---------------------------------------------------------------- what each rule says of itself


def _right(injection: Injection) -> str:
    return f"{injection.original_expression} = {format_number(injection.original_value, 2)}"


def _wrong(injection: Injection) -> str:
    return f"{injection.wrong_expression} = {format_number(injection.wrong_value, 2)}"


def _should(injection: Injection) -> str:
    return f"it should compute {_right(injection)}, not {_wrong(injection)}."


def _explain_calculation(i: Injection, step: int) -> str:
    return (
        f"Step {step} miscalculates: {i.original_expression} is "
        f"{format_number(i.original_value, 2)}, not {format_number(i.wrong_value, 2)}."
    )


def _explain_wrong_operator(i: Injection, step: int) -> str:
    return f"Step {step} uses '{i.facts['new_op']}' where it needs '{i.facts['old_op']}': " + (
        _should(i)
    )


def _explain_swapped_operands(i: Injection, step: int) -> str:
    return f"Step {step} has the operands of '{i.facts['op']}' in the wrong order: " + _should(i)


def _explain_wrong_substitution(i: Injection, step: int) -> str:
    facts = i.facts
    return (
        f"Step {step} uses {facts['new']} where it should use {facts['old']} "
        f"(from {facts['origin']}): " + _should(i)
    )


def _explain_misread_question(i: Injection, step: int) -> str:
    return f"Step {step} copies {i.facts['old']} from the question as {i.facts['new']}: " + (
        _should(i)
    )


def _explain_deleted_term(i: Injection, step: int) -> str:
    return f"Step {step} leaves out the term {i.facts['term']}: " + _should(i)


def _explain_missing_step(i: Injection, step: int) -> str:
    facts = i.facts
    return (
        f"The solution skips a step: it never computes {facts['skipped_expression']} = "
        f"{facts['skipped_value']}, so step {step} uses {facts['carried']} where it should "
        f"use {facts['skipped_value']}: " + _should(i)
    )


def _explain_unit_conversion(i: Injection, step: int) -> str:
    return (
        f"Step {step} converts units with a factor of {i.facts['new']} instead of "
        f"{i.facts['old']}: " + _should(i)
    )


@dataclass(frozen=True)
class Rule:
    """One error type: where it can apply and how it edits (`sites`), how it explains
    itself, and whether the step checker must see a false claim in the edited step (only a
    miscalculation writes one; every other rule computes its wrong expression correctly)."""

    sites: Callable[[Program, random.Random], Iterator[Edit]]
    explain: Callable[[Injection, int], str]
    checker_sees_slip: bool = False


RULES: dict[str, Rule] = {
    "calculation": Rule(_calculation, _explain_calculation, checker_sees_slip=True),
    "wrong_operator": Rule(_wrong_operator, _explain_wrong_operator),
    "swapped_operands": Rule(_swapped_operands, _explain_swapped_operands),
    "wrong_substitution": Rule(_wrong_substitution, _explain_wrong_substitution),
    "misread_question": Rule(_misread_question, _explain_misread_question),
    "deleted_term": Rule(_deleted_term, _explain_deleted_term),
    "missing_step": Rule(_missing_step, _explain_missing_step),
    "unit_conversion": Rule(_unit_conversion, _explain_unit_conversion),
}
RULE_ERROR_TYPES: tuple[str, ...] = tuple(RULES)

# ---------------------------------------------------------------- execution and rendering


def explain(injection: Injection, reference_answer: str) -> str:
    """Which step is wrong, what it used, what it should have been, and what that did to the
    final answer: true by construction."""
    head = RULES[injection.error_type].explain(injection, injection.first_error_step + 1)
    return (
        f"{head} Every later step builds on that value, so the final answer comes out as "
        f"{injection.wrong_answer} instead of {reference_answer}."
    )


def inject(program: Program, error_type: str, seed: int, max_sites: int = 12) -> Injection:
    """The first valid injection of `error_type` among seeded candidate sites."""
    rule = RULES.get(error_type)
    if rule is None:
        raise InjectionFailed("unknown_error_type", f"no rule for {error_type!r}")
    rng = random.Random(seed)
    last: InjectionFailed | None = None
    for tried, edit in enumerate(rule.sites(program, rng)):
        if tried >= max_sites:
            break
        try:
            return _apply(program, error_type, edit)
        except InjectionFailed as failure:
            last = failure
    if last is None:
        raise InjectionFailed("no_site", f"the solution has no place for a {error_type} error")
    raise last


def _apply(program: Program, error_type: str, edit: Edit) -> Injection:
    old_tokens = [n.tokens for n in program.nodes]
    new_tokens: list[tuple[Token, ...]] = []
    new_values: list[Fraction] = []
    question_values = {q.value for q in program.quantities}
    for node in program.nodes:
        tokens = edit.tokens if node.index == edit.node else node.tokens
        for token in tokens:
            if token.source == "step" and token.is_number and new_values[token.ref] != token.value:
                _require_unambiguous_source(program, node, token, question_values)
        tokens = tuple(
            replace(t, text=_plain(new_values[t.ref])) if t.source == "step" and t.is_number else t
            for t in tokens
        )
        if node.index == edit.node and edit.value_override is not None:
            value = edit.value_override
        else:
            try:
                value = evaluate("".join(t.text for t in tokens))
            except ArithmeticError_ as exc:
                raise InjectionFailed("not_computable", str(exc)) from exc
        value = _plausible(node, value, edit.allow_fraction)
        new_tokens.append(tokens)
        new_values.append(value)
    _require_visible_rewrite(program, edit)
    wrong_answer = new_values[program.answer_node] * program.answer_scale
    if wrong_answer == program.answer:
        raise InjectionFailed("answer_unchanged", "the edit does not change the final answer")

    changed = {
        n.index
        for n in program.nodes
        if new_values[n.index] != n.value
        or token_meaning(new_tokens[n.index]) != token_meaning(old_tokens[n.index])
    }
    if edit.removed_step is not None:
        skipped = int(edit.facts["skipped_node"])
        new_values[skipped] = parse_number(edit.facts["carried"])
        changed.add(skipped)
    steps = _render_steps(
        program, new_tokens, new_values, changed, edit.removed_step, program.nodes[edit.node].step
    )
    node = program.nodes[edit.node]
    first_error_step = node.step - (1 if edit.removed_step is not None else 0)
    return Injection(
        error_type=error_type,
        node=edit.node,
        first_error_step=first_error_step,
        resume_step=edit.removed_step if edit.removed_step is not None else node.step,
        removed_step=edit.removed_step,
        wrong_steps=steps,
        wrong_answer=format_number(wrong_answer, 2),
        original_expression=spaced_expression(node.expression),
        wrong_expression=spaced_expression("".join(t.text for t in new_tokens[edit.node])),
        original_value=node.value,
        wrong_value=new_values[edit.node],
        facts=edit.facts,
    )


def _require_unambiguous_source(
    program: Program, node: Node, token: Token, question_values: set[Fraction]
) -> None:
    """A changed result carries forward only into operands that can only be that result: an
    operand whose value is also a question number or another earlier result (`$2 x 2` after a
    discount of $2, for 2 tubs) may be either, and rewriting the wrong one is a second error."""
    if token.value in question_values or any(
        n.value == token.value and n.index != token.ref and n.index < node.index
        for n in program.nodes
    ):
        raise InjectionFailed(
            "ambiguous_source", f"{token.text} in step {node.step} may not be the changed result"
        )


def _require_visible_rewrite(program: Program, edit: Edit) -> None:
    """An edited expression must be rewritable where the step also writes it out in words."""
    node = program.nodes[edit.node]
    if node.mirror_span or edit.tokens == node.tokens or node.annotation_span is None:
        return
    if node.loose_mirror and edit.in_place and _shape(edit.tokens) == _shape(node.tokens):
        return
    text = program.steps[node.step]
    earlier = [n for n in program.nodes_in_step(node.step) if n.index < node.index]
    start = max(((n.shown_span or n.annotation_span)[1] for n in earlier), default=0)
    operands = {t.value for _, t in node.operands}
    for match in NUMBER_RE.finditer(text, start, node.annotation_span[0]):
        if parse_number(match.group(0)) in operands:
            raise InjectionFailed(
                "unmirrored_expression", "the step writes the expression in a form we cannot edit"
            )


def _plausible(node: Node, value: Fraction, allow_fraction: bool = False) -> Fraction:
    """Reject values no grade-school solver would write; round like the solution does."""
    if value < 0 <= node.value:
        raise InjectionFailed("implausible_value", f"a positive quantity became {value}")
    if node.value < 0 <= value:  # `-6 + 3` would lose its sign, a change of wording
        raise InjectionFailed("implausible_value", f"a negative quantity became {value}")
    places = terminating_places(value, max(node.places, 2))
    if value.denominator != 1 and node.value.denominator == 1 and not (allow_fraction and places):
        raise InjectionFailed("implausible_value", "a whole quantity became fractional")
    if places is None:
        return Fraction(format_number(value, max(node.places, 2)))
    return value


def _render_steps(
    program: Program,
    new_tokens: list[tuple[Token, ...]],
    new_values: list[Fraction],
    changed: set[int],
    removed_step: int | None,
    edited_step: int,
) -> list[str]:
    old_to_new = {program.nodes[i].value: new_values[i] for i in changed}
    protected = {q.value for q in program.quantities} | {
        n.value for n in program.nodes if n.index not in changed
    }
    steps = []
    for step_index, text in enumerate(program.steps):
        if step_index == removed_step:
            continue
        nodes = program.nodes_in_step(step_index)
        edits: list[tuple[int, int, str]] = []
        handled: list[tuple[int, int]] = []
        for node in nodes:
            spans = [s for s in (node.mirror_span, node.annotation_span, node.shown_span) if s]
            if node.loose_mirror and node.index in changed:
                spans += [*node.loose_mirror[0], *node.loose_mirror[1]]
            handled.extend(spans)
            if node.index not in changed:
                continue
            edits.extend(_node_edits(text, node, new_tokens[node.index], new_values[node.index]))
        # Prose mentions of a changed value: after it was computed ("She has 13 eggs"), and a
        # step's own result stated before its calculation ("gets 3 omelets because 9 / 3 =
        # 3"), so a slip changes the number its sentence states too.
        for match in NUMBER_RE.finditer(text):
            start, end = match.span()
            if any(a <= start < b for a, b in handled):
                continue
            value = parse_number(match.group(0))
            if _signed(text, start):  # "It was -3 degrees": the sign is the number's
                if (
                    value in old_to_new
                    and -value not in {*old_to_new, *protected}
                    and _stated_by(program, value, step_index, changed)
                ):
                    # `-50 + 100 = <<100-50=50>>50`: the operand may be the changed 50. Not
                    # where -50 is itself an unchanged result or question number (it is that
                    # number), nor before the changed 50 is computed.
                    raise InjectionFailed(
                        "ambiguous_mention", f"step {step_index} mentions -{match[0]} ambiguously"
                    )
                start, value = start - 1, -value
            if value not in old_to_new or not _stated_by(program, value, step_index, changed):
                continue
            if value in protected and _quotes_question(program, text, start, end):
                continue  # "at an elevation of 3,000 feet", as the question says: its number
            if (
                value in protected
                and step_index > edited_step
                and _premise(program, step_index, new_tokens, changed, value, end)
            ):
                continue  # "his supplies cost $20 then his profit is 40 - 20 = 20"
            if value in protected and not _states_own_result(text, nodes, changed, value, end):
                raise InjectionFailed(
                    "ambiguous_mention", f"step {step_index} mentions {match.group(0)} ambiguously"
                )
            edits.append((start, end, format_like(old_to_new[value], match.group(0))))
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        steps.append(text)
    return steps


def _states_own_result(
    text: str, nodes: list[Node], changed: set[int], value: Fraction, mention_end: int
) -> bool:
    """Whether a mention is the result its step goes on to compute, as in "The average is
    80 because 240 / 3 = <<240/3=80>>80": the next number after it starts that calculation.
    Then it is the result even where the question has the same number, unless the calculation
    also uses that number ("his supplies cost $20 then his profit is 40 - 20 = 20")."""
    for node in nodes:
        if node.index not in changed or node.value != value:
            continue
        if any(token.value == value for _, token in node.operands):
            continue
        if _computed_next(node, text, mention_end) is not None:
            return True
    return False


def _computed_next(node: Node, text: str, mention_end: int) -> int | None:
    """Where `node`'s calculation starts in its step's `text`, when it is the next number
    after a mention ending at `mention_end`; else None."""
    start = (node.mirror_span or node.annotation_span or (None, None))[0]
    if start is None or start < mention_end or NUMBER_RE.search(text, mention_end, start):
        return None
    return start


def _premise(
    program: Program,
    step: int,
    new_tokens: list[tuple[Token, ...]],
    changed: set[int],
    value: Fraction,
    mention_end: int,
) -> bool:
    """Whether a mention is a premise its step goes on to compute with, unchanged: "his
    supplies cost $20 then his profit is 40 - 20 = 20", "Bob started with 4 white fish, so
    he bought 8 - 4 = 4". The sentence goes on with `so` or `then`, and no other number, to
    the one changed result with this value, which uses the value as an operand that is not a
    changed result. (`because` states a result: "He has $10 left because 150 - 130 - 10 =
    10".) Only in a step after the edit: in the edited step a number equal to its old result
    reads as that result, still stated."""
    holders = [n for n in program.nodes if n.index in changed and n.value == value]
    if len(holders) != 1 or holders[0].step != step:
        return False
    node, text = holders[0], program.steps[step]
    start = _computed_next(node, text, mention_end)
    if start is None or not _PREMISE_RE.search(text, mention_end, start):
        return False
    operands = [t for t in new_tokens[node.index] if t.is_number and t.value == value]
    return bool(operands) and all(t.source != "step" or t.ref not in changed for t in operands)


def _quotes_question(program: Program, text: str, start: int, end: int) -> bool:
    """Whether a mention repeats a question number with its words: the two words after it
    ("5 equal parts", "$5 per hour"), or the word before and the word after it ("of 3,000
    feet", "eats 15 slices"), as the question writes them. Such a mention is the question's
    number, not a result that happens to have the same value."""
    head = text[:start]
    following = re.match(r"\s+([A-Za-z]+)(?:\s+([A-Za-z]+))?", text[end:])
    if not following:
        return False
    dollar = r"\$\s?" if head.endswith("$") else ""
    number = dollar + re.escape(text[start:end])
    first, second = following.groups()
    patterns = []
    if second:
        patterns.append(rf"(?<![\w.,$]){number}\s+{first}\s+{second}\b")
    previous = re.search(r"\b([A-Za-z]+)\s+\$?$", head)
    if previous:
        patterns.append(rf"\b{previous.group(1)}\s+{number}\s+{first}\b")
    return any(re.search(p, program.question, re.IGNORECASE) for p in patterns)


def _stated_by(program: Program, value: Fraction, step: int, changed: set[int]) -> bool:
    """Whether `value` is the result of a changed computation in this step or an earlier one.
    A mention before the changed result exists ("he sells 20 candles" where a later step's
    result is also 20) states the question's number or an unchanged result: it stays."""
    return any(
        node.value == value and node.step <= step and node.index in changed
        for node in program.nodes
    )


def _node_edits(
    text: str, node: Node, tokens: tuple[Token, ...], value: Fraction
) -> list[tuple[int, int, str]]:
    expression = "".join(t.text for t in tokens)
    edits = []
    if node.annotation_span:
        start, end = node.annotation_span
        claim = format_like(value, "0." + "0" * node.places if node.places else "0")
        edits.append((start, end, f"<<{claim if node.restated else expression}={claim}>>"))
    if node.shown_span:
        start, end = node.shown_span
        edits.append((start, end, format_like(value, text[start:end])))
    if node.mirror_span:
        start, end = node.mirror_span
        edits.append((start, end, _mirror(text[start:end], node.tokens, tokens)))
    elif node.loose_mirror and _shape(tokens) == _shape(node.tokens):
        number_spans, operator_spans = node.loose_mirror
        old_numbers = [t for t in node.tokens if t.is_number]
        new_numbers = [t for t in tokens if t.is_number]
        for (start, end), old, new in zip(number_spans, old_numbers, new_numbers, strict=True):
            if old.value != new.value:
                edits.append((start, end, format_like(new.value, text[start:end])))
        old_ops = [t.text for t in node.tokens if not t.is_number]
        new_ops = [t.text for t in tokens if not t.is_number]
        for (start, end), old_op, new_op in zip(operator_spans, old_ops, new_ops, strict=True):
            if old_op != new_op:
                edits.append(
                    (start, end, "x" if new_op == "*" and text[start:end] in "xX" else new_op)
                )
    return edits


def _mirror(written: str, old: tuple[Token, ...], new: tuple[Token, ...]) -> str:
    """Rewrite the visible expression: keep its formatting when only numbers changed."""
    same_shape = [t.is_number or t.text for t in old] == [t.is_number or t.text for t in new]
    numbers = list(NUMBER_RE.finditer(written))
    new_numbers = [t for t in new if t.is_number]
    if same_shape and len(numbers) == len(new_numbers):
        out = written
        old_numbers = [t for t in old if t.is_number]
        pairs = zip(numbers, old_numbers, new_numbers, strict=True)
        for match, before, token in reversed(list(pairs)):
            start = match.start()
            if before.value < 0 and written[:start].endswith("-"):
                start -= 1  # a signed operand, `-6 + 3`: its sign goes with its value
            styled = format_like(token.value, written[start : match.end()])
            out = out[:start] + styled + out[match.end() :]
        return out
    spaced = bool(_SPACED_OP_RE.search(written))
    dollars = "$" in written
    parts = []
    for token in new:
        if token.is_number:
            parts.append(("$" if dollars else "") + format_number(token.value, 2))
        else:
            parts.append(token.text)
    return (" " if spaced else "").join(parts).replace("( ", "(").replace(" )", ")")


# ---------------------------------------------------------------- small helpers


def _signed(text: str, start: int) -> bool:
    """Whether the number at `start` carries a minus sign, `was -3` or `= -6`, rather than
    following a subtraction, `20-8` or `2 -8`."""
    if not text[:start].endswith("-"):
        return False
    head = text[: start - 1]
    if head and (head[-1].isalnum() or head[-1] in ").%"):
        return False
    previous = head.rstrip()
    return not previous or not (previous[-1].isdigit() or previous[-1] in ").%")


def _shape(tokens: tuple[Token, ...]) -> list:
    """Numbers and operators by position, values ignored."""
    return [t.is_number or (t.text in "()" and t.text) for t in tokens]


def _plain(value: Fraction) -> str:
    return format_number(value, 6)


def _with(tokens: tuple[Token, ...], index: int, token: Token) -> tuple[Token, ...]:
    return (*tokens[:index], token, *tokens[index + 1 :])


def _shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def _simple_binary_ops(tokens: tuple[Token, ...], ops: str) -> list[int]:
    """Operators whose operands are bare numbers bound to them alone (`a - b` in `a - b + c`)."""
    found = []
    for i in range(1, len(tokens) - 1):
        if tokens[i].text not in ops or not (tokens[i - 1].is_number and tokens[i + 1].is_number):
            continue
        before = tokens[i - 2].text if i >= 2 else "("
        after = tokens[i + 2].text if i + 2 < len(tokens) else ")"
        binds_left = before in "(+" or (before == "-" and tokens[i].text in "*/")
        if binds_left and after in ")+-":
            found.append(i)
    return found


def _operand_facts(token: Token, new: Fraction) -> dict[str, str]:
    origin = {"step": "an earlier result", "question": "the question", "const": "a constant"}
    return {
        "old": token.text,
        "new": format_number(new),
        "origin": origin[token.source],
        "ref": "" if token.ref is None else str(token.ref),
    }


def _digit_swap(value: Fraction) -> Fraction | None:
    if value.denominator != 1 or value < 10:
        return None
    digits = str(value.numerator)
    for i in range(len(digits) - 1, 0, -1):
        if digits[i] != digits[i - 1] and not (i == 1 and digits[i] == "0"):
            swapped = digits[: i - 1] + digits[i] + digits[i - 1] + digits[i + 1 :]
            return Fraction(int(swapped))
    return None


def _misreadings(value: Fraction) -> list[Fraction]:
    options = [_digit_swap(value)]
    if value.denominator == 1:
        options += [value + 1, value - 1] if value < 10 else [value + 10, value - 10]
    return [v for v in options if v is not None and v > 0 and v != value]
