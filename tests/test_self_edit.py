"""RISE self-edit: edit kinds by content, a deterministic pick, the request, and a Draft kept
only when the edit is silent, real, changes the answer and the later steps follow it."""

from __future__ import annotations

import json

import pytest

from errata.generators.llm.requests import StructuredResult
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.self_edit import (
    EDIT_KINDS,
    KIND_ERROR_TYPE,
    SelfEditReply,
    announced_markers,
    edit_kinds,
    pick_edit,
    self_edit_draft,
    self_edit_request,
)
from errata.generators.mistakes.teacher import Rejection
from errata.generators.prompt_files import load_prompt
from errata.generators.sources.gsm8k import problems_from_rows
from errata.generators.verify.answers import verify_answer
from errata.schemas.records import MATH_ERROR_TYPES, Attempt, Problem
from tests.conftest import GSM8K_MODEL_SOLUTIONS, GSM8K_TEST

MODEL = "demo-model"


@pytest.fixture(scope="module")
def janet() -> tuple[Problem, Attempt]:
    """GSM8K test problem 0 and the 175B verifier's correct solution of it, as an attempt."""
    row = json.loads(GSM8K_TEST.read_text().splitlines()[0])
    problem = problems_from_rows([row], "test", "fixture")[0]
    solved = json.loads(GSM8K_MODEL_SOLUTIONS.read_text().splitlines()[0])["175b_verification"]
    lines = solved["solution"].splitlines()
    assert solved["is_correct"] and lines[-1] == "A: 18"
    text = "\n".join([*lines[:-1], "#### 18"])
    assert verify_answer(text, problem.reference_answer).verdict == "correct"
    attempt = Attempt(
        attempt_id="a-janet",
        problem_id=problem.problem_id,
        producer="replay:example/175b_verification",
        steps=lines[:-1],
        text=text,
        final_answer="18",
        verdict="correct",
        run_id="r-test",
    )
    return problem, attempt


def _reply(**fields: object) -> StructuredResult:
    value = SelfEditReply(**fields)
    return StructuredResult(value=value, raw=value.model_dump_json(), reason=None, message="")


# Step 1 of the attempt: "Each day Janet's ducks lay 16 eggs and she uses 7,
# 16 - 7 = <<16-7=9>>9 duck eggs are for sale". The edit subtracts wrong by one.
GOOD = {
    "edited_step": (
        "Each day Janet's ducks lay 16 eggs and she uses 7, 16 - 7 = <<16-7=8>>8 duck eggs are "
        "for sale"
    ),
    "continuation": [
        "She sells her eggs for $2 per egg and has 8 available for sale so 2 * 8 = $<<2*8=16>>16 "
        "per day"
    ],
    "final_answer": "16",
    "explanation": "Step 2 says 16 - 7 is 8; it is 9, so she has 9 eggs to sell, not 8.",
}


def test_edit_kinds_follow_the_step_content() -> None:
    assert edit_kinds("She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs") == (
        "change_value",
        "change_related_values",
        "wrong_substitution",
        "delete_term",
        "change_operator",
        "swap_terms",
    )
    assert edit_kinds("Each box holds 12 pens") == (
        "change_value",
        "change_related_values",
        "wrong_substitution",
    )
    assert "delete_term" not in edit_kinds("So 2 * 9 = 18")
    assert set(edit_kinds("So 2 * 9 = 18")) >= {"change_operator", "swap_terms"}
    assert edit_kinds("She sells whatever is left over at the market") == ("misread_wording",)
    assert edit_kinds("   ") == ()


def test_every_kind_names_a_taxonomy_error_type() -> None:
    assert set(KIND_ERROR_TYPE) == set(EDIT_KINDS)
    assert set(KIND_ERROR_TYPE.values()) <= set(MATH_ERROR_TYPES)


def test_pick_is_deterministic_and_allowed(janet: tuple[Problem, Attempt]) -> None:
    _, attempt = janet
    picks = {seed: pick_edit(attempt, seed) for seed in range(40)}
    assert picks == {seed: pick_edit(attempt, seed) for seed in range(40)}
    for step, kind in picks.values():
        assert kind in edit_kinds(attempt.steps[step])
    assert len(set(picks.values())) > 3  # seeds spread over steps and kinds


def test_pick_refuses_wrong_or_empty_attempts(janet: tuple[Problem, Attempt]) -> None:
    _, attempt = janet
    assert pick_edit(attempt.model_copy(update={"verdict": "incorrect"}), 0) is None
    assert pick_edit(attempt.model_copy(update={"steps": ["", "  "]}), 0) is None


def test_request_asks_for_the_step_and_kind(janet: tuple[Problem, Attempt]) -> None:
    problem, attempt = janet
    prompt = load_prompt("math/self_edit")
    request = self_edit_request(problem, attempt, 1, "change_value", MODEL, {"seed": 3}, prompt)
    user = request.messages[-1][1]
    assert "Step 2: Each day Janet's ducks lay 16 eggs" in user
    assert "step 2" in user and "change value" in user
    assert request.item_id == "a-janet/edit"
    assert request.prompt_version == prompt.version
    assert json.loads(request.response_format)["json_schema"]["name"] == "self_edit"
    assert dict(request.params) == {"seed": 3}


def test_a_good_self_edit_is_a_draft_with_exact_spans(janet: tuple[Problem, Attempt]) -> None:
    problem, attempt = janet
    draft = self_edit_draft(problem, attempt, 1, "change_value", _reply(**GOOD), MODEL, seed=7)
    assert isinstance(draft, Draft)
    assert draft.method == f"llm:{MODEL}" and draft.producer == f"self-edit:{MODEL}"
    assert draft.error_type == "calculation"
    assert draft.first_error_step == 1 and draft.resume_step == 1
    assert draft.wrong_steps == [attempt.steps[0], GOOD["edited_step"], *GOOD["continuation"]]
    assert draft.reference_steps == attempt.steps
    assert draft.wrong_answer == "16" and draft.attempt_id == "a-janet"
    edit = draft.edit
    assert edit is not None and edit.original_step == attempt.steps[1]
    original, wrong = attempt.steps[1], draft.wrong_steps[1]
    assert original[edit.original_start : edit.original_end] == "9>>9"
    assert wrong[edit.wrong_start : edit.wrong_end] == "8>>8"
    # Outside the span the two steps are the same text.
    assert original[: edit.original_start] == wrong[: edit.wrong_start]
    assert original[edit.original_end :] == wrong[edit.wrong_end :]


def test_an_operator_edit_spans_what_it_changed(janet: tuple[Problem, Attempt]) -> None:
    problem, attempt = janet
    reply = _reply(
        edited_step=attempt.steps[0].replace("3 + 4 = <<3+4=7>>7", "3 * 4 = <<3*4=12>>12"),
        continuation=[
            "Each day Janet's ducks lay 16 eggs and she uses 12, 16 - 12 = <<16-12=4>>4 duck "
            "eggs are for sale",
            "She sells her eggs for $2 per egg and has 4 available for sale so 2 * 4 = "
            "$<<2*4=8>>8 per day",
        ],
        final_answer="8",
        explanation="Step 1 multiplies 3 by 4; the eggs used are 3 + 4 = 7.",
    )
    draft = self_edit_draft(problem, attempt, 0, "change_operator", reply, MODEL, seed=7)
    assert isinstance(draft, Draft) and draft.error_type == "wrong_operator"
    edit = draft.edit
    assert attempt.steps[0][edit.original_start : edit.original_end] == "+ 4 = <<3+4=7>>7"
    assert draft.wrong_steps[0][edit.wrong_start : edit.wrong_end] == "* 4 = <<3*4=12>>12"


def test_no_reply_is_rejected_with_its_reason_and_raw_text(
    janet: tuple[Problem, Attempt],
) -> None:
    problem, attempt = janet
    failed = StructuredResult(value=None, raw="{not json", reason="invalid_json", message="bad")
    rejection = self_edit_draft(problem, attempt, 1, "change_value", failed, MODEL, seed=7)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "invalid_json"
    assert rejection.payload["raw"] == "{not json"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"edited_step": GOOD["edited_step"] + ", oops"}, "announces_correction"),
        (
            {"continuation": ["Actually the eggs for sale should be 9, so 2 * 9 = 18"]},
            "announces_correction",
        ),
        ({"edited_step": "<same>"}, "edit_unchanged"),
        (
            {
                "edited_step": "Every day Janet's ducks lay 16 eggs and she uses 7, 16 - 7 = "
                "<<16-7=9>>9 duck eggs are for sale",
                "continuation": [
                    "She sells her eggs for $2 per egg and has 9 available for sale so "
                    "2 * 9 = $<<2*9=18>>18 per day"
                ],
                "final_answer": "18",
            },
            "answer_not_wrong",
        ),
        (
            {
                "continuation": [
                    "She sells her eggs for $2 per egg and has 8 available for sale so "
                    "2 * 8 = $<<2*8=17>>17 per day"
                ],
                "final_answer": "17",
            },
            "later_step_inconsistent",
        ),
    ],
)
def test_each_failed_check_has_its_reason(
    janet: tuple[Problem, Attempt], change: dict, reason: str
) -> None:
    problem, attempt = janet
    fields = {**GOOD, **change}
    if fields["edited_step"] == "<same>":
        fields["edited_step"] = attempt.steps[1]
    result = self_edit_draft(problem, attempt, 1, "change_value", _reply(**fields), MODEL, 7)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.payload["attempt_id"] == "a-janet"


def test_announcement_words_already_in_the_question_are_not_announcements() -> None:
    known = "Sam got 3 answers wrong on the quiz."
    assert announced_markers("So he got 3 wrong answers", known) == []
    assert announced_markers("That was a mistake; it should be 5", known) == [
        "mistake",
        "should be",
    ]
    assert announced_markers("The errors-free count is 4", known) == []
