"""The smallest span where two strings differ: how an edit is located in a step."""

from __future__ import annotations

from errata.schemas.records import Edit


def edit_span(before: str, after: str) -> tuple[int, int, int]:
    """(start, end in before, end in after) of the smallest span that differs."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    tail = 0
    while (
        tail < min(len(before), len(after)) - start
        and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]
    ):
        tail += 1
    return start, len(before) - tail, len(after) - tail


def edit_between(original_step: str, wrong_step: str, seed: int) -> Edit:
    """The Edit record of one step changed into another: the smallest differing spans."""
    start, original_end, wrong_end = edit_span(original_step, wrong_step)
    return Edit(
        original_step=original_step,
        original_start=start,
        original_end=original_end,
        wrong_start=start,
        wrong_end=wrong_end,
        seed=seed,
    )
