from __future__ import annotations

import re

import pytest

from errata.generators.mistakes.corrections import fix_continue, fresh_restart
from errata.generators.mistakes.inject import RULE_ERROR_TYPES, InjectionFailed, explain, inject
from errata.generators.mistakes.reflections import REFLECTIONS
from errata.generators.solutions import parse_program
from errata.generators.verify.arithmetic import NUMBER_RE
from errata.schemas.records import MATH_ERROR_TYPES

QUESTION = (
    "Mia picks 4 baskets of apples with 12 apples in each and then buys 7 more apples. "
    "She walks 3 hours to the market. She gives 5 apples to Leo. How many apples does she keep?"
)
SOLUTION = "\n".join(
    [
        "Mia picks 4 * 12 = <<4*12=48>>48 apples.",
        "With the apples she buys, she has 48 + 7 = <<48+7=55>>55 apples.",
        "She walks 3 * 60 = <<3*60=180>>180 minutes.",
        "After giving some away she keeps 55 - 5 = <<55-5=50>>50 apples.",
        "#### 50",
    ]
)


def _program():
    return parse_program(QUESTION, SOLUTION)


def _shape(step: str) -> str:
    return NUMBER_RE.sub("#", step)


@pytest.mark.parametrize("error_type", RULE_ERROR_TYPES)
def test_each_rule_is_deterministic(error_type: str) -> None:
    try:
        first = inject(_program(), error_type, seed=7)
    except InjectionFailed as failure:
        with pytest.raises(InjectionFailed) as again:
            inject(_program(), error_type, seed=7)
        assert again.value.reason == failure.reason
        return
    assert inject(_program(), error_type, seed=7) == first


def test_calculation_keeps_expression_and_carries_wrong_value() -> None:
    injection = inject(_program(), "calculation", seed=3)
    step = injection.wrong_steps[injection.first_error_step]
    annotation = re.search(r"<<([^=]+)=([^>]+)>>", step)
    assert annotation.group(1) == injection.original_expression.replace(" ", "")
    assert annotation.group(2) == str(injection.wrong_value)
    assert injection.wrong_answer != "50"


def test_wrong_operator_rewrites_visible_expression_too() -> None:
    program = parse_program(
        "Tom has 48 pens and gets 24 more.", "He has 48 + 24 = <<48+24=72>>72 pens.\n#### 72"
    )
    injection = inject(program, "wrong_operator", seed=0)
    step = injection.wrong_steps[0]
    assert step in {
        "He has 48 - 24 = <<48-24=24>>24 pens.",
        "He has 48 * 24 = <<48*24=1152>>1152 pens.",
    }
    assert injection.wrong_answer in {"24", "1152"}


def test_misread_question_uses_a_miscopied_question_number() -> None:
    injection = inject(_program(), "misread_question", seed=1)
    assert injection.facts["origin"] == "the question"
    assert injection.facts["old"] != injection.facts["new"]
    assert injection.facts["old"] in QUESTION


def test_unit_conversion_only_changes_a_conversion_factor() -> None:
    program = parse_program(
        "Sam walks 3 hours and then reads 25 pages.",
        "Sam walks 3 * 60 = <<3*60=180>>180 minutes.\n"
        "In all that is 180 + 25 = <<180+25=205>>205.\n#### 205",
    )
    injection = inject(program, "unit_conversion", seed=0)
    assert injection.facts["old"] == "60" and injection.facts["new"] in {"100", "30"}
    assert injection.first_error_step == 0


def test_unit_conversion_ignores_question_numbers() -> None:
    program = parse_program(
        "A shop sold 60 hats each month for 3 months.",
        "It sold 3 * 60 = <<3*60=180>>180 hats in those months.\n#### 180",
    )
    with pytest.raises(InjectionFailed) as caught:
        inject(program, "unit_conversion", seed=0)
    assert caught.value.reason == "no_site"


def test_missing_step_drops_one_step_and_uses_the_untransformed_value() -> None:
    injection = inject(_program(), "missing_step", seed=0)
    assert injection.removed_step is not None
    assert len(injection.wrong_steps) == len(_program().steps) - 1
    assert injection.first_error_step >= injection.removed_step


def test_deleted_term_needs_three_terms() -> None:
    program = parse_program(
        "Ann has 4 red, 7 blue and 3 green pens.",
        "Ann has 4 + 7 + 3 = <<4+7+3=14>>14 pens.\n#### 14",
    )
    injection = inject(program, "deleted_term", seed=0)
    assert injection.wrong_steps[0].count("+") == 2  # one in the text, one in the annotation
    with pytest.raises(InjectionFailed):
        inject(_program(), "deleted_term", seed=0)


def test_swapped_operands_rejects_implausible_results() -> None:
    program = parse_program(
        "Bo has 9 cards and gives away 4.", "Bo has 9 - 4 = <<9-4=5>>5 cards.\n#### 5"
    )
    with pytest.raises(InjectionFailed) as caught:
        inject(program, "swapped_operands", seed=0)
    assert caught.value.reason == "implausible_value"


def test_prose_mentions_of_a_changed_value_are_rewritten() -> None:
    program = parse_program(
        "Kim bakes 6 trays of 8 cookies and sells each cookie for $2.",
        "Kim bakes 6 * 8 = <<6*8=48>>48 cookies.\n"
        "She has 48 cookies, so she earns 48 * 2 = $<<48*2=96>>96.\n#### 96",
    )
    injection = inject(program, "calculation", seed=5)
    wrong = injection.wrong_steps[1]
    assert "48" not in wrong
    assert _shape(wrong) == _shape(program.steps[1])


def test_rules_cover_named_taxonomy_types_and_the_reflection_bank_is_varied() -> None:
    assert set(RULE_ERROR_TYPES) <= set(MATH_ERROR_TYPES)
    assert len(set(REFLECTIONS)) >= 12
    # A reflection hints at rechecking; it never gives the answer away.
    assert not any(char.isdigit() for phrase in REFLECTIONS for char in phrase)


def test_unknown_error_type_is_a_reject_reason() -> None:
    with pytest.raises(InjectionFailed) as caught:
        inject(_program(), "telepathy", seed=0)
    assert caught.value.reason == "unknown_error_type"


def test_corrections_join_the_cut_prefix_to_the_right_continuation() -> None:
    program = _program()
    injection = inject(program, "misread_question", seed=1)
    error = injection.first_error_step
    core = (injection.wrong_steps, error, program.steps, "#### 50")
    continuation, trajectory = fix_continue(
        *core, "Let me recheck.", resume_step=injection.resume_step
    )
    assert continuation.splitlines() == [*program.steps[injection.resume_step :], "#### 50"]
    assert trajectory.splitlines()[: error + 2] == [
        *injection.wrong_steps[: error + 1],
        "Let me recheck.",
    ]
    restart, _ = fresh_restart(*core, "Let me recheck.")
    assert restart.splitlines() == [*program.steps, "#### 50"]


def test_explanation_names_the_step_the_values_and_both_answers() -> None:
    injection = inject(_program(), "misread_question", seed=1)
    text = explain(injection, "50")
    assert text.startswith(f"Step {injection.first_error_step + 1} copies {injection.facts['old']}")
    assert f"as {injection.facts['new']}" in text
    assert f"comes out as {injection.wrong_answer} instead of 50" in text


def test_numbers_written_with_units_between_them_are_rewritten_in_place() -> None:
    program = parse_program(
        "Sam walks 3 miles a day for 5 days. How far does he walk?",
        "Sam walks 3 miles x 5 days = <<3*5=15>>15 miles.\n#### 15",
    )
    assert program.nodes[0].mirror_span is None and program.nodes[0].loose_mirror
    misread = inject(program, "misread_question", seed=0)
    old, new = int(misread.facts["old"]), int(misread.facts["new"])
    a, b = (new, 5) if old == 3 else (3, new)
    expected = f"Sam walks {a} miles x {b} days = <<{a}*{b}={a * b}>>{a * b} miles."
    assert misread.wrong_steps[0] == expected
    operator = inject(program, "wrong_operator", seed=0)
    assert operator.wrong_steps[0].startswith("Sam walks 3 miles + 5 days = <<3+5=8>>8")
    # Swapping would leave the units behind ("5 miles x 3 days" is fine, "4 pounds / 8 weeks"
    # is not): swaps need a clean copy of the expression and are refused here.
    division = parse_program(
        "Joey loses 8 pounds in 4 weeks.", "Joey loses 8 pounds / 4 weeks = <<8/4=2>>2.\n#### 2"
    )
    with pytest.raises(InjectionFailed):
        inject(division, "swapped_operands", seed=0)


@pytest.mark.parametrize("error_type", ["calculation", "misread_question", "wrong_operator"])
def test_a_changed_result_never_flows_into_an_operand_that_may_be_a_question_number(
    error_type: str,
) -> None:
    question = (
        "A tub of ice cream costs $13 and is on sale for $11. How much do you save on 2 tubs?"
    )
    solution = "\n".join(
        [
            "The discount for each tub is $13 - $11 = $<<13-11=2>>2.",
            "So the discount for the tubs is $2 x 2 = $<<2*2=4>>4.",
            "#### 4",
        ]
    )
    program = parse_program(question, solution)
    for seed in range(10):
        try:
            injection = inject(program, error_type, seed=seed)
        except InjectionFailed:
            continue
        assert injection.node == 1  # a misread 13 or 11 would carry into the ambiguous 2s


def test_a_mention_that_quotes_the_question_keeps_the_question_number() -> None:
    question = (
        "Stanley is at an elevation of 10,000 feet and his comb falls 4,000 feet. Oliver is at "
        "an elevation of 3,000 feet. How many feet must Oliver climb to reach the comb?"
    )
    solution = "\n".join(
        [
            "The comb is at 10,000 - 4,000 = <<10000-4000=6000>>6,000 feet.",
            "Oliver, at an elevation of 3,000 feet, must climb 6,000 - 3,000 = "
            "<<6000-3000=3000>>3,000 feet.",
            "#### 3000",
        ]
    )
    injection = inject(parse_program(question, solution), "calculation", seed=0)
    assert "at an elevation of 3,000 feet" in injection.wrong_steps[1]
    assert injection.wrong_answer != "3000"


def test_a_mention_of_an_operand_before_its_calculation_is_ambiguous() -> None:
    # "$20 then ... 40 - 20": the mention is the supplies' cost, not the profit of 20.
    question = "Supplies cost $20 and 20 candles sell for $2 each. What is the profit?"
    solution = "\n".join(
        [
            "He sells 20 candles for 2 * 20 = $<<2*20=40>>40.",
            "If he makes $40 and the supplies cost $20 then his profit is 40 - 20 = "
            "$<<40-20=20>>20.",
            "#### 20",
        ]
    )
    program = parse_program(question, solution)
    for seed in range(5):
        try:
            injection = inject(program, "calculation", seed=seed)
        except InjectionFailed:
            continue
        assert "supplies cost $20 " in injection.wrong_steps[-1]


def test_a_premise_before_a_later_calculation_keeps_its_number() -> None:
    # "supplies cost $20 then ... 40 - 20": in a step after the edit, the $20 that leads with
    # "then" to a calculation using it unchanged is that operand, not the old profit of 20.
    question = "Supplies cost $10 a pound. He needs 2 pounds and sells 20 candles at $2 each."
    solution = "\n".join(
        [
            "His supplies cost 10 * 2 = $<<10*2=20>>20.",
            "He sells 20 candles for 2 * 20 = $<<2*20=40>>40.",
            "If he makes $40 and his supplies cost $20 then his profit is 40 - 20 = "
            "$<<40-20=20>>20.",
            "#### 20",
        ]
    )
    program = parse_program(question, solution)
    kept = []
    for error_type in ("calculation", "wrong_operator", "wrong_substitution"):
        for seed in range(10):
            try:
                injection = inject(program, error_type, seed=seed)
            except InjectionFailed:
                continue
            last = injection.wrong_steps[-1]
            stated = re.search(r"supplies cost \$(\d+) then", last)
            used = re.search(r"is \d+ - (\d+) =", last)
            # The supplies' cost as stated is the one the calculation subtracts, changed or not.
            assert stated is None or (used and stated[1] == used[1]), last
            kept.append((injection.node, stated is not None))
    assert (1, True) in kept, kept  # an edit of the sales keeps the supplies' $20


def test_a_signed_operand_that_is_an_earlier_result_stays() -> None:
    # `-50 candies + 100 candies = <<100-50=50>>50`: -50 is step 1's result, so a slip in
    # step 2's 50 leaves it; the changed 50 is unsigned.
    question = "He ordered 100 candies and sold 150. Then he ordered 100 more. How many to sell?"
    solution = "\n".join(
        [
            "He sold 100 - 150 = <<100-150=-50>>-50 candies.",
            "So he orders 100 more, -50 candies + 100 candies = <<100-50=50>>50 candies.",
            "#### 50",
        ]
    )
    injection = inject(parse_program(question, solution), "calculation", seed=0)
    assert injection.node == 1 and injection.wrong_answer != "50"
    assert "-50 candies + 100 candies = <<100-50=" in injection.wrong_steps[1]
    assert injection.wrong_steps[0] == "He sold 100 - 150 = <<100-150=-50>>-50 candies."


def test_a_negative_result_can_be_miscalculated_keeping_its_sign() -> None:
    question = "Temperatures were -48, 21 and -3 degrees. What is their average?"
    solution = "\n".join(
        ["-48 + 21 + (-3) = <<-48+21+(-3)=-30>>-30", "-30/3 = <<-30/3=-10>>-10 degrees", "#### -10"]
    )
    injection = inject(parse_program(question, solution), "calculation", seed=0)
    assert injection.wrong_value < 0 and injection.wrong_answer != "-10"
