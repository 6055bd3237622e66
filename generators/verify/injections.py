"""Verify an injected mistake and its corrections by execution, independently of the injector."""

from __future__ import annotations

import functools

from errata.generators.mistakes.inject import RULES, Injection
from errata.generators.verify.answers import verify_answer
from errata.generators.verify.steps import check_steps


def injection_problem(
    original_steps: list[str], injection: Injection, reference_answer: str
) -> tuple[str, str] | None:
    """None if the injection is a valid single-step subtle error, else (reason, message)."""
    aligned = [s for i, s in enumerate(original_steps) if i != injection.removed_step]
    wrong = injection.wrong_steps
    error = injection.first_error_step
    if wrong[:error] != aligned[:error]:
        return "prefix_changed", "a step before the error step differs from the original"
    if error >= len(wrong) or wrong[error] == aligned[error]:
        return "error_step_unchanged", f"step {error} is identical to the original"
    answer = verify_answer(injection.wrong_answer, reference_answer)
    if answer.verdict != "incorrect":
        return "answer_not_wrong", f"wrong answer {injection.wrong_answer}: {answer.verdict}"
    verdicts = check_steps(wrong)
    later = [v for v in verdicts[error + 1 :] if v.verdict == "wrong"]
    if later:
        return "later_step_inconsistent", f"step {later[0].index}: {later[0].detail}"
    error_verdict = verdicts[error].verdict
    sees_slip = RULES[injection.error_type].checker_sees_slip
    if sees_slip and error_verdict != "wrong":
        return "slip_not_detected", f"the step checker does not see the slip in step {error}"
    if not sees_slip and error_verdict == "wrong":
        return "error_step_arithmetic", verdicts[error].detail
    return None


def correction_problem(
    continuation: str, trajectory: str, reference_answer: str
) -> tuple[tuple[str, str] | None, str | None]:
    """(None, final answer) if a correction's steps hold and it reaches the reference answer;
    otherwise (reason and message, final answer)."""
    answer = verify_answer(trajectory, reference_answer)
    if answer.verdict != "correct":
        issue = ("correction_answer", f"final answer {answer.predicted}: {answer.verdict}")
        return issue, answer.predicted
    return _arithmetic_problem(tuple(continuation.splitlines())), answer.predicted


# Every error type of a problem shares continuations (suffixes of the same reference).
@functools.lru_cache(maxsize=4096)
def _arithmetic_problem(steps: tuple[str, ...]) -> tuple[str, str] | None:
    wrong = [v for v in check_steps(list(steps)) if v.verdict == "wrong"]
    if wrong:
        return "correction_arithmetic", f"step {wrong[0].index}: {wrong[0].detail}"
    return None
