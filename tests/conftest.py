from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# `datasets` caches what it loads by path; pytest reuses temp paths across sessions, so a
# shared cache could hand a test another session's rows. Each test session gets its own.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="errata-tests-hf-datasets-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GSM8K_DIR = FIXTURES / "gsm8k"  # shipped with the repo (MIT), so no test depends on ../shared
GSM8K_TEST = GSM8K_DIR / "test.jsonl"
GSM8K_MODEL_SOLUTIONS = GSM8K_DIR / "example_model_solutions.jsonl"
MODEL_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


@pytest.fixture(scope="session")
def gsm8k_rows() -> list[dict]:
    return [json.loads(line) for line in GSM8K_TEST.read_text().splitlines()]
