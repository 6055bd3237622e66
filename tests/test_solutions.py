from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest

from errata.generators.solutions import SolutionParseError, parse_program, split_steps

QUESTION = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
    "muffins for her friends every day with four. She sells the remainder at the farmers' "
    "market daily for $2 per fresh duck egg. How much in dollars does she make every day?"
)
SOLUTION = (
    "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
    "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n"
    "#### 18"
)


def test_split_steps_separates_final_answer() -> None:
    steps, answer = split_steps(SOLUTION)
    assert answer == "18"
    assert len(steps) == 2 and steps[1].startswith("She makes")


def test_dataflow_links_results_question_numbers_and_words() -> None:
    program = parse_program(QUESTION, SOLUTION)
    first, second = program.nodes
    assert [t.source for _, t in first.operands] == ["question", "question", "question"]
    # "three" and "four" are written as words in the question.
    assert [program.quantities[t.ref].text for _, t in first.operands] == ["16", "three", "four"]
    assert [(t.source, t.ref) for _, t in second.operands] == [("step", 0), ("question", 3)]
    assert program.answer_node == 1 and program.answer == Fraction(18)
    assert program.consumers == {0: [1]}


def test_mirror_and_shown_spans_point_at_the_visible_text() -> None:
    program = parse_program(QUESTION, SOLUTION)
    step = program.steps[1]
    node = program.nodes[1]
    assert step[slice(*node.mirror_span)] == "9 * 2"
    assert step[slice(*node.shown_span)] == "18"


def test_inline_claim_without_annotation_is_a_computation() -> None:
    program = parse_program(
        "Heels cost $33 and boots cost $5 more than two pairs.",
        "Two pairs cost 33 * 2 = $<<33*2=66>>66.\nThe boots cost 66 + 5 = $71.\n#### 71",
    )
    assert program.nodes[1].annotation_span is None
    assert program.nodes[program.answer_node].value == 71


def _answer_claim(solution: str, question: str = "q") -> str:
    """The visible expression of the step that yields the final answer."""
    program = parse_program(question, solution)
    node = program.nodes[program.answer_node]
    return program.steps[node.step][slice(*node.mirror_span)]


def test_prose_claim_after_an_annotation_in_the_same_step() -> None:
    solution = (
        "Pens cost 3 * 4 = <<3*4=12>>12 dollars, so the change is 20 - 12 = 8 dollars.\n#### 8"
    )
    program = parse_program("q", solution)
    assert [n.value for n in program.nodes] == [12, 8]
    assert program.nodes[1].tokens[2].source == "step"  # 12 comes from the annotation
    assert _answer_claim(solution) == "20 - 12"


def test_annotation_contents_are_not_read_again_as_prose() -> None:
    program = parse_program("q", "She makes 9 * 2 = <<9*2=18>>18 dollars.\n#### 18")
    assert len(program.nodes) == 1


def test_result_stated_in_percent_reads_percent_signs_as_written() -> None:
    solution = "So 12 of 20 passed.\nThis is 12/20 x 100% = 60% of the students.\n#### 60"
    program = parse_program("q", solution)
    assert program.nodes[program.answer_node].expression == "12/20*100"


def test_implicit_multiplication_beside_parentheses() -> None:
    assert _answer_claim("The perimeter is 2(40+9) = 98\n#### 98") == "2(40+9)"
    assert _answer_claim("(1/4)24 = 6 pints\n#### 6") == "(1/4)24"
    assert _answer_claim("Total: 3(47)+12=153 cards\n#### 153") == "3(47)+12"
    program = parse_program("q", "Total: 3(47)+12=153 cards\n#### 153")
    assert program.nodes[0].expression == "3*(47)+12"


def test_unit_words_between_operands_are_skipped() -> None:
    solution = "7 puppies / 20 puppies * 100% = 35%\n#### 35"
    assert _answer_claim(solution) == "7 puppies / 20 puppies * 100%"
    assert _answer_claim("He goes 310 miles/day - 250 miles/day = 60 miles/day\n#### 60") == (
        "310 miles/day - 250 miles/day"
    )


def test_operators_spelled_out_in_words() -> None:
    solution = (
        "They raised $174 because 83 plus 91 equals <<83+91=174>>174.\n"
        "They need $26 more because 200 minus 174 equals 26.\n#### 26"
    )
    program = parse_program("q", solution)
    assert program.nodes[program.answer_node].expression == "200-174"
    assert _answer_claim(solution) == "200 minus 174"


@pytest.mark.parametrize(
    "solution",
    [
        # A clause between the operands is a sentence, not a sum.
        "There were 25 total cars – 20 cars that drove through in the final 15 minutes = 5 cars."
        "\n#### 5",
        # A result that runs into a variable is algebra.
        "Workers: 2(2x)=4x\n#### 4",
    ],
)
def test_prose_that_is_not_arithmetic_is_not_read(solution: str) -> None:
    with pytest.raises(SolutionParseError):
        parse_program("q", solution)


@pytest.mark.parametrize(
    ("solution", "reason"),
    [
        ("She makes 18 dollars.", "no_final_answer"),
        ("She makes 18 dollars.\n#### 18", "no_annotations"),
        ("She makes 9 * 2 = <<9*2=17>>17.\n#### 17", "reference_arithmetic"),
        ("She makes 9 * 2 = <<9*2=18>>18.\n#### 20", "answer_unlinked"),
        ("She makes <<sqrt(4)=2>>2.\n#### 2", "unsupported_annotation"),
        ("So 2x = 36.\nThus x = 18\n#### 18", "answer_by_algebra"),
        ("Each costs 15/30 = $<<15/30=0.50>>0.50\n#### 50", "answer_in_other_unit"),
        ("She needs 27/4 = <<27/4=6.75>>6.75 packs, so 7 packs.\n#### 7", "answer_rounded"),
    ],
)
def test_unparseable_solutions_name_their_reason(solution: str, reason: str) -> None:
    with pytest.raises(SolutionParseError) as caught:
        parse_program("q", solution)
    assert caught.value.reason == reason


def test_gsm8k_test_solutions_parse_at_least_95_percent(gsm8k_rows: list[dict]) -> None:
    outcomes = Counter()
    for row in gsm8k_rows:
        try:
            parse_program(row["question"], row["answer"])
            outcomes["ok"] += 1
        except SolutionParseError as exc:
            outcomes[exc.reason] += 1
    assert outcomes["ok"] / len(gsm8k_rows) >= 0.95, outcomes
    # GSM8K's own annotations are correct arithmetic: none may be read as a slip.
    assert outcomes["reference_arithmetic"] == 0
