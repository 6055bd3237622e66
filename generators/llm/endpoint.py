"""Where the LLM requests go and how hard to push: runtime settings, checked before any work.

An `Endpoint` is not part of a run's identity (the same requests against another server or with
other limits name the same responses) and never holds the API key: the key is read from
`OPENAI_API_KEY` by the client itself, so it cannot leak through a repr, a Prefect parameter or a
pickled task argument.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

API_KEY_VARIABLE = "OPENAI_API_KEY"
# Local servers (vLLM, llama.cpp, Ollama, the test double) ignore the key, but the openai
# client refuses an empty one.
LOCAL_PLACEHOLDER_KEY = "no-key-needed-for-a-local-server"


@dataclass(frozen=True)
class Endpoint:
    """Runtime settings of one OpenAI-compatible endpoint (never the key)."""

    base_url: str
    timeout: float = 60.0  # seconds per HTTP attempt; the openai default of 600 s is too long
    max_retries: int = 2  # HTTP retries done by the openai client, the only layer that does
    concurrency: int = 16  # requests in flight per client (per process)
    rpm: int | None = None  # requests per minute, per client
    tpm: int | None = None  # tokens per minute, per client
    cache_dir: str | None = None  # None: no cache
    prices_path: str | None = None  # user price table extending the built-in one
    progress_dir: str | None = None  # where this process publishes its progress


class MissingCredentials(ValueError):
    """A remote endpoint and no API key in the environment."""


class EndpointSettingsError(ValueError):
    """A number in the endpoint settings that cannot work."""


def is_loopback(base_url: str) -> bool:
    """True for localhost and loopback addresses: local servers that need no key."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key_for(endpoint: Endpoint) -> str:
    """The key the client sends: OPENAI_API_KEY, or a placeholder for a loopback server."""
    key = os.environ.get(API_KEY_VARIABLE, "").strip()
    if key:
        return key
    if is_loopback(endpoint.base_url):
        return LOCAL_PLACEHOLDER_KEY
    raise MissingCredentials(_missing_key_message(endpoint.base_url))


def _missing_key_message(base_url: str) -> str:
    return (
        f"{API_KEY_VARIABLE} is not set, and {base_url} is not a local server. "
        f"Fix: export {API_KEY_VARIABLE}=... (the key for that endpoint), or point --base-url "
        "at a local OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1 for vLLM, "
        "llama.cpp or Ollama), which needs no key."
    )


def check_endpoint(endpoint: Endpoint) -> None:
    """Raises before any work if the settings cannot work: the URL, the numbers, the key,
    and the price file (named, with what was expected)."""
    parts = urlsplit(endpoint.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointSettingsError(
            f"base_url {endpoint.base_url!r} is not an http(s) URL; "
            "expected e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1"
        )
    _check_number("timeout", endpoint.timeout, minimum=0, exclusive=True, whole=False)
    _check_number("max_retries", endpoint.max_retries, minimum=0)
    _check_number("concurrency", endpoint.concurrency, minimum=1)
    if endpoint.rpm is not None:
        _check_number("rpm", endpoint.rpm, minimum=1)
    if endpoint.tpm is not None:
        _check_number("tpm", endpoint.tpm, minimum=1)
    api_key_for(endpoint)
    from errata.generators.llm.prices import load_prices  # prices imports nothing from here

    load_prices(endpoint.prices_path)


def _check_number(
    name: str, value: object, minimum: float, exclusive: bool = False, whole: bool = True
) -> None:
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise EndpointSettingsError(f"{name} must be {kind}, got {value!r}")
    if not math.isfinite(value) or value < minimum or (exclusive and value == minimum):
        bound = f"> {minimum:g}" if exclusive else f">= {minimum:g}"
        raise EndpointSettingsError(f"{name} must be {bound}, got {value!r}")


def split_endpoint(endpoint: Endpoint, parts: int) -> Endpoint:
    """The settings for one of `parts` processes sharing this endpoint: concurrency and rate
    limits divided so that together they keep the endpoint's totals."""
    if parts <= 1:
        return endpoint
    return replace(
        endpoint,
        concurrency=max(1, endpoint.concurrency // parts),
        rpm=None if endpoint.rpm is None else max(1, endpoint.rpm // parts),
        tpm=None if endpoint.tpm is None else max(1, endpoint.tpm // parts),
    )
