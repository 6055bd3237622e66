"""The math domain's stages: properties of every kept mistake, checked independently of the
injector, and their books."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errata.generators.domains import StageConfig, run_batch
from errata.generators.domains.math import STAGES
from errata.generators.mistakes.inject import RULE_ERROR_TYPES
from errata.generators.solutions import ANNOTATION_RE, Program, parse_program
from errata.generators.sources.gsm8k import load_gsm8k, problems_from_rows
from errata.generators.sources.synthetic import SyntheticConfig, generate
from errata.generators.verify.answers import verify_answer
from errata.generators.verify.arithmetic import NUMBER_RE, parse_number
from errata.generators.verify.steps import check_steps
from errata.schemas.records import Mistake, Problem
from tests.conftest import GSM8K_TEST


def _shape(step: str) -> str:
    return NUMBER_RE.sub("#", step)


def assert_valid_mistake(mistake: Mistake) -> None:
    """One step edited, later steps only carry values forward, answer changed, fixes verify."""
    removed = len(mistake.reference_steps) - len(mistake.wrong_steps)
    assert removed in (0, 1)
    assert mistake.origin == "injected" and mistake.edit is not None
    edit = mistake.edit
    error = mistake.first_error_step
    original, wrong = mistake.reference_steps, mistake.wrong_steps
    if removed:  # missing_step: one original step at or before the error step is gone
        assert mistake.error_type == "missing_step"
        options = [original[:i] + original[i + 1 :] for i in range(error + 1)]
        aligned = next(
            option
            for option in options
            if option[:error] == wrong[:error]
            and all(
                _shape(a) == _shape(b)
                for a, b in zip(option[error + 1 :], wrong[error + 1 :], strict=True)
            )
        )
    else:
        aligned = original
    assert wrong[:error] == aligned[:error]
    assert wrong[error] != aligned[error]
    # The recorded span is exactly what changed (a slip like 13 -> 3 is a pure deletion).
    head, tail = edit.original_start, len(aligned[error]) - edit.original_end
    assert edit.wrong_start == head
    assert (edit.original_end - head) + (edit.wrong_end - edit.wrong_start) > 0
    assert aligned[error][:head] == wrong[error][:head]
    assert aligned[error][len(aligned[error]) - tail :] == wrong[error][edit.wrong_end :]
    assert edit.original_step == aligned[error]
    # Later steps keep their wording; only recomputed numbers may differ.
    for before, after in zip(aligned[error + 1 :], wrong[error + 1 :], strict=True):
        assert _shape(before) == _shape(after)
    verdicts = check_steps(wrong)
    assert all(v.verdict != "wrong" for v in verdicts[error + 1 :])
    assert verify_answer(mistake.wrong_answer, mistake.reference_answer).verdict == "incorrect"
    assert {c.kind for c in mistake.corrections} == {"fix_continue", "fresh_restart"}
    for correction in mistake.corrections:
        assert verify_answer(correction.trajectory, mistake.reference_answer).verdict == "correct"
        steps = correction.continuation.splitlines()
        assert all(v.verdict != "wrong" for v in check_steps(steps))
        assert correction.trajectory.startswith("\n".join(wrong[: error + 1]))
        assert correction.reflection in correction.trajectory


def stale_stated_results(mistake: Mistake, program: Program, question: str = "") -> list[str]:
    """Prose in the wrong step that still states a result its own computation changed.

    A stated result is a number in the original step's prose (outside the annotations,
    their visible expressions and shown results) equal to a result computed in that step;
    where that computation's result changed, the number and its words must not survive.
    A number that repeats the question with a neighbouring word ("an elevation of 3,000
    feet", "$5 per hour") is the question's quantity, not the step's result."""
    assert mistake.edit is not None
    original, wrong = mistake.edit.original_step, mistake.wrong_steps[mistake.first_error_step]
    (step,) = [i for i, text in enumerate(program.steps) if text == original][:1] or [None]
    if step is None:
        return []
    nodes = program.nodes_in_step(step)
    old_claims = [m.group(2) for m in ANNOTATION_RE.finditer(original)]
    new_claims = [m.group(2) for m in ANNOTATION_RE.finditer(wrong)]
    if len(old_claims) != len(new_claims):
        return []
    changed = {
        parse_number(old) for old, new in zip(old_claims, new_claims, strict=True) if old != new
    }
    handled = [
        span
        for node in nodes
        for span in (node.mirror_span, node.annotation_span, node.shown_span, *_loose(node))
        if span
    ]
    stale = []
    for match in NUMBER_RE.finditer(original):
        start, end = match.span()
        value = -parse_number(match[0]) if _negative(original, start) else parse_number(match[0])
        if any(a <= start < b for a, b in handled) or value not in changed:
            continue
        if _repeats_question(original, start, end, question):
            continue
        left = max([0, *(b for _, b in handled if b <= start)], key=lambda b: b)
        right = min([len(original), *(a for a, _ in handled if a >= end)])
        window = original[max(left, start - 12) : min(right, end + 12)]
        if window in wrong:
            stale.append(window)
    return stale


def _negative(text: str, start: int) -> bool:
    """Whether the number at `start` is written negative, `more, -50 candies + 100 candies`:
    a minus at the start or after punctuation other than `)` and `%`, so not a subtraction
    (`150 -50`, `candies -50`). Its value is -50: it states a result of -50, never a changed
    result of 50. Read unsigned, the slip 50 -> 49 in `-50 candies + 100 candies =
    <<100-50=49>>49` flagged the operand -50 (step 1's unchanged result) as a stale 50."""
    head = text[:start]
    if not head.endswith("-"):
        return False
    before = head[:-1].rstrip()
    return not before or not (before[-1].isalnum() or before[-1] in ").%")


def _repeats_question(text: str, start: int, end: int, question: str) -> bool:
    before = re.search(r"(\S+\s+)$", text[:start])
    after = re.match(r"(\s+[A-Za-z]+)", text[end:])
    phrases = [text[start:end] + after.group(1)] if after else []
    phrases += [before.group(1) + text[start:end]] if before else []
    return any(phrase.lower() in question.lower() for phrase in phrases)


def _loose(node) -> list[tuple[int, int]]:
    return [*node.loose_mirror[0], *node.loose_mirror[1]] if node.loose_mirror else []


def assert_stated_results_follow(mistakes: list[Mistake], problems: list[Problem]) -> None:
    by_id = {p.problem_id: p for p in problems}
    for mistake in mistakes:
        problem = by_id[mistake.problem_id]
        program = parse_program(problem.question, problem.reference_solution)
        stale = stale_stated_results(mistake, program, problem.question)
        assert stale == [], mistake.model_dump_json(indent=1)


def assert_counts_balance(result, n_problems: int, n_types: int) -> None:
    counts = {c.stage: c for c in result.counts}
    assert [c.stage for c in result.counts] == list(STAGES)
    for count in counts.values():
        assert count.n_in == count.n_out + count.n_rejected
        assert count.n_rejected == sum(r.n for r in count.rejected_by_reason)
        assert count.seconds >= 0
    by_reason = Counter((r.stage, r.reason) for r in result.rejects)
    booked = {(c.stage, r.reason): r.n for c in result.counts for r in c.rejected_by_reason}
    assert booked == dict(by_reason)
    assert counts["parse"].n_in == n_problems
    assert counts["inject"].n_in == counts["parse"].n_out * n_types
    assert counts["verify_injection"].n_in == counts["inject"].n_out
    assert counts["correct"].n_in == counts["verify_injection"].n_out
    assert counts["correct"].n_out == len(result.mistakes)
    rejected = sum(c.n_rejected for c in counts.values())
    assert rejected == len(result.rejects)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_ops=st.integers(2, 6),
    number_max=st.integers(10, 60),
)
def test_every_kept_synthetic_mistake_is_valid(seed: int, n_ops: int, number_max: int) -> None:
    knobs = SyntheticConfig(n_ops_min=2, n_ops_max=n_ops, number_max=number_max, seed=seed)
    problems = generate(6, knobs)
    result = run_batch(problems, StageConfig(seed=seed), run_id="run-test")
    assert_counts_balance(result, len(problems), len(RULE_ERROR_TYPES))
    for mistake in result.mistakes:
        assert_valid_mistake(mistake)
    assert_stated_results_follow(result.mistakes, problems)


_GSM8K: list[Problem] = []


def _gsm8k() -> list[Problem]:
    if not _GSM8K:
        _GSM8K.extend(load_gsm8k(str(GSM8K_TEST), "test"))
    return _GSM8K


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(0, 1300), seed=st.integers(0, 1000))
def test_every_kept_gsm8k_mistake_is_valid(start: int, seed: int) -> None:
    problems = _gsm8k()[start : start + 4]
    result = run_batch(problems, StageConfig(seed=seed), run_id="run-test")
    assert_counts_balance(result, len(problems), len(RULE_ERROR_TYPES))
    for mistake in result.mistakes:
        assert_valid_mistake(mistake)
    assert_stated_results_follow(result.mistakes, problems)


def test_batch_is_reproducible_byte_for_byte() -> None:
    problems = generate(10, SyntheticConfig(seed=3))
    first = run_batch(problems, StageConfig(seed=3), run_id="run-x")
    second = run_batch(problems, StageConfig(seed=3), run_id="run-x")
    assert [m.model_dump_json() for m in first.mistakes] == [
        m.model_dump_json() for m in second.mistakes
    ]
    assert first.mistakes, "synthetic problems must yield mistakes"


def test_every_rule_yields_on_synthetic_problems() -> None:
    result = run_batch(generate(120, SyntheticConfig(seed=1)), StageConfig(seed=1), "run-y")
    kinds = Counter(m.error_type for m in result.mistakes)
    assert set(kinds) == set(RULE_ERROR_TYPES), kinds


def test_a_slip_rewrites_the_result_its_sentence_states() -> None:
    question = "9 friends share the eggs. There are 27 eggs. How many does each get?"
    solution = "Each friend gets 3 eggs because 27 / 9 = <<27/9=3>>3.\n#### 3"
    (problem,) = problems_from_rows([{"question": question, "answer": solution}], "t", "hand")
    config = StageConfig(seed=0, error_types=("calculation",))
    (mistake,) = run_batch([problem], config, "run-s").mistakes
    wrong = mistake.wrong_steps[0]
    stated = wrong.split(" eggs because")[0].removeprefix("Each friend gets ")
    assert stated == mistake.wrong_answer != "3", wrong


def test_only_the_requested_error_types_are_injected() -> None:
    config = StageConfig(seed=1, error_types=("calculation", "missing_step"))
    result = run_batch(generate(30, SyntheticConfig(seed=1)), config, "run-z")
    assert {m.error_type for m in result.mistakes} == {"calculation", "missing_step"}
    assert_counts_balance(result, 30, 2)


def test_gsm8k_test_yield_stays_at_least_95_6_percent() -> None:
    # 1,234 problems (93.6%) before prose claims were read next to annotations; 1,261 after.
    problems = load_gsm8k(str(GSM8K_TEST), "test")
    result = run_batch(problems, StageConfig(), "yield")
    yielded = {m.problem_id for m in result.mistakes}
    assert len(yielded) >= 1261, len(yielded)
