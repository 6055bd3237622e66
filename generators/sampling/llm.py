"""Sampling requests: n independent solutions of one problem from a model."""

from __future__ import annotations

from errata.generators.llm.requests import ChatRequest
from errata.generators.prompt_files import Prompt
from errata.generators.sampling.attempts import AttemptInput
from errata.schemas.ids import item_seed
from errata.schemas.records import Problem


def sample_requests(
    problem: Problem,
    n: int,
    model: str,
    temperature: float,
    max_tokens: int,
    seed: int,
    prompt: Prompt,
) -> list[ChatRequest]:
    """n requests for one problem, alike but for their per-sample seed.

    The seed goes into the params, so each sample has its own cache key and a rerun with the
    same run seed asks exactly the same questions (and hits the cache).
    """
    messages = prompt.messages(question=problem.question)
    return [
        ChatRequest.build(
            model=model,
            messages=messages,
            params={
                "temperature": temperature,
                "max_tokens": max_tokens,
                "seed": item_seed(seed, f"{problem.problem_id}/{index}"),
            },
            prompt_version=prompt.version,
            item_id=f"{problem.problem_id}/sample{index}",
        )
        for index in range(n)
    ]


def sampled_input(
    problem: Problem,
    request: ChatRequest,
    text: str,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    cost_usd: float | None = None,
) -> AttemptInput:
    """What is verified of one reply to a `sample_requests` request."""
    return AttemptInput(
        problem=problem,
        text=text,
        producer=f"llm:{request.model}",
        sample=int(request.item_id.rpartition("/sample")[2]),
        sampling=dict(request.params),
        prompt_version=request.prompt_version,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd,
    )
