"""The math domain's LLM stages over one batch: sample (or replay) attempts, a teacher that
locates and fixes the first wrong step of the wrong ones, and model-written mistakes (RISE
self-edits of correct attempts, LEMMA's type-grounded wrong solutions).

Each stage sends its whole batch of requests at once through the one LLM client (concurrent,
rate-limited, cached) and keeps its own books: every request ends as a kept record or a
reject with a reason. The drafts they make are corrected and verified by the same `correct`
stage as the rule injections.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Sequence
from typing import Any

from errata.generators.domains.base import LLMSettings, StageConfig
from errata.generators.llm.client import Endpoint, run_requests, run_structured
from errata.generators.llm.requests import Usage
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.self_edit import (
    SelfEditReply,
    edit_seed,
    pick_edit,
    self_edit_draft,
    self_edit_request,
)
from errata.generators.mistakes.teacher import (
    Rejection,
    TeacherReply,
    teacher_draft,
    teacher_request,
)
from errata.generators.mistakes.wrong_solution import (
    WrongSolutionReply,
    requested_error_type,
    wrong_solution_draft,
    wrong_solution_requests,
)
from errata.generators.prompt_files import load_prompt
from errata.generators.sampling.attempts import verify_attempts
from errata.generators.sampling.llm import sample_requests, sampled_input
from errata.generators.sampling.replay import ReplayedSolution, read_replay, replay_inputs
from errata.generators.stages import BatchContext
from errata.schemas.records import MATH_ERROR_TYPES, Attempt, LLMUsage, Problem

# The prompts each LLM stage uses; their versions are part of a run's identity.
STAGE_PROMPTS = {
    "sample": "math/solve",
    "teacher": "math/teacher",
    "self_edit": "math/self_edit",
    "wrong_solution": "math/wrong_solution",
}
# Semantic retries of a reply that breaks its schema (HTTP retries are the client's).
STRUCTURED_ATTEMPTS = 3


def prompts_in_use(settings: LLMSettings) -> tuple[tuple[str, str], ...]:
    """(name, version) of every prompt the settings will send."""
    stages = []
    if settings.sampler == "llm":
        stages.append("sample")
    if settings.teacher == "llm":
        stages.append("teacher")
    if settings.injector in ("llm", "both"):
        stages += (
            ["self_edit", "wrong_solution"] if settings.sampler != "none" else ["wrong_solution"]
        )
    return tuple((STAGE_PROMPTS[s], load_prompt(STAGE_PROMPTS[s]).version) for s in stages)


def structured_params(settings: LLMSettings) -> dict[str, Any]:
    # A teacher and an editor should be as deterministic as the endpoint allows.
    return {"temperature": 0.0, "max_tokens": settings.max_tokens}


def usage_record(spent: Usage) -> LLMUsage:
    """What a batch's LLM stages spent, as the record its books keep."""
    return LLMUsage(
        requests=spent.requests,
        cached=spent.cached,
        failed=spent.failed,
        prompt_tokens=spent.prompt_tokens,
        completion_tokens=spent.completion_tokens,
        cost_usd=round(spent.cost_usd, 10),
    )


# --- attempts ----------------------------------------------------------------------------------


def sample_stage(
    problems: Sequence[Problem],
    config: StageConfig,
    endpoint: Endpoint,
    spent: Usage,
    ctx: BatchContext,
) -> list[Attempt]:
    """n samples per problem from the model, each verified by execution."""
    settings = config.llm
    assert settings.model is not None
    prompt = load_prompt(STAGE_PROMPTS["sample"])
    requests = [
        request
        for problem in problems
        for request in sample_requests(
            problem,
            settings.samples,
            settings.model,
            settings.temperature,
            settings.max_tokens,
            config.seed,
            prompt,
        )
    ]
    by_id = {p.problem_id: p for p in problems}
    with ctx.stage("sample", len(requests)) as books:
        results, usage = run_requests(endpoint, requests)
        spent.add(usage)
        inputs = []
        for request, result in zip(requests, results, strict=True):
            if not result.ok:
                payload = {"request": request.item_id, "raw": result.content}
                reason = result.error or "empty"
                ctx.reject(books, reason, result.error_message or reason, request.item_id, payload)
                continue
            problem_id = request.item_id.rpartition("/sample")[0]
            inputs.append(
                sampled_input(
                    by_id[problem_id],
                    request,
                    result.content or "",
                    result.prompt_tokens,
                    result.completion_tokens,
                    result.cost_usd,
                )
            )
        attempts = verify_attempts(inputs, ctx.run_id)
        books.n_out += len(attempts)
    return attempts


@functools.lru_cache(maxsize=2)
def _replayed(
    path: str, fields: tuple[tuple[str, str], ...], modified_ns: int
) -> dict[str, list[ReplayedSolution]]:
    """The replay file read once per worker process, not once per batch; a file changed since
    (its modification time is in the key) is read again."""
    return read_replay(path, dict(fields) or None)


def replay_stage(
    problems: Sequence[Problem], settings: LLMSettings, ctx: BatchContext
) -> list[Attempt]:
    """Solutions sampled elsewhere, matched to the batch's problems and verified by errata;
    a label the file carries is kept beside errata's verdict, never instead of it."""
    assert settings.replay is not None
    modified = os.stat(settings.replay).st_mtime_ns
    inputs = replay_inputs(problems, _replayed(settings.replay, settings.replay_fields, modified))
    with ctx.stage("replay", len(inputs)) as books:
        attempts = verify_attempts(inputs, ctx.run_id)
        books.n_out += len(attempts)
    return attempts


# --- model-made drafts -------------------------------------------------------------------------


def _keep_drafts(
    stage: str,
    items: Sequence[tuple[str, Any]],
    outcomes: Sequence[Draft | Rejection],
    ctx: BatchContext,
    started: float,
) -> list[Draft]:
    """Books for a stage whose items each became a draft or a rejection; `started` is when
    the stage began sending, so its seconds include the requests."""
    kept = []
    with ctx.stage(stage, len(items)) as books:
        books.seconds += time.perf_counter() - started
        for (item_id, _), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, Rejection):
                ctx.reject(books, outcome.reason, outcome.message, item_id, outcome.payload)
                continue
            kept.append(outcome)
            books.n_out += 1
    return kept


def teacher_stage(
    attempts: Sequence[Attempt],
    problems: dict[str, Problem],
    config: StageConfig,
    endpoint: Endpoint,
    spent: Usage,
    ctx: BatchContext,
) -> list[Draft]:
    """The teacher locates, explains and fixes the first wrong step of each wrong attempt."""
    settings = config.llm
    assert settings.model is not None
    started = time.perf_counter()
    prompt = load_prompt(STAGE_PROMPTS["teacher"])
    wrong, repeats = _distinct([a for a in attempts if a.verdict == "incorrect"])
    params = structured_params(settings)
    requests = [
        teacher_request(problems[a.problem_id], a, settings.model, params, prompt) for a in wrong
    ]
    replies, usage = run_structured(endpoint, requests, TeacherReply, STRUCTURED_ATTEMPTS)
    spent.add(usage)
    outcomes: list[Draft | Rejection] = [
        teacher_draft(problems[a.problem_id], a, reply, settings.model)
        for a, reply in zip(wrong, replies, strict=True)
    ]
    outcomes += [_repeat_rejection(a, first) for a, first in repeats]
    items = [(a.attempt_id, a) for a in [*wrong, *(a for a, _ in repeats)]]
    return _keep_drafts("teacher", items, outcomes, ctx, started)


def _distinct(attempts: Sequence[Attempt]) -> tuple[list[Attempt], list[tuple[Attempt, Attempt]]]:
    """The attempts with distinct (problem, steps), and each repeat with the one it repeats:
    two samples of a problem can be the same text, and one correction serves both."""
    first: dict[tuple[str, tuple[str, ...]], Attempt] = {}
    repeats = []
    for attempt in attempts:
        key = (attempt.problem_id, tuple(attempt.steps))
        if key in first:
            repeats.append((attempt, first[key]))
        else:
            first[key] = attempt
    return list(first.values()), repeats


def _repeat_rejection(attempt: Attempt, first: Attempt) -> Rejection:
    message = f"the same steps as attempt {first.attempt_id}, sent once"
    return Rejection("duplicate_attempt", message, {"attempt_id": attempt.attempt_id})


def self_edit_stage(
    attempts: Sequence[Attempt],
    problems: dict[str, Problem],
    config: StageConfig,
    endpoint: Endpoint,
    spent: Usage,
    ctx: BatchContext,
) -> list[Draft]:
    """RISE: the model edits one step of its own verified-correct solution."""
    settings = config.llm
    assert settings.model is not None
    started = time.perf_counter()
    prompt = load_prompt(STAGE_PROMPTS["self_edit"])
    correct, repeats = _distinct([a for a in attempts if a.verdict == "correct"])
    params = structured_params(settings)
    planned, unplanned = [], []
    for attempt in correct:
        seed = edit_seed(config.seed, attempt)
        choice = pick_edit(attempt, seed)
        (unplanned if choice is None else planned).append((attempt, choice, seed))
    requests = [
        self_edit_request(problems[a.problem_id], a, step, kind, settings.model, params, prompt)
        for a, (step, kind), _ in planned
    ]
    replies, usage = run_structured(endpoint, requests, SelfEditReply, STRUCTURED_ATTEMPTS)
    spent.add(usage)
    outcomes: list[Draft | Rejection] = [
        self_edit_draft(problems[a.problem_id], a, step, kind, reply, settings.model, seed)
        for (a, (step, kind), seed), reply in zip(planned, replies, strict=True)
    ]
    outcomes += [
        Rejection("no_editable_step", "no step of the attempt can be edited", {"steps": a.steps})
        for a, _, _ in unplanned
    ]
    outcomes += [_repeat_rejection(a, first) for a, first in repeats]
    items = [(f"{a.attempt_id}/edit", a) for a, _, _ in [*planned, *unplanned]]
    items += [(f"{a.attempt_id}/edit", a) for a, _ in repeats]
    return _keep_drafts("self_edit", items, outcomes, ctx, started)


def wrong_solution_stage(
    problems: Sequence[Problem],
    config: StageConfig,
    endpoint: Endpoint,
    spent: Usage,
    ctx: BatchContext,
) -> list[Draft]:
    """LEMMA: the model writes a wrong solution with an error of a given type, names its
    first wrong step and corrects it."""
    settings = config.llm
    assert settings.model is not None
    started = time.perf_counter()
    prompt = load_prompt(STAGE_PROMPTS["wrong_solution"])
    types = [t for t in config.error_types or MATH_ERROR_TYPES if t in MATH_ERROR_TYPES]
    params = structured_params(settings)
    planned = [
        (problem, requested_error_type(request), request)
        for problem in problems
        for request in wrong_solution_requests(
            problem, types, settings.model, params, prompt, config.seed
        )
    ]
    replies, usage = run_structured(
        endpoint, [r for _, _, r in planned], WrongSolutionReply, STRUCTURED_ATTEMPTS
    )
    spent.add(usage)
    outcomes = []
    for (problem, error_type, _), reply in zip(planned, replies, strict=True):
        outcome = wrong_solution_draft(problem, error_type, reply, settings.model)
        if isinstance(outcome, Draft):
            outcome = dataclasses.replace(outcome, origin="injected")
        outcomes.append(outcome)
    items = [(request.item_id, problem) for problem, _, request in planned]
    return _keep_drafts("wrong_solution", items, outcomes, ctx, started)
