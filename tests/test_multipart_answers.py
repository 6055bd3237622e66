"""Multi-part final answers: tuples, sets, solution lists, assignments, unions of intervals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errata.generators.verify.answers import verify_answer, verify_answers
from errata.generators.verify.multipart import (
    Group,
    Part,
    check_parts,
    check_parts_without_sympy,
    read_answer,
)

# (prediction, reference): every exact or reordered match (where order does not matter).
EQUIVALENT = [
    # tuples
    ("(1, 2)", "(1,2)"),
    ("\\left( 3, \\frac{1}{2} \\right)", "(3, 0.5)"),
    ("(1,000, 2)", "(1000, 2)"),
    ("(-1, 2, 5)", "(-1,2,5)"),
    ("(\\sqrt{2}, 1)", "(\\sqrt 2, 1)"),
    # sets of tuples
    ("(1, 2), (3, 4)", "(3,4),(1,2)"),
    ("\\{(1,2),(3,4)\\}", "(3, 4), (1, 2)"),
    ("(0, 0), (1, 1), (2, 4)", "(2,4), (0,0), (1,1)"),
    ("\\boxed{(1,-1) \\text{ and } (-1,1)}", "(-1, 1), (1, -1)"),
    ("(x, y) = (1, 2), (3, 4)", "(x,y) = (3,4), (1,2)"),
    ("(1, 2, 3), (3, 2, 1)", "(3,2,1),(1,2,3)"),
    ("The answer is (1, 2) and (3, 4).", "(3, 4), (1, 2)"),
    # sets and lists of values
    ("\\{1, 2, 3\\}", "3, 2, 1"),
    ("1, 2, 3", "\\left\\{3, 1, 2\\right\\}"),
    ("\\frac{1}{2}, -3", "-3, 0.5"),
    ("The answer is $1$ and $2$.", "2, 1"),
    ("The answer is 1 or 2.", "\\{1, 2\\}"),
    ("\\boxed{2 \\text{ or } -3}", "-3, 2"),
    ("1,000, 2,000", "2000, 1000"),
    ("\\sqrt{2}, -\\sqrt{2}", "-\\sqrt2, \\sqrt2"),
    ("x^2, 2x", "2x, x^2"),
    ("\\pm 2", "2, -2"),
    ("2, 2, 3", "3, 2, 2"),
    ("3; 4", "4, 3"),
    # several solutions of one unknown
    ("x = 1, x = -2", "x=-2, x=1"),
    ("x = 1, x = -2", "1, -2"),
    ("\\boxed{x = 3 \\text{ or } x = -2}", "x=-2, x=3"),
    ("x \\in \\{1, -2\\}", "x = -2, x = 1"),
    ("x = \\frac{1 \\pm \\sqrt{5}}{2}", "\\frac{1+\\sqrt5}{2}, \\frac{1-\\sqrt5}{2}"),
    (
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k",
        "x = \\frac{\\pi}{3} + \\pi k, \\frac{\\pi}{6} + \\pi k",
    ),
    (
        "\\boxed{x = \\frac{\\pi}{6} + k\\pi, x = \\frac{\\pi}{3} + k\\pi}",
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k",
    ),
    (
        "\\boxed{x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k, k \\in \\mathbb{Z}}",
        "x = \\frac{\\pi}{3} + \\pi k, \\frac{\\pi}{6} + \\pi k",
    ),
    (
        "\\boxed{x = \\pm\\frac{\\pi}{3} + 2\\pi k, k \\in \\mathbb{Z}}",
        "x = \\frac{\\pi}{3} + 2\\pi k, -\\frac{\\pi}{3} + 2\\pi k",
    ),
    ("\\boxed{x = 2\\pi k \\text{ where } k \\in \\mathbb{Z}}", "x = 2k\\pi"),
    # assignments
    ("a = 3, b = 4", "b=4, a=3"),
    ("a=3,b=4", "a = 3, b = 4"),
    ("x = 1, y = 2", "(1, 2)"),
    ("y = 2, x = 1", "(1, 2)"),
    ("(x, y) = (2, 1)", "x = 2, y = 1"),
    ("x = \\frac{1}{2}, y = -\\frac{3}{4}", "x=0.5, y=-0.75"),
    ("x = 1,000, y = 2", "y = 2, x = 1000"),
    # intervals and unions
    ("[1, 2)", "\\left[1, 2\\right)"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)"),
    ("x \\in (-\\infty, 2) \\cup (3, \\infty)", "(-\\infty, 2) \\cup (3, \\infty)"),
    ("(-\\infty, -1] \\cup [1, \\infty)", "[1, \\infty) \\cup (-\\infty, -1]"),
    ("[0, 1] \\cup [2, 3]", "[2,3] \\cup [0,1]"),
    ("(-\\infty, 1) \\cup [1, 2)", "(-\\infty, 2)"),
    ("(1,000, 2,000]", "(1000, 2000]"),
    ("(-\\infty, 1,000) \\cup (2,000, \\infty)", "(2000, \\infty) \\cup (-\\infty, 1000)"),
]

# (prediction, reference): each differs from a right answer in exactly one part.
NEAR_MISSES = [
    # tuples: swapped order, a missing or extra item, one wrong value
    ("(1, 2)", "(2, 1)"),
    ("(1, 2, 3)", "(1, 3, 2)"),
    ("(1, 2)", "(1, 2, 3)"),
    ("(1, 2, 3)", "(1, 2)"),
    ("(1,000, 2)", "(1, 0, 2)"),
    ("(1,000, 2)", "(1000, 3)"),
    ("(3, \\frac{1}{2})", "(3, \\frac{1}{3})"),
    # sets of tuples
    ("(1, 2), (3, 4)", "(1, 2)"),
    ("(1, 2)", "(1, 2), (3, 4)"),
    ("(1, 2), (3, 5)", "(1,2),(3,4)"),
    ("(1, 2), (4, 3)", "(1,2),(3,4)"),
    ("(0,0),(1,1),(2,5)", "(0, 0), (1, 1), (2, 4)"),
    ("(1, 2), (1, 2)", "(1, 2), (2, 1)"),
    ("\\{(1,2),(3,4),(5,6)\\}", "(1,2),(3,4)"),
    ("(x, y) = (1, 2), (4, 3)", "(x,y) = (3,4), (1,2)"),
    # sets and lists of values
    ("1, 2, 4", "1, 2, 3"),
    ("1, 2", "1, 2, 3"),
    ("1, 2, 3, 4", "\\{1, 2, 3\\}"),
    ("1, 1, 2", "1, 2"),
    ("\\frac{1}{2}, 3", "\\frac{1}{3}, 3"),
    ("The answer is 1 and 3.", "1, 2"),
    ("1,000, 2,000", "1000, 3000"),
    ("\\sqrt{2}, \\sqrt{2}", "\\sqrt2, -\\sqrt2"),
    ("\\pm 2", "2, -3"),
    ("x^2, 3x", "2x, x^2"),
    # several solutions of one unknown
    ("x = 1", "x = 1, x = -2"),
    ("x = 1, x = 2", "x = 1, x = -2"),
    ("x = 1, x = -2, x = 3", "x = 1, x = -2"),
    ("y = 1, y = -2", "x = 1, x = -2"),
    ("x \\in \\{1, 2\\}", "x = 1, x = -2"),
    (
        "x = \\frac{\\pi}{6} + \\pi k",
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k",
    ),
    (
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{4} + \\pi k",
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k",
    ),
    (
        "x = \\frac{\\pi}{6} + 2\\pi k, \\frac{\\pi}{3} + \\pi k",
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k",
    ),
    (
        "\\boxed{x = \\frac{\\pi}{6} + \\pi k, k \\in \\mathbb{Z}}",
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k",
    ),
    (
        "\\boxed{x = \\pm\\frac{\\pi}{3} + \\pi k, k \\in \\mathbb{Z}}",
        "x = \\frac{\\pi}{3} + 2\\pi k, -\\frac{\\pi}{3} + 2\\pi k",
    ),
    # assignments
    ("a = 4, b = 3", "a = 3, b = 4"),
    ("a = 3, c = 4", "a = 3, b = 4"),
    ("a = 3, b = 4, c = 5", "a = 3, b = 4"),
    ("(2, 1)", "x = 1, y = 2"),
    ("(x, y) = (2, 1)", "x = 1, y = 2"),
    ("x = 1, y = 2, z = 3", "(1, 3, 2)"),
    ("x = \\frac{1}{2}, y = -\\frac{3}{4}", "x = 0.5, y = 0.75"),
    # intervals and unions
    ("[1, 2]", "(1, 2)"),
    ("(-\\infty, 2] \\cup (3, \\infty)", "(-\\infty, 2) \\cup (3, \\infty)"),
    ("(-\\infty, 2)", "(-\\infty, 2) \\cup (3, \\infty)"),
    ("(-\\infty, 2) \\cup (4, \\infty)", "(-\\infty, 2) \\cup (3, \\infty)"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty, 2), (3, \\infty)"),
    ("(1,000, 2,000]", "(1000, 2000)"),
    ("(-\\infty, 1,000) \\cup (2,000, \\infty)", "(-\\infty, 1000) \\cup (3000, \\infty)"),
]


@pytest.mark.parametrize(("prediction", "reference"), EQUIVALENT)
def test_equivalent_multi_part_answers_are_correct(prediction: str, reference: str) -> None:
    check = verify_answer(prediction, reference)
    assert check.verdict == "correct", check


@pytest.mark.parametrize(("prediction", "reference"), NEAR_MISSES)
def test_one_part_off_is_incorrect(prediction: str, reference: str) -> None:
    check = verify_answer(prediction, reference)
    assert check.verdict == "incorrect", check


def test_corpus_size() -> None:
    assert len(EQUIVALENT) >= 40 and len(NEAR_MISSES) >= 40


# --- commas ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("(1,000, 2)", "(1000, 2)"),  # bare comma before three digits: thousands
        ("1,000, 2,000", "1000, 2000"),
        ("1,234,567, 8", "8, 1234567"),
        ("(1,000,2)", "(1, 0, 2)"),  # `1,000,2` is not grouped like thousands: a list
        ("1, 000", "0, 1"),  # a space after the comma: a separator
        ("0.5,100", "100, 0.5"),  # no thousands after a decimal point
        ("1{,}000, 2", "2, 1000"),  # LaTeX's thousands comma sits in braces
        ("100,200,300", "100200300"),  # grouped like thousands: one number, as today
        ("[0,360)", "[0, 360)"),  # ambiguous, so math-verify reads the interval
    ],
)
def test_comma_rule(prediction: str, reference: str) -> None:
    assert verify_answer(prediction, reference).verdict == "correct"


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [("1,2", "12"), ("1,000", "1, 0"), ("(1,000, 2)", "(1, 0, 2)"), ("1, 000", "1000")],
)
def test_comma_rule_near_misses(prediction: str, reference: str) -> None:
    assert verify_answer(prediction, reference).verdict == "incorrect"


@pytest.mark.parametrize("answer", ["(1,000)", "[0,360)", "(10,100), (2, 3)"])
def test_one_number_alone_in_brackets_is_ambiguous(answer: str) -> None:
    assert read_answer(answer) is None


def test_commas_inside_braces_and_arguments_do_not_split() -> None:
    shape = read_answer("f(1, 2), \\frac{1,2}{3}, \\sqrt[3]{2}")
    assert shape is not None
    assert [part.value for part in shape.parts] == ["f(1, 2)", "\\frac{1,2}{3}", "\\sqrt[3]{2}"]


# --- shapes ------------------------------------------------------------------------------------


def test_reads_a_list_of_tuples() -> None:
    shape = read_answer("\\{(1, 2), \\left(3, 4\\right)\\}")
    assert shape is not None
    assert shape.parts == (
        Part(None, Group("(", ")", ("1", "2"))),
        Part(None, Group("(", ")", ("3", "4"))),
    )


def test_reads_a_family_of_solutions_under_one_name() -> None:
    shape = read_answer(
        "x = \\frac{\\pi}{6} + \\pi k, \\frac{\\pi}{3} + \\pi k, k \\in \\mathbb{Z}"
    )
    assert shape is not None and shape.declares_parameter
    assert shape.unknown == "x"
    assert [part.value for part in shape.parts] == [
        "\\frac{\\pi}{6} + \\pi k",
        "\\frac{\\pi}{3} + \\pi k",
    ]


def test_reads_assignments_and_named_tuples_alike() -> None:
    assert read_answer("(x, y) = (2, 1)") == read_answer("x = 2, y = 1")
    shape = read_answer("a = 3 \\text{ and } b = 4")
    assert shape is not None and shape.assignment == {"a": "3", "b": "4"}


def test_reads_a_union_of_intervals() -> None:
    shape = read_answer("x \\in (-\\infty, 2] \\cup (3, \\infty)")
    assert shape is not None and shape.union
    assert shape.parts == (
        Part("x", Group("(", "]", ("-\\infty", "2"))),
        Part("x", Group("(", ")", ("3", "\\infty"))),
    )


def test_plus_minus_is_two_parts() -> None:
    shape = read_answer("x = \\frac{1 \\pm \\sqrt{5}}{2}")
    assert shape is not None
    assert [part.value for part in shape.parts] == [
        "\\frac{1 + \\sqrt{5}}{2}",
        "\\frac{1 - \\sqrt{5}}{2}",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        "x = 1, y = 2, x = 3",  # names neither repeat one unknown nor all differ
        "1, x = 2",
        "\\{x \\mid x > 0\\}",  # set-builder notation
        "1, 2, \\ldots",
        "x < 2 \\text{ or } x > 3",  # inequalities
        "\\pm 1 \\pm 2",
        "3 \\text{ cm}, 4 \\text{ cm}",
        "18 dollars and 50 cents",
        "(1, 2) \\cup A",
        "(1, 2",
    ],
)
def test_unknown_shapes_are_not_read(answer: str) -> None:
    assert read_answer(answer) is None


# --- who decides -------------------------------------------------------------------------------


def test_numbers_in_parts_settle_without_math_verify() -> None:
    check = verify_answer("x = 1, x = -2", "x=-2, x=1")
    assert check.verdict == "correct"
    assert check.detail == "multi-part: 2 parts equivalent"
    assert check_parts_without_sympy("\\frac{1}{2}, 3", "3, 0.5") is None  # needs sympy


def test_structure_alone_settles_a_near_miss() -> None:
    check = check_parts_without_sympy("\\sqrt{2}, \\sqrt{3}, 1", "\\sqrt{2}, \\sqrt{3}")
    assert check is not None and check.verdict == "incorrect"
    assert check.detail == "multi-part: 3 parts, the reference has 2"


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("(1, 2]", "(1,2]"),  # a lone interval: sympy compares it exactly
        ("(-\\infty, 1) \\cup [1, 2)", "(-\\infty, 2)"),  # unions: sympy merges them
        ("\\mathbb{R}", "(-\\infty, \\infty)"),  # one value against parts
        ("3, 4", "a = 3, b = 4"),  # a bare list against names: order or set?
        ("x < 2 \\text{ or } x > 3", "(-\\infty, 2) \\cup (3, \\infty)"),  # unknown shape
    ],
)
def test_math_verify_keeps_what_it_compares_whole(prediction: str, reference: str) -> None:
    assert check_parts(prediction, reference) is None
    assert verify_answer(prediction, reference).detail.startswith("math-verify")


def test_detail_names_the_part_without_a_match() -> None:
    check = verify_answer("(1, 2), (4, 3)", "(1,2),(3,4)")
    assert check.detail == "multi-part: no reference part matches (4, 3)"


def test_tuple_against_assignment_accepts_written_or_sorted_order_only() -> None:
    assert verify_answer("(2, 1)", "y = 2, x = 1").verdict == "correct"  # as written
    assert verify_answer("(1, 2)", "y = 2, x = 1").verdict == "correct"  # as sorted
    assert verify_answer("(1, 3, 2)", "x = 1, y = 2, z = 3").verdict == "incorrect"


@pytest.mark.slow
def test_workers_compare_parts_as_single_calls_do() -> None:
    pairs = EQUIVALENT + NEAR_MISSES
    checks = verify_answers(pairs, workers=2)
    assert checks == [verify_answer(p, r) for p, r in pairs]
    assert [c.verdict for c in checks] == ["correct"] * len(EQUIVALENT) + ["incorrect"] * len(
        NEAR_MISSES
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=list("0123456789,()[]{}=x-+ ;\\kpimn"), max_size=30), st.text(max_size=30))
def test_reading_never_raises(answer: str, other: str) -> None:
    read_answer(answer)
    check_parts_without_sympy(answer, other)
