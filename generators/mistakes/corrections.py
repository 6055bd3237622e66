"""Corrections from a mistake's core: fix & continue and fresh & restart.

They need only the wrong steps, the first wrong step and a verified reference
solution, so a teacher's natural mistake and a rule's injection are corrected alike.
"""

from __future__ import annotations

from collections.abc import Sequence


def wrong_prefix(wrong_steps: Sequence[str], first_error_step: int) -> list[str]:
    """The wrong attempt cut right after its first wrong step (as LEMMA does)."""
    return list(wrong_steps[: first_error_step + 1])


def fix_continue(
    wrong_steps: Sequence[str],
    first_error_step: int,
    reference_steps: Sequence[str],
    final_line: str,
    reflection: str,
    resume_step: int | None = None,
) -> tuple[str, str]:
    """Fix the wrong step and carry on: returns (continuation, full trajectory).

    The correct prefix is taken to match the reference step for step, so the reference
    resumes at the first wrong step. An injection knows better where it resumes (a skipped
    step shifts the alignment) and says so with `resume_step`.
    """
    resume = first_error_step if resume_step is None else resume_step
    prefix = wrong_prefix(wrong_steps, first_error_step)
    return _join(prefix, reflection, reference_steps[resume:], final_line)


def fresh_restart(
    wrong_steps: Sequence[str],
    first_error_step: int,
    reference_steps: Sequence[str],
    final_line: str,
    reflection: str,
) -> tuple[str, str]:
    """Reflect, then solve again from the start with the reference solution."""
    prefix = wrong_prefix(wrong_steps, first_error_step)
    return _join(prefix, reflection, reference_steps, final_line)


def _join(
    prefix: list[str], reflection: str, steps: Sequence[str], final_line: str
) -> tuple[str, str]:
    continuation = "\n".join([*steps, final_line])
    trajectory = "\n".join([*prefix, reflection, continuation])
    return continuation, trajectory
