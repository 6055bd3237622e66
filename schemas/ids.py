"""Stable content-hash ids and per-item seeds."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(*parts: Any, length: int = 16) -> str:
    """A short hex digest of the canonical JSON of `parts`."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()
    return digest[:length]


def problem_id(source: str, source_id: str) -> str:
    return "p-" + content_hash("problem", source, source_id)


def item_seed(run_seed: int, item_id: str) -> int:
    """A per-item seed, so reruns and resumed runs draw the same choices."""
    return int(content_hash("seed", run_seed, item_id, length=15), 16)
