"""The step-arithmetic checker: every claim kind, names, tolerance, records, real data."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errata.generators.verify.arithmetic import ArithmeticError_, evaluate, format_number
from errata.generators.verify.steps import (
    StepVerdict,
    annotate_record,
    check_steps,
    first_error_step,
)
from tests.conftest import GSM8K_DIR, MODEL_KEYS

# Measured with benchmarks/step_checker_gsm8k.py; each flag was read and is a real slip.
REFERENCE_FLAG_CEILING = 1  # "$32 - $20 = $300" in the Suzanne problem (should be $320)
CORRECT_MODEL_FLAG_CEILING = 12  # of 2001 (0.6%), e.g. "5-3=<<5-3=2.5>>2.5 minutes"


def verdict_of(line: str) -> StepVerdict:
    return check_steps([line])[0]


def split_steps(solution: str) -> list[str]:
    return [line for line in solution.split("\n") if line.strip()]


# ---------------------------------------------------------------- calculator annotations


def test_annotation_that_holds_is_ok() -> None:
    verdict = verdict_of("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.")
    assert verdict.verdict == "ok"
    assert verdict.claims == 1  # the visible chain and its annotation are one claim
    assert verdict.detail == ""


def test_annotation_with_a_wrong_value_is_flagged() -> None:
    verdict = verdict_of("She has <<16-3-4=8>>8 eggs left.")
    assert verdict.verdict == "wrong"
    assert verdict.detail == "16-3-4 = 8 but is 9"


def test_number_printed_after_the_annotation_must_match_it() -> None:
    verdict = verdict_of("He made 75000 x .1 = <<75000*.1=7500.0>>6,000 from commission")
    assert verdict.verdict == "wrong"
    assert "7500" in verdict.detail


def test_annotation_of_a_bare_value_is_still_a_claim() -> None:
    assert verdict_of("so 12/2 = <<6=6>>6 plates").verdict == "ok"
    assert verdict_of("so <<6=7>>7 plates").verdict == "wrong"


def test_calculator_float_noise_is_not_a_slip() -> None:
    step = "That is 1/3*5 = <<1/3*5=1.6666666666666665>>1.67 hours"
    assert verdict_of(step).verdict == "ok"
    copied = "Total $4.20 + $9.45 + $1.35 = $<<4.20+9.45+1.35=14.999999999999998>>14.99."
    assert verdict_of(copied).verdict == "ok"


def test_annotation_that_is_not_arithmetic_is_unchecked() -> None:
    verdict = verdict_of("So x=<<X*.25=19.5>>19.5")
    assert verdict == StepVerdict(0, "unchecked", 0, "")


# ---------------------------------------------------------------- visible chains


@pytest.mark.parametrize(
    "line",
    [
        "She has 16 - 3 - 4 = 9 eggs.",
        "It costs $5 x 4 = $20 in all.",
        "It costs 5 × 4 = 20, or 20 ÷ 4 = 5 each.",
        "The repairs came to 80,000+50,000=$130,000",
        "He pays 20% of 50 = 10 dollars.",
        "That is 1/2 of 30 = 15 apples.",
        "She works 5 hours * 60 minutes = 300 minutes.",
        "He pays $30/hour * 8 hours = $240.",
        "The total = (3 + 2) * 4 = (10 / 2) * 4 = 20",
        "Then 2 * 3 = 6 + 4 = 10 marbles.",
        "So 2 * 3 = 6 + 4 * 2 = 20, computed left to right.",
        "The bill is 2(3 + 4) = 14 dollars.",
        "The loss is 1800 - 2000 = -200 dollars.",
        "Each gets 10/3 = 3.33 cups.",
        "Each gets 10/3 = 3.3 cups.",
        "The share is 5/20 = 25% of it.",
        "That is 5/20 * 100 = 25%.",
        "Step 1: 5 + 3 = 8",
    ],
)
def test_correct_visible_chains_are_ok(line: str) -> None:
    verdict = verdict_of(line)
    assert verdict.verdict == "ok", verdict
    assert verdict.claims >= 1


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        ("She has 16 - 3 - 4 = 8 eggs.", "16 - 3 - 4 = 8 but is 9"),
        ("It costs $5 x 4 = $21 in all.", "5 x 4 = $21 but is 20"),
        ("He pays 20% of 50 = 12 dollars.", "20% of 50 = 12 but is 10"),
        ("She works 5 hours * 60 minutes = 310 minutes.", "5 hours * 60 = 310 but is 300"),
        ("Then 2 * 3 = 6 + 4 = 11 marbles.", "6 + 4 = 11 but is 10"),
        ("Then 2 * 3 = 7 + 4 = 11 marbles.", "2 * 3 = 7 + 4 but is 6"),
        ("The total is 2 + 3 * 4 = 20.", "2 + 3 * 4 = 20 but is 14"),
        ("Each gets 10/3 = 3.34 cups.", "10/3 = 3.34 but is 3.33"),
        ("That is 2 / 8 * 100% = 50% of them.", "2 / 8 * 100% = 50% but is 25%"),
    ],
)
def test_wrong_visible_chains_are_flagged(line: str, detail: str) -> None:
    verdict = verdict_of(line)
    assert verdict.verdict == "wrong"
    assert verdict.detail == detail


@pytest.mark.parametrize(
    "line",
    [
        "#### 18",
        "A: 18",
        "The answer is 18",
        "He has 2x + 3 = 11 apples",  # algebra
        "The wait is 2:30 - 1:15 = 1:15",  # clock times
        "1 hour = 60 minutes",  # a conversion, not arithmetic
        "It weighs 3 1/2 * 2 = 7 pounds",  # a mixed number: do not guess
        "They earn 5 million + 2 = 7 million",  # scale words
        "There are 24 eggs in 1 tray x 2 trays = 48 eggs.",  # expression starts earlier
        "So 120 - 30% = 84 were left.",  # `- 30%` read two ways
        "The team played (L+8) + L = 2L + 8 = 22 games.",
    ],
)
def test_what_cannot_be_read_is_unchecked(line: str) -> None:
    assert verdict_of(line) == StepVerdict(0, "unchecked", 0, "")


def test_a_sign_before_a_power_applies_after_it() -> None:
    # `-3^2` is -(3^2), as in `arithmetic.evaluate`; the scanner folds the sign into the 3.
    assert [v.verdict for v in check_steps(["-3^2 = -9", "2 * -3^2 = -18", "(-3)^2 = 9"])] == [
        "ok",
        "ok",
        "ok",
    ]
    assert verdict_of("2 - -3^2 = 11").verdict == "ok"
    assert verdict_of("2 - -3^2 = -7").verdict == "wrong"


def test_leading_bare_number_is_a_label_not_a_claim() -> None:
    assert verdict_of("Week 2 = 5 + 3 = 8").verdict == "ok"


def test_wrong_step_is_found_at_its_index() -> None:
    steps = [
        "He buys 3 * 4 = <<3*4=12>>12 apples.",
        "He eats 2, so 12 - 2 = 10 are left.",
        "He sells them for 10 * $2 = $22.",
        "#### 22",
    ]
    verdicts = check_steps(steps)
    assert [v.verdict for v in verdicts] == ["ok", "ok", "wrong", "unchecked"]
    assert [v.index for v in verdicts] == [0, 1, 2, 3]
    assert first_error_step(verdicts) == 2


def test_first_error_step_of_a_clean_solution_is_none() -> None:
    assert first_error_step(check_steps(["2 + 2 = 4", "4 * 2 = 8", "#### 8"])) is None
    assert first_error_step([]) is None


# ---------------------------------------------------------------- named values


def test_names_defined_earlier_are_used_later() -> None:
    steps = ["Let x = the cost of a pen.", "x = 12", "x * 2 = 24", "x * 2 = 25"]
    verdicts = check_steps(steps)
    assert [v.verdict for v in verdicts] == ["unchecked", "unchecked", "ok", "wrong"]
    assert verdicts[3].detail == "x * 2 = 25 but is 24"


def test_label_of_a_chain_binds_its_result() -> None:
    steps = ["Total cost = 5 * 4 = 20", "cost + 3 = 23", "The cost + 3 = 24 dollars."]
    verdicts = check_steps(steps)
    assert [v.verdict for v in verdicts] == ["ok", "ok", "wrong"]


@pytest.mark.parametrize("name", ["total_cost", "totalCost", "T"])
def test_identifiers_and_single_letters_are_names(name: str) -> None:
    verdicts = check_steps([f"{name} = 12", f"{name} / 4 = 3", f"{name} / 4 = 4"])
    assert [v.verdict for v in verdicts] == ["unchecked", "ok", "wrong"]


def test_question_definitions_seed_the_names() -> None:
    verdicts = check_steps(["x * 2 = 10", "x * 2 = 12"], question="Let x = 5. What is 2x?")
    assert [v.verdict for v in verdicts] == ["ok", "wrong"]


def test_unknown_name_is_unchecked_never_wrong() -> None:
    assert verdict_of("cost + 3 = 23").verdict == "unchecked"


def test_a_word_inside_an_expression_is_not_taken_for_a_label() -> None:
    # `x` here is an unknown in an equation, not a definition `x = 24`.
    verdicts = check_steps(["2*x + x = 24 fish", "x * 3 = 24"])
    assert [v.verdict for v in verdicts] == ["unchecked", "unchecked"]


# ---------------------------------------------------------------- symbolic chains

SYMBOLIC_SLIP = "(A * B) + (C * D) = (-19 * 72) + (-2 * -1) = -1364 + 2 = -1362"


def test_symbolic_first_link_does_not_hide_a_slip() -> None:
    verdict = verdict_of(SYMBOLIC_SLIP)
    assert verdict.verdict == "wrong"
    assert verdict.detail == "(-19 * 72) + (-2 * -1) = -1364 + 2 but is -1366"


@pytest.mark.parametrize(
    "line",
    [
        "(A * B) + (C * D) = (-19 * 72) + (-2 * -1) = -1368 + 2 = -1366",
        "A + B = 3 + 4 = 7",
        "f(3) = 2*3 + 1 = 7",
        "The number of apples = 3 * 4 = 12",
        "Let's calculate A = (-5 + 9 * -3 - 0) = (-5 + (9 * -3) - 0) = (-5 + (-27) - 0)"
        " = (-32 - 0) = -32.",
    ],
)
def test_symbolic_chains_that_hold_are_ok(line: str) -> None:
    assert verdict_of(line).verdict == "ok"


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        ("A + B = 3 + 4 = 8", "3 + 4 = 8 but is 7"),
        ("f(3) = 2*3 + 1 = 8", "2*3 + 1 = 8 but is 7"),
        (
            "Let's calculate A = (-5 + 9 * -3 - 0) = (-5 + (9 * -3) - 0) = (-5 + (-27) - 0)"
            " = (-22 - 0) = -22.",
            "(-5 + (-27) - 0) = (-22 - 0) but is -32",
        ),
    ],
)
def test_symbolic_chains_with_a_slip_are_flagged(line: str, detail: str) -> None:
    verdict = verdict_of(line)
    assert verdict.verdict == "wrong"
    assert verdict.detail == detail


def test_a_function_argument_is_not_a_link() -> None:
    # `f(3)` is not 3: read as a value, `(3) = 7` would be a false alarm.
    assert verdict_of("f(3) = 7").verdict == "unchecked"
    assert verdict_of("g(2) + 1 = 5 + 1 = 6").verdict == "ok"


def test_symbolic_chain_slip_is_found_at_its_step() -> None:
    steps = ["A = -19 * 72 is the first product.", SYMBOLIC_SLIP, "So the answer is -1362."]
    assert first_error_step(check_steps(steps)) == 1


@st.composite
def symbolic_chains(draw: st.DrawFn) -> tuple[str, bool]:
    """(`A + B = a op b = shown`, whether shown is the value) with a non-numeric first link."""
    head = draw(st.sampled_from(["A + B", "(A * B) - C", "f(3)", "total", "g(x) + h(y)"]))
    op = draw(st.sampled_from(["+", "-", "*"]))
    a, b = draw(st.integers(-999, 999)), draw(st.integers(-999, 999))
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    shown = value + draw(st.sampled_from([0, 0, 1, -1, 10, -100]))
    return f"{head} = ({a}) {op} ({b}) = {shown}", shown == value


@given(symbolic_chains())
def test_symbolic_chain_is_ok_iff_its_numeric_links_agree(chain: tuple[str, bool]) -> None:
    line, holds = chain
    assert verdict_of(line).verdict == ("ok" if holds else "wrong")


# ---------------------------------------------------------------- records for the CLI


def test_annotate_record_adds_verdicts() -> None:
    record = {"id": "p1", "question": "Q?", "steps": ["2 + 2 = 4", "4 * 3 = 13", "#### 13"]}
    annotated = annotate_record(record)
    assert annotated["id"] == "p1"
    assert annotated["steps"] == record["steps"]
    assert annotated["first_error_step"] == 1
    assert annotated["step_verdicts"] == [
        {"index": 0, "verdict": "ok", "claims": 1, "detail": ""},
        {"index": 1, "verdict": "wrong", "claims": 1, "detail": "4 * 3 = 13 but is 12"},
        {"index": 2, "verdict": "unchecked", "claims": 0, "detail": ""},
    ]
    json.dumps(annotated)  # stays JSON-serializable
    assert "first_error_step" not in record  # the input is not mutated


def test_annotate_record_of_a_clean_solution() -> None:
    annotated = annotate_record({"steps": ["5 + 5 = 10"]})
    assert annotated["first_error_step"] is None
    assert annotated["step_verdicts"][0]["verdict"] == "ok"


@pytest.mark.parametrize(
    "record",
    [{}, {"steps": "2 + 2 = 4"}, {"steps": ["2 + 2 = 4", 5]}, {"steps": None}, []],
)
def test_annotate_record_rejects_bad_steps(record: object) -> None:
    with pytest.raises(ValueError, match="expected field 'steps' as a list of strings"):
        annotate_record(record)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties


@st.composite
def integer_claims(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """(`a op b`, the same in calculator syntax, true value, shown value) for small integers."""
    op = draw(st.sampled_from(["+", "-", "*", "x", "/"]))
    a = draw(st.integers(0, 999))
    b = draw(st.integers(0, 999))
    if op == "-" and a < b:
        a, b = b, a  # `5 - 8 = 3` passes on purpose: the sign moved into words ("3 less")
    if op == "/":
        b = max(b, 1)
        a = b * draw(st.integers(0, 99))  # exact quotients: a rounded shown value would pass
    true_value = {"+": a + b, "-": a - b, "*": a * b, "x": a * b, "/": a // b if b else 0}[op]
    shown = draw(st.one_of(st.just(true_value), st.integers(0, 10**6)))
    calculator_op = "*" if op == "x" else op
    return f"{a} {op} {b}", f"{a}{calculator_op}{b}", true_value, shown


@given(integer_claims())
def test_integer_claim_is_ok_iff_true(claim: tuple[str, str, int, int]) -> None:
    written, _, true_value, shown = claim
    assert verdict_of(f"{written} = {shown}").verdict == ("ok" if shown == true_value else "wrong")


@given(integer_claims())
def test_prose_and_annotation_agree(claim: tuple[str, str, int, int]) -> None:
    written, calculator, true_value, shown = claim
    step = f"So we get {written} = <<{calculator}={shown}>>{shown} items."
    assert verdict_of(step).verdict == ("ok" if shown == true_value else "wrong")


SYMBOLS = "0 1 2 3 10 0.5 .5 1,000 $ % + - * / x × ÷ ^ ** ( ) = << >> ½ ... – . , :"
WORDS = ["<<2*3=6>>", " apples", " of ", " cost", "Let ", " per ", " hours", "3rd", " million"]
FRAGMENTS = [*SYMBOLS.split(" "), *WORDS, "A: ", "#### ", " "]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=16).map("".join))
def test_any_text_gets_a_consistent_verdict(text: str) -> None:
    for verdict in check_steps([text, "cost = 5", text], question=text):
        assert verdict.verdict in ("ok", "wrong", "unchecked")
        assert (verdict.claims == 0) == (verdict.verdict == "unchecked")
        assert bool(verdict.detail) == (verdict.verdict == "wrong")


def test_deep_nesting_is_unchecked_not_a_crash() -> None:
    deep = "(" * 3000 + "1" + ")" * 3000
    assert verdict_of(f"{deep} = 1").verdict == "unchecked"
    assert verdict_of(f"<<{deep}=1>>1").verdict == "unchecked"


# ---------------------------------------------------------------- the shared GSM8K data


def _read(name: str) -> list[dict]:
    path = GSM8K_DIR / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_reference_answers_are_not_flagged() -> None:
    flagged = []
    for row in _read("test.jsonl"):
        steps = split_steps(row["answer"])
        index = first_error_step(check_steps(steps, row["question"]))
        if index is not None:
            flagged.append(steps[index])
    assert len(flagged) <= REFERENCE_FLAG_CEILING, flagged
    assert all("$32 - $20 = $300" in step for step in flagged)


def test_correct_model_solutions_are_rarely_flagged() -> None:
    flagged = total = 0
    for row in _read("example_model_solutions.jsonl"):
        for model in MODEL_KEYS:
            if row[model]["is_correct"]:
                total += 1
                steps = split_steps(row[model]["solution"])
                flagged += first_error_step(check_steps(steps, row["question"])) is not None
    assert total == 2001
    assert flagged <= CORRECT_MODEL_FLAG_CEILING
    assert flagged / total < 0.02


def test_annotations_agree_with_the_reference_evaluator() -> None:
    """Every reference annotation, re-stated with `evaluate`'s value, passes; plus 1 fails."""
    annotation = re.compile(r"<<([^<>=]+)=[^<>]*>>")
    checked = 0
    for row in _read("test.jsonl"):
        for expression in annotation.findall(row["answer"]):
            try:
                value = evaluate(expression)
            except ArithmeticError_:
                continue
            exact, off_by_one = format_number(value, 6), format_number(value + 1, 6)
            verdicts = check_steps([f"<<{expression}={exact}>>", f"<<{expression}={off_by_one}>>"])
            if verdicts[0].verdict == "unchecked":
                continue
            checked += 1
            assert verdicts[0].verdict == "ok", (expression, exact)
            assert verdicts[1].verdict == "wrong", expression
    assert checked > 3000
