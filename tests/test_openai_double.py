"""The OpenAI test double, exercised as the real subprocess over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import time
from pathlib import Path

import httpx
import openai
import pytest

from errata.testing.openai_double import (
    ALL_FAULTS,
    decide_fault,
    fixture_key,
    running_double,
    write_fixtures,
)
from errata.testing.openai_double_app import SlidingWindowLimit

QUESTION = "What is 2 + 2?"
FIXTURE_REPLIES = ["four", "4", "2 + 2 = 4"]


def chat_body(content: str, **extra) -> bytes:
    """Exact request bytes, so a test can predict the double's per-body fault draw."""
    request = {"model": "errata-double", "messages": [{"role": "user", "content": content}]}
    return json.dumps({**request, **extra}).encode()


def post_chat(client: httpx.Client, body: bytes, **kwargs) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return client.post("/chat/completions", content=body, headers=headers, **kwargs)


def predicted_fault(body: bytes, times_seen: int, *, seed: int, rate: float, faults=ALL_FAULTS):
    return decide_fault(seed, hashlib.sha256(body).hexdigest(), times_seen, rate, faults)


def assert_counts_add_up(stats: dict) -> None:
    outcomes = stats["served"] + sum(stats["by_fault"].values())
    assert stats["requests"] == outcomes + stats["rate_limited"] + stats["invalid"]
    assert stats["fixture_hits"] + stats["fixture_misses"] == stats["requests"] - stats["invalid"]


# ---- scripted replies ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    fixtures = tmp_path_factory.mktemp("double") / "fixtures.jsonl"
    write_fixtures(
        fixtures, [(fixture_key([{"role": "user", "content": QUESTION}]), FIXTURE_REPLIES)]
    )
    with running_double(fixtures=[fixtures], reply="fallback", models=("m-a", "m-b")) as double:
        yield double


def test_fixture_key_is_sha256_of_the_last_user_message():
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "trailing"},
    ]
    assert fixture_key(messages) == hashlib.sha256(b"second").hexdigest()


def test_write_fixtures_writes_jsonl(tmp_path: Path):
    path = tmp_path / "f.jsonl"
    write_fixtures(path, [("ab", ["x", "y"]), ("cd", ["z"])])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [{"key": "ab", "replies": ["x", "y"]}, {"key": "cd", "replies": ["z"]}]


def test_fixture_reply_is_chosen_by_the_request_seed(scripted):
    scripted.reset_stats()
    client = openai.OpenAI(base_url=scripted.base_url, api_key="unused", max_retries=0)
    messages = [{"role": "system", "content": "You add."}, {"role": "user", "content": QUESTION}]
    for seed in range(5):
        completion = client.chat.completions.create(model="m-b", messages=messages, seed=seed)
        assert completion.choices[0].message.content == FIXTURE_REPLIES[seed % 3]
        assert completion.model == "m-b"
    unseeded = client.chat.completions.create(model="m-b", messages=messages)
    assert unseeded.choices[0].message.content == FIXTURE_REPLIES[0]
    stats = scripted.stats()
    assert (stats["fixture_hits"], stats["fixture_misses"], stats["served"]) == (6, 0, 6)


def test_a_fixture_miss_falls_back_to_the_reply_and_is_counted(scripted):
    scripted.reset_stats()
    with httpx.Client(base_url=scripted.base_url) as client:
        response = post_chat(client, chat_body("Something unscripted", seed=2))
    assert response.json()["choices"][0]["message"]["content"] == "fallback"
    assert scripted.stats()["fixture_misses"] == 1


def test_every_completion_has_openai_shape_and_usage(scripted):
    messages = [{"role": "system", "content": "s" * 10}, {"role": "user", "content": QUESTION}]
    with httpx.Client(base_url=scripted.base_url) as client:
        response = client.post("/chat/completions", json={"model": "m-a", "messages": messages})
    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion" and body["id"] and body["created"] > 0
    assert body["model"] == "m-a"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    prompt_tokens = math.ceil((10 + len(QUESTION)) / 4)
    reply_tokens = math.ceil(len(FIXTURE_REPLIES[0]) / 4)
    assert body["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply_tokens,
        "total_tokens": prompt_tokens + reply_tokens,
    }


def test_n_other_than_one_is_a_400_with_an_openai_error(scripted):
    scripted.reset_stats()
    with httpx.Client(base_url=scripted.base_url) as client:
        response = post_chat(client, chat_body(QUESTION, n=2))
        not_json = post_chat(client, b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == "n"
    assert not_json.status_code == 400
    stats = scripted.stats()
    assert stats["invalid"] == 2 and stats["by_status"] == {"400": 2}
    assert_counts_add_up(stats)


def test_models_health_and_stats_reset(scripted):
    with httpx.Client(base_url=scripted.base_url) as client:
        models = client.get("/models").json()
        post_chat(client, chat_body(QUESTION))
        assert scripted.stats()["requests"] >= 1
        scripted.reset_stats()
        health = httpx.get(scripted.base_url.removesuffix("/v1") + "/health")
    assert [model["id"] for model in models["data"]] == ["m-a", "m-b"]
    assert health.status_code == 200
    stats = scripted.stats()
    assert stats["requests"] == 0 and stats["by_status"] == {} and stats["first_request_at"] is None
    assert stats["cpu_seconds"] >= 0.0


# ---- faults ----------------------------------------------------------------------------------


def body_faulting_as(kind: str, *, seed: int, rate: float = 1.0) -> bytes:
    """A request body whose first arrival draws `kind`."""
    for attempt in itertools.count():
        body = chat_body(f"Question {attempt}", response_format={"type": "json_object"})
        if predicted_fault(body, 0, seed=seed, rate=rate) == kind:
            return body
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def always_faulting():
    with running_double(fault_rate=1.0, reply="a full reply", hang_seconds=2.0, seed=7) as double:
        yield double


def test_each_fault_kind_is_observed_by_a_raw_client(always_faulting):
    always_faulting.reset_stats()
    with httpx.Client(base_url=always_faulting.base_url, timeout=5.0) as client:

        def first(kind: str, **kwargs) -> httpx.Response:
            return post_chat(client, body_faulting_as(kind, seed=7), **kwargs)

        injected_429 = first("429")
        assert injected_429.status_code == 429
        assert injected_429.headers["retry-after"] == "0.05"
        assert injected_429.headers["retry-after-ms"] == "50"

        injected_500 = first("500")
        assert injected_500.status_code == 500
        assert injected_500.json()["error"]["type"] == "server_error"

        with pytest.raises(httpx.ReadTimeout):
            first("hang", timeout=0.3)

        with pytest.raises(httpx.TransportError):
            first("drop")

        malformed = first("malformed_json")
        assert malformed.status_code == 200
        assert malformed.headers["content-type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(malformed.content)

        truncated = first("truncated").json()
        assert truncated["choices"][0]["finish_reason"] == "length"
        assert truncated["choices"][0]["message"]["content"] == "a full"
        assert truncated["usage"]["completion_tokens"] == 2

        schema = first("schema").json()
        assert json.loads(schema["choices"][0]["message"]["content"]) == {"unexpected": True}
        assert schema["usage"]["total_tokens"] > 0

    stats = always_faulting.stats()
    assert stats["by_fault"] == {kind: 1 for kind in ALL_FAULTS}
    assert stats["served"] == 0
    # A drop never completes a response; the hang's client left before it answered.
    assert stats["by_status"] == {"429": 1, "500": 1, "200": 3}
    assert_counts_add_up(stats)


def test_the_openai_client_sees_a_drop_as_a_connection_error():
    with running_double(fault_rate=1.0, faults=("drop",)) as double:
        client = openai.OpenAI(base_url=double.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(
                model="errata-double", messages=[{"role": "user", "content": QUESTION}]
            )
        assert double.stats()["by_fault"] == {"drop": 1}
        assert "Traceback" not in double.log_path.read_text()  # deliberate drops are not logged


def test_faults_follow_the_per_body_draw_so_a_retry_can_succeed():
    rate, seed = 0.5, 3
    bodies = [chat_body(f"q{i}") for i in range(6)]
    # Each body sent three times, interleaved, as retries would be.
    sequence = [bodies[i % 6] for i in range(18)]
    seen = {body: 0 for body in bodies}
    predicted = []
    for body in sequence:
        predicted.append(predicted_fault(body, seen[body], seed=seed, rate=rate, faults=("500",)))
        seen[body] += 1
    assert None in predicted and "500" in predicted

    def observe() -> list[int]:
        with (
            running_double(fault_rate=rate, faults=("500",), seed=seed) as double,
            httpx.Client(base_url=double.base_url) as client,
        ):
            return [post_chat(client, body).status_code for body in sequence]

    first_run, second_run = observe(), observe()
    assert first_run == [500 if kind else 200 for kind in predicted]
    assert second_run == first_run


# ---- rate limits -----------------------------------------------------------------------------


def test_rate_limit_headers_and_a_429_over_the_rpm():
    with (
        running_double(rpm=3, tpm=10_000) as double,
        httpx.Client(base_url=double.base_url) as client,
    ):
        responses = [post_chat(client, chat_body(f"q{i}")) for i in range(4)]
        stats = double.stats()
    assert [response.status_code for response in responses] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in responses] == ["2", "1", "0", "0"]
    for response in responses:
        assert response.headers["x-ratelimit-limit-requests"] == "3"
        assert response.headers["x-ratelimit-limit-tokens"] == "10000"
        assert int(response.headers["x-ratelimit-remaining-tokens"]) < 10_000
        assert response.headers["x-ratelimit-reset-requests"].endswith("s")
        assert response.headers["x-ratelimit-reset-tokens"].endswith("s")
    limited = responses[-1]
    # The first admission leaves the 60 s window in just under a minute.
    assert 50 < float(limited.headers["retry-after"]) <= 60
    assert 50_000 < float(limited.headers["retry-after-ms"]) <= 60_000
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert stats["rate_limited"] == 1 and stats["served"] == 3
    assert_counts_add_up(stats)


# ---- latency ---------------------------------------------------------------------------------


def test_latency_is_honoured_concurrently():
    async def timed_requests(base_url: str) -> list[float]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)

        async def one(i: int) -> float:
            started = time.perf_counter()
            await client.chat.completions.create(
                model="errata-double", messages=[{"role": "user", "content": f"q{i}"}]
            )
            return time.perf_counter() - started

        try:
            return await asyncio.gather(*(one(i) for i in range(8)))
        finally:
            await client.close()

    with running_double(latency_ms=200) as double:
        started = time.perf_counter()
        durations = asyncio.run(timed_requests(double.base_url))
        elapsed = time.perf_counter() - started
        stats = double.stats()
    assert min(durations) >= 0.19
    assert elapsed < 1.5  # concurrent sleeps, not eight in a row
    assert stats["served"] == 8 and stats["max_in_flight"] > 1 and stats["in_flight"] == 0
    assert stats["last_response_at"] - stats["first_request_at"] >= 0.19


def test_sliding_window_frees_capacity_as_admissions_age_out():
    tokens = SlidingWindowLimit(100, window=60.0)
    tokens.admit(0.0, 60)
    tokens.admit(10.0, 30)
    assert tokens.seconds_until_fits(20.0, 10) == 0.0
    assert tokens.seconds_until_fits(20.0, 40) == pytest.approx(40.0)  # when the 60 leaves
    assert tokens.seconds_until_fits(65.0, 40) == 0.0
    assert tokens.remaining() == 70
    assert tokens.seconds_until_fits(65.0, 101) == 60.0  # never fits: wait a whole window
