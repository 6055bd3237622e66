"""Replay: solutions sampled elsewhere, matched to problems by question and verified by errata."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from errata.generators.sampling.attempts import verify_attempts
from errata.generators.sampling.replay import (
    ReplayedSolution,
    question_key,
    read_replay,
    replay_inputs,
)
from errata.generators.sources.errors import BadInputError, BadLine
from errata.generators.sources.files import load_mapped
from errata.generators.sources.gsm8k import load_gsm8k
from errata.schemas.records import Attempt, Problem
from tests.conftest import FIXTURES, GSM8K_MODEL_SOLUTIONS, GSM8K_TEST, MODEL_KEYS

REPLAY = FIXTURES / "replay"
MATH_PROBLEMS = REPLAY / "competition_math_problems.jsonl"
MATH_SOLUTIONS = REPLAY / "competition_math_solutions.jsonl"
MATH_FIELDS = {
    "question": "problem",
    "solution": "generated_solution",
    "label": "judgement",
    "model": "model",
}
SAMPLES_PARQUET = REPLAY / "gsm8k_samples.parquet"
PARQUET_FIELDS = {
    "question": "prompt",
    "solution": "response",
    "label": "correct",
    "model": "model_name",
}

# benchmarks/replay_agreement.py: errata agrees with the file's is_correct on all 5,276.
AGREEMENT_FLOOR = 1.0
# (problem index, model key) -> why errata and the file's label differ. Empty: none differ.
EXPLAINED_DISAGREEMENTS: dict[tuple[int, str], str] = {}


@pytest.fixture(scope="module")
def gsm8k_problems() -> list[Problem]:
    return load_gsm8k(str(GSM8K_TEST))


def _by_producer(attempts: list[Attempt]) -> dict[tuple[str, str], Attempt]:
    return {(a.problem_id, a.producer.rsplit("/", 1)[-1]): a for a in attempts}


def _verdicts(attempts: list[Attempt]) -> dict[tuple[str, str], tuple]:
    """(verdict, answer, first wrong step, the file's label) by (problem, producer)."""
    return {
        key: (a.verdict, a.final_answer, a.first_error_step, a.source_label)
        for key, a in _by_producer(attempts).items()
    }


# --- GSM8K example solutions ---------------------------------------------------------------


def test_gsm8k_example_solutions_agree_with_the_file_labels(
    gsm8k_problems: list[Problem],
) -> None:
    inputs = replay_inputs(gsm8k_problems, read_replay(str(GSM8K_MODEL_SOLUTIONS)))
    attempts = verify_attempts(inputs, run_id="replay")
    assert len(attempts) == 1319 * 4
    index_of = {p.problem_id: i for i, p in enumerate(gsm8k_problems)}
    per_problem = Counter(index_of[a.problem_id] for a in attempts)
    assert set(per_problem.values()) == {4}
    assert {a.producer for a in attempts} == {
        f"replay:example_model_solutions/{key}" for key in MODEL_KEYS
    }
    # Every label comes from the file; every verdict is errata's.
    assert Counter(a.source_label for a in attempts) == {"incorrect": 3275, "correct": 2001}
    disagreements = {
        (index_of[a.problem_id], a.producer.rsplit("/", 1)[-1])
        for a in attempts
        if a.verdict != a.source_label
    }
    agreement = 1 - len(disagreements) / len(attempts)
    assert agreement >= AGREEMENT_FLOOR
    assert disagreements <= set(EXPLAINED_DISAGREEMENTS)
    # The answer line is no step; the steps hold the model's working.
    assert not any(a.steps and a.steps[-1].startswith("A:") for a in attempts)
    assert sum(a.first_error_step is not None for a in attempts if a.verdict == "incorrect") > 100


def test_example_solutions_format_is_detected(tmp_path: Path) -> None:
    first_line = GSM8K_MODEL_SOLUTIONS.open().readline()
    path = tmp_path / "samples.jsonl"
    path.write_text(first_line + first_line)
    replay = read_replay(str(path))
    (key,) = replay
    solutions = replay[key]
    assert [s.producer for s in solutions] == [f"replay:samples/{k}" for k in MODEL_KEYS] * 2
    assert [s.where for s in solutions] == [f"{path}:1"] * 4 + [f"{path}:2"] * 4
    assert [s.source_label for s in solutions[:4]] == [
        "incorrect",
        "incorrect",
        "incorrect",
        "correct",
    ]
    assert solutions[0].text.endswith("A: 26")


def test_question_key_ignores_quotes_spacing_and_case() -> None:
    curly = "Janet\u2019s ducks lay 16 eggs.\n  How many \u201cfresh\u201d ones?"
    straight = 'janet\'s ducks lay 16 eggs. How many "fresh" ones? '
    assert question_key(curly) == question_key(straight)
    assert question_key(curly) != question_key("Janet's ducks lay 17 eggs. How many fresh ones?")


# --- mapped files: boxed competition math and Parquet --------------------------------------


def test_boxed_competition_math_replays_with_a_field_mapping() -> None:
    problems = load_mapped(MATH_PROBLEMS)
    replay = read_replay(str(MATH_SOLUTIONS), MATH_FIELDS)
    attempts = verify_attempts(replay_inputs(problems, replay), run_id="r")
    assert len(attempts) == 6
    fractions, operations, equation = (p.problem_id for p in problems)
    assert _verdicts(attempts) == {
        (fractions, "model-a"): ("correct", "\\dfrac{5}{6}", None, "correct"),
        # Adding numerators and denominators: the step checker catches the false sum.
        (fractions, "model-b"): ("incorrect", "\\frac{2}{5}", 0, "incorrect"),
        # 3 * 4 = 13 in step 1 (step 0 only talks).
        (operations, "model-a"): ("incorrect", "15", 1, "incorrect"),
        # The file calls 20 correct; it is not 14. Stored, not believed.
        (operations, "model-b"): ("incorrect", "20", None, "correct"),
        (equation, "model-a"): ("correct", "4", None, None),
        (equation, "model-b"): ("incorrect", "7", None, "incorrect"),
    }
    slip = _by_producer(attempts)[(operations, "model-a")]
    assert slip.steps == [
        "We compute the product first.",
        "$3 \\cdot 4 = 13$.",
        "Then $13 + 2 = 15$.",
    ]
    assert slip.text.endswith("$\\boxed{15}$")
    assert slip.producer == "replay:competition_math_solutions/model-a"
    assert json.loads(slip.sampling) == {"replayed_from": "competition_math_solutions.jsonl:3"}


def test_parquet_replays_with_a_field_mapping(gsm8k_problems: list[Problem]) -> None:
    # The file types the apostrophe of "Janet’s" straight and spaces differently.
    replay = read_replay(str(SAMPLES_PARQUET), PARQUET_FIELDS)
    attempts = verify_attempts(replay_inputs(gsm8k_problems[:3], replay), run_id="r")
    ducks, robe = gsm8k_problems[0].problem_id, gsm8k_problems[1].problem_id
    assert _verdicts(attempts) == {
        (ducks, "sampler-x"): ("correct", "18", None, "correct"),
        # 16 - 7 = 8 in step 1, carried to 16.
        (ducks, "sampler-y"): ("incorrect", "16", 1, "incorrect"),
        (robe, "sampler-x"): ("correct", "3", None, "correct"),
    }
    robe_attempt = _by_producer(attempts)[(robe, "sampler-x")]
    assert (
        robe_attempt.steps[-1] == "Total: 2 + 1 = <<2+1=3>>3 bolts."
    )  # `The answer is 3.` dropped


def test_a_json_array_reads_like_its_json_lines(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in MATH_SOLUTIONS.read_text().splitlines()]
    array = tmp_path / "competition_math_solutions.json"
    array.write_text(json.dumps(rows, indent=1))
    from_lines = read_replay(str(MATH_SOLUTIONS), MATH_FIELDS)
    from_array = read_replay(str(array), MATH_FIELDS)
    assert from_lines.keys() == from_array.keys()
    for key in from_lines:
        strip = [(s.question, s.text, s.producer, s.source_label) for s in from_lines[key]]
        assert strip == [(s.question, s.text, s.producer, s.source_label) for s in from_array[key]]


def test_replayed_attempts_are_byte_identical_across_calls() -> None:
    problems = load_mapped(MATH_PROBLEMS)

    def dumped() -> list[str]:
        replay = read_replay(str(MATH_SOLUTIONS), MATH_FIELDS)
        return [a.model_dump_json() for a in verify_attempts(replay_inputs(problems, replay), "r")]

    assert dumped() == dumped()


# --- matching ------------------------------------------------------------------------------


def _solution(question: str, text: str, producer: str, where: str) -> ReplayedSolution:
    return ReplayedSolution(question, text, producer, None, where)


def test_problems_sharing_a_question_each_get_their_own_lines(
    gsm8k_problems: list[Problem],
) -> None:
    twin = gsm8k_problems[0].model_copy(update={"problem_id": "p-twin", "source_id": "twin"})
    question = twin.question
    replay = {
        question_key(question): [
            _solution(question, "A: 18", "replay:f/m", "f.jsonl:1"),
            _solution(question, "A: 17", "replay:f/m", "f.jsonl:2"),
            _solution(question, "A: 16", "replay:f/m", "f.jsonl:3"),
        ]
    }
    inputs = replay_inputs([gsm8k_problems[0], twin], replay)
    assert [(i.problem.problem_id, i.text, i.sample) for i in inputs] == [
        (gsm8k_problems[0].problem_id, "A: 18", 0),
        (gsm8k_problems[0].problem_id, "A: 16", 1),  # same model again: a second sample
        ("p-twin", "A: 17", 0),
    ]
    attempts = verify_attempts(inputs, "r")
    assert len({a.attempt_id for a in attempts}) == 3


def test_unmatched_questions_and_problems_are_left_out(gsm8k_problems: list[Problem]) -> None:
    replay = {question_key("Not a GSM8K question"): [_solution("x", "A: 1", "replay:f", "f:1")]}
    assert replay_inputs(gsm8k_problems[:2], replay) == []


# --- bad input -----------------------------------------------------------------------------


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_missing_solution_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.jsonl",
        [
            {"problem": "Compute $1+1$.", "generated_solution": "\\boxed{2}", "model": "m"},
            {"problem": "Compute $1+2$.", "model": "m"},
        ],
    )
    with pytest.raises(BadInputError) as error:
        read_replay(str(path), MATH_FIELDS)
    assert str(error.value) == (
        f"{path}:2: expected field 'generated_solution' (string), got nothing"
    )
    assert (error.value.line, error.value.field, error.value.reason) == (
        2,
        "generated_solution",
        "missing_field",
    )


def test_default_fields_name_the_solution_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", [{"question": "What is 1+1?", "answer": "2"}])
    with pytest.raises(BadInputError, match=r"s\.jsonl:1: expected field 'solution' \(string\)"):
        read_replay(str(path))


def test_example_format_entry_without_a_solution_names_the_model_key(tmp_path: Path) -> None:
    row = {
        "question": "What is 1+1?",
        "a": {"is_correct": True, "solution": "A: 2"},
        "b": {"is_correct": False},
    }
    path = _write(tmp_path / "s.jsonl", [row])
    with pytest.raises(BadInputError, match=r"s\.jsonl:1: expected field 'b\.solution' \(string\)"):
        read_replay(str(path))


def test_unreadable_label_names_the_field(tmp_path: Path) -> None:
    row = {"problem": "Q?", "generated_solution": "A: 1", "judgement": "maybe", "model": "m"}
    path = _write(tmp_path / "s.jsonl", [row])
    with pytest.raises(BadInputError) as error:
        read_replay(str(path), MATH_FIELDS)
    assert str(error.value) == (
        f"{path}:1: expected field 'judgement' (a boolean, 1/0 or 'correct'/'incorrect'), "
        "got a string ('maybe')"
    )


@pytest.mark.parametrize(
    ("label", "stored"),
    [(True, "correct"), (0, "incorrect"), ("Correct", "correct"), ("incorrect", "incorrect")],
)
def test_labels_read_as_correct_or_incorrect(tmp_path: Path, label: object, stored: str) -> None:
    row = {"problem": "Q?", "generated_solution": "A: 1", "judgement": label, "model": "m"}
    path = _write(tmp_path / "s.jsonl", [row])
    (solutions,) = read_replay(str(path), MATH_FIELDS).values()
    assert solutions[0].source_label == stored


def test_skip_bad_collects_bad_lines_and_reads_on(tmp_path: Path) -> None:
    good = {"problem": "Q?", "generated_solution": "A: 1", "model": "m"}
    path = tmp_path / "s.jsonl"
    path.write_text(
        json.dumps(good) + "\n{not json\n" + json.dumps({"problem": "Q2?", "model": "m"}) + "\n"
    )
    bad_lines: list[BadLine] = []
    replay = read_replay(str(path), MATH_FIELDS, skip_bad=True, bad_lines=bad_lines)
    assert [s.where for solutions in replay.values() for s in solutions] == [f"{path}:1"]
    assert [(b.line, b.reason) for b in bad_lines] == [(2, "bad_json"), (3, "missing_field")]


def test_unknown_field_roles_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown replay field roles \\['answer'\\]"):
        read_replay(str(MATH_SOLUTIONS), {"answer": "expected_answer"})
