"""RISE-style self-editing: a model plants a subtle slip in one step of its own correct
solution, then carries on from it to a wrong answer without noticing.

The kind of edit follows the step's content (numbers invite value edits, `=` and operators
invite symbol edits, a step of words alone can only be misread). A reply is kept only when
the edit is silent, real, changes the answer, and every later step is consistent with the
slipped value: the mistake is then located exactly, with the edited span recorded.
"""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from errata.generators.llm.requests import ChatRequest, StructuredResult, response_format_for
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.teacher import (
    Rejection,
    accepted_reply,
    clean_steps,
    numbered_steps,
)
from errata.generators.prompt_files import Prompt
from errata.generators.spans import edit_between
from errata.generators.verify.answers import verify_answer
from errata.generators.verify.steps import check_steps
from errata.schemas.ids import item_seed
from errata.schemas.records import Attempt, Problem

VALUE_KINDS = ("change_value", "change_related_values", "wrong_substitution", "delete_term")
SYMBOL_KINDS = ("change_operator", "swap_terms")
WORDING_KINDS = ("misread_wording",)
EDIT_KINDS = VALUE_KINDS + SYMBOL_KINDS + WORDING_KINDS

KIND_ERROR_TYPE: dict[str, str] = {
    "change_value": "calculation",  # one number off: the step's own claim no longer holds
    "change_related_values": "misread_question",  # a number copied wrong, its results with it
    "wrong_substitution": "wrong_substitution",
    "delete_term": "deleted_term",
    "change_operator": "wrong_operator",
    "swap_terms": "swapped_operands",
    "misread_wording": "question_misinterpretation",
}
KIND_INSTRUCTIONS: dict[str, str] = {
    "change_value": "Change one number in the step, leaving everything else as it is.",
    "change_related_values": (
        "Take one number the step uses a little differently and change the numbers that "
        "follow from it in the same step, so the step stays self-consistent."
    ),
    "wrong_substitution": (
        "Use a different quantity from the question or an earlier step in place of the one "
        "the step should use."
    ),
    "delete_term": "Leave one term out of a calculation in the step.",
    "change_operator": "Replace one arithmetic operator in the step with another.",
    "swap_terms": "Swap two terms of a calculation where their order matters.",
    "misread_wording": "Reword the step so that it misreads what the question says or asks.",
}

SELF_EDIT_RESPONSE = "self_edit"
_DIGIT_RE = re.compile(r"\d")
_OPERATOR_RE = re.compile(r"\d\s*[-+*/x×÷]\s*\$?\d|=")
# Three terms in a row, `a + b - c`: one of them can be left out.
_CHAIN_RE = re.compile(r"\d[\d,.]*\s*[-+*/x×÷]\s*\$?\d[\d,.]*\s*[-+*/x×÷]\s*\$?\d")
# Words by which an edit gives itself away; matched whole, case-insensitively, and only
# where the question and the original solution do not already use them ("3 wrong answers").
ANNOUNCEMENT_MARKERS = (
    "wrong",
    "mistake",
    "mistakes",
    "mistaken",
    "error",
    "errors",
    "erroneous",
    "incorrect",
    "incorrectly",
    "correction",
    "oops",
    "whoops",
    "actually",
    "typo",
    "let's correct",
    "let me correct",
    "should be",
    "should have been",
    "oh wait",
    "on second thought",
    "recheck",
    "re-check",
    "double-check",
    "i made",
)
_STEP_LABEL_RE = re.compile(r"^\s*step\s*\d+\s*[:.)-]\s*", re.IGNORECASE)
_MARKER_RES = {
    m: re.compile(rf"(?<![\w-]){re.escape(m)}(?![\w-])", re.I) for m in ANNOUNCEMENT_MARKERS
}


class SelfEditReply(BaseModel):
    """What the model returns: the edited step, the steps after it, and what it reached."""

    model_config = ConfigDict(extra="forbid")

    edited_step: str
    continuation: list[str]
    final_answer: str
    explanation: str


def edit_seed(run_seed: int, attempt: Attempt) -> int:
    """The seed that picks which step of an attempt is edited, and how."""
    return item_seed(run_seed, f"{attempt.attempt_id}/edit")


def edit_kinds(step: str) -> tuple[str, ...]:
    """The edit kinds a step's content allows: value edits where it has numbers, symbol edits
    where it has `=` or an operator between numbers, a misreading where it has neither."""
    kinds: list[str] = []
    if _DIGIT_RE.search(step):
        kinds += ["change_value", "change_related_values", "wrong_substitution"]
        if _CHAIN_RE.search(step):
            kinds.append("delete_term")
    if _OPERATOR_RE.search(step):
        kinds += SYMBOL_KINDS
    if not kinds and step.strip():
        kinds += WORDING_KINDS
    return tuple(kinds)


def pick_edit(attempt: Attempt, seed: int) -> tuple[int, str] | None:
    """(step index, kind) to edit, drawn from the attempt's own seed; None when the attempt
    is not verified correct or no step has anything to edit."""
    if attempt.verdict != "correct":
        return None
    options = [(i, kinds) for i, step in enumerate(attempt.steps) if (kinds := edit_kinds(step))]
    if not options:
        return None
    rng = random.Random(item_seed(seed, f"{attempt.attempt_id}/edit"))
    step, kinds = rng.choice(options)
    return step, rng.choice(kinds)


def self_edit_request(
    problem: Problem,
    attempt: Attempt,
    step: int,
    kind: str,
    model: str,
    params: dict[str, Any],
    prompt: Prompt,
) -> ChatRequest:
    """The request asking `model` to slip in step `step` (0-based) of its own solution."""
    messages = prompt.messages(
        question=problem.question,
        numbered_steps=numbered_steps(attempt.steps),
        step_number=str(step + 1),
        step_text=attempt.steps[step],
        edit_kind=kind.replace("_", " "),
        edit_instruction=KIND_INSTRUCTIONS[kind],
    )
    return ChatRequest.build(
        model,
        messages,
        params,
        response_format=response_format_for(SELF_EDIT_RESPONSE, SelfEditReply),
        prompt_version=prompt.version,
        item_id=f"{attempt.attempt_id}/edit",
    )


def announced_markers(text: str, known: str) -> list[str]:
    """Announcement markers in `text` that `known` (question and original solution) lacks."""
    return [
        marker
        for marker, pattern in _MARKER_RES.items()
        if pattern.search(text) and not pattern.search(known)
    ]


def self_edit_draft(
    problem: Problem,
    attempt: Attempt,
    step: int,
    kind: str,
    reply: StructuredResult,
    model: str,
    seed: int,
) -> Draft | Rejection:
    """The self-edited mistake as a Draft, or the Rejection naming the first check it fails."""
    where = {"problem_id": attempt.problem_id, "attempt_id": attempt.attempt_id, "step": step}
    value = accepted_reply(reply, SelfEditReply, dict(where))
    if isinstance(value, Rejection):
        return value
    payload = {**where, "kind": kind, "reply": value.model_dump()}
    if attempt.verdict != "correct":
        return Rejection("attempt_not_correct", f"attempt verdict {attempt.verdict}", payload)
    if not 0 <= step < len(attempt.steps):
        return Rejection("no_such_step", f"step {step} of {len(attempt.steps)} steps", payload)
    original_step = attempt.steps[step]
    # The model may echo the step label it was shown, or close with an answer-only line.
    # The edited step keeps its spacing, so its span compares with the original's exactly.
    edited_step = _STEP_LABEL_RE.sub("", value.edited_step).strip()
    continuation = clean_steps(value.continuation)
    if not edited_step:
        return Rejection("empty_edit", "the edited step is empty", payload)
    markers = announced_markers(
        "\n".join([edited_step, *continuation]), f"{problem.question}\n{attempt.text}"
    )
    if markers:
        message = f"the edit announces itself: {', '.join(repr(m) for m in markers)}"
        return Rejection("announces_correction", message, payload)
    if edited_step == original_step.strip():
        return Rejection("edit_unchanged", f"step {step} is identical to the original", payload)
    answer = verify_answer(value.final_answer, problem.reference_answer)
    if answer.verdict != "incorrect":
        message = f"final answer {value.final_answer!r}: {answer.verdict}"
        return Rejection("answer_not_wrong", message, payload)
    wrong_steps = [*attempt.steps[:step], edited_step, *continuation]
    later = [
        v for v in check_steps(wrong_steps, problem.question)[step + 1 :] if v.verdict == "wrong"
    ]
    if later:
        message = f"step {later[0].index}: {later[0].detail}"
        return Rejection("later_step_inconsistent", message, payload)
    item_id = f"{attempt.attempt_id}/edit"
    draft_seed = item_seed(seed, item_id)
    return Draft(
        problem=problem,
        item_id=item_id,
        method=f"llm:{model}",
        producer=f"self-edit:{model}",
        error_type=KIND_ERROR_TYPE[kind],
        first_error_step=step,
        wrong_steps=wrong_steps,
        wrong_answer=value.final_answer.strip(),
        explanation=value.explanation.strip(),
        reference_steps=list(attempt.steps),
        seed=draft_seed,
        attempt_id=attempt.attempt_id,
        edit=edit_between(original_step, edited_step, draft_seed),
        resume_step=step,
        prompt_version=_prompt_version(reply),
    )


def _prompt_version(reply: StructuredResult) -> str | None:
    """The prompt version of the request behind a reply, if known."""
    return next((r.request.prompt_version for r in reply.results if r.request.prompt_version), None)
