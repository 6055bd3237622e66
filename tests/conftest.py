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
GSM8K_DIR = SHARED_DATA / "gsm8k"
GSM8K_TEST = GSM8K_DIR / "test.jsonl"
GSM8K_MODEL_SOLUTIONS = GSM8K_DIR / "example_model_solutions.jsonl"
MODEL_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


@pytest.fixture(scope="session")
def gsm8k_rows() -> list[dict]:
    if not GSM8K_TEST.exists():
        pytest.skip("../shared/data/gsm8k is not beside the repo")
    return [json.loads(line) for line in GSM8K_TEST.read_text().splitlines()]
