"""The LLM client against the real local OpenAI double (loopback HTTP, counted at the server)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from pydantic import BaseModel

from errata.generators.llm import (
    ChatRequest,
    ChatResult,
    Endpoint,
    LLMClient,
    MissingCredentials,
    read_progress,
    response_format_for,
    run_requests,
    run_requests_in_processes,
    run_structured,
)
from errata.generators.llm.cache import CACHE_FILE_NAME
from errata.testing.openai_double import Double, fixture_key, running_double, write_fixtures

MODEL = "errata-double"
PLANTED_KEY = "sk-test-PLANTED-3f9c2a7e1b"


def ask(text: str, model: str = MODEL, **params) -> ChatRequest:
    return ChatRequest.build(model, [{"role": "user", "content": text}], params)


def requests_at(double: Double) -> int:
    return double.stats()["requests"]


@pytest.fixture(scope="module")
def double() -> Iterator[Double]:
    with running_double(models=(MODEL, "errata-double-b")) as running:
        yield running


@pytest.fixture
def fresh(double: Double) -> Double:
    double.reset_stats()
    return double


def endpoint(base_url: str, **settings) -> Endpoint:
    return Endpoint(base_url, **{"timeout": 10.0, **settings})


# ---- HTTP failures: one retrying layer, reason codes --------------------------------------


@pytest.mark.parametrize("max_retries", [0, 2])
def test_a_500_is_retried_max_retries_times_by_the_client_alone(max_retries):
    with running_double(fault_rate=1.0, faults=("500",)) as double:
        results, usage = run_requests(
            endpoint(double.base_url, max_retries=max_retries), [ask("hello")]
        )
        assert double.stats()["requests"] == 1 + max_retries
    assert results[0].error == "server_error"
    assert usage.failed == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("429", "rate_limited"),
        ("500", "server_error"),
        ("drop", "connection"),
        ("malformed_json", "bad_response"),
        ("truncated", "truncated"),
    ],
)
def test_faults_map_to_reason_codes(fault, code):
    with running_double(fault_rate=1.0, faults=(fault,), reply="a longer reply") as double:
        results, usage = run_requests(endpoint(double.base_url, max_retries=0), [ask("x")])
    assert results[0].error == code
    assert not results[0].ok
    assert results[0].error_message
    assert usage.failed == 1


def test_a_hang_is_a_timeout_after_the_endpoint_timeout():
    with running_double(fault_rate=1.0, faults=("hang",), hang_seconds=10) as double:
        start = time.monotonic()
        results, _ = run_requests(endpoint(double.base_url, timeout=0.3, max_retries=1), [ask("x")])
        elapsed = time.monotonic() - start
        assert double.stats()["requests"] == 2
    assert results[0].error == "timeout"
    assert elapsed < 3


def test_other_4xx_is_http_status(fresh):
    results, _ = run_requests(endpoint(fresh.base_url), [ask("x", n=2)])  # the double: n=1 only
    assert results[0].error == "http_400"
    assert requests_at(fresh) == 1  # a 400 is not retried


def test_an_empty_reply_is_empty(tmp_path):
    fixtures = tmp_path / "fixtures.jsonl"
    write_fixtures(fixtures, [(fixture_key([{"role": "user", "content": "say nothing"}]), [""])])
    with running_double(fixtures=[fixtures]) as double:
        results, _ = run_requests(endpoint(double.base_url), [ask("say nothing")])
    assert results[0].error == "empty"


def mock_endpoint(body: dict, status: int = 200, headers: dict | None = None):
    """A client whose network is one canned response (for replies the double never sends)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=body, headers=headers or {})

    return LLMClient(
        Endpoint("http://127.0.0.1:9/v1"), http_transport=httpx2.MockTransport(handler)
    )


def completion(message: dict, finish_reason: str = "stop", usage: dict | None = None) -> dict:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def complete_with(client: LLMClient, request: ChatRequest):
    async def go():
        async with client:
            return await client.complete(request)

    return asyncio.run(go())


def test_a_refusal_is_refused():
    refusal = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    result = complete_with(mock_endpoint(completion(refusal)), ask("x"))
    assert result.error == "refused"
    assert "can't help" in result.error_message


def test_a_content_filter_stop_is_refused():
    message = {"role": "assistant", "content": "partial"}
    result = complete_with(mock_endpoint(completion(message, "content_filter")), ask("x"))
    assert result.error == "refused"


def test_a_body_that_is_not_a_completion_is_bad_response():
    result = complete_with(mock_endpoint({"unexpected": True}), ask("x"))
    assert result.error == "bad_response"


def test_a_reply_with_no_choices_is_bad_response():
    body = completion({"role": "assistant", "content": "x"})
    body["choices"] = []
    assert complete_with(mock_endpoint(body), ask("x")).error == "bad_response"


def test_a_non_json_body_is_bad_response():
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, text="<html>gateway</html>")

    client = LLMClient(
        Endpoint("http://127.0.0.1:9/v1"), http_transport=httpx2.MockTransport(handler)
    )
    assert complete_with(client, ask("x")).error == "bad_response"


def test_absent_usage_fields_are_tolerated():
    message = {"role": "assistant", "content": "fine"}
    no_usage = complete_with(mock_endpoint(completion(message)), ask("x"))
    assert no_usage.ok and (no_usage.prompt_tokens, no_usage.completion_tokens) == (0, 0)
    partial = complete_with(
        mock_endpoint(completion(message, usage={"prompt_tokens": 12})), ask("x")
    )
    assert partial.ok and (partial.prompt_tokens, partial.completion_tokens) == (12, 0)


# ---- limits -------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [4, 40])  # 40: three connection pools of 16, 16, 8
def test_concurrency_bounds_requests_in_flight(concurrency):
    with running_double(latency_ms=200) as double:
        results, _ = run_requests(
            endpoint(double.base_url, concurrency=concurrency),
            [ask(f"q{i}") for i in range(3 * concurrency)],
        )
        assert double.stats()["max_in_flight"] == concurrency
    assert all(result.ok for result in results)


def test_the_first_requests_start_no_thread(fresh):
    """The SDK would look the platform up in a thread for each first request of a client
    (a 20-30 ms lead at 32 in flight); the client gives it the answer looked up at import."""

    async def first_requests() -> tuple[list[ChatResult], list[object]]:
        loop = asyncio.get_running_loop()
        handed_to_threads: list[object] = []
        run_in_executor = loop.run_in_executor

        def counted(executor, function, *arguments):  # type: ignore[no-untyped-def]
            handed_to_threads.append(function)
            return run_in_executor(executor, function, *arguments)

        loop.run_in_executor = counted  # type: ignore[method-assign]
        async with LLMClient(endpoint(fresh.base_url, concurrency=8)) as client:
            results = await client.complete_all([ask(f"first {i}") for i in range(16)])
        return results, handed_to_threads

    results, handed_to_threads = asyncio.run(first_requests())
    assert all(result.ok for result in results)
    assert handed_to_threads == []


def test_an_rpm_limit_binds_precisely(fresh):
    rpm, count = 1200, 80  # 20 a second for about 4 s
    start = time.monotonic()
    results, _ = run_requests(
        endpoint(fresh.base_url, concurrency=16, rpm=rpm), [ask(f"r{i}") for i in range(count)]
    )
    achieved = count / (time.monotonic() - start)
    assert all(result.ok for result in results)
    assert 0.9 * rpm / 60 <= achieved <= 1.05 * rpm / 60


def test_a_tpm_limit_binds(fresh):
    tpm, count = 12_000, 40  # 200 tokens a second; each request is about 26 tokens
    start = time.monotonic()
    results, usage = run_requests(
        endpoint(fresh.base_url, concurrency=16, tpm=tpm),
        [ask(f"t{i} " + "w" * 90) for i in range(count)],
    )
    elapsed = time.monotonic() - start
    tokens = usage.prompt_tokens + usage.completion_tokens
    assert all(result.ok for result in results)
    assert tokens / elapsed <= 1.1 * tpm / 60
    assert elapsed >= 0.8 * tokens / (tpm / 60)


def test_limits_are_learned_from_rate_limit_headers():
    server_rpm, count = 1200, 50
    with running_double(rpm=server_rpm) as double:
        start = time.monotonic()

        async def go() -> tuple[bool, list]:
            async with LLMClient(endpoint(double.base_url, concurrency=8)) as client:
                results = await client.complete_all([ask(f"h{i}") for i in range(count)])
            return client._limits.learned, results

        learned, results = asyncio.run(go())
        elapsed = time.monotonic() - start
        assert double.stats()["rate_limited"] == 0
    assert learned
    assert all(result.ok for result in results)
    # The first `concurrency` requests leave before any header is seen; the rest are paced.
    assert elapsed >= 0.95 * (count - 8) / (server_rpm / 60)


# ---- usage and cost -----------------------------------------------------------------------


def test_usage_and_cost_come_from_the_reply_and_the_price_table(fresh, tmp_path):
    results, usage = run_requests(endpoint(fresh.base_url), [ask("price me"), ask("and me")])
    for result in results:
        assert result.prompt_tokens > 0 and result.completion_tokens > 0
        expected = (result.prompt_tokens * 1.0 + result.completion_tokens * 2.0) / 1e6
        assert result.cost_usd == pytest.approx(expected)
    assert usage.requests == 2
    assert usage.prompt_tokens == sum(r.prompt_tokens for r in results)
    assert usage.cost_usd == pytest.approx(sum(r.cost_usd for r in results))

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({MODEL: {"input": 10, "output": 20}}))
    [priced], _ = run_requests(endpoint(fresh.base_url, prices_path=str(prices)), [ask("p")])
    assert priced.cost_usd == pytest.approx(
        (priced.prompt_tokens * 10 + priced.completion_tokens * 20) / 1e6
    )


def test_an_unknown_model_costs_zero_and_warns_once(fresh, caplog):
    caplog.set_level(logging.WARNING, logger="errata.generators.llm.client")

    async def go():
        async with LLMClient(endpoint(fresh.base_url)) as client:
            results = await client.complete_all(
                [ask(f"u{i}", model="local-llama") for i in range(3)]
            )
        return client, results

    client, results = asyncio.run(go())
    assert all(result.ok and result.cost_usd == 0 for result in results)
    assert client.unpriced_models == {"local-llama"}
    warnings = [r for r in caplog.records if "local-llama" in r.getMessage()]
    assert len(warnings) == 1


# ---- cache --------------------------------------------------------------------------------


def test_an_identical_rerun_makes_no_request_and_keeps_the_records(fresh, tmp_path):
    settings = endpoint(fresh.base_url, cache_dir=str(tmp_path / "cache"))
    batch = [ask(f"c{i}", temperature=0) for i in range(10)]
    first, first_usage = run_requests(settings, batch)
    assert requests_at(fresh) == 10 and first_usage.cached == 0

    fresh.reset_stats()
    second, second_usage = run_requests(settings, batch)
    assert requests_at(fresh) == 0
    for before, after in zip(first, second, strict=True):
        assert after.cached and not before.cached
        assert (after.content, after.finish_reason) == (before.content, before.finish_reason)
        assert (after.prompt_tokens, after.completion_tokens) == (
            before.prompt_tokens,
            before.completion_tokens,
        )
        assert after.cost_usd == before.cost_usd
    # This run spent nothing: the hits count only as cached.
    assert second_usage.requests == 10 and second_usage.cached == 10
    assert (second_usage.prompt_tokens, second_usage.completion_tokens) == (0, 0)
    assert second_usage.cost_usd == 0


def test_a_single_complete_finds_the_cache_without_prefetch(fresh, tmp_path):
    settings = endpoint(fresh.base_url, cache_dir=str(tmp_path))
    run_requests(settings, [ask("one")])
    fresh.reset_stats()
    [result] = asyncio.run(_complete_one(settings, ask("one")))
    assert result.cached and requests_at(fresh) == 0


async def _complete_one(settings: Endpoint, request: ChatRequest) -> list:
    async with LLMClient(settings) as client:
        return [await client.complete(request)]


BASE = ChatRequest.build(
    MODEL,
    [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    {"temperature": 0.0, "seed": 1},
    prompt_version="v@1",
)


class Answer(BaseModel):
    answer: int


@pytest.mark.parametrize(
    "changed",
    [
        ChatRequest.build("errata-double-b", BASE.message_dicts(), dict(BASE.params), None, "v@1"),
        ChatRequest.build(
            MODEL,
            [{"role": "system", "content": "be brief!"}, {"role": "user", "content": "hi"}],
            dict(BASE.params),
            None,
            "v@1",
        ),
        ChatRequest.build(
            MODEL,
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi."}],
            dict(BASE.params),
            None,
            "v@1",
        ),
        ChatRequest.build(
            MODEL, BASE.message_dicts(), {"temperature": 0.5, "seed": 1}, None, "v@1"
        ),
        ChatRequest.build(
            MODEL, BASE.message_dicts(), {"temperature": 0.0, "seed": 2}, None, "v@1"
        ),
        ChatRequest.build(
            MODEL,
            BASE.message_dicts(),
            dict(BASE.params),
            response_format_for("answer", Answer),
            "v@1",
        ),
        ChatRequest.build(MODEL, BASE.message_dicts(), dict(BASE.params), None, "v@2"),
    ],
    ids=["model", "system", "user", "temperature", "seed", "response_format", "prompt_version"],
)
def test_any_change_to_a_request_misses_the_cache(fresh, tmp_path, changed):
    settings = endpoint(fresh.base_url, cache_dir=str(tmp_path))
    run_requests(settings, [BASE])
    fresh.reset_stats()
    [result], usage = run_requests(settings, [changed])
    assert requests_at(fresh) == 1
    assert not result.cached and usage.cached == 0


def test_only_usable_replies_are_cached(tmp_path):
    settings_dir = str(tmp_path)
    with running_double(fault_rate=1.0, faults=("truncated",), reply="long reply") as double:
        settings = endpoint(double.base_url, cache_dir=settings_dir)
        run_requests(settings, [ask("cut")])
        double.reset_stats()
        [again], _ = run_requests(settings, [ask("cut")])
        assert double.stats()["requests"] == 1
    assert again.error == "truncated" and not again.cached


def test_cache_rows_survive_two_processes(fresh, tmp_path):
    settings = endpoint(fresh.base_url, cache_dir=str(tmp_path), concurrency=8)
    batch = [ask(f"mp{i}") for i in range(40)]
    results, usage = run_requests_in_processes(settings, batch, processes=2)
    assert [r.request for r in results] == batch  # input order
    assert all(r.ok for r in results) and usage.requests == 40
    fresh.reset_stats()
    _, again_usage = run_requests(settings, batch)
    assert requests_at(fresh) == 0 and again_usage.cached == 40


# ---- structured output --------------------------------------------------------------------


def structured_double(tmp_path: Path, first_reply: str, default_reply: str):
    fixtures = tmp_path / "fixtures.jsonl"
    write_fixtures(fixtures, [(fixture_key([{"role": "user", "content": "solve"}]), [first_reply])])
    return running_double(fixtures=[fixtures], reply=default_reply)


@pytest.mark.parametrize(
    ("bad_reply", "reason", "named"),
    [
        ("not json at all", "invalid_json", "Invalid JSON"),
        ('{"answer": "x"}', "schema_mismatch", "answer: Input should be a valid integer"),
    ],
)
def test_an_invalid_reply_is_asked_again_as_a_new_request(tmp_path, bad_reply, reason, named):
    with structured_double(tmp_path, bad_reply, '{"answer": 42}') as double:
        [result], usage = run_structured(
            endpoint(double.base_url, cache_dir=str(tmp_path / "cache")), [ask("solve")], Answer
        )
        assert double.stats()["requests"] == 2
    assert result.value == Answer(answer=42)
    assert result.reason is None
    first, second = result.results
    assert first.request.response_format is not None  # the json_schema format was filled in
    assert first.request.key != second.request.key
    assert second.request.messages[: len(first.request.messages)] == first.request.messages
    assistant, user = second.request.messages[-2:]
    assert assistant == ("assistant", bad_reply)
    assert user[0] == "user" and named in user[1]
    assert reason.replace("_", " ") in user[1]
    assert usage.requests == 2


def test_attempts_are_bounded_and_the_last_raw_text_kept(tmp_path):
    with running_double(reply="still not json") as double:
        [result], _ = run_structured(endpoint(double.base_url), [ask("solve")], Answer, 3)
        assert double.stats()["requests"] == 3
    assert result.value is None
    assert result.reason == "invalid_json"
    assert result.raw == "still not json"
    assert result.message
    assert len(result.results) == 3


def test_http_errors_are_not_retried_semantically():
    with running_double(fault_rate=1.0, faults=("500",)) as double:
        [result], _ = run_structured(endpoint(double.base_url, max_retries=1), [ask("s")], Answer)
        assert double.stats()["requests"] == 2  # the openai client's retry, nothing more
    assert result.value is None and result.reason == "server_error"
    assert len(result.results) == 1


# ---- progress -----------------------------------------------------------------------------


def test_progress_is_published_while_running_and_at_close(tmp_path):
    progress_dir = str(tmp_path / "progress")
    with running_double(latency_ms=800) as double:

        async def go():
            async with LLMClient(
                endpoint(double.base_url, concurrency=4, progress_dir=progress_dir)
            ) as client:
                tasks = [asyncio.create_task(client.complete(ask(f"p{i}"))) for i in range(4)]
                await asyncio.sleep(0.7)
                during = read_progress(progress_dir)
                await asyncio.gather(*tasks)
            return during, client.usage

        during, usage = asyncio.run(go())
    assert during.in_flight == 4 and during.requests == 0
    after = read_progress(progress_dir)
    assert after == usage
    assert after.requests == 4 and after.in_flight == 0 and after.cost_usd > 0
    [published] = Path(progress_dir).glob("*.json")
    assert json.loads(published.read_text())["closed"] is True


# ---- the key stays secret -----------------------------------------------------------------


def test_missing_key_is_raised_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingCredentials):
        LLMClient(Endpoint("https://llm.example.com/v1"))


def test_the_api_key_never_leaves_the_process(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED_KEY)
    caplog.set_level(logging.DEBUG)
    cache_dir, progress_dir = tmp_path / "cache", tmp_path / "progress"
    with running_double(fault_rate=0.5, faults=("500", "malformed_json", "429")) as double:
        settings = endpoint(
            double.base_url,
            cache_dir=str(cache_dir),
            progress_dir=str(progress_dir),
            max_retries=1,
        )

        async def go():
            async with LLMClient(settings) as client:
                results = await client.complete_all([ask(f"k{i}") for i in range(30)])
                shown = repr(client) + repr(settings) + str(client.__dict__.get("endpoint"))
            return results, shown

        results, shown = asyncio.run(go())
    assert any(r.ok for r in results) and any(not r.ok for r in results)
    texts = [shown, caplog.text, *(r.error_message for r in results), repr(results)]
    assert not any(PLANTED_KEY in text for text in texts)
    stored = [*cache_dir.iterdir(), *progress_dir.iterdir()]
    assert any(path.name == CACHE_FILE_NAME for path in stored)
    for path in stored:
        assert PLANTED_KEY.encode() not in path.read_bytes(), path
