"""What an LLM stage asks for and what it gets back: plain records, no client in them.

A `ChatRequest` is everything that decides a response (model, messages, every sampling
parameter, response format, prompt version), so its `key` names the response in the cache:
an identical request is free on a rerun and any change misses. The API key is never part of
a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from errata.schemas.ids import canonical_json, content_hash


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    params: tuple[tuple[str, Any], ...] = ()  # sorted (name, value): temperature, seed, ...
    response_format: str | None = None  # canonical JSON of the OpenAI response_format, if any
    prompt_version: str | None = None  # e.g. "math/teacher@1-3fa2b1c0"
    item_id: str = ""  # what the response is for (a problem, an attempt); not in the key

    @classmethod
    def build(
        cls,
        model: str,
        messages: list[dict[str, str]] | list[tuple[str, str]],
        params: dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None,
        prompt_version: str | None = None,
        item_id: str = "",
    ) -> ChatRequest:
        pairs = tuple(
            (m["role"], m["content"]) if isinstance(m, dict) else (m[0], m[1]) for m in messages
        )
        return cls(
            model=model,
            messages=pairs,
            params=tuple(sorted((params or {}).items())),
            response_format=canonical_json(response_format) if response_format else None,
            prompt_version=prompt_version,
            item_id=item_id,
        )

    @cached_property
    def key(self) -> str:
        """Names the response: a hash of everything that decides it (hashed once: the client
        reads it to prefetch from the cache and again to look up and store the reply)."""
        return content_hash(
            "chat",
            self.model,
            [list(m) for m in self.messages],
            [list(p) for p in self.params],
            self.response_format,
            self.prompt_version,
            length=32,
        )

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def with_messages(self, extra: list[tuple[str, str]]) -> ChatRequest:
        """The same request with messages appended (a semantic retry is a new request)."""
        return ChatRequest(
            self.model,
            self.messages + tuple(extra),
            self.params,
            self.response_format,
            self.prompt_version,
            self.item_id,
        )


@dataclass(frozen=True)
class ChatResult:
    """One request's outcome. `error` is a reason code when no usable reply came back
    (after the client's own HTTP retries): timeout, rate_limited, server_error, connection,
    bad_response, truncated, refused, empty."""

    request: ChatRequest
    content: str | None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    error: str | None = None
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.content is not None


@dataclass(frozen=True)
class StructuredResult:
    """A reply validated against a pydantic model, after at most a few semantic retries.

    `value` is None when every attempt failed; then `reason` says why (the last failure's
    code, e.g. invalid_json, schema_mismatch, or a ChatResult error) and `raw` holds the last
    raw text, for the reject.
    """

    value: BaseModel | None
    raw: str | None
    reason: str | None
    message: str
    results: tuple[ChatResult, ...] = field(default=())

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.results)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.results)

    @property
    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.results)


@dataclass
class Usage:
    """Running totals of one client (or many, added up)."""

    requests: int = 0  # completed, served or cached
    cached: int = 0
    failed: int = 0
    in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.cached += other.cached
        self.failed += other.failed
        self.in_flight += other.in_flight
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd


def response_format_for(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAI `json_schema` response format for a pydantic model."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": model.model_json_schema(), "strict": True},
    }
