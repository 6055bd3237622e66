from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from errata.generators.domains.math import correct_natural
from errata.generators.llm.requests import ChatRequest, ChatResult, StructuredResult
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.reflections import REFLECTIONS
from errata.generators.mistakes.self_edit import SelfEditReply
from errata.generators.mistakes.teacher import (
    Rejection,
    TeacherReply,
    accepted_reply,
    clean_steps,
    teacher_draft,
    teacher_request,
)
from errata.generators.mistakes.wrong_solution import WrongSolutionReply
from errata.generators.prompt_files import load_prompt
from errata.generators.sources.gsm8k import gsm8k_problem
from errata.schemas.records import MATH_ERROR_TYPES, Attempt, Problem
from tests.conftest import GSM8K_MODEL_SOLUTIONS

MODEL = "teacher-model"


def structured(raw: str | None, model: type[BaseModel], request: ChatRequest | None = None):
    """A StructuredResult as the client builds one from a raw reply text."""
    results = (ChatResult(request=request, content=raw),) if request is not None else ()
    if raw is None:
        return StructuredResult(None, None, "empty", "no content", results)
    try:
        value = model.model_validate_json(raw)
    except ValidationError as exc:
        reason = "invalid_json" if exc.errors()[0]["type"] == "json_invalid" else "schema_mismatch"
        return StructuredResult(None, raw, reason, str(exc)[:200], results)
    except ValueError as exc:  # text that is not even a valid JSON string (lone surrogates)
        return StructuredResult(None, raw, "invalid_json", str(exc)[:200], results)
    return StructuredResult(value, raw, None, "", results)


def wrong_attempt(problem: Problem, solution: str, producer: str = "gsm8k-6b") -> Attempt:
    """An Attempt from a fixture solution ending in `A: n`."""
    lines = [line for line in solution.splitlines() if line.strip()]
    assert lines[-1].startswith("A:")
    return Attempt(
        attempt_id=f"a-{problem.problem_id}-{producer}",
        problem_id=problem.problem_id,
        producer=producer,
        steps=lines[:-1],
        text=solution,
        final_answer=lines[-1][2:].strip(),
        verdict="incorrect",
        run_id="r-test",
    )


@pytest.fixture(scope="module")
def model_solutions() -> list[dict]:
    return [json.loads(line) for line in GSM8K_MODEL_SOLUTIONS.read_text().splitlines()]


@pytest.fixture
def ducks(gsm8k_rows, model_solutions) -> tuple[Problem, Attempt]:
    """Janet's ducks: the 6B model forgets the four muffin eggs in step 1 and answers 26."""
    problem = gsm8k_problem(gsm8k_rows[0], 0, "test", {})
    return problem, wrong_attempt(problem, model_solutions[0]["6b_finetuning"]["solution"])


@pytest.fixture
def house(gsm8k_rows, model_solutions) -> tuple[Problem, Attempt]:
    """Josh's house: step 2 writes 130,000*.15 as 195,000, an arithmetic slip."""
    problem = gsm8k_problem(gsm8k_rows[2], 2, "test", {})
    solution = model_solutions[2]["175b_finetuning"]["solution"]
    return problem, wrong_attempt(problem, solution, "gsm8k-175b")


def good_reply(**overrides) -> str:
    reply = {
        "first_error_step": 1,
        "error_type": "missing_step",
        "explanation": "Janet also uses 4 eggs for muffins, so those must be taken away too.",
        "corrected_steps": [
            "Step 1: She eats 3 and bakes with 4, so she sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.",
            "She makes 9 * 2 = $<<9*2=18>>18 a day.",
            "The answer is 18.",
        ],
        "fresh_solution": [
            "She uses 3 + 4 = <<3+4=7>>7 eggs herself.",
            "That leaves 16 - 7 = <<16-7=9>>9 eggs to sell,\nworth 9 * 2 = $<<9*2=18>>18.",
            "#### 18",
        ],
        "reflection": "Wait, I have not counted the eggs for the muffins yet.",
        "final_answer": "18",
    }
    reply.update(overrides)
    return json.dumps(reply)


def ask(problem: Problem, attempt: Attempt, raw: str | None) -> Draft | Rejection:
    request = teacher_request(
        problem, attempt, MODEL, {"temperature": 0.0}, load_prompt("math/teacher")
    )
    return teacher_draft(problem, attempt, structured(raw, TeacherReply, request), MODEL)


def test_request_shows_numbered_steps_and_lists_error_types(ducks) -> None:
    problem, attempt = ducks
    prompt = load_prompt("math/teacher")
    request = teacher_request(problem, attempt, MODEL, {"temperature": 0.0}, prompt)
    user = request.messages[1][1]
    assert "Step 1: Janet eats 3" in user and "Step 2: She has 13" in user
    assert "Correct final answer: 18" in user and "final answer: 26" in user
    assert request.item_id == attempt.attempt_id
    assert request.prompt_version == prompt.version
    schema = json.loads(request.response_format)["json_schema"]
    assert schema["name"] == "teacher_reply" and schema["strict"] is True
    error_type = schema["schema"]["properties"]["error_type"]
    assert set(error_type["enum"]) == set(MATH_ERROR_TYPES)
    assert schema["schema"]["additionalProperties"] is False


def test_good_reply_becomes_a_draft(ducks) -> None:
    problem, attempt = ducks
    draft = ask(problem, attempt, good_reply())
    assert isinstance(draft, Draft), draft
    assert draft.method == f"llm:{MODEL}" and draft.producer == f"teacher:{MODEL}"
    assert draft.edit is None and draft.attempt_id == attempt.attempt_id
    assert draft.first_error_step == 0
    assert draft.error_type == "missing_step"
    assert draft.wrong_steps == attempt.steps and draft.wrong_answer == "26"
    assert draft.explanation.startswith("Janet also uses 4 eggs")
    assert draft.reference_steps == problem.reference_solution.splitlines()[:-1]
    # Labels, line breaks and the answer-only line are gone: the correct stage adds its own.
    assert draft.fix_steps == [
        "She eats 3 and bakes with 4, so she sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.",
        "She makes 9 * 2 = $<<9*2=18>>18 a day.",
    ]
    assert draft.restart_steps == [
        "She uses 3 + 4 = <<3+4=7>>7 eggs herself.",
        "That leaves 16 - 7 = <<16-7=9>>9 eggs to sell, worth 9 * 2 = $<<9*2=18>>18.",
    ]
    assert draft.reflection == "Wait, I have not counted the eggs for the muffins yet."
    assert draft.prompt_version == load_prompt("math/teacher").version
    assert draft.checker_first_error_step is None  # the slip is logical, not arithmetic
    assert draft.checker_agrees is True


def test_draft_passes_the_correct_stage(ducks) -> None:
    problem, attempt = ducks
    draft = ask(problem, attempt, good_reply())
    result = correct_natural([draft], run_id="r-test")
    assert [r.reason for r in result.rejects] == []
    (mistake,) = result.mistakes
    assert mistake.origin == "natural" and mistake.checker_agrees is True
    assert {c.kind for c in mistake.corrections} == {"fix_continue", "fresh_restart"}


def test_empty_reflection_falls_back_to_the_bank(ducks) -> None:
    problem, attempt = ducks
    draft = ask(problem, attempt, good_reply(reflection="  "))
    assert isinstance(draft, Draft) and draft.reflection in REFLECTIONS


@pytest.mark.parametrize("step", [0, 3, -1, 10**30])
def test_step_that_does_not_exist_is_rejected(ducks, step: int) -> None:
    problem, attempt = ducks
    rejection = ask(problem, attempt, good_reply(first_error_step=step))
    assert isinstance(rejection, Rejection) and rejection.reason == "no_such_step"
    assert rejection.payload["raw"] == good_reply(first_error_step=step)


@pytest.mark.parametrize("answer", ["26", "19", "", "eighteen dollars or so"])
def test_wrong_final_answer_is_rejected(ducks, answer: str) -> None:
    problem, attempt = ducks
    rejection = ask(problem, attempt, good_reply(final_answer=answer))
    assert isinstance(rejection, Rejection) and rejection.reason == "teacher_answer_wrong"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("corrected_steps", [], "empty_correction"),
        ("corrected_steps", ["#### 18"], "empty_correction"),
        ("fresh_solution", ["  ", ""], "empty_fresh_solution"),
        ("explanation", "", "empty_explanation"),
    ],
)
def test_empty_parts_are_rejected(ducks, field: str, value, reason: str) -> None:
    problem, attempt = ducks
    rejection = ask(problem, attempt, good_reply(**{field: value}))
    assert isinstance(rejection, Rejection) and rejection.reason == reason


def test_failed_reply_keeps_reason_and_raw(ducks) -> None:
    problem, attempt = ducks
    rejection = ask(problem, attempt, '{"first_error_step": 1')
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "invalid_json"
    assert rejection.payload["raw"] == '{"first_error_step": 1'
    unknown_type = ask(problem, attempt, good_reply(error_type="bad_luck"))
    assert isinstance(unknown_type, Rejection) and unknown_type.reason == "schema_mismatch"


SURROGATE = "W\ud800ait"  # a lone surrogate: not valid Unicode, the store could not write it


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (TeacherReply, {"reflection": SURROGATE}),
        (TeacherReply, {"fresh_solution": ["3 + 4 = 7", SURROGATE]}),
        (WrongSolutionReply, {"steps": [SURROGATE]}),
        (WrongSolutionReply, {"wrong_final_answer": SURROGATE}),
        (SelfEditReply, {"continuation": ["fine", SURROGATE]}),
        (SelfEditReply, {"explanation": SURROGATE}),
    ],
)
def test_any_text_of_a_reply_that_is_not_unicode_is_rejected(model, fields) -> None:
    valid = {
        TeacherReply: json.loads(good_reply()),
        WrongSolutionReply: {
            "steps": ["a"], "first_error_step": 1, "explanation": "e",
            "wrong_final_answer": "1", "corrected_steps": ["b"], "reflection": "r",
        },
        SelfEditReply: {
            "edited_step": "a", "continuation": ["b"], "final_answer": "1", "explanation": "e",
        },
    }[model]  # fmt: skip
    assert not isinstance(
        accepted_reply(StructuredResult(model(**valid), "{}", None, ""), model, {}), Rejection
    )
    reply = StructuredResult(model(**{**valid, **fields}), "{}", None, "")
    rejection = accepted_reply(reply, model, {})
    assert isinstance(rejection, Rejection) and rejection.reason == "invalid_text"


def test_checker_disagrees_when_it_proves_an_earlier_step_wrong(house) -> None:
    problem, attempt = house
    assert problem.reference_answer == "70000"
    reply = good_reply(
        first_error_step=3,
        error_type="irrelevant_information",
        explanation="There is no commission in the question.",
        corrected_steps=["The profit is 200,000 - 130,000 = $<<200000-130000=70000>>70,000."],
        fresh_solution=[
            "The value rose by 80,000 * 1.5 = <<80000*1.5=120000>>120,000.",
            "It is worth 80,000 + 120,000 = <<80000+120000=200000>>200,000.",
            "Profit: 200,000 - 130,000 = <<200000-130000=70000>>70,000.",
        ],
        final_answer="$70,000",
    )
    draft = ask(problem, attempt, reply)
    assert isinstance(draft, Draft), draft
    assert draft.first_error_step == 2
    assert draft.checker_first_error_step == 1  # 130,000*.15 written as 195,000
    assert draft.checker_agrees is False


def test_checker_agrees_when_teacher_names_the_same_or_an_earlier_step(house) -> None:
    problem, attempt = house
    base = json.loads(
        good_reply(
            explanation="The value should grow by 150% of 80,000.",
            corrected_steps=["The value rose by 80,000 * 1.5 = <<80000*1.5=120000>>120,000."],
            fresh_solution=["Profit: 200,000 - 130,000 = <<200000-130000=70000>>70,000."],
            final_answer="70000",
        )
    )
    for step, expected_checker in ((2, 1), (1, 1)):
        draft = ask(problem, attempt, json.dumps(base | {"first_error_step": step}))
        assert isinstance(draft, Draft), draft
        assert draft.checker_first_error_step == expected_checker
        assert draft.checker_agrees is True


def test_clean_steps_drops_only_answer_lines_at_the_end() -> None:
    steps = [
        "Step 2: The answer is not yet known, so add 2 + 2 = 4.",
        "",
        "Therefore, the final answer is 4.",
        "\\boxed{4}",
    ]
    assert clean_steps(["So 2 + 2 = 4.", "The answer is: $4$ apples."]) == ["So 2 + 2 = 4."]
    assert clean_steps(steps) == ["The answer is not yet known, so add 2 + 2 = 4."]
