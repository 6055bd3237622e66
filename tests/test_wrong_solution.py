from __future__ import annotations

import json

import pytest

from errata.generators.domains.math import correct_natural
from errata.generators.llm.requests import ChatRequest
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.teacher import Rejection
from errata.generators.mistakes.wrong_solution import (
    ERROR_DESCRIPTIONS,
    WrongSolutionReply,
    pick_error_types,
    requested_error_type,
    wrong_solution_draft,
    wrong_solution_requests,
)
from errata.generators.prompt_files import load_prompt
from errata.generators.sources.gsm8k import gsm8k_problem
from errata.schemas.records import MATH_ERROR_TYPES, Problem
from tests.test_teacher import structured

MODEL = "lemma-model"


@pytest.fixture
def ducks(gsm8k_rows) -> Problem:
    return gsm8k_problem(gsm8k_rows[0], 0, "test", {})


def _requests(problem: Problem, seed: int = 5, per_problem: int = 1) -> list[ChatRequest]:
    prompt = load_prompt("math/wrong_solution")
    params = {"temperature": 0.7}
    return wrong_solution_requests(
        problem, MATH_ERROR_TYPES, MODEL, params, prompt, seed, per_problem
    )


def good_reply(**overrides) -> str:
    reply = {
        "steps": [
            "She eats 3 eggs for breakfast, so 16 - 3 = <<16-3=13>>13 eggs are left.",
            "She sells the 13 eggs for $2 each: 13 * 2 = $<<13*2=26>>26.",
            "#### 26",
        ],
        "first_error_step": 1,
        "explanation": "The four eggs used for muffins were never taken away.",
        "wrong_final_answer": "26",
        "corrected_steps": [
            "She eats 3 and bakes with 4, so 16 - 3 - 4 = <<16-3-4=9>>9 eggs are left.",
            "She sells them for $2 each: 9 * 2 = $<<9*2=18>>18.",
        ],
        "reflection": "Hmm, did I account for every use of the eggs?",
    }
    reply.update(overrides)
    return json.dumps(reply)


def ask(problem: Problem, raw: str, error_type: str = "missing_step") -> Draft | Rejection:
    request = _requests(problem)[0]
    return wrong_solution_draft(
        problem, error_type, structured(raw, WrongSolutionReply, request), MODEL
    )


def test_every_math_error_type_has_a_description() -> None:
    assert set(ERROR_DESCRIPTIONS) == set(MATH_ERROR_TYPES)


def test_requests_pick_types_by_seed(ducks) -> None:
    one = _requests(ducks)
    assert len(one) == 1
    assert [r.key for r in one] == [r.key for r in _requests(ducks)]
    three = _requests(ducks, per_problem=3)
    types = [requested_error_type(r) for r in three]
    assert len(set(types)) == 3 and set(types) <= set(MATH_ERROR_TYPES)
    assert types == pick_error_types(ducks, MATH_ERROR_TYPES, 5, 3)
    assert len({r.key for r in three}) == 3
    # Other seeds draw other types for the same problem (at least once in a few tries).
    drawn = {tuple(pick_error_types(ducks, MATH_ERROR_TYPES, seed, 3)) for seed in range(6)}
    assert len(drawn) > 1
    everything = _requests(ducks, per_problem=100)
    assert len(everything) == len(MATH_ERROR_TYPES)


def test_request_fields(ducks) -> None:
    (request,) = _requests(ducks)
    error_type = requested_error_type(request)
    user = request.messages[1][1]
    assert ducks.question in user and error_type in user
    assert ERROR_DESCRIPTIONS[error_type] in user
    assert request.item_id == f"{ducks.problem_id}/wrong/{error_type}"
    assert request.prompt_version == load_prompt("math/wrong_solution").version
    params = dict(request.params)
    assert params["temperature"] == 0.7 and isinstance(params["seed"], int)
    schema = json.loads(request.response_format)["json_schema"]["schema"]
    assert set(schema["required"]) == set(WrongSolutionReply.model_fields)


def test_good_reply_becomes_a_draft_that_corrects(ducks) -> None:
    draft = ask(ducks, good_reply())
    assert isinstance(draft, Draft), draft
    assert draft.method == f"llm-wrong:{MODEL}" and draft.producer == f"lemma:{MODEL}"
    assert draft.edit is None and draft.error_type == "missing_step"
    assert draft.first_error_step == 0
    assert draft.wrong_steps == [
        "She eats 3 eggs for breakfast, so 16 - 3 = <<16-3=13>>13 eggs are left.",
        "She sells the 13 eggs for $2 each: 13 * 2 = $<<13*2=26>>26.",
    ]
    assert draft.wrong_answer == "26"
    assert draft.fix_steps and draft.fix_steps[-1].endswith("$<<9*2=18>>18.")
    assert draft.restart_steps is None  # fresh & restart comes from the reference
    assert draft.reflection == "Hmm, did I account for every use of the eggs?"
    assert draft.prompt_version == load_prompt("math/wrong_solution").version
    assert draft.checker_first_error_step is None and draft.checker_agrees is True
    result = correct_natural([draft], run_id="r-test")
    assert [r.reason for r in result.rejects] == []
    assert len(result.mistakes) == 1


@pytest.mark.parametrize("answer", ["18", "18.0", "$18"])
def test_answer_equal_to_the_reference_is_rejected(ducks, answer: str) -> None:
    rejection = ask(ducks, good_reply(wrong_final_answer=answer))
    assert isinstance(rejection, Rejection) and rejection.reason == "answer_not_wrong"


def test_unverifiable_wrong_answer_is_rejected(ducks) -> None:
    rejection = ask(ducks, good_reply(wrong_final_answer=""))
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "wrong_answer_unverifiable"


@pytest.mark.parametrize("step", [0, 3, -2, 10**20])
def test_step_that_does_not_exist_is_rejected(ducks, step: int) -> None:
    # Step 3 is the `#### 26` line, which is dropped: the solution has two steps.
    rejection = ask(ducks, good_reply(first_error_step=step))
    assert isinstance(rejection, Rejection) and rejection.reason == "no_such_step"


def test_error_before_the_named_step_is_rejected(ducks) -> None:
    steps = [
        "She eats 3 eggs, so 16 - 3 = <<16-3=12>>12 eggs are left.",  # 16 - 3 is not 12
        "She bakes with 4, so 12 - 4 = <<12-4=8>>8 eggs are left.",
        "She sells them for $2 each: 8 * 2 = $<<8*2=16>>16.",
    ]
    rejection = ask(ducks, good_reply(steps=steps, first_error_step=2, wrong_final_answer="16"))
    assert isinstance(rejection, Rejection) and rejection.reason == "error_before_named_step"
    # Named where the checker finds it, the same solution is kept.
    kept = ask(
        ducks,
        good_reply(steps=steps, first_error_step=1, wrong_final_answer="16"),
        error_type="calculation",
    )
    assert isinstance(kept, Draft), kept
    assert kept.checker_first_error_step == 0 and kept.error_type == "calculation"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"corrected_steps": []}, "empty_correction"),
        ({"corrected_steps": ["The answer is 18."]}, "empty_correction"),
        ({"steps": []}, "empty_step"),
        ({"steps": ["16 - 3 = <<16-3=13>>13", "  ", "13 * 2 = <<13*2=26>>26"]}, "empty_step"),
        ({"explanation": " "}, "empty_explanation"),
    ],
)
def test_empty_parts_are_rejected(ducks, overrides: dict, reason: str) -> None:
    rejection = ask(ducks, good_reply(**overrides))
    assert isinstance(rejection, Rejection) and rejection.reason == reason


def test_malformed_replies_are_rejected(ducks) -> None:
    for raw, reason in [
        ('{"steps": [', "invalid_json"),
        (good_reply(first_error_step="two"), "schema_mismatch"),
        (json.dumps({**json.loads(good_reply()), "fresh_solution": []}), "schema_mismatch"),
    ]:
        rejection = ask(ducks, raw)
        assert isinstance(rejection, Rejection) and rejection.reason == reason
        assert rejection.payload["raw"] == raw


def test_unknown_error_type_is_rejected(ducks) -> None:
    rejection = ask(ducks, good_reply(), error_type="off_by_one")
    assert isinstance(rejection, Rejection) and rejection.reason == "unknown_error_type"
