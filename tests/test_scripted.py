"""Scripted fixtures for the test double: the requests errata sends, with replies that hold."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from errata.generators.llm.requests import StructuredResult
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.self_edit import (
    SelfEditReply,
    pick_edit,
    self_edit_draft,
    self_edit_request,
)
from errata.generators.mistakes.teacher import TeacherReply, teacher_draft, teacher_request
from errata.generators.mistakes.wrong_solution import (
    WrongSolutionReply,
    requested_error_type,
    wrong_solution_draft,
    wrong_solution_requests,
)
from errata.generators.prompt_files import load_prompt
from errata.generators.sampling.llm import sample_requests
from errata.generators.sources.gsm8k import load_gsm8k
from errata.schemas.ids import item_seed
from errata.schemas.records import MATH_ERROR_TYPES
from errata.testing.openai_double import fixture_key
from errata.testing.openai_double_app import load_fixtures
from errata.testing.scripted import (
    build_fixtures,
    main,
    scripted_samples,
    solutions_by_question,
)
from tests.conftest import GSM8K_MODEL_SOLUTIONS, GSM8K_TEST

MODEL = "errata-double"
SEED = 3
STRUCTURED = {"temperature": 0.0, "max_tokens": 1024}
RUN = {"samples": 4, "temperature": 0.8, "max_tokens": 1024, "seed": SEED}


@pytest.fixture(scope="module")
def setup():
    problems = load_gsm8k(str(GSM8K_TEST), "test", limit=10)
    solutions = solutions_by_question(GSM8K_MODEL_SOLUTIONS)
    fixtures = build_fixtures(problems, solutions, MODEL, **RUN, structured_params=STRUCTURED)
    _, attempts = scripted_samples(problems, solutions, MODEL, **RUN)
    return problems, dict(fixtures), [key for key, _ in fixtures], attempts


def _reply(fixtures: dict[str, list[str]], request) -> str:
    replies = fixtures[fixture_key(request.message_dicts())]
    return replies[(dict(request.params).get("seed") or 0) % len(replies)]


def test_keys_are_unique_and_every_entry_has_replies(setup) -> None:
    _, fixtures, keys, attempts = setup
    assert len(keys) == len(set(keys)) == len(fixtures)
    assert all(
        replies and all(isinstance(r, str) for r in replies) for replies in fixtures.values()
    )
    verdicts = Counter(a.verdict for a in attempts)
    assert verdicts["correct"] and verdicts["incorrect"]  # both stages get requests


def test_samples_are_real_solutions_in_the_solve_format(setup) -> None:
    problems, fixtures, _, attempts = setup
    prompt = load_prompt("math/solve")
    requests = sample_requests(problems[0], 4, MODEL, 0.8, 1024, SEED, prompt)
    replies = fixtures[fixture_key(requests[0].message_dicts())]
    assert len(replies) == 4  # one per model in the examples file
    assert all(r.splitlines()[-1].startswith("#### ") and "A:" not in r for r in replies)
    texts = {a.text for a in attempts if a.problem_id == problems[0].problem_id}
    assert texts == {_reply(fixtures, r) for r in requests}


def test_teacher_replies_validate_and_make_drafts(setup) -> None:
    problems, fixtures, _, attempts = setup
    by_id = {p.problem_id: p for p in problems}
    prompt = load_prompt("math/teacher")
    wrong = [a for a in attempts if a.verdict == "incorrect"]
    for attempt in wrong:
        problem = by_id[attempt.problem_id]
        request = teacher_request(problem, attempt, MODEL, STRUCTURED, prompt)
        reply = TeacherReply.model_validate_json(_reply(fixtures, request))
        assert reply.final_answer == problem.reference_answer
        if attempt.first_error_step is not None:
            assert reply.first_error_step == attempt.first_error_step + 1
        result = StructuredResult(value=reply, raw=None, reason=None, message="")
        assert isinstance(teacher_draft(problem, attempt, result, MODEL), Draft)


def test_self_edit_replies_make_kept_drafts(setup) -> None:
    problems, fixtures, _, attempts = setup
    by_id = {p.problem_id: p for p in problems}
    prompt = load_prompt("math/self_edit")
    outcomes = Counter()
    for attempt in (a for a in attempts if a.verdict == "correct"):
        problem = by_id[attempt.problem_id]
        seed = item_seed(SEED, f"{attempt.attempt_id}/edit")
        step, kind = pick_edit(attempt, seed)
        request = self_edit_request(problem, attempt, step, kind, MODEL, STRUCTURED, prompt)
        reply = SelfEditReply.model_validate_json(_reply(fixtures, request))
        result = StructuredResult(value=reply, raw=None, reason=None, message="")
        outcome = self_edit_draft(problem, attempt, step, kind, result, MODEL, seed)
        outcomes["kept" if isinstance(outcome, Draft) else outcome.reason] += 1
    assert outcomes["kept"] > 0
    # Where the injector has no edit, the reply is the step unchanged, rejected as such.
    assert set(outcomes) <= {"kept", "edit_unchanged"}


def test_wrong_solution_replies_follow_the_requested_type(setup) -> None:
    problems, fixtures, _, _ = setup
    prompt = load_prompt("math/wrong_solution")
    outcomes = Counter()
    for problem in problems:
        requests = wrong_solution_requests(
            problem, MATH_ERROR_TYPES, MODEL, STRUCTURED, prompt, SEED
        )
        for request in requests:
            reply = WrongSolutionReply.model_validate_json(_reply(fixtures, request))
            result = StructuredResult(value=reply, raw=None, reason=None, message="")
            error_type = requested_error_type(request)
            outcome = wrong_solution_draft(problem, error_type, result, MODEL)
            outcomes["kept" if isinstance(outcome, Draft) else outcome.reason] += 1
    assert outcomes["kept"] > 0, outcomes


def test_the_command_writes_fixtures_the_double_loads(tmp_path) -> None:
    out = tmp_path / "fixtures.jsonl"
    main(
        [
            "--problems", str(GSM8K_TEST),
            "--solutions", str(GSM8K_MODEL_SOLUTIONS),
            "--limit", "2",
            "--model", MODEL,
            "--out", str(out),
            "--samples", "3",
        ]
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and len(load_fixtures([out])) == len(lines)
