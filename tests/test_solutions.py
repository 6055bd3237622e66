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


@pytest.mark.parametrize(
    ("solution", "reason"),
    [
        ("She makes 18 dollars.", "no_final_answer"),
        ("She makes 18 dollars.\n#### 18", "no_annotations"),
        ("She makes 9 * 2 = <<9*2=17>>17.\n#### 17", "reference_arithmetic"),
        ("She makes 9 * 2 = <<9*2=18>>18.\n#### 20", "answer_unlinked"),
        ("She makes <<sqrt(4)=2>>2.\n#### 2", "unsupported_annotation"),
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
