"""Sampling requests: n independent solutions of one problem from a model."""

from __future__ import annotations

from errata.generators.llm.requests import ChatRequest
from errata.generators.prompt_files import Prompt
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
