from __future__ import annotations

import pytest

from errata.generators.prompt_files import load_prompt
from errata.generators.sampling.llm import sample_requests
from errata.schemas.ids import item_seed
from errata.schemas.records import Problem

PROBLEM = Problem(
    problem_id="p-demo",
    source="gsm8k",
    source_id="test/0",
    split="test",
    domain="math",
    question="Tom has 3 apples and buys 4 more. How many apples does he have?",
    reference_solution="Tom has 3 + 4 = <<3+4=7>>7 apples.\n#### 7",
    reference_answer="7",
    license="MIT",
)


def _requests(seed: int = 11, n: int = 4):
    prompt = load_prompt("math/solve")
    return sample_requests(PROBLEM, n, "demo-model", 0.8, 512, seed, prompt)


def test_n_requests_with_distinct_keys_and_item_ids() -> None:
    requests = _requests(n=5)
    assert len(requests) == 5
    assert len({r.key for r in requests}) == 5
    assert [r.item_id for r in requests] == [f"p-demo/sample{i}" for i in range(5)]


def test_params_carry_temperature_tokens_and_a_derived_seed() -> None:
    for index, request in enumerate(_requests()):
        params = dict(request.params)
        assert params == {
            "temperature": 0.8,
            "max_tokens": 512,
            "seed": item_seed(11, f"p-demo/{index}"),
        }
        assert request.model == "demo-model"
        assert request.prompt_version == load_prompt("math/solve").version
        roles = [role for role, _ in request.messages]
        assert roles == ["system", "user"]
        assert PROBLEM.question in request.messages[1][1]


def test_requests_are_deterministic_and_follow_the_run_seed() -> None:
    assert [r.key for r in _requests()] == [r.key for r in _requests()]
    assert {r.key for r in _requests(seed=11)}.isdisjoint(r.key for r in _requests(seed=12))


@pytest.mark.parametrize("n", [0, 1])
def test_small_n(n: int) -> None:
    assert len(_requests(n=n)) == n
