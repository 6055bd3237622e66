"""Attempts: a solution text becomes a verified Attempt record; errata's verdict, not a label."""

from __future__ import annotations

import json

import pytest

from errata.generators.sampling.attempts import (
    AttemptInput,
    attempt_id,
    solution_steps,
    verify_attempts,
)
from errata.generators.sources.gsm8k import load_gsm8k
from errata.schemas.ids import problem_id
from errata.schemas.records import Problem
from tests.conftest import GSM8K_TEST

RIGHT = (
    "She uses 3 + 4 = <<3+4=7>>7 eggs a day.\n"
    "She sells 16 - 7 = <<16-7=9>>9 eggs.\n"
    "She makes 9 * 2 = $<<9*2=18>>18.\n"
    "A: 18"
)
# An arithmetic slip in the second step carried to the end.
SLIP = (
    "She uses 3 + 4 = <<3+4=7>>7 eggs a day.\n"
    "She sells 16 - 7 = <<16-7=8>>8 eggs.\n"
    "She makes 8 * 2 = $<<8*2=16>>16.\n"
    "#### 16"
)
# Wrong reasoning, right arithmetic: no step to blame.
MISREAD = "She sells 16 - 3 = <<16-3=13>>13 eggs.\nShe makes 13 * 2 = $<<13*2=26>>26.\nA: 26"


@pytest.fixture(scope="module")
def ducks() -> Problem:
    return load_gsm8k(str(GSM8K_TEST), limit=1)[0]


def _math_problem(question: str, answer: str) -> Problem:
    return Problem(
        problem_id=problem_id("test", question),
        source="test",
        source_id=question,
        split="test",
        domain="math",
        question=question,
        reference_solution=f"\\boxed{{{answer}}}",
        reference_answer=answer,
        license="MIT",
    )


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("2 + 3 = 5\nA: 5", ["2 + 3 = 5"]),
        ("2 + 3 = 5\n#### 5", ["2 + 3 = 5"]),
        ("2 + 3 = 5\nAnswer: 5", ["2 + 3 = 5"]),
        ("2 + 3 = 5\nThe answer is 5.", ["2 + 3 = 5"]),
        ("2 + 3 = 5\nSo the answer is $\\boxed{5}$.", ["2 + 3 = 5"]),
        ("2 + 3 = 5\nTherefore, the final answer is 5", ["2 + 3 = 5"]),
        ("2 + 3 = 5\n$\\boxed{5}$", ["2 + 3 = 5"]),
        ("2 + 3 = 5\n\\[\\boxed{5}\\]", ["2 + 3 = 5"]),
        ("2 + 3 = 5\n\\boxed{5}.", ["2 + 3 = 5"]),
        # A step that computes and boxes its result is a step, not an answer line.
        ("$x + 1 = 6$\nSo $x = \\boxed{5}$.", ["$x + 1 = 6$", "So $x = \\boxed{5}$."]),
        ("  first\n\n  second  \n", ["first", "second"]),
        # Only the last line is an answer line.
        ("A: 3\nthen 3 + 2 = 5", ["A: 3", "then 3 + 2 = 5"]),
    ],
)
def test_solution_steps_drop_only_a_final_answer_line(text: str, steps: list[str]) -> None:
    assert solution_steps(text) == steps


def test_verdicts_answers_and_first_wrong_step(ducks: Problem) -> None:
    items = [
        AttemptInput(ducks, RIGHT, "llm:m"),
        AttemptInput(ducks, SLIP, "llm:m", sample=1),
        AttemptInput(ducks, MISREAD, "llm:m", sample=2),
        AttemptInput(ducks, "I am not sure how to do this.", "llm:m", sample=3),
    ]
    right, slip, misread, vague = verify_attempts(items, run_id="run-1")

    assert (right.verdict, right.final_answer, right.first_error_step) == ("correct", "18", None)
    assert right.verify_detail == "numeric 18 == 18"
    assert right.steps == RIGHT.splitlines()[:-1] and right.text == RIGHT  # `A: 18` kept in text

    assert (slip.verdict, slip.final_answer, slip.first_error_step) == ("incorrect", "16", 1)
    assert slip.verify_detail == "numeric 16 != 18"
    assert len(slip.steps) == 3 and slip.text.endswith("#### 16")

    assert (misread.verdict, misread.final_answer, misread.first_error_step) == (
        "incorrect",
        "26",
        None,
    )
    assert (vague.verdict, vague.final_answer, vague.first_error_step) == (
        "unparseable",
        None,
        None,
    )
    assert all(a.run_id == "run-1" and a.problem_id == ducks.problem_id for a in (right, slip))


def test_latex_answers_go_through_math_verify_with_the_step_checker() -> None:
    problem = _math_problem("What is $\\frac{1}{2} + \\frac{1}{3}$?", "\\frac{5}{6}")
    equal = "$\\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}$\n$\\boxed{\\dfrac{10}{12}}$"
    slip = "We add the fractions.\n$\\frac{1}{2} + \\frac{1}{3} = \\frac{2}{5}$\n\\boxed{2/5}"
    right, wrong = verify_attempts(
        [AttemptInput(problem, equal, "llm:m"), AttemptInput(problem, slip, "llm:m")], "r"
    )
    assert (right.verdict, right.final_answer) == ("correct", "\\dfrac{10}{12}")
    assert right.verify_detail == "math-verify: equivalent"
    assert (wrong.verdict, wrong.first_error_step) == ("incorrect", 1)
    assert wrong.steps == ["We add the fractions.", "$\\frac{1}{2} + \\frac{1}{3} = \\frac{2}{5}$"]


def test_fields_are_carried_and_labels_never_replace_the_verdict(ducks: Problem) -> None:
    item = AttemptInput(
        ducks,
        MISREAD,
        "llm:gpt-x",
        sample=4,
        sampling={"temperature": 0.7, "max_tokens": 512},
        source_label="correct",  # the label is wrong: 26 is not 18
        prompt_version="solve-v2",
        prompt_tokens=120,
        completion_tokens=40,
        cost_usd=0.0003,
    )
    (attempt,) = verify_attempts([item], run_id="r")
    assert attempt.verdict == "incorrect" and attempt.source_label == "correct"
    assert attempt.attempt_id == attempt_id(ducks.problem_id, "llm:gpt-x", MISREAD, 4)
    assert json.loads(attempt.sampling) == {"temperature": 0.7, "max_tokens": 512}
    assert attempt.sampling == '{"max_tokens":512,"temperature":0.7}'  # canonical: keys sorted
    assert (attempt.prompt_version, attempt.prompt_tokens, attempt.completion_tokens) == (
        "solve-v2",
        120,
        40,
    )
    assert attempt.cost_usd == 0.0003 and attempt.producer == "llm:gpt-x"


def test_attempt_ids_are_content_ids() -> None:
    base = attempt_id("p-1", "llm:m", "text")
    assert base.startswith("a-") and base == attempt_id("p-1", "llm:m", "text", 0)
    others = {
        attempt_id("p-2", "llm:m", "text"),
        attempt_id("p-1", "llm:n", "text"),
        attempt_id("p-1", "llm:m", "text!"),
        attempt_id("p-1", "llm:m", "text", 1),
    }
    assert base not in others and len(others) == 4


def test_attempts_are_byte_identical_across_calls(ducks: Problem) -> None:
    fraction = _math_problem("What is $\\frac{1}{2} + \\frac{1}{3}$?", "\\frac{5}{6}")
    items = [
        AttemptInput(ducks, text, "llm:m", sample=n, sampling={"seed": n})
        for n, text in enumerate((RIGHT, SLIP, MISREAD))
    ] + [AttemptInput(fraction, "\\boxed{\\frac{5}{6}}", "llm:m")]
    first = [a.model_dump_json() for a in verify_attempts(items, "r")]
    second = [a.model_dump_json() for a in verify_attempts(items, "r", workers=2)]
    assert first == second
    assert len({json.loads(a)["attempt_id"] for a in first}) == len(items)


def test_no_items_make_no_attempts() -> None:
    assert verify_attempts([], "r") == []
