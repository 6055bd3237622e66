"""The one LLM client every LLM stage uses.

Layers, each doing one thing:
- the openai client sends, and alone retries HTTP failures (timeouts, 429 with Retry-After, 5xx)
  up to `endpoint.max_retries` times, each attempt bounded by `endpoint.timeout`;
- this client bounds requests in flight (a semaphore), paces them under RPM/TPM (`limits`),
  answers repeats from the response cache (`cache`), counts tokens and cost (`prices`),
  publishes progress (`progress`), and turns every failure into a reason code on the result;
- `complete_structured` validates replies with pydantic and, through tenacity, asks again a
  bounded number of times with the validation error in the conversation.

Per-request work is kept to the SDK call plus a few dict operations: cache reads are batched up
front, cache writes are committed in batches, progress is written by a timer, nothing is logged
per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import ssl
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import aiohttp  # openai's aiohttp transport imports it at the first client: 0.1 s; pay it here
import httpcore2  # noqa: F401  (httpx2 imports it at the first client: 50 ms; pay it at import)
import httpx2
import openai
import orjson
from openai._base_client import get_platform
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt, wait_none

from errata.generators.llm.cache import CachedReply, ResponseCache
from errata.generators.llm.endpoint import Endpoint, api_key_for, check_endpoint, split_endpoint
from errata.generators.llm.limits import RateLimits, estimate_tokens
from errata.generators.llm.prices import load_prices, price_for
from errata.generators.llm.progress import PUBLISH_EVERY_SECONDS, ProgressFile
from errata.generators.llm.requests import (
    ChatRequest,
    ChatResult,
    StructuredResult,
    Usage,
    response_format_for,
)
from errata.schemas.ids import canonical_json

log = logging.getLogger(__name__)

# Reason codes on ChatResult.error.
TIMEOUT = "timeout"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
CONNECTION = "connection"
BAD_RESPONSE = "bad_response"
TRUNCATED = "truncated"
REFUSED = "refused"
EMPTY = "empty"
# Reason codes on StructuredResult.reason besides those.
INVALID_JSON = "invalid_json"
SCHEMA_MISMATCH = "schema_mismatch"

_CONNECTIONS_PER_POOL = 16  # httpx2 (tests' transports): it scans a pool per request
_AIOHTTP_CONNECTIONS_PER_POOL = 128  # aiohttp keeps idle connections in a queue: no scan
_MESSAGE_LIMIT = 500  # characters of a server's error text kept on a result
# What the SDK sends as X-Stainless-OS, looked up once at import (5 ms: it reads the Python
# binary) rather than by each client on its first request (see LLMClient.__aenter__).
_PLATFORM = get_platform()


class LLMClient:
    """Sends chat requests to one endpoint; an async context manager, one per batch per process.

    `usage` is what this run spent: a cached reply counts in `usage.requests` and
    `usage.cached` only, with no tokens or cost (its ChatResult still carries the original ones).
    """

    def __init__(
        self, endpoint: Endpoint, *, http_transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        """`http_transport` replaces the network (tests give an `httpx2.MockTransport`)."""
        check_endpoint(endpoint)
        self._http_transport = http_transport
        self.endpoint = endpoint
        self.usage = Usage()
        self.unpriced_models: set[str] = set()  # models with no price: their cost counts as 0
        self._api_key = api_key_for(endpoint)
        self._prices = load_prices(endpoint.prices_path)
        self._limits = RateLimits(endpoint.rpm, endpoint.tpm)
        self._cache = ResponseCache(endpoint.cache_dir) if endpoint.cache_dir else None
        self._cached: dict[str, CachedReply] = {}  # hits read up front by prefetch()
        self._known_misses: set[str] = set()  # keys prefetch() found absent: no second lookup
        self._progress = ProgressFile(endpoint.progress_dir) if endpoint.progress_dir else None
        self._publisher: asyncio.Task[None] | None = None
        self._formats: dict[str, Any] = {}  # response_format JSON text -> dict, parsed once
        self._pools: list[openai.AsyncOpenAI] = []  # openai clients, one per connection pool
        self._slots: asyncio.LifoQueue[openai.AsyncOpenAI] | None = None  # one per request

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.endpoint.base_url!r}, usage={self.usage!r})"

    async def __aenter__(self) -> LLMClient:
        # Connection pools behind request slots: a request takes a slot, and a slot belongs to
        # one pool, so no pool ever holds more requests than connections. With httpx2 the
        # pools are small: it scans every connection of a pool twice per request, which at 128
        # connections costs a fifth of the CPU per request (measured).
        concurrency = self.endpoint.concurrency
        if self.endpoint.base_url.startswith("https://"):
            tls: ssl.SSLContext | bool = httpx2.create_ssl_context()  # loaded once, shared
        else:
            tls = False  # plain http has no TLS: skip loading the CA bundle (0.15 s of CPU)
        self._slots = asyncio.LifoQueue()
        # openai's aiohttp transport (the `aiohttp` extra): a third less CPU per request than
        # httpx2's own (measured), the same SDK retries and errors above it. A test's
        # `http_transport` (an httpx2 transport) needs the httpx2 client.
        if self._http_transport is None:
            client_class, per_pool = openai.DefaultAioHttpClient, _AIOHTTP_CONNECTIONS_PER_POOL
        else:
            client_class, per_pool = openai.DefaultAsyncHttpxClient, _CONNECTIONS_PER_POOL
        for first in range(0, concurrency, per_pool):
            size = min(per_pool, concurrency - first)
            http_client = client_class(
                limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
                transport=self._http_transport,
                verify=tls,
            )
            pool = openai.AsyncOpenAI(
                base_url=self.endpoint.base_url,
                api_key=self._api_key,
                timeout=self.endpoint.timeout,
                max_retries=self.endpoint.max_retries,
                http_client=http_client,
            )
            # The SDK looks the platform up (for its X-Stainless-OS header) on a client's first
            # request, in a thread, once for every request that starts before the first lookup
            # ends: 32 threads reading the Python binary before the first request leaves
            # (measured: 20-30 ms of lead). Looked up once, at import, instead.
            pool._platform = _PLATFORM
            self._pools.append(pool)
            for _ in range(size):
                self._slots.put_nowait(pool)
        if self._progress is not None:
            self._progress.publish(self.usage)
            self._publisher = asyncio.create_task(self._publish_progress())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Commits pending cache rows, publishes the final progress, closes connections."""
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
        try:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
        finally:
            if self._progress is not None:
                self._progress.publish(self.usage, closed=True)
            pools, self._pools, self._slots = self._pools, [], None
            for pool in pools:
                await pool.close()

    async def _publish_progress(self) -> None:
        assert self._progress is not None
        while True:
            await asyncio.sleep(PUBLISH_EVERY_SECONDS)
            self._progress.publish(self.usage)

    def prefetch(self, requests: Sequence[ChatRequest]) -> int:
        """Reads the cached replies of `requests` in one batch; returns how many were found.

        Optional: `complete` looks a key up on its own when it was not prefetched."""
        if self._cache is None:
            return 0
        keys = [request.key for request in requests]
        found = self._cache.get_many(keys)
        self._cached.update(found)
        self._known_misses.update(key for key in keys if key not in found)
        return len(found)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """The reply to one request, from the cache or the server. Never raises for HTTP or
        server problems: `ChatResult.error` then holds a reason code."""
        usage = self.usage
        key = None
        if self._cache is not None:
            key = request.key
            hit = self._cached.get(key)
            if hit is None and key not in self._known_misses:
                hit = self._cache.get(key)
            if hit is not None:
                usage.requests += 1
                usage.cached += 1
                return ChatResult(
                    request,
                    hit.content,
                    hit.finish_reason,
                    hit.prompt_tokens,
                    hit.completion_tokens,
                    hit.cost_usd,
                    cached=True,
                )
        params = dict(request.params)
        estimated_tokens = estimate_tokens(
            request.messages, params.get("max_tokens") or params.get("max_completion_tokens")
        )
        slots = self._slots
        if slots is None:
            raise RuntimeError("LLMClient is not open: use `async with LLMClient(endpoint)`")
        pool = await slots.get()
        try:
            await self._limits.acquire(estimated_tokens)
            usage.in_flight += 1
            try:
                result = await self._send(pool, request, params)
            finally:
                usage.in_flight -= 1
        finally:
            slots.put_nowait(pool)
        self._limits.settle_tokens(
            estimated_tokens, result.prompt_tokens + result.completion_tokens
        )
        usage.requests += 1
        usage.prompt_tokens += result.prompt_tokens
        usage.completion_tokens += result.completion_tokens
        usage.cost_usd += result.cost_usd
        if result.error is not None:
            usage.failed += 1
        elif key is not None and self._cache is not None:
            # Only usable replies are cached: a failure (truncated, refused, empty, HTTP) is
            # asked again on a rerun.
            self._cache.add(
                key,
                request.model,
                CachedReply(
                    result.content or "",
                    result.finish_reason,
                    result.prompt_tokens,
                    result.completion_tokens,
                    result.cost_usd,
                ),
            )
        return result

    async def _send(
        self, pool: openai.AsyncOpenAI, request: ChatRequest, params: dict[str, Any]
    ) -> ChatResult:
        if request.response_format is not None:
            response_format = self._formats.get(request.response_format)
            if response_format is None:
                response_format = orjson.loads(request.response_format)
                self._formats[request.response_format] = response_format
            params["response_format"] = response_format
        params["model"] = request.model
        params["messages"] = request.message_dicts()
        try:
            # The SDK's generic `post` with the raw response: the same retries, timeouts and
            # errors as `chat.completions.create`, without its per-request typed-dict transform
            # of the body and model construction of the reply (measured: a quarter of the CPU
            # per request). The body is already plain JSON, serialized here by orjson (the SDK's
            # json.dumps with its custom encoder costs more); the reply is read below.
            response = await pool.post(
                "/chat/completions", cast_to=httpx2.Response, content=orjson.dumps(params)
            )
        except openai.APITimeoutError as error:
            return self._failure(request, TIMEOUT if _timed_out(error) else CONNECTION, error)
        except openai.APIConnectionError as error:
            return self._failure(request, CONNECTION, error)
        except openai.APIStatusError as error:
            status = error.status_code
            if status == 429:
                code = RATE_LIMITED
            elif status >= 500:
                code = SERVER_ERROR
            else:
                code = f"http_{status}"
            return self._failure(request, code, error)
        self._limits.learn(response.headers)
        try:
            completion = orjson.loads(response.content)
            choice = completion["choices"][0]
            message = choice["message"]
            content = message.get("content")
            finish_reason = choice.get("finish_reason")
            refusal = message.get("refusal")
            reported = completion.get("usage") or {}
            prompt_tokens = int(reported.get("prompt_tokens") or 0)
            completion_tokens = int(reported.get("completion_tokens") or 0)
            if content is not None and not isinstance(content, str):
                raise TypeError(f"message content is {type(content).__name__}, not text")
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
            return self._failure(request, BAD_RESPONSE, error)
        cost = self._cost(request.model, prompt_tokens, completion_tokens)
        error = None
        error_message = ""
        if refusal or finish_reason == "content_filter":
            error, error_message = REFUSED, str(refusal or "finish_reason content_filter")
        elif finish_reason == "length":
            error, error_message = TRUNCATED, "the reply hit the token limit (finish_reason length)"
        elif not content or not content.strip():
            error, error_message = EMPTY, "the reply has no content"
        return ChatResult(
            request,
            content,
            finish_reason,
            prompt_tokens,
            completion_tokens,
            cost,
            error=error,
            error_message=error_message[:_MESSAGE_LIMIT],
        )

    def _failure(self, request: ChatRequest, code: str, error: Exception) -> ChatResult:
        text = f"{type(error).__name__}: {error}"
        # A server may echo request headers in its error text; the key must not travel on.
        text = text.replace(self._api_key, "[redacted]")
        return ChatResult(request, None, error=code, error_message=text[:_MESSAGE_LIMIT])

    def _cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self._prices.get(model)
        if price is None:
            price = price_for(self._prices, model)
            if price is None:
                if model not in self.unpriced_models:
                    self.unpriced_models.add(model)
                    log.warning(
                        "no price for model %r: its cost counts as 0 (add it to a price file, "
                        'e.g. {"%s": {"input": 0.15, "output": 0.6}} in USD per 1M tokens)',
                        model,
                        model,
                    )
                return 0.0
            self._prices[model] = price  # the snapshot's alias price, found once
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000

    async def complete_structured(
        self, request: ChatRequest, model: type[BaseModel], max_attempts: int = 3
    ) -> StructuredResult:
        """A reply validated as `model`. An invalid reply is asked again (at most
        `max_attempts` requests in all) as a new request: the conversation so far, the bad
        reply, and the validation error. Failures of the request itself are not asked again:
        the openai client already retried them.

        A request without a response_format gets the model's `json_schema` format."""
        if request.response_format is None:
            request = replace(
                request,
                response_format=canonical_json(response_format_for(model.__name__, model)),
            )
        attempts: list[ChatResult] = []
        pending = [request]

        async def attempt() -> _Attempt:
            result = await self.complete(pending[-1])
            attempts.append(result)
            outcome = _validate(result, model)
            if outcome.retry_with is not None:
                pending.append(pending[-1].with_messages(outcome.retry_with))
            return outcome

        retrying = AsyncRetrying(
            stop=stop_after_attempt(max_attempts),
            wait=wait_none(),  # a semantic retry asks something new: nothing to wait for
            retry=retry_if_result(lambda outcome: outcome.retry_with is not None),
            retry_error_callback=_last_outcome,
        )
        outcome: _Attempt = await retrying(attempt)
        return StructuredResult(
            outcome.value, outcome.raw, outcome.reason, outcome.message, tuple(attempts)
        )

    async def complete_all(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        """Every request's result, in input order, `concurrency` at a time."""
        self.prefetch(requests)
        results: list[ChatResult | None] = [None] * len(requests)
        await self._in_workers(len(requests), lambda i: self.complete(requests[i]), results)
        return results  # type: ignore[return-value]

    async def complete_structured_all(
        self, requests: Sequence[ChatRequest], model: type[BaseModel], max_attempts: int = 3
    ) -> list[StructuredResult]:
        """Every request's structured result, in input order."""
        self.prefetch(requests)
        results: list[StructuredResult | None] = [None] * len(requests)
        await self._in_workers(
            len(requests),
            lambda i: self.complete_structured(requests[i], model, max_attempts),
            results,
        )
        return results  # type: ignore[return-value]

    async def _in_workers(self, count: int, one: Any, results: list[Any]) -> None:
        # `concurrency` long-lived workers over a shared index, not one task per request:
        # thousands of tasks parked on the semaphore cost CPU for nothing.
        indices = iter(range(count))

        async def worker() -> None:
            for index in indices:
                results[index] = await one(index)

        # Workers start one loop turn apart, not all at once: started together, every worker
        # builds its first request and opens its connection before any connection sends, so
        # the first round leaves late and every later round inherits the delay (measured:
        # 0.1-0.2 s more wall at 128 in flight). One turn apart, early workers' connections
        # open and send while later workers start.
        workers: list[asyncio.Future[None]] = []
        try:
            for _ in range(min(self.endpoint.concurrency, count)):
                workers.append(asyncio.ensure_future(worker()))
                await asyncio.sleep(0)
        except BaseException:  # cancelled while starting: no worker outlives the call
            for started in workers:
                started.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        await asyncio.gather(*workers)


def _timed_out(error: openai.APITimeoutError) -> bool:
    """Whether a timeout error is one. openai's aiohttp transport reports every aiohttp
    connection error that is not a timeout (e.g. the server closing the connection) as an
    httpx2 connect timeout: those are connection failures."""
    cause: BaseException | None = error.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError):
            return isinstance(cause, aiohttp.ServerTimeoutError)
        cause = cause.__cause__
    return True


@dataclass(frozen=True)
class _Attempt:
    value: BaseModel | None
    raw: str | None
    reason: str | None
    message: str
    retry_with: list[tuple[str, str]] | None = None  # messages to append for the next try


def _last_outcome(state: RetryCallState) -> _Attempt:
    assert state.outcome is not None
    return state.outcome.result()


def _validate(result: ChatResult, model: type[BaseModel]) -> _Attempt:
    if result.error is not None or result.content is None:
        return _Attempt(None, result.content, result.error or EMPTY, result.error_message)
    text = result.content
    try:
        value = model.model_validate_json(_strip_code_fence(text))
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        malformed = any(problem["type"] == "json_invalid" for problem in problems)
        reason = INVALID_JSON if malformed else SCHEMA_MISMATCH
        summary = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'reply'}: {problem['msg']}"
            for problem in problems[:5]
        )
        feedback = (
            f"That reply is not valid ({reason.replace('_', ' ')}): {summary}. "
            "Reply again with only the corrected JSON object, matching the schema."
        )
        return _Attempt(None, text, reason, summary, [("assistant", text), ("user", feedback)])
    return _Attempt(value, text, None, "")


def _strip_code_fence(text: str) -> str:
    """Some servers wrap JSON in a markdown fence even when asked for a schema."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        first_line_end = stripped.find("\n")
        if first_line_end != -1:
            return stripped[first_line_end + 1 : -3]
    return text


async def _run_requests(
    endpoint: Endpoint, requests: Sequence[ChatRequest]
) -> tuple[list[ChatResult], Usage]:
    async with LLMClient(endpoint) as client:
        results = await client.complete_all(requests)
    return results, client.usage


async def _run_structured(
    endpoint: Endpoint,
    requests: Sequence[ChatRequest],
    model: type[BaseModel],
    max_attempts: int,
) -> tuple[list[StructuredResult], Usage]:
    async with LLMClient(endpoint) as client:
        results = await client.complete_structured_all(requests, model, max_attempts)
    return results, client.usage


def run_requests(
    endpoint: Endpoint, requests: Sequence[ChatRequest]
) -> tuple[list[ChatResult], Usage]:
    """Sends `requests` from synchronous code (a stage, a Prefect task, a worker process):
    returns the results in input order and what this call spent (`Usage`).

    Self-contained and picklable in and out, so a stage can call it in each of several worker
    processes, each with its share of the endpoint (`split_endpoint`); the cache and the
    progress files are safe across processes."""
    return asyncio.run(_run_requests(endpoint, requests))


def run_structured(
    endpoint: Endpoint,
    requests: Sequence[ChatRequest],
    model: type[BaseModel],
    max_attempts: int = 3,
) -> tuple[list[StructuredResult], Usage]:
    """`run_requests` for structured output: results in input order, and this call's usage."""
    return asyncio.run(_run_structured(endpoint, requests, model, max_attempts))


def run_requests_in_processes(
    endpoint: Endpoint,
    requests: Sequence[ChatRequest],
    processes: int = 2,
    start_method: str = "forkserver",
) -> tuple[list[ChatResult], Usage]:
    """`run_requests` over `processes` worker processes (one event loop per core), each with
    its share of the concurrency and rate limits. Results in input order, usage summed.

    Not from inside a daemonic worker (e.g. a Dask nanny worker): those cannot start children."""
    if processes <= 1 or len(requests) < 2:
        return run_requests(endpoint, requests)
    share = split_endpoint(endpoint, processes)
    size = -(-len(requests) // processes)
    chunks = [list(requests[start : start + size]) for start in range(0, len(requests), size)]
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=context) as pool:
        parts = list(pool.map(run_requests, [share] * len(chunks), chunks))
    results: list[ChatResult] = []
    usage = Usage()
    for part_results, part_usage in parts:
        results.extend(part_results)
        usage.add(part_usage)
    return results, usage
