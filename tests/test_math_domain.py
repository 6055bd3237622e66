"""The math domain's stages: properties of every kept mistake, checked independently of the
injector, and their books."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errata.generators.domains import StageConfig, run_batch
from errata.generators.domains.math import STAGES
from errata.generators.mistakes.inject import RULE_ERROR_TYPES
from errata.generators.sources.gsm8k import load_gsm8k
from errata.generators.sources.synthetic import SyntheticConfig, generate
from errata.generators.verify.answers import verify_answer
from errata.generators.verify.arithmetic import NUMBER_RE
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


def test_only_the_requested_error_types_are_injected() -> None:
    config = StageConfig(seed=1, error_types=("calculation", "missing_step"))
    result = run_batch(generate(30, SyntheticConfig(seed=1)), config, "run-z")
    assert {m.error_type for m in result.mistakes} == {"calculation", "missing_step"}
    assert_counts_balance(result, 30, 2)
