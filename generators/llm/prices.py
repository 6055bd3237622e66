"""What a request costs: USD per 1M input and output tokens, per model.

The built-in table holds public OpenAI list prices (standard tier) for a few models, and a
nominal price for the test double so demos show a cost. A user file extends or overrides it:
`{"model": {"input": 0.15, "output": 0.6}, ...}`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

# USD per 1M tokens (input, output), from https://openai.com/api/pricing (standard tier).
BUILT_IN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
    # The test double: a made-up price, so a demo run shows what a cost looks like.
    "errata-double": (1.00, 2.00),
}

# A dated snapshot ("gpt-4o-mini-2024-07-18") costs what its alias costs.
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class PriceFileError(ValueError):
    """A price file that cannot be read; the message names the file and the expected shape."""


def load_prices(prices_path: str | None) -> dict[str, tuple[float, float]]:
    """The built-in table, extended and overridden by the user's JSON file if given."""
    prices = dict(BUILT_IN_PRICES)
    if prices_path is None:
        return prices
    expected = (
        'expected a JSON object like {"gpt-4o-mini": {"input": 0.15, "output": 0.6}} '
        "(USD per 1M tokens)"
    )
    try:
        table = json.loads(Path(prices_path).read_text(encoding="utf-8"))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise PriceFileError(f"price file {prices_path}: cannot read it ({reason})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise PriceFileError(f"price file {prices_path}: not JSON ({error}); {expected}") from None
    if not isinstance(table, dict):
        raise PriceFileError(f"price file {prices_path}: {expected}")
    for model, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
            raise PriceFileError(
                f"price file {prices_path}: model {model!r} has {entry!r}; {expected}"
            )
        for side in ("input", "output"):
            value = entry[side]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PriceFileError(
                    f"price file {prices_path}: {model!r} {side} price {value!r} is not a number"
                )
            if not math.isfinite(value) or value < 0:
                raise PriceFileError(
                    f"price file {prices_path}: {model!r} {side} price {value!r} must be >= 0"
                )
        prices[model] = (float(entry["input"]), float(entry["output"]))
    return prices


def price_for(prices: dict[str, tuple[float, float]], model: str) -> tuple[float, float] | None:
    """The model's price, or its snapshot alias's; None when unknown."""
    found = prices.get(model)
    if found is None:
        found = prices.get(_SNAPSHOT_SUFFIX.sub("", model))
    return found
