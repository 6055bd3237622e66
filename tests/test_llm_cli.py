"""`errata run` with LLM stages refuses what cannot work before any work: one line, exit 2,
nothing written, Prefect never imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import GSM8K_MODEL_SOLUTIONS, GSM8K_TEST
from tests.test_cli_honesty import _errata, _lines

GSM8K = ["--source", "gsm8k", "--path", str(GSM8K_TEST), "--limit", "5"]


def _refused(args: list[str], tmp_path: Path, env_key: str | None = None) -> str:
    saved = os.environ.pop("OPENAI_API_KEY", None)
    try:
        if env_key is not None:
            os.environ["OPENAI_API_KEY"] = env_key
        process, heavy = _errata(["run", *args, "--shards", str(tmp_path / "shards")], tmp_path)
    finally:
        os.environ.pop("OPENAI_API_KEY", None)
        if saved is not None:
            os.environ["OPENAI_API_KEY"] = saved
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    lines = _lines(process.stderr)
    assert len(lines) <= 3, process.stderr
    assert "prefect" not in heavy
    assert not (tmp_path / "shards").exists()
    return " ".join(lines)


def test_a_remote_endpoint_without_a_key_stops_with_the_fix(tmp_path: Path) -> None:
    args = [*GSM8K, "--sampler", "llm", "--model", "gpt-4o-mini"]
    message = _refused([*args, "--base-url", "https://api.openai.com/v1"], tmp_path)
    assert "OPENAI_API_KEY" in message and "export OPENAI_API_KEY" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sampler", "llm", "--base-url", "http://127.0.0.1:9/v1"], "--model"),
        (["--sampler", "llm", "--model", "m"], "--base-url"),
        (["--teacher", "llm", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"], "--sampler"),
        (["--sampler", "replay"], "--replay"),
        (["--replay", str(GSM8K_MODEL_SOLUTIONS)], "--sampler replay"),
        (["--sampler", "llm", "--model", "m", "--base-url", "ftp://x/v1"], "http"),
        (["--sampler", "llm", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
          "--temperature", "5"], "temperature"),
        (["--base-url", "http://127.0.0.1:9/v1"], "no stage calls a model"),
        (["--model", "m"], "no stage calls a model"),
    ],
)  # fmt: skip
def test_llm_options_that_cannot_work_are_refused(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    assert expected in _refused([*GSM8K, *args], tmp_path)


def test_a_bad_replay_line_names_file_and_line(tmp_path: Path) -> None:
    replay = tmp_path / "samples.jsonl"
    replay.write_text('{"question": "Q?", "solution": "1 + 1 = 2"}\n{"question": "Q2?"}\n')
    message = _refused([*GSM8K, "--sampler", "replay", "--replay", str(replay)], tmp_path)
    assert f"{replay}:2" in message and "solution" in message


def test_a_bad_price_file_is_named(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"m": {"input": "cheap"}}')
    args = ["--sampler", "llm", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    message = _refused([*GSM8K, *args, "--prices", str(prices)], tmp_path)
    assert str(prices) in message
