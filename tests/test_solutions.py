from __future__ import annotations

from collections import Counter
from dataclasses import replace
from fractions import Fraction

import pytest

from errata.generators.mistakes.inject import inject
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


# Real GSM8K test solutions (by line of tests/fixtures/gsm8k/test.jsonl) that parse since
# issue 10 item 5, one per newly handled class.


def test_chain_after_a_name_is_read() -> None:
    # test-00499: the computation starts an `=` chain whose left side is a name.
    solution = (
        "By subtracting 5*X from each side to get 200 = 20*X.\n"
        "Then, X = 200/20 = 10, so when there are 10 guests the two venues will be equal.\n"
        "#### 10"
    )
    assert _answer_claim(solution) == "200/20"
    # test-00756: `2V` is a name too.
    solution = (
        "Thus, there were V = 33 / 3 = <<33/3=11>>11 votes against the new regulation.\n"
        "Therefore, there were 2V = 2 * 11 = 22 votes in favor of the new regulation.\n#### 22"
    )
    program = parse_program("q", solution)
    assert _answer_claim(solution) == "2 * 11"
    assert program.nodes[1].tokens[2].source == "step"


@pytest.mark.parametrize(
    "solution",
    [
        # The left side of the `=` computes: `.5 * 100%` is the middle of a chain (test-01159).
        "2 babies / (2 babies + 2 babies) = 2 babies / 4 babies = .5 * 100% = 50%\n#### 50",
        "Total: 5+2(6)=5+6=11\n#### 11",
    ],
)
def test_chain_after_arithmetic_is_not_read(solution: str) -> None:
    with pytest.raises(SolutionParseError):
        parse_program("q", solution)


def test_annotation_restating_a_visible_computation_takes_it() -> None:
    # test-00052: `<<15=15>>` restates what `7.5 / .5` computes.
    solution = (
        "30 comic books weigh 7.5 pounds because 30 x .25 = <<30*.25=7.5>>7.5\n"
        "He needs to remove 7.5 more pounds because 15 - 7.5 = <<15-7.5=7.5>>7.5\n"
        "He needs to remove 15 toys because 7.5 / .5 = <<15=15>>15\n#### 15"
    )
    program = parse_program("q", solution)
    node = program.nodes[program.answer_node]
    assert node.expression == "7.5/.5" and node.restated
    assert node.tokens[0].source == "step"
    assert program.steps[2][slice(*node.mirror_span)] == "7.5 / .5"
    # Without a visible computation the restatement stays a constant (test-01181).
    program = parse_program("q", "2*x=40\nx=<<20=20>>20\n#### 20")
    assert program.nodes[0].expression == "20" and not program.nodes[0].restated


def test_answer_in_cents_scales_the_last_result() -> None:
    # test-00493: the question asks in cents, the last step computes dollars.
    question = (
        "Heather's razors come 4 to a pack and cost $4.00 a pack.  They are currently on sale "
        "for buy one get one free.  She also has a $2.00 coupon.  How much will each "
        "individual razor cost, in cents, after the discount if she buys 2 packs of razors?"
    )
    solution = (
        "Buy one get one free means she gets 2 packs for the price of 1 and she has a $2.00 "
        "coupon, so the razors will cost her $4-$2 = $2.00\n"
        "Each pack has 4 razors and she buys 2 packs for a total of 4*2 = <<4*2=8>>8 razors\n"
        "The razors cost $2.00 and she bought 8 so that means each razor costs $2.00/8 = "
        "$<<2/8=0.25>>0.25 each\n#### 25"
    )
    program = parse_program(question, solution)
    assert program.answer_scale == 100 and program.answer == 25
    assert program.nodes[program.answer_node].value == Fraction(1, 4)
    # The same solution to a question that does not ask in cents stays unlinked.
    with pytest.raises(SolutionParseError) as caught:
        parse_program(question.replace(", in cents,", ""), solution)
    assert caught.value.reason == "answer_in_other_unit"


def test_annotation_naming_a_fraction_is_not_a_computation() -> None:
    # test-00319: `<<3/4=3/4>>` computes nothing; the answer comes from prose and an annotation.
    solution = (
        "The total ratio representing the number of electric poles and wires is 1+3=<<1+3=4>>4\n"
        "The fraction representing the number of wires required is <<3/4=3/4>>3/4\n"
        "If 3/4 represents 45, then the total fraction which is 4/4 represents 4/4*45*4/3=60\n"
        "Since the total is 60 and the wires are 45, the poles are 60-45=<<60-45=15>>15\n"
        "#### 15"
    )
    program = parse_program("The ratio is 1:3 and there are 45 wires.", solution)
    assert [n.expression for n in program.nodes] == ["1+3", "4/4*45*4/3", "60-45"]
    assert program.nodes[2].tokens[0] == replace(program.nodes[2].tokens[0], source="step", ref=1)


def test_annotation_with_operators_in_words_has_a_mirror() -> None:
    # test-00737: the visible copy `32 minus 30` is rewritten with the annotation.
    solution = "Peter has 2 ounces of water left because 32 minus 30 equals <<32-30=2>>2.\n#### 2"
    program = parse_program("q", solution)
    assert program.steps[0][slice(*program.nodes[0].mirror_span)] == "32 minus 30"
    # test-00598: `divided by` is an operator, its `by` no unit word.
    with pytest.raises(SolutionParseError) as caught:
        parse_program("q", "He can buy 69 gum balls because 3.65 divided by .05 equals 69\n#### 69")
    assert caught.value.reason == "answer_miscomputed"
    assert "3.65 / .05 is 73, not 69" in str(caught.value)


@pytest.mark.parametrize(
    ("solution", "reason"),
    [
        # test-01024: the reference's own last computation is wrong.
        ("Her revenue is $<<240+80=320>>320.\nSo, she has $32 - $20 = $300 left.\n#### 300",
         "answer_miscomputed"),
        # A negative answer stated with no computation.
        ("Drop 8 degrees = 2 - 8 = -6 degrees\nIt rose 3 degrees to -3 degrees.\n#### -3",
         "answer_negative"),
        # Spaced thousands that are not dollar amounts may be two numbers: not joined.
        ("The net is 400 000 - 282 000 = 118 000 ml.\n#### 118000", "space_thousands"),
        # test-00808
        ("Students + tea left = 38 + 10 quarts = <<38+10=48>>48 quarts\n"
         "48 quarts = 12 gallons\n#### 12", "answer_in_other_unit"),
        # test-00226
        ("The total is 34 + 32 + 30 = <<34+32+30=96>>96 cards\n"
         "They are 32 / 96 * 100% = 33.333...%, which rounds down to 33%\n#### 33",
         "answer_rounded"),
        # test-01168: the answer follows from a solved unknown in words.
        ("6Y = 72\nY = <<12=12>>12 cm\nThe red rope was 20 cm long.\n#### 20",
         "answer_by_algebra"),
    ],
)  # fmt: skip
def test_unlinked_answers_say_exactly_why(solution: str, reason: str) -> None:
    with pytest.raises(SolutionParseError) as caught:
        parse_program("q", solution)
    assert caught.value.reason == reason, str(caught.value)


def test_a_chain_of_signed_results_carries_the_negative_value() -> None:
    # test-01113
    program = parse_program(
        "The temperature was 2 degrees Celsius. It dropped 8 degrees Celsius overnight and then "
        "increased 3 degrees Celsius in the morning. What was the temperature in the morning?",
        "Start = +<<2=2>>2 degrees\nDrop 8 degrees = 2 - 8 = -6 degrees\n"
        "Increase 3 degrees = -6 + 3 = -3 degrees\nIt was -3 degrees Celsius in the morning.\n"
        "#### -3",
    )
    assert [n.value for n in program.nodes] == [2, -6, -3]
    signed = program.nodes[2].tokens[0]
    assert (signed.text, signed.source, signed.ref) == ("-6", "step", 1)
    assert program.steps[2][slice(*program.nodes[2].shown_span)] == "-3"
    assert program.answer_node == 2
    injection = inject(program, "calculation", seed=0)
    assert injection.wrong_value < 0
    # The signed operand, the result and its later mention change as whole numbers.
    assert "--" not in injection.wrong_steps[2]
    assert injection.wrong_steps[3] == (
        f"It was {injection.wrong_answer} degrees Celsius in the morning."
    )


def test_a_subtraction_is_not_read_as_a_signed_operand() -> None:
    program = parse_program("q", "He has 20 - 8 = 12 left, then 12 -2 = 10.\n#### 10")
    assert [n.value for n in program.nodes] == [12, 10]
    assert all(not t.text.startswith("-") for n in program.nodes for t in n.tokens if t.is_number)


def test_dollar_amounts_with_spaces_between_thousands_are_joined() -> None:
    # test-00266
    question = (
        "Mr. Tan sold his house for $400 000. He paid transfer fees of 3% of the selling price. "
        "How much are his net proceeds?"
    )
    solution = (
        "Mr. Tan paid $400 000 x 3/100 = $12 000 for the transfer fees.\n"
        "Hence, Mr. Tan's net proceeds is $400 000 - $12 000 = $388 000.\n#### 388000"
    )
    program = parse_program(question, solution)
    assert [n.value for n in program.nodes] == [12000, 388000]
    assert program.steps[1] == "Hence, Mr. Tan's net proceeds is $400,000 - $12,000 = $388,000."
    assert (program.nodes[0].tokens[0].source, program.nodes[1].tokens[2].ref) == ("question", 0)
    assert 400000 in {q.value for q in program.quantities}
    # A solution that parses as written is read as written.
    plain = parse_program("q", "It costs $5 100 times, so 5 * 100 = $<<5*100=500>>500.\n#### 500")
    assert plain.steps[0].startswith("It costs $5 100 times")
