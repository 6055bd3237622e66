from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
GSM8K_TEST = SHARED_DATA / "gsm8k" / "test.jsonl"
GSM8K_MODEL_SOLUTIONS = SHARED_DATA / "gsm8k" / "example_model_solutions.jsonl"


@pytest.fixture(scope="session")
def gsm8k_rows() -> list[dict]:
    if not GSM8K_TEST.exists():
        pytest.skip("../shared/data/gsm8k is not beside the repo")
    return [json.loads(line) for line in GSM8K_TEST.read_text().splitlines()]
