"""Requests-per-minute and tokens-per-minute limits: smooth pacing, learned from the server too.

Each limit is a pacer in virtual time (the generic cell rate algorithm): every acquisition
reserves the next `amount / rate` seconds, so requests leave evenly spaced instead of a whole
minute's budget in one burst, and the achieved rate over any window is the limit. One
`time.monotonic()` and a few float operations per request.

When the server sends `x-ratelimit-*` headers the pacers learn from them: the limit caps the
rate, and `remaining` over `reset` (the budget left until the window refills) slows the rate
further while it is the tighter of the two, or pauses until the reset when nothing remains.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from time import monotonic

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_reset(value: str) -> float | None:
    """Seconds in an OpenAI reset header: "20ms", "1s", "6m0s", "1h2m3.5s" or plain seconds."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _SECONDS_PER_UNIT[unit] for number, unit in parts)


class Pacer:
    """Spaces acquisitions so that at most `per_minute` units pass per minute, continuously."""

    def __init__(self, per_minute: float | None) -> None:
        self.configured_rate = per_minute / 60.0 if per_minute else None  # units per second
        self.rate = self.configured_rate
        self._next_free = 0.0  # monotonic time when the next unit may pass
        self._budget_rate: float | None = None  # remaining / reset, from the last headers
        self._budget_until = 0.0

    def reserve(self, amount: float) -> float:
        """Reserves `amount` units and returns how long to wait before using them."""
        rate = self.rate
        now = monotonic()
        if self._budget_until > now and self._budget_rate is not None:
            rate = self._budget_rate if rate is None else min(rate, self._budget_rate)
        if rate is None:
            return 0.0
        start = self._next_free if self._next_free > now else now
        self._next_free = start + amount / rate
        return start - now

    async def acquire(self, amount: float = 1.0) -> None:
        delay = self.reserve(amount)
        if delay > 0:
            await asyncio.sleep(delay)

    def settle(self, estimated: float, actual: float) -> None:
        """Corrects a reservation made on an estimate once the real amount is known."""
        if self.rate is not None and actual != estimated:
            self._next_free += (actual - estimated) / self.rate

    def learn(self, limit: str | None, remaining: str | None, reset: str | None) -> None:
        """Takes in the server's view: `limit` per minute, `remaining` until `reset`."""
        if limit is not None:
            try:
                server_rate = float(limit) / 60.0
            except ValueError:
                server_rate = None
            if server_rate is not None and server_rate > 0 and math.isfinite(server_rate):
                configured = self.configured_rate
                self.rate = server_rate if configured is None else min(configured, server_rate)
        if remaining is None or reset is None:
            return
        reset_seconds = parse_reset(reset)
        try:
            left = float(remaining)
        except ValueError:
            return
        if reset_seconds is None or reset_seconds <= 0:
            return
        now = monotonic()
        if left <= 0:
            # Nothing left in this window: wait for it to refill.
            self._next_free = max(self._next_free, now + reset_seconds)
            self._budget_rate = None
        else:
            self._budget_rate = left / reset_seconds
            self._budget_until = now + reset_seconds


class RateLimits:
    """The requests and tokens pacers of one client."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.requests = Pacer(rpm)
        self.tokens = Pacer(tpm)
        self.learned = False  # whether the server has sent rate-limit headers

    async def acquire(self, estimated_tokens: int) -> None:
        await self.requests.acquire(1.0)
        if self.tokens.rate is not None or self.learned:
            await self.tokens.acquire(estimated_tokens)

    def settle_tokens(self, estimated_tokens: int, actual_tokens: int) -> None:
        self.tokens.settle(estimated_tokens, actual_tokens)

    def learn(self, headers: Mapping[str, str]) -> None:
        """Reads `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` when present."""
        get = headers.get
        limit_requests = get("x-ratelimit-limit-requests")
        remaining_requests = get("x-ratelimit-remaining-requests")
        if limit_requests is not None or remaining_requests is not None:
            self.learned = True
            self.requests.learn(
                limit_requests, remaining_requests, get("x-ratelimit-reset-requests")
            )
        limit_tokens = get("x-ratelimit-limit-tokens")
        remaining_tokens = get("x-ratelimit-remaining-tokens")
        if limit_tokens is not None or remaining_tokens is not None:
            self.learned = True
            self.tokens.learn(limit_tokens, remaining_tokens, get("x-ratelimit-reset-tokens"))


def estimate_tokens(messages: tuple[tuple[str, str], ...], max_completion: int | None) -> int:
    """A cheap up-front token count for the TPM pacer (about 4 characters a token), settled
    against the reply's real usage afterwards."""
    characters = 0
    for _, content in messages:
        characters += len(content)
    return characters // 4 + 4 * len(messages) + (max_completion or 0)
