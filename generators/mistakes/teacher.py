"""A teacher model locates the first wrong step of a wrong attempt and corrects it.

This is LeMa's corrector (the wrong step, why it is wrong, a corrected solution from that
step on) plus LEMMA's second correction (a fresh solution by another route) and a reflection
phrase of the teacher's own. A reply is kept only when it names a step that exists, gives
both corrections and reaches the reference answer. The step checker's own first wrong step
is kept beside the teacher's, so disagreements can be counted rather than hidden.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from errata.generators.llm.requests import ChatRequest, StructuredResult, response_format_for
from errata.generators.mistakes.draft import Draft, natural_draft
from errata.generators.mistakes.reflections import pick_reflection
from errata.generators.prompt_files import Prompt
from errata.generators.sampling.attempts import is_answer_line
from errata.generators.verify.answers import verify_answer
from errata.generators.verify.steps.api import check_steps, first_error_step
from errata.schemas.records import MATH_ERROR_TYPES, Attempt, Problem

MathErrorType = Literal[MATH_ERROR_TYPES]  # a Literal, so the JSON schema lists the types

# A line that only states the final answer: `#### 18`, `The answer is 18.`, `Answer: 18`,
# `Therefore, the final answer is 18`, `\boxed{18}`. The correct stage writes its own.
# Models echo the numbering they were shown; the stored steps carry none.
_STEP_LABEL_RE = re.compile(r"^\s*step\s*\d+\s*[:.)-]\s*", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")


class TeacherReply(BaseModel):
    """What the teacher returns about one wrong attempt."""

    model_config = ConfigDict(extra="forbid")

    first_error_step: int  # 1-based, as the steps were numbered in the prompt
    error_type: MathErrorType
    explanation: str
    corrected_steps: list[str]  # from the wrong step on, that step corrected (LeMa)
    fresh_solution: list[str]  # the whole problem again, another way (LEMMA restart)
    reflection: str  # joins the wrong prefix to a correction
    final_answer: str


ReplyModel = TypeVar("ReplyModel", bound=BaseModel)


@dataclass(frozen=True)
class Rejection:
    """Why a model's reply was not kept; `payload` goes into the reject record."""

    reason: str
    message: str
    payload: dict[str, Any]


def accepted_reply(
    reply: StructuredResult, expected: type[ReplyModel], payload: dict[str, Any]
) -> ReplyModel | Rejection:
    """The reply's validated value, or the Rejection of a reply that never validated; the raw
    text, when there was one, goes into `payload` for the reject."""
    if reply.raw is not None:
        payload["raw"] = storable_text(reply.raw)
    if reply.value is None:
        return Rejection(reply.reason or "no_reply", reply.message or "no reply", payload)
    if not isinstance(reply.value, expected):
        return Rejection("schema_mismatch", f"got {type(reply.value).__name__}", payload)
    if not is_encodable(*_texts(reply.value.model_dump())):
        return Rejection("invalid_text", "reply holds text that is not valid Unicode", payload)
    return reply.value


def _texts(value: Any) -> Iterator[str]:
    """Every string in a dumped reply, however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def numbered_steps(steps: list[str]) -> str:
    """Steps as the prompts show them: `Step 1: ...`, one per line."""
    return "\n".join(f"Step {number}: {step}" for number, step in enumerate(steps, start=1))


def clean_steps(steps: list[str]) -> list[str]:
    """A model's steps as solution lines: one line each, no step labels, no blank steps and
    no closing answer-only line (the correct stage appends the answer line itself)."""
    lines = []
    for step in steps:
        line = _SPACE_RE.sub(" ", _STEP_LABEL_RE.sub("", step)).strip()
        if line:
            lines.append(line)
    while lines and is_answer_line(lines[-1]):
        lines.pop()
    return lines


def is_encodable(*texts: str) -> bool:
    """Whether every text is valid Unicode (no lone surrogates): the store writes UTF-8."""
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """`text` with any lone surrogate written as an escape, so a reject can hold it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def teacher_request(
    problem: Problem, attempt: Attempt, model: str, params: dict[str, Any], prompt: Prompt
) -> ChatRequest:
    """Ask the teacher about one wrong attempt; the reply must match TeacherReply."""
    messages = prompt.messages(
        question=problem.question,
        numbered_steps=numbered_steps(attempt.steps),
        wrong_answer=attempt.final_answer or "(none given)",
        reference_answer=problem.reference_answer,
        error_types=", ".join(MATH_ERROR_TYPES),
    )
    return ChatRequest.build(
        model=model,
        messages=messages,
        params=params,
        response_format=response_format_for("teacher_reply", TeacherReply),
        prompt_version=prompt.version,
        item_id=attempt.attempt_id,
    )


def teacher_draft(
    problem: Problem, attempt: Attempt, reply: StructuredResult, model: str
) -> Draft | Rejection:
    """A Draft of the natural mistake the teacher located, or why the reply is not kept."""
    payload: dict[str, Any] = {"problem_id": problem.problem_id, "attempt_id": attempt.attempt_id}
    value = accepted_reply(reply, TeacherReply, payload)
    if isinstance(value, Rejection):
        return value
    payload["reply"] = value.model_dump()
    if attempt.final_answer is None or attempt.verdict != "incorrect":
        return Rejection("attempt_not_wrong", f"attempt verdict {attempt.verdict}", payload)
    if not 1 <= value.first_error_step <= len(attempt.steps):
        message = f"step {value.first_error_step} of {len(attempt.steps)} steps"
        return Rejection("no_such_step", message, payload)
    corrected = clean_steps(value.corrected_steps)
    if not corrected:
        return Rejection("empty_correction", "no corrected steps", payload)
    fresh = clean_steps(value.fresh_solution)
    if not fresh:
        return Rejection("empty_fresh_solution", "no fresh solution", payload)
    if not value.explanation.strip():
        return Rejection("empty_explanation", "no explanation", payload)
    check = verify_answer(value.final_answer, problem.reference_answer)
    if check.verdict != "correct":
        message = f"teacher's answer {value.final_answer[:80]!r}: {check.verdict}"
        return Rejection("teacher_answer_wrong", message, payload)

    first_wrong = value.first_error_step - 1
    checker_first = first_error_step(check_steps(attempt.steps, problem.question))
    draft = natural_draft(
        problem,
        attempt.steps,
        first_wrong,
        value.error_type,
        value.explanation.strip(),
        attempt.final_answer,
        method=f"llm:{model}",
        producer=f"teacher:{model}",
        attempt_id=attempt.attempt_id,
    )
    return dataclasses.replace(
        draft,
        fix_steps=corrected,
        restart_steps=fresh,
        reflection=value.reflection.strip() or pick_reflection(draft.seed),
        prompt_version=reply_prompt_version(reply),
        checker_first_error_step=checker_first,
        # The checker only proves arithmetic wrong; it disagrees only when it proves an
        # earlier step wrong than the one the teacher named.
        checker_agrees=checker_first is None or checker_first >= first_wrong,
    )


def reply_prompt_version(reply: StructuredResult) -> str | None:
    """The prompt version of the request that produced a reply, if it is known."""
    for result in reply.results:
        if result.request.prompt_version:
            return result.request.prompt_version
    return None
