"""The ASGI app behind `errata.testing.openai_double`: scripted replies, rate limits, faults.

Kept free of uvicorn and of the subprocess API so the hot path stays a plain ASGI callable: on
the 2-core benchmark box every server cycle is taken from the client being measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import random
import resource
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # orjson is in the resolved dependency tree; json is the fallback, same bytes shape
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    loads = orjson.loads
except ImportError:  # pragma: no cover

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    loads = json.loads

ALL_FAULTS: tuple[str, ...] = (
    "429",
    "500",
    "hang",
    "drop",
    "malformed_json",
    "truncated",
    "schema",
)
DEFAULT_MODELS: tuple[str, ...] = ("errata-double",)
RATE_WINDOW_SECONDS = 60.0
SCHEMA_MISMATCH_CONTENT = '{"unexpected": true}'
MALFORMED_JSON_BODY = (
    b'{"id": "chatcmpl-double-malformed", "object": "chat.completion", "choices": [{'
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# ---- fixtures --------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def fixture_key(messages: list[dict]) -> str:
    """sha256 hex of the content of the last message with role "user" ("" if there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return hashlib.sha256(_content_text(message.get("content")).encode()).hexdigest()
    return hashlib.sha256(b"").hexdigest()


def write_fixtures(path: str | Path, entries: Iterable[tuple[str, list[str]]]) -> None:
    """Write fixture lines `{"key": ..., "replies": [...]}` to a JSONL file."""
    with open(path, "w", encoding="utf-8") as out:
        for key, replies in entries:
            out.write(json.dumps({"key": key, "replies": list(replies)}, ensure_ascii=False))
            out.write("\n")


def load_fixtures(paths: Iterable[str | Path]) -> dict[str, list[str]]:
    """Read fixture files; a key repeated in a later line or file replaces the earlier one."""
    fixtures: dict[str, list[str]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                entry = json.loads(line)
                key, replies = entry.get("key"), entry.get("replies")
                if (
                    not isinstance(key, str)
                    or not isinstance(replies, list)
                    or not replies
                    or not all(isinstance(reply, str) for reply in replies)
                ):
                    raise ValueError(
                        f"{path}:{number}: want {{'key': str, 'replies': [str, ...]}} (non-empty)"
                    )
                fixtures[key] = replies
    return fixtures


def count_tokens(chars: int) -> int:
    """The double's token estimate: ceil(chars / 4)."""
    return (chars + 3) // 4


# ---- faults ----------------------------------------------------------------------------------


def decide_fault(
    seed: int, body_digest: str, times_seen: int, fault_rate: float, faults: Sequence[str]
) -> str | None:
    """The fault for the `times_seen`-th arrival (0-based) of a body, or None.

    Seeded from the body and its arrival count, not from a shared stream, so the outcome of one
    request never depends on what else is in flight, and a retry draws afresh.
    """
    if fault_rate <= 0.0 or not faults:
        return None
    rng = random.Random(f"{seed}:{body_digest}:{times_seen}")
    if rng.random() >= fault_rate:
        return None
    return faults[rng.randrange(len(faults))]


class ConnectionDroppedOnPurpose(Exception):
    """Raised after a partial response so uvicorn closes the connection mid-body (the `drop`
    fault); its log record is filtered out."""


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDroppedOnPurpose)


def hide_deliberate_drops(logger_name: str = "uvicorn.error") -> None:
    """Keep the server log for real errors: drop the traceback uvicorn logs for each `drop`."""
    logging.getLogger(logger_name).addFilter(_HideDeliberateDrops())


# ---- rate limits -----------------------------------------------------------------------------


class SlidingWindowLimit:
    """A limit on the sum of amounts admitted in the last `window` seconds."""

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._admitted: deque[tuple[float, int]] = deque()
        self._total = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._admitted and self._admitted[0][0] <= horizon:
            self._total -= self._admitted.popleft()[1]

    def seconds_until_fits(self, now: float, amount: int) -> float:
        """0 if `amount` fits now, else how long until enough of the window expires."""
        self._expire(now)
        excess = self._total + amount - self.limit
        if excess <= 0:
            return 0.0
        if amount > self.limit:  # never fits; tell the client to wait a whole window
            return self.window
        for admitted_at, admitted in self._admitted:
            excess -= admitted
            if excess <= 0:
                return max(0.0, admitted_at + self.window - now)
        return self.window  # unreachable: the whole window expiring frees everything

    def admit(self, now: float, amount: int) -> None:
        self._admitted.append((now, amount))
        self._total += amount

    def remaining(self) -> int:
        return max(0, self.limit - self._total)

    def seconds_until_reset(self, now: float) -> float:
        """How long until the oldest admitted amount leaves the window (capacity frees up)."""
        self._expire(now)
        return max(0.0, self._admitted[0][0] + self.window - now) if self._admitted else 0.0


def _duration(seconds: float) -> bytes:
    """OpenAI-style reset duration, e.g. b"0.8s"."""
    return (f"{seconds:.3f}".rstrip("0").rstrip(".") + "s").encode()


# ---- state -----------------------------------------------------------------------------------


@dataclass
class DoubleConfig:
    latency_ms: float = 0.0
    fixtures: dict[str, list[str]] = field(default_factory=dict)
    reply: str = "ok"
    models: Sequence[str] = DEFAULT_MODELS
    fault_rate: float = 0.0
    faults: Sequence[str] = ALL_FAULTS
    retry_after: float = 0.05
    hang_seconds: float = 30.0
    rpm: int | None = None
    tpm: int | None = None
    seed: int = 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class DoubleStats:
    """Counters for /stats. Every chat request lands in exactly one of served, by_fault,
    rate_limited or invalid; fixture_hits + fixture_misses counts the valid ones."""

    def __init__(self) -> None:
        self.in_flight = 0  # live, so a reset never makes it negative
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.served = 0
        self.invalid = 0
        self.rate_limited = 0
        self.by_fault: dict[str, int] = {}
        self.by_status: dict[int, int] = {}
        self.fixture_hits = 0
        self.fixture_misses = 0
        self.max_in_flight = self.in_flight
        self.first_request_at: float | None = None
        self.last_response_at: float | None = None
        self.cpu_at_reset = _cpu_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "served": self.served,
            "invalid": self.invalid,
            "rate_limited": self.rate_limited,
            "by_fault": dict(self.by_fault),
            "by_status": {str(code): n for code, n in self.by_status.items()},
            "fixture_hits": self.fixture_hits,
            "fixture_misses": self.fixture_misses,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "first_request_at": self.first_request_at,
            "last_response_at": self.last_response_at,
            "cpu_seconds": _cpu_seconds() - self.cpu_at_reset,
        }


Headers = list[tuple[bytes, bytes]]
JSON = b"application/json"


def _error_body(message: str, error_type: str, param: str | None = None, code: str | None = None):
    return dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}})


class OpenAIDouble:
    """The chat-completions logic; `asgi_app` wraps it for uvicorn."""

    def __init__(self, config: DoubleConfig) -> None:
        self.config = config
        self.latency_seconds = config.latency_ms / 1000.0
        self.stats = DoubleStats()
        self.times_seen: dict[str, int] = {}
        self.request_limit = SlidingWindowLimit(config.rpm) if config.rpm else None
        self.token_limit = SlidingWindowLimit(config.tpm) if config.tpm else None
        self.retry_after_headers: Headers = [
            (b"retry-after", f"{config.retry_after:g}".encode()),
            (b"retry-after-ms", f"{config.retry_after * 1000:.0f}".encode()),
        ]
        self.completion_ids = itertools.count(1)

    # -- building responses --

    def completion(
        self, model: str, content: str, prompt_tokens: int, finish_reason: str = "stop"
    ) -> bytes:
        completion_tokens = count_tokens(len(content))
        return dumps(
            {
                "id": f"chatcmpl-double-{next(self.completion_ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    def models_body(self) -> bytes:
        return dumps(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 0, "owned_by": "errata-double"}
                    for name in self.config.models
                ],
            }
        )

    def _rate_limit_headers(self, now: float) -> Headers:
        headers: Headers = []
        for suffix, limit in (("requests", self.request_limit), ("tokens", self.token_limit)):
            if limit is not None:
                headers += [
                    (b"x-ratelimit-limit-" + suffix.encode(), str(limit.limit).encode()),
                    (b"x-ratelimit-remaining-" + suffix.encode(), str(limit.remaining()).encode()),
                    (
                        b"x-ratelimit-reset-" + suffix.encode(),
                        _duration(limit.seconds_until_reset(now)),
                    ),
                ]
        return headers

    def _over_rate_limit(self, now: float, tokens: int) -> tuple[float, str]:
        """(seconds to wait, "requests" or "tokens": the binding limit), or (0, "") after
        admitting the request into the windows."""
        request_wait = token_wait = 0.0
        if self.request_limit is not None:
            request_wait = self.request_limit.seconds_until_fits(now, 1)
        if self.token_limit is not None:
            token_wait = self.token_limit.seconds_until_fits(now, tokens)
        if request_wait > 0 or token_wait > 0:
            if request_wait >= token_wait:
                return request_wait, "requests"
            return token_wait, "tokens"
        if self.request_limit is not None:
            self.request_limit.admit(now, 1)
        if self.token_limit is not None:
            self.token_limit.admit(now, tokens)
        return 0.0, ""

    # -- the chat endpoint --

    async def chat(self, raw_body: bytes, receive: Receive, send: Send) -> None:
        stats = self.stats
        stats.requests += 1
        if stats.first_request_at is None:
            stats.first_request_at = time.monotonic()
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        try:
            await self._chat(raw_body, receive, send)
        finally:
            stats.in_flight -= 1
            stats.last_response_at = time.monotonic()

    async def _chat(self, raw_body: bytes, receive: Receive, send: Send) -> None:
        config, stats = self.config, self.stats
        problem, request = _validate(raw_body)
        if problem is not None:
            stats.invalid += 1
            param, message = problem
            await self._respond(send, 400, _error_body(message, "invalid_request_error", param))
            return

        messages = request["messages"]
        model = request.get("model") or config.models[0]
        prompt_chars = sum(len(_content_text(m.get("content"))) for m in messages)
        prompt_tokens = count_tokens(prompt_chars)
        replies = config.fixtures.get(fixture_key(messages)) if config.fixtures else None
        if replies is None:
            stats.fixture_misses += 1
            reply = config.reply
        else:
            stats.fixture_hits += 1
            reply = replies[(request.get("seed") or 0) % len(replies)]

        extra_headers: Headers = []
        if self.request_limit is not None or self.token_limit is not None:
            now = time.monotonic()
            wait, limit_kind = self._over_rate_limit(now, prompt_tokens + count_tokens(len(reply)))
            extra_headers = self._rate_limit_headers(now)
            if wait > 0:
                stats.rate_limited += 1
                extra_headers += [
                    (b"retry-after", f"{wait:.3f}".encode()),
                    (b"retry-after-ms", f"{wait * 1000:.0f}".encode()),
                ]
                message = f"Rate limit reached for {limit_kind}: retry in {wait:.3f}s"
                body = _error_body(message, limit_kind, None, "rate_limit_exceeded")
                await self._respond(send, 429, body, extra_headers)
                return

        fault = None
        if config.fault_rate > 0.0:
            digest = hashlib.sha256(raw_body).hexdigest()
            times_seen = self.times_seen.get(digest, 0)
            self.times_seen[digest] = times_seen + 1
            fault = decide_fault(config.seed, digest, times_seen, config.fault_rate, config.faults)

        if self.latency_seconds > 0:
            await asyncio.sleep(self.latency_seconds)

        if fault is None:
            stats.served += 1
            await self._respond(
                send, 200, self.completion(model, reply, prompt_tokens), extra_headers
            )
            return

        stats.by_fault[fault] = stats.by_fault.get(fault, 0) + 1
        if fault == "429":
            body = _error_body("Injected rate limit", "requests", None, "rate_limit_exceeded")
            await self._respond(send, 429, body, extra_headers + self.retry_after_headers)
        elif fault == "500":
            body = _error_body("Injected server error", "server_error")
            await self._respond(send, 500, body, extra_headers)
        elif fault == "hang":
            if await _client_stays(receive, config.hang_seconds):
                body = self.completion(model, reply, prompt_tokens)
                await self._respond(send, 200, body, extra_headers)
        elif fault == "drop":
            body = self.completion(model, reply, prompt_tokens)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", JSON), (b"content-length", b"%d" % len(body))],
                }
            )
            await send({"type": "http.response.body", "body": body[:16], "more_body": True})
            raise ConnectionDroppedOnPurpose
        elif fault == "malformed_json":
            await self._respond(send, 200, MALFORMED_JSON_BODY, extra_headers)
        elif fault == "truncated":
            body = self.completion(model, reply[: len(reply) // 2], prompt_tokens, "length")
            await self._respond(send, 200, body, extra_headers)
        elif fault == "schema":
            body = self.completion(model, SCHEMA_MISMATCH_CONTENT, prompt_tokens)
            await self._respond(send, 200, body, extra_headers)

    async def _respond(
        self,
        send: Send,
        status: int,
        body: bytes,
        extra_headers: Iterable[tuple[bytes, bytes]] = (),
        content_type: bytes = JSON,
    ) -> None:
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        await respond(send, status, body, extra_headers, content_type)


def _validate(raw_body: bytes) -> tuple[tuple[str | None, str] | None, dict]:
    """(None, request) if the double can answer it, else ((param, message), {})."""
    try:
        request = loads(raw_body or b"{}")
    except ValueError as exc:
        return (None, f"We could not parse the JSON body of your request: {exc}"), {}
    if not isinstance(request, dict):
        return (None, "The request body must be a JSON object."), {}
    messages = request.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return ("messages", "'messages' must be a list of message objects."), {}
    if request.get("n") not in (None, 1):
        return ("n", "The double answers only n=1."), {}
    if request.get("stream"):
        return ("stream", "The double does not stream."), {}
    seed = request.get("seed")
    if seed is not None and not isinstance(seed, int):
        return ("seed", "'seed' must be an integer."), {}
    return None, request


async def _client_stays(receive: Receive, seconds: float) -> bool:
    """Sleep `seconds`; False as soon as the client disconnects (so a hang costs nothing after
    the client's timeout)."""
    # With the body read, uvicorn's next receive() only returns on disconnect.
    disconnected = asyncio.ensure_future(receive())
    done, _ = await asyncio.wait({disconnected}, timeout=seconds)
    disconnected.cancel()
    return not done


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
    content_type: bytes = JSON,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def asgi_app(double: OpenAIDouble) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A plain ASGI callable: routing by a dict lookup, no framework, for a low CPU cost."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off in the server; nothing else is spoken
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/v1/chat/completions":
            await double.chat(await read_body(receive), receive, send)
        elif method == "GET" and path == "/v1/models":
            await respond(send, 200, double.models_body())
        elif method == "GET" and path == "/health":
            await respond(send, 200, b"ok", content_type=b"text/plain")
        elif method == "GET" and path == "/stats":
            await respond(send, 200, dumps(double.stats.as_dict()))
        elif method == "POST" and path == "/stats/reset":
            await read_body(receive)
            double.stats.reset()
            await respond(send, 200, dumps(double.stats.as_dict()))
        else:
            await read_body(receive)
            message = f"No route {method} {path} on the errata OpenAI double."
            await respond(send, 404, _error_body(message, "invalid_request_error"))

    return app
