"""A solution text, from a model or a replayed file, as a verified `Attempt` record.

Every verdict is errata's own: the final answer is extracted and compared with the problem's
reference, and for a wrong answer the step checker names the first step whose arithmetic
does not hold. A label that came with a replayed solution is stored beside the verdict only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from errata.generators.solutions import split_steps
from errata.generators.verify.answers import verify_answers
from errata.generators.verify.steps.api import check_steps, first_error_step
from errata.schemas.ids import canonical_json, content_hash
from errata.schemas.records import Attempt, Problem

# A last line that only states the answer: `A: 18`, `Answer: 18`, `Final answer: 18`,
# `So the answer is 18.`; the answer is read from `text`, so the line is no step to check.
_ANSWER_STATEMENT_RE = re.compile(
    r"^(?:A|Answer|Final\s+answer)\s*:"
    r"|^(?:(?:so|thus|therefore|hence)\b[,\s]*)?(?:the\s+)?(?:final\s+)?answer\s+is\b",
    re.I,
)
_BOXED_ONLY_RE = re.compile(r"^\\(?:boxed|fbox)\s*\{.*\}$")
# Math delimiters and a full stop around a boxed-only line: `$\boxed{5}$.`, `\[\boxed{5}\]`.
_WRAPPER_CHARS = "$. \t"
_WRAPPER_PAIRS = (("\\[", "\\]"), ("\\(", "\\)"))


@dataclass(frozen=True)
class AttemptInput:
    """One solution text to verify as an attempt at `problem`."""

    problem: Problem
    text: str
    producer: str  # "llm:<model>" or "replay:<file stem>/<model key>"
    sample: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)  # json-dumped into Attempt.sampling
    # The verdict a replayed file gave ("correct"/"incorrect"): stored, never trusted instead.
    source_label: str | None = None
    prompt_version: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


def attempt_id(problem_id: str, producer: str, text: str, sample: int = 0) -> str:
    """A content id: the same problem, producer, text and sample number give the same id."""
    return "a-" + content_hash("attempt", problem_id, producer, text, sample)


# Longer after "the answer is", and the line is a sentence that happens to say "answer".
ANSWER_TAIL_MAX_CHARS = 40


def is_answer_line(line: str) -> bool:
    """Whether a line only states a final answer: `#### n`, `A: n`, "The answer is n" with a
    short tail and no computation after it, or a lone `\\boxed{n}`."""
    line = line.strip()
    if line.startswith("####"):
        return True
    statement = _ANSWER_STATEMENT_RE.match(line)
    if statement:
        rest = line[statement.end() :]
        return len(rest) <= ANSWER_TAIL_MAX_CHARS and "=" not in rest
    inner = line.strip(_WRAPPER_CHARS)
    for opening, closing in _WRAPPER_PAIRS:
        if inner.startswith(opening) and inner.endswith(closing):
            inner = inner[len(opening) : -len(closing)].strip(_WRAPPER_CHARS)
    return bool(_BOXED_ONLY_RE.match(inner))


def solution_steps(text: str) -> list[str]:
    """The non-blank lines of a solution, without a last line that only states the answer."""
    steps, _answer = split_steps(text)  # drops a GSM8K `#### n` line
    if steps and is_answer_line(steps[-1]):
        return steps[:-1]
    return steps


def verify_attempts(items: Sequence[AttemptInput], run_id: str, workers: int = 1) -> list[Attempt]:
    """One Attempt per item, in order; answers verified in one batch (`verify_answers`).

    Deterministic: the same items give byte-identical records.
    """
    pairs = [(item.text, item.problem.reference_answer) for item in items]
    checks = verify_answers(pairs, workers=workers) if pairs else []
    attempts = []
    for item, check in zip(items, checks, strict=True):
        steps = solution_steps(item.text)
        wrong_step = None
        if check.verdict == "incorrect":
            # Where an arithmetic slip shows where the solution went wrong; None if none does.
            wrong_step = first_error_step(check_steps(steps, item.problem.question))
        problem_id = item.problem.problem_id
        attempts.append(
            Attempt(
                attempt_id=attempt_id(problem_id, item.producer, item.text, item.sample),
                problem_id=problem_id,
                producer=item.producer,
                sampling=canonical_json(item.sampling),
                steps=steps,
                text=item.text,
                final_answer=check.predicted,
                verdict=check.verdict,
                verify_detail=check.detail,
                first_error_step=wrong_step,
                prompt_tokens=item.prompt_tokens,
                completion_tokens=item.completion_tokens,
                cost_usd=item.cost_usd,
                run_id=run_id,
                prompt_version=item.prompt_version,
                source_label=item.source_label,
            )
        )
    return attempts
