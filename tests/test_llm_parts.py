"""The LLM client's parts without a server: endpoint checks, prices, pacing, cache, progress."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import time

import pytest

from errata.generators.llm import (
    Endpoint,
    EndpointSettingsError,
    MissingCredentials,
    PriceFileError,
    Usage,
    check_endpoint,
    load_prices,
    read_progress,
    split_endpoint,
)
from errata.generators.llm.cache import CACHE_FILE_NAME, CachedReply, ResponseCache
from errata.generators.llm.endpoint import is_loopback
from errata.generators.llm.limits import Pacer, RateLimits, estimate_tokens, parse_reset
from errata.generators.llm.prices import BUILT_IN_PRICES, price_for
from errata.generators.llm.progress import ProgressFile

# ---- endpoint -----------------------------------------------------------------------------


def test_remote_endpoint_without_key_names_the_fix(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingCredentials) as caught:
        check_endpoint(Endpoint("https://api.openai.com/v1"))
    message = str(caught.value)
    assert "export OPENAI_API_KEY=" in message
    assert "--base-url" in message
    assert "https://api.openai.com/v1" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost:11434/v1",
        "http://[::1]:8080/v1",
        "http://127.0.0.2/v1",
    ],
)
def test_loopback_endpoint_needs_no_key(monkeypatch, url):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert is_loopback(url)
    check_endpoint(Endpoint(url))


def test_remote_endpoint_with_key_passes(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-remote")
    check_endpoint(Endpoint("https://api.openai.com/v1"))
    assert not is_loopback("https://api.openai.com/v1")
    assert not is_loopback("http://10.0.0.5:8000/v1")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"rpm": 0}, "rpm"),
        ({"tpm": -5}, "tpm"),
        ({"base_url": "127.0.0.1:8000/v1"}, "base_url"),
    ],
)
def test_bad_numbers_are_named(change, field):
    settings = {"base_url": "http://127.0.0.1:8000/v1", **change}
    with pytest.raises(EndpointSettingsError, match=field):
        check_endpoint(Endpoint(**settings))


def test_split_endpoint_divides_concurrency_and_limits():
    endpoint = Endpoint("http://127.0.0.1/v1", concurrency=64, rpm=6000, tpm=100_000)
    share = split_endpoint(endpoint, 2)
    assert (share.concurrency, share.rpm, share.tpm) == (32, 3000, 50_000)
    assert split_endpoint(endpoint, 1) is endpoint


# ---- prices -------------------------------------------------------------------------------


def test_built_in_prices_cover_common_models_and_the_double():
    prices = load_prices(None)
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "errata-double"):
        input_price, output_price = prices[model]
        assert 0 < input_price <= output_price
    assert price_for(prices, "gpt-4o-mini-2024-07-18") == BUILT_IN_PRICES["gpt-4o-mini"]
    assert price_for(prices, "my-local-model") is None


def test_price_file_extends_and_overrides(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"gpt-4o-mini": {"input": 1, "output": 2}, "qwen": {"input": 0, "output": 0.5}})
    )
    prices = load_prices(str(path))
    assert prices["gpt-4o-mini"] == (1.0, 2.0)
    assert prices["qwen"] == (0.0, 0.5)
    assert prices["gpt-4o"] == BUILT_IN_PRICES["gpt-4o"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"m": {"input": 1}}', "expected a JSON object"),
        ('{"m": {"input": "cheap", "output": 1}}', "not a number"),
        ('{"m": {"input": -1, "output": 1}}', ">= 0"),
    ],
)
def test_bad_price_file_names_file_and_expectation(tmp_path, text, says):
    path = tmp_path / "my-prices.json"
    path.write_text(text)
    with pytest.raises(PriceFileError, match=says) as caught:
        check_endpoint(Endpoint("http://127.0.0.1:8000/v1", prices_path=str(path)))
    assert str(path) in str(caught.value)


def test_missing_price_file_is_named(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(PriceFileError, match="cannot read") as caught:
        load_prices(str(path))
    assert str(path) in str(caught.value)


# ---- pacing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20ms", 0.02), ("1s", 1.0), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("0.8", 0.8)],
)
def test_parse_reset(text, seconds):
    assert parse_reset(text) == pytest.approx(seconds)


def test_parse_reset_rejects_garbage():
    assert parse_reset("soon") is None
    assert parse_reset("5 minutes") is None


def test_pacer_spaces_requests_evenly_without_a_burst():
    pacer = Pacer(per_minute=1200)  # 20 a second
    delays = [pacer.reserve(1) for _ in range(81)]
    assert delays[0] == pytest.approx(0, abs=0.01)
    # Evenly spaced from the first: no minute's budget up front.
    assert delays[1] == pytest.approx(0.05, abs=0.01)
    assert delays[-1] == pytest.approx(4.0, abs=0.02)


def test_pacer_without_limit_never_waits():
    pacer = Pacer(per_minute=None)
    assert all(pacer.reserve(1) == 0.0 for _ in range(1000))


def test_pacer_binds_in_real_time():
    async def go() -> float:
        pacer = Pacer(per_minute=6000)  # 100 a second
        start = time.monotonic()
        await asyncio.gather(*(pacer.acquire() for _ in range(51)))
        return time.monotonic() - start

    elapsed = asyncio.run(go())
    assert 0.48 <= elapsed <= 0.7


def test_pacer_learns_a_lower_limit_from_headers():
    pacer = Pacer(per_minute=None)
    pacer.learn("600", None, None)
    assert pacer.rate == pytest.approx(10.0)
    configured = Pacer(per_minute=120)
    configured.learn("6000", None, None)  # a higher server limit does not raise ours
    assert configured.rate == pytest.approx(2.0)


def test_pacer_pauses_until_reset_when_nothing_remains():
    pacer = Pacer(per_minute=6000)
    pacer.learn("6000", "0", "1.5s")
    assert pacer.reserve(1) == pytest.approx(1.5, abs=0.05)


def test_pacer_slows_to_the_remaining_budget():
    pacer = Pacer(per_minute=None)
    pacer.learn(None, "10", "2s")  # 10 left in 2 s: 5 a second
    pacer.reserve(1)
    assert pacer.reserve(1) == pytest.approx(0.2, abs=0.02)


def test_token_pacer_settles_estimates():
    pacer = Pacer(per_minute=60_000)  # 1000 tokens a second
    pacer.reserve(500)
    pacer.settle(500, 100)  # used less than estimated: the next request goes sooner
    assert pacer.reserve(100) == pytest.approx(0.1, abs=0.02)


def test_rate_limits_read_openai_headers():
    limits = RateLimits(rpm=None, tpm=None)
    limits.learn(
        {
            "x-ratelimit-limit-requests": "3000",
            "x-ratelimit-remaining-requests": "2999",
            "x-ratelimit-reset-requests": "20ms",
            "x-ratelimit-limit-tokens": "600000",
            "x-ratelimit-remaining-tokens": "599000",
            "x-ratelimit-reset-tokens": "100ms",
        }
    )
    assert limits.learned
    assert limits.requests.rate == pytest.approx(50.0)
    assert limits.tokens.rate == pytest.approx(10_000.0)


def test_estimate_tokens_counts_prompt_and_completion_budget():
    messages = (("system", "x" * 40), ("user", "y" * 400))
    assert estimate_tokens(messages, None) == 110 + 8
    assert estimate_tokens(messages, 256) == 110 + 8 + 256


# ---- cache --------------------------------------------------------------------------------


def test_cache_round_trip_in_batches(tmp_path):
    cache = ResponseCache(str(tmp_path), flush_rows=500)
    replies = {
        f"key-{i}": CachedReply(f"reply {i}", "stop", i, 2 * i, i / 1e6) for i in range(2000)
    }
    for key, reply in replies.items():
        cache.add(key, "m", reply)
    cache.close()

    reader = ResponseCache(str(tmp_path))
    found = reader.get_many([*replies, "absent"])  # more keys than one query may hold
    assert found == replies
    assert reader.get("key-7") == replies["key-7"]
    assert reader.get("absent") is None
    reader.close()
    assert (tmp_path / CACHE_FILE_NAME).exists()


def test_cache_is_shared_by_two_open_connections(tmp_path):
    first, second = ResponseCache(str(tmp_path)), ResponseCache(str(tmp_path))
    first.add("a", "m", CachedReply("A", "stop", 1, 1, 0.0))
    first.flush()
    second.add("b", "m", CachedReply("B", "stop", 1, 1, 0.0))
    second.add("a", "m", CachedReply("other", "stop", 1, 1, 0.0))  # first writer wins
    second.flush()
    assert set(first.get_many(["a", "b"])) == {"a", "b"}
    assert first.get("a").content == "A"
    first.close()
    second.close()


# ---- progress -----------------------------------------------------------------------------


def test_read_progress_sums_every_process(tmp_path):
    one, two = ProgressFile(str(tmp_path)), ProgressFile(str(tmp_path))
    one.publish(Usage(requests=3, cached=1, failed=1, in_flight=2, prompt_tokens=10, cost_usd=0.5))
    two.publish(Usage(requests=4, completion_tokens=7, cost_usd=0.25), closed=True)
    (tmp_path / ".leftover.json.tmp").write_text("{half")
    total = read_progress(str(tmp_path))
    assert total == Usage(
        requests=7,
        cached=1,
        failed=1,
        in_flight=2,
        prompt_tokens=10,
        completion_tokens=7,
        cost_usd=0.75,
    )
    assert read_progress(str(tmp_path / "none-yet")) == Usage()


def _open_and_write(directory: str, start: multiprocessing.synchronize.Event, index: int) -> None:
    start.wait()
    cache = ResponseCache(directory)
    cache.add(f"from-{index}", "m", CachedReply(str(index), "stop", 1, 1, 0.0))
    cache.close()


def test_many_processes_can_create_the_same_new_cache_at_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_open_and_write, args=(str(tmp_path), start, index))
        for index in range(6)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let them all import and wait at the start line
    start.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * 6
    cache = ResponseCache(str(tmp_path))
    assert len(cache.get_many(f"from-{index}" for index in range(6))) == 6
    cache.close()


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_batches_at_once_never_exceed_the_runs_limits_together(tmp_path, workers):
    from errata.flows.batches import batch_endpoint
    from errata.generators.domains.base import LLMSettings

    run = {"base_url": "http://127.0.0.1:8000/v1", "concurrency": 5, "rpm": 7, "tpm": 1001}
    share = batch_endpoint(run, LLMSettings(sampler="llm", model="m"), str(tmp_path), workers)
    for name in ("concurrency", "rpm", "tpm"):
        each = getattr(share, name)
        assert each >= 1 and workers * each <= run[name]
    assert share.cache_dir == str(tmp_path / ".llm-cache")
