"""A planted OPENAI_API_KEY never leaves the environment: not in logs, Prefect parameters,
artifacts or logs, shards, Parquet metadata, the response cache, or the export."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.testing.utilities import prefect_test_harness

from errata.flows.export import run_export
from errata.flows.generate import run_generate
from errata.generators.domains.base import LLMSettings
from errata.generators.sources.gsm8k import load_gsm8k
from errata.testing.openai_double import running_double, write_fixtures
from errata.testing.scripted import fixtures_for_run
from tests.conftest import GSM8K_MODEL_SOLUTIONS, GSM8K_TEST

pytestmark = pytest.mark.slow

MODEL = "errata-double"
LIMIT = 6


async def _prefect_text() -> str:
    """Every flow run's parameters, every artifact and every log line the server holds."""
    async with get_client() as client:
        runs = await client.read_flow_runs()
        artifacts = await client.read_artifacts()
        logs = await client.read_logs()
    parts = [repr(r.parameters) for r in runs]
    parts += [repr(a.data) + repr(a.description) for a in artifacts]
    parts += [log.message for log in logs]
    assert runs and artifacts, "the run was tracked"
    summary = next(a for a in artifacts if a.key == "errata-generate-summary")
    assert "cost: $" in summary.data and "tokens:" in summary.data  # the run's spend is there
    return "\n".join(parts)


def test_a_planted_key_appears_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    planted = "sk-test-PLANTED-" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", planted)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    caplog.set_level(logging.DEBUG)
    settings = LLMSettings(sampler="llm", teacher="llm", injector="both", model=MODEL)
    problems = load_gsm8k(str(GSM8K_TEST), "test", limit=LIMIT)
    entries = fixtures_for_run(problems, str(GSM8K_MODEL_SOLUTIONS), settings)
    write_fixtures(tmp_path / "fixtures.jsonl", entries)
    shards, out = tmp_path / "shards", tmp_path / "export"
    with (
        prefect_test_harness(server_startup_timeout=120),
        running_double(fixtures=[str(tmp_path / "fixtures.jsonl")]) as double,
    ):
        summary = run_generate(
            prefect=True,
            workers=1,
            source="gsm8k",
            path=str(GSM8K_TEST),
            limit=LIMIT,
            shards=str(shards),
            llm={"sampler": "llm", "teacher": "llm", "injector": "both", "model": MODEL},
            endpoint={"base_url": double.base_url},
        )
        assert summary["llm_usage"]["requests"] > 0
        run_export(recipes=["lema", "lemma", "rise"], shards=str(shards), out=str(out))
        prefect_text = asyncio.run(_prefect_text())
        server_log = Path(double.log_path).read_bytes()
    assert planted not in prefect_text
    assert planted not in caplog.text
    assert planted.encode() not in server_log
    files = [p for root in (shards, out) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    assert any("responses.sqlite" in p.name for p in files)  # the cache is scanned too
    for path in files:
        assert planted.encode() not in path.read_bytes(), path
    assert os.environ["OPENAI_API_KEY"] == planted  # still only in the environment
