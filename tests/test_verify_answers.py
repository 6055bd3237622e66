"""Final-answer extraction and verification: numeric fast path, math-verify, timeouts, pools."""

from __future__ import annotations

import json
import multiprocessing
import signal
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errata.generators.verify.answers import (
    AnswerCheck,
    _run_in_workers,
    annotate_record,
    extract_answer,
    verify_answer,
    verify_answers,
)
from errata.generators.verify.multipart import check_parts
from tests.conftest import GSM8K_DIR, MODEL_KEYS

# Measured: 5,276 / 5,276 verdicts agree with the dataset's own grades; a floor, not a target.
AGREEMENT_FLOOR = 0.999
# math-verify needs seconds on this pair (sympy evaluates 10^(10^10) numerically); it is
# interruptible, so the in-process alarm is what stops it.
SLOW_PAIR = ("$10^{10^{10}}$", "5")


# --- extraction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72", "72"),
        ("She makes 9 * 2 = $<<9*2=18>>18 every day.\nA: 18", "18"),
        (
            "so the answer is \\boxed{\\frac{\\sqrt{2}}{\\left(1+x\\right)}}.",
            "\\frac{\\sqrt{2}}{\\left(1+x\\right)}",
        ),
        ("\\boxed{1} at first, but finally \\boxed{\\dfrac{3}{4}}", "\\dfrac{3}{4}"),
        ("The answer is 42.", "42"),
        ("Therefore, the answer is: $1,200.", "$1,200"),
        ("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "\\frac{1}{2}"),
        ("Final answer: **17**", "17"),
        ("He has 16 - 3 = <<16-3=13>>13 eggs left, so 13 * 2 = 26", "26"),
        ("The temperature dropped to -5", "-5"),
        ("so it is 16 - 3", "3"),
        ("\\frac{3}{4}", "\\frac{3}{4}"),
        ("(1, 2]", "(1, 2]"),
        ("  0.5  ", "0.5"),
    ],
)
def test_extract_answer_patterns(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "I am not sure how to solve this problem."])
def test_extract_answer_none_without_an_answer(text: str) -> None:
    assert extract_answer(text) is None


def test_extract_answer_prefers_explicit_marker_over_last_number() -> None:
    text = "A: 18\nThat is 2 more than last week's 16."
    assert extract_answer(text) == "18"


# --- numeric fast path -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("A: 80,000", "#### 80000"),
        ("The answer is $18.", "18"),
        ("18.00", "18"),
        ("#### 1,234,567.50", "1234567.5"),
        ("-5", "−5"),
        ("-$5", "-5"),
        ("12%", "12"),
        ("12%", "0.12"),
        ("3/4", "0.75"),
        (".5", "0.5"),
        ("\\$1{,}000", "1000"),
        ("The answer is 5 apples.", "5"),
    ],
)
def test_numeric_equal(prediction: str, reference: str) -> None:
    check = verify_answer(prediction, reference)
    assert check.verdict == "correct", check
    assert check.detail.startswith("numeric")


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [("A: 26", "A: 18"), ("-5", "5"), ("0.333", "1/3"), ("18.01", "18"), ("12%", "1.2")],
)
def test_numeric_unequal(prediction: str, reference: str) -> None:
    check = verify_answer(prediction, reference)
    assert check.verdict == "incorrect"
    assert "!=" in check.detail


def test_numeric_detail_names_both_answers() -> None:
    check = verify_answer("She makes $26.\nA: 26", "#### 18")
    assert check == AnswerCheck("incorrect", "26", "numeric 26 != 18")


def test_list_is_not_read_as_thousands() -> None:
    assert verify_answer("1,2", "12").verdict != "correct"


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_written_forms_of_an_integer_are_equal(n: int) -> None:
    sign = "-" if n < 0 else ""
    for written in (f"{n:,}", f"{sign}${abs(n):,}", f"{n}.00", f"A: {n}"):
        assert verify_answer(written, f"#### {n}").verdict == "correct", written
    assert verify_answer(f"{n + 1}", f"#### {n}").verdict == "incorrect"


# --- math-verify -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("\\frac{1}{2}", "0.5"),
        ("The answer is \\boxed{\\dfrac{3}{4}}.", "0.75"),
        ("\\sqrt{8}", "2\\sqrt{2}"),
        ("(1, 2]", "(1,2]"),
        ("\\frac{\\pi}{2}", "\\pi/2"),
    ],
)
def test_latex_equivalences(prediction: str, reference: str) -> None:
    check = verify_answer(prediction, reference)
    assert check.verdict == "correct", check
    assert "math-verify" in check.detail


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [("\\frac{1}{3}", "0.5"), ("(1, 2]", "[1, 2]"), ("\\sqrt{8}", "2\\sqrt{3}")],
)
def test_latex_differences(prediction: str, reference: str) -> None:
    assert verify_answer(prediction, reference).verdict == "incorrect"


def test_unparseable_without_an_answer() -> None:
    assert verify_answer("I don't know.", "42") == AnswerCheck(
        "unparseable", None, "no answer found"
    )
    assert verify_answer("42", "").verdict == "unparseable"


def test_timeout_in_main_thread_is_bounded_and_restores_the_alarm() -> None:
    handler_before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    check = verify_answer(*SLOW_PAIR, timeout_seconds=1)
    assert check.verdict == "timeout"
    assert check.predicted == "10^{10^{10}}"
    assert time.monotonic() - start < 3
    assert signal.getsignal(signal.SIGALRM) is handler_before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize("timeout_seconds", [0, -1])
def test_timeout_must_be_positive(timeout_seconds: int) -> None:
    with pytest.raises(ValueError, match="timeout_seconds"):
        verify_answer("\\frac{1}{2}", "0.5", timeout_seconds=timeout_seconds)
    with pytest.raises(ValueError, match="timeout_seconds"):
        verify_answers([("1", "1")], timeout_seconds=timeout_seconds)


# --- many pairs, worker processes --------------------------------------------------------------


@pytest.mark.slow
def test_verify_answers_preserves_order_across_paths() -> None:
    pairs = [
        ("A: 18", "#### 18"),
        ("\\frac{1}{2}", "0.5"),
        ("A: 26", "#### 18"),
        SLOW_PAIR,
        ("no idea", "3"),
        ("\\sqrt{8}", "2\\sqrt{3}"),
        ("$1,000", "1000"),
    ]
    start = time.monotonic()
    checks = verify_answers(pairs, workers=2, timeout_seconds=1)
    elapsed = time.monotonic() - start
    assert [c.verdict for c in checks] == [
        "correct",
        "correct",
        "incorrect",
        "timeout",
        "unparseable",
        "incorrect",
        "correct",
    ]
    assert [c.predicted for c in checks][:3] == ["18", "\\frac{1}{2}", "26"]
    assert elapsed < 15  # includes first-time worker start-up
    assert verify_answers([]) == []


@pytest.mark.slow
def test_verify_answers_matches_single_calls() -> None:
    pairs = [(f"\\frac{{{n}}}{{4}}", f"{n / 4}") for n in range(40)]
    pairs += [(f"\\frac{{{n}}}{{3}}", f"{n / 4}") for n in range(1, 40)]
    assert verify_answers(pairs, workers=2) == [verify_answer(p, r) for p, r in pairs]


def _hang(pairs: list[tuple[str, str]], timeout_seconds: float) -> list[AnswerCheck]:
    """A task that ignores its deadline, like a worker stuck in C code where no signal lands."""
    if any(prediction == "hang" for prediction, _ in pairs):
        time.sleep(120)
    return [AnswerCheck("correct", prediction, "stub") for prediction, _ in pairs]


@pytest.mark.slow
def test_stuck_worker_is_killed_and_pool_replaced() -> None:
    pairs = [("a", "x"), ("hang", "x"), ("b", "x"), ("c", "x")]
    start = time.monotonic()
    checks = _run_in_workers(pairs, workers=2, timeout_seconds=1, task=_hang)
    assert time.monotonic() - start < 30
    assert [c.verdict for c in checks] == ["correct", "timeout", "correct", "correct"]
    assert "killed" in checks[1].detail
    # The replacement pool works.
    assert verify_answers([("\\frac{1}{2}", "0.5")])[0].verdict == "correct"


@pytest.mark.slow
def test_verify_answer_outside_main_thread() -> None:
    results: list[AnswerCheck] = []
    threads = [
        threading.Thread(target=lambda: results.append(verify_answer("\\frac{1}{2}", "0.5"))),
        threading.Thread(target=lambda: results.append(verify_answer(*SLOW_PAIR, 1))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(c.verdict for c in results) == ["correct", "timeout"]


@pytest.mark.slow
def test_verify_answer_inside_a_dask_worker() -> None:
    """Dask's nanny workers are daemonic and run tasks in threads: no pool, no alarm there."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, processes=True, threads_per_worker=2, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        assert client.run(lambda: multiprocessing.current_process().daemon) == {
            address: True for address in client.scheduler_info()["workers"]
        }
        futures = [
            client.submit(verify_answer, "\\frac{1}{2}", "0.5", pure=False),
            client.submit(verify_answer, *SLOW_PAIR, 1, pure=False),
            client.submit(verify_answers, [("\\sqrt{8}", "2\\sqrt{2}"), ("A: 3", "#### 4")]),
        ]
        half, slow, many = client.gather(futures)
    assert half.verdict == "correct" and "math-verify" in half.detail
    assert slow.verdict == "timeout"
    assert [c.verdict for c in many] == ["correct", "incorrect"]


def test_verify_answers_rejects_zero_workers() -> None:
    with pytest.raises(ValueError, match="workers"):
        verify_answers([("1", "1")], workers=0)


# --- records -----------------------------------------------------------------------------------


def test_annotate_record_adds_fields_and_keeps_the_rest() -> None:
    record = {"id": "p1", "prediction": "So she makes $18.\nA: 18", "reference": "#### 18"}
    annotated = annotate_record(record)
    assert annotated == {
        **record,
        "verdict": "correct",
        "predicted_answer": "18",
        "verify_detail": "numeric 18 == 18",
    }
    assert "verdict" not in record
    json.dumps(annotated)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"reference": "#### 1"}, "expected field 'prediction' (string)"),
        ({"prediction": "1"}, "expected field 'reference' (string)"),
        ({"prediction": 1, "reference": "1"}, "expected field 'prediction' (string)"),
    ],
)
def test_annotate_record_names_the_missing_field(record: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        annotate_record(record)


# --- shared data -------------------------------------------------------------------------------


def _shared_file(name: str) -> Path:
    return GSM8K_DIR / name


def test_agreement_with_dataset_grades() -> None:
    rows = [json.loads(line) for line in _shared_file("example_model_solutions.jsonl").open()]
    graded = [(row[key], row["ground_truth"]) for row in rows for key in MODEL_KEYS]
    checks = verify_answers([(model["solution"], truth) for model, truth in graded])
    agree = sum(
        (check.verdict == "correct") == model["is_correct"]
        for (model, _), check in zip(graded, checks, strict=True)
    )
    assert len(graded) == 5276
    assert agree / len(graded) >= AGREEMENT_FLOOR


def test_gsm8k_references_agree_across_formats() -> None:
    problems = [json.loads(line) for line in _shared_file("test.jsonl").open()]
    solutions = [json.loads(line) for line in _shared_file("example_model_solutions.jsonl").open()]
    pairs = [
        (row["ground_truth"], problem["answer"])
        for problem, row in zip(problems, solutions, strict=True)
    ]
    assert len(pairs) == 1319
    assert all(check.verdict == "correct" for check in verify_answers(pairs))


# --- multi-part answers (tests/test_multipart_answers.py has the corpus) ------------------------


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("\\frac{1}{2}", "0.5"),
        ("\\sqrt{8}", "2\\sqrt{2}"),
        ("(1, 2]", "(1,2]"),
        ("(1, 2]", "[1, 2]"),
        ("x = 5", "5"),
        ("\\pm 2", "2"),
        ("The answer is \\boxed{\\dfrac{3}{4}}.", "0.75"),
        ("so it is 16 - 3", "3"),
    ],
)
def test_single_answers_keep_the_whole_answer_comparison(prediction: str, reference: str) -> None:
    predicted, reference_answer = extract_answer(prediction), extract_answer(reference)
    assert predicted is not None and reference_answer is not None
    assert check_parts(predicted, reference_answer) is None


@pytest.mark.slow
def test_multi_part_answers_outside_main_thread_go_through_a_worker() -> None:
    results: list[AnswerCheck] = []
    thread = threading.Thread(
        target=lambda: results.append(
            verify_answer("\\{(1, \\sqrt{2}), (3, 4)\\}", "(3,4),(1,\\sqrt2)")
        )
    )
    thread.start()
    thread.join(timeout=60)
    assert results == [
        AnswerCheck("correct", "\\{(1, \\sqrt{2}), (3, 4)\\}", "multi-part: 2 parts equivalent")
    ]
