"""End-to-end runs of the `generate` flow against a real (temporary) Prefect server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.artifacts import Artifact
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from errata.flows.cli import app
from errata.flows.generate import run_generate
from errata.store import catalog
from errata.store.shards import clean_orphans
from tests.conftest import GSM8K_TEST, REPO
from tests.killed_runs import kill_after_batches

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def _sql(root: Path, sql: str) -> list[tuple]:
    return catalog.query(root, sql)[1]


def _assert_stage_counts_balance(summary: dict) -> None:
    for count in summary["counts"]:
        assert count["n_in"] == count["n_out"] + count["n_rejected"], count
    stages = [c["stage"] for c in summary["counts"]]
    assert stages == ["source", "parse", "inject", "verify_injection", "correct"]


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*.parquet")
        # runs and batches carry wall-clock seconds and invocation ids
        if "runs" not in p.parts and "batches" not in p.parts
    }


def test_synthetic_run_writes_verified_records_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "shards"
    summary = run_generate(source="synthetic", limit=60, batch_size=20, shards=str(out), seed=4)
    _assert_stage_counts_balance(summary)
    assert summary["batches"] == 3 and summary["batches_skipped"] == 0
    [(mistakes, problems)] = _sql(
        out, "select (select count(*) from mistakes), (select count(*) from problems)"
    )
    assert problems == 60
    assert mistakes == summary["mistakes_written"] > 100
    counts = {c["stage"]: c for c in summary["counts"]}
    assert counts["correct"]["n_out"] == mistakes
    rejected = sum(c["n_rejected"] for c in summary["counts"])
    assert _sql(out, "select count(*) from rejects")[0][0] == rejected
    verdicts = _sql(out, "select distinct unnest(corrections).verdict from mistakes")
    assert verdicts == [("correct",)]
    # Each run is recorded, parameters included; the report is a Prefect artifact.
    [(run_id, params)] = _sql(out, "select run_id, parameters from runs")
    assert run_id == summary["run_id"] and json.loads(params)["source"]["kind"] == "synthetic"
    artifact = Artifact.get("errata-generate-summary")
    assert artifact is not None and summary["run_id"] in artifact.data

    before = _digests(out)
    # Untracked (plain processes) this time: the same batches, so every one is skipped.
    again = run_generate(
        source="synthetic", limit=60, batch_size=20, shards=str(out), seed=4, prefect=False
    )
    assert again["batches_skipped"] == 3 and again["mistakes_written"] == 0
    assert again["counts"] == summary["counts"]  # the skipped batches' books were read back
    assert _digests(out) == before
    assert _sql(out, "select count(*), count(distinct mistake_id) from mistakes") == [
        (mistakes, mistakes)
    ]
    # Other batch boundaries make another run: it never mixes into the first one's shards.
    regrouped = run_generate(
        source="synthetic", limit=60, batch_size=30, shards=str(out), seed=4, prefect=False
    )
    assert regrouped["run_id"] != summary["run_id"]
    per_run = "select run_id, count(*), count(distinct mistake_id) from mistakes group by 1"
    assert sorted(_sql(out, per_run)) == sorted(
        [(summary["run_id"], mistakes, mistakes), (regrouped["run_id"], mistakes, mistakes)]
    )


def test_growing_or_shrinking_the_limit_never_duplicates(tmp_path: Path) -> None:
    out, clean = tmp_path / "shards", tmp_path / "clean"
    # Batch semantics do not depend on the runner: the untracked path keeps this test fast.
    common = {"source": "synthetic", "batch_size": 20, "seed": 5, "prefect": False}
    run_generate(limit=50, shards=str(out), **common)  # batches of 20, 20 and a partial 10
    grown = run_generate(limit=60, shards=str(out), **common)
    assert grown["batches_skipped"] == 2  # the partial batch is redone whole, then replaced
    run_generate(limit=60, shards=str(clean), **common)
    ids = "select mistake_id from mistakes order by 1"
    assert _sql(out, ids) == _sql(clean, ids)
    problems = "select count(*), count(distinct problem_id) from problems"
    assert _sql(out, problems) == [(60, 60)]
    shrunk = run_generate(limit=45, shards=str(out), **common)
    assert shrunk["batches_skipped"] == 3 and shrunk["mistakes_written"] == 0
    assert _sql(out, ids) == _sql(clean, ids) and _sql(out, problems) == [(60, 60)]


def test_gsm8k_run_from_a_local_file(tmp_path: Path) -> None:
    out = tmp_path / "shards"
    summary = run_generate(
        source="gsm8k", path=str(GSM8K_TEST), limit=120, shards=str(out), prefect=False
    )
    _assert_stage_counts_balance(summary)
    rows = _sql(out, "select source, count(*) from mistakes group by 1")
    assert rows == [("gsm8k", summary["mistakes_written"])]
    assert summary["mistakes_written"] > 300
    parse = next(c for c in summary["counts"] if c["stage"] == "parse")
    assert parse["n_out"] / parse["n_in"] >= 0.9


def test_malformed_line_stops_the_run_naming_file_line_and_field(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    good = {"question": "Ann has 2 + 3 pens?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"}
    data.write_text(
        "\n".join([json.dumps(good), json.dumps(good), '{"question": "q", "answer": ', ""])
    )
    out = tmp_path / "shards"
    result = CliRunner().invoke(
        app, ["run", "--source", "gsm8k", "--path", str(data), "--shards", str(out)]
    )
    assert result.exit_code == 2
    assert f"{data}:3" in result.output
    assert not list(out.rglob("*.parquet")) and not list(out.rglob("*.tmp"))

    missing = tmp_path / "missing.jsonl"
    missing.write_text(json.dumps({"answer": "#### 5"}) + "\n")
    result = CliRunner().invoke(
        app, ["run", "--source", "gsm8k", "--path", str(missing), "--shards", str(out)]
    )
    assert result.exit_code == 2
    assert f"{missing}:1" in result.output and "question" in result.output


def test_skip_bad_sends_malformed_lines_to_rejects(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    good = {"question": "Ann has 2 and 3 pens.", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"}
    data.write_text("\n".join([json.dumps(good), "not json", json.dumps({"answer": "#### 1"})]))
    out = tmp_path / "shards"
    summary = run_generate(
        source="gsm8k", path=str(data), shards=str(out), skip_bad=True, prefect=False
    )
    source = summary["counts"][0]
    assert (source["n_in"], source["n_out"], source["n_rejected"]) == (3, 1, 2)
    rows = _sql(out, "select item_id from rejects where stage = 'source' order by item_id")
    assert rows == [(f"{data}:2",), (f"{data}:3",)]


def test_killed_run_resumes_to_the_same_records(tmp_path: Path, prefect_server: str) -> None:
    """SIGKILL a real `errata run` mid-way; the rerun completes with no duplicates or temps."""
    out = tmp_path / "killed"
    secret = "sk-test-" + "s3cr3t" * 4
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "OPENAI_API_KEY": secret,
        "HF_TOKEN": secret,
    }
    args = ["--limit", "600", "--batch-size", "20", "--seed", "9", "--shards", str(out)]
    command = [sys.executable, "-m", "errata.flows.cli", "run", *args]
    done_before = kill_after_batches(command, env, out, batches=30)

    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # The killed writers' temp files are too young to be judged orphans: hidden, never read.
    assert all(p.name.startswith(".") for p in out.rglob("*.tmp"))
    clean_orphans(out, max_age_seconds=0)
    assert not list(out.rglob("*.tmp"))

    clean = tmp_path / "clean"
    run_generate(
        source="synthetic", limit=600, batch_size=20, seed=9, shards=str(clean), prefect=False
    )
    ids = "select mistake_id from mistakes order by 1"
    resumed_ids, clean_ids = _sql(out, ids), _sql(clean, ids)
    assert resumed_ids == clean_ids and len(set(resumed_ids)) == len(resumed_ids) > 2000
    assert _sql(out, "select count(*) from problems") == [(600,)]
    skipped = _sql(out, "select max(batches_skipped) from runs")[0][0]
    assert skipped >= done_before, (skipped, done_before)  # the rerun trusted what was written

    # Secrets in the environment never reach shards, metadata or run parameters.
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_batches_are_grouped_into_a_few_tasks_per_worker_in_order() -> None:
    from errata.flows.generate_flow import group_batches

    for n, groups in [(100, 8), (10, 8), (3, 8), (8, 8), (0, 8)]:
        grouped = group_batches(list(range(n)), groups)
        assert [b for group in grouped for b in group] == list(range(n))
        assert len(grouped) == min(n, groups) and all(grouped)
        sizes = [len(group) for group in grouped]
        assert not sizes or max(sizes) - min(sizes) <= 1
