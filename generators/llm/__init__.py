"""The one LLM client every LLM stage uses, and the request/result records it speaks."""

from errata.generators.llm.client import (
    LLMClient,
    run_requests,
    run_requests_in_processes,
    run_structured,
)
from errata.generators.llm.endpoint import (
    Endpoint,
    EndpointSettingsError,
    MissingCredentials,
    check_endpoint,
    split_endpoint,
)
from errata.generators.llm.prices import PriceFileError, load_prices
from errata.generators.llm.progress import read_progress
from errata.generators.llm.requests import (
    ChatRequest,
    ChatResult,
    StructuredResult,
    Usage,
    response_format_for,
)

__all__ = [
    "ChatRequest",
    "ChatResult",
    "Endpoint",
    "EndpointSettingsError",
    "LLMClient",
    "MissingCredentials",
    "PriceFileError",
    "StructuredResult",
    "Usage",
    "check_endpoint",
    "load_prices",
    "read_progress",
    "response_format_for",
    "run_requests",
    "run_requests_in_processes",
    "run_structured",
    "split_endpoint",
]
