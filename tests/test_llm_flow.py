"""The LLM path end to end: `generate` samples attempts, a teacher corrects the wrong ones and
the model self-edits the correct ones, against the local OpenAI-compatible test double started
as its own process. Faults, the response cache, replayed solutions and the API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from errata.flows.batches import generate_locally
from errata.flows.export import run_export
from errata.generators.domains.base import LLMSettings
from errata.generators.domains.math_llm import structured_params
from errata.generators.mistakes.teacher import teacher_request
from errata.generators.prompt_files import load_prompt
from errata.generators.sampling.attempts import verify_attempts
from errata.generators.sampling.replay import read_replay, replay_inputs
from errata.generators.sources.gsm8k import load_gsm8k
from errata.store import catalog
from errata.store.shards import read_records
from errata.testing.openai_double import fixture_key, running_double, write_fixtures
from errata.testing.scripted import fixtures_for_run, teacher_reply
from tests.conftest import GSM8K_MODEL_SOLUTIONS, GSM8K_TEST

pytestmark = pytest.mark.slow

MODEL = "errata-double"
LIMIT = 12
LLM = {"sampler": "llm", "teacher": "llm", "injector": "both", "model": MODEL}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scripted replies for every request the run below sends (settings as in LLM)."""
    settings = LLMSettings(**LLM)
    problems = load_gsm8k(str(GSM8K_TEST), "test", limit=LIMIT)
    entries = fixtures_for_run(problems, str(GSM8K_MODEL_SOLUTIONS), settings)
    path = tmp_path_factory.mktemp("double") / "fixtures.jsonl"
    write_fixtures(path, entries)
    return path


def _run(shards: Path, base_url: str, **endpoint: Any) -> dict[str, Any]:
    return generate_locally(
        workers=1,
        source="gsm8k",
        path=str(GSM8K_TEST),
        limit=LIMIT,
        shards=str(shards),
        llm=LLM,
        endpoint={"base_url": base_url, **endpoint},
    )


def _balanced(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    stages = {c["stage"]: c for c in summary["counts"]}
    for stage, c in stages.items():
        assert c["n_in"] == c["n_out"] + c["n_rejected"], stage
        assert sum(r["n"] for r in c["rejected_by_reason"]) == c["n_rejected"], stage
    return stages


def _distinct_ids(shards: Path) -> None:
    for table, column in (
        ("problems", "problem_id"),
        ("attempts", "attempt_id"),
        ("mistakes", "mistake_id"),
        ("rejects", "reject_id"),
    ):
        _, [(total, distinct)] = catalog.query(
            shards, f"select count(*), count(distinct {column}) from {table}"
        )
        assert total == distinct, table


def test_sampling_teacher_and_self_edit_end_to_end(fixtures: Path, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    with running_double(fixtures=[str(fixtures)]) as double:
        summary = _run(shards, double.base_url)
        stats = double.stats()
    assert stats["fixture_misses"] == 0  # the run sent exactly the requests the script knows
    stages = _balanced(summary)
    assert stages["sample"]["n_in"] == LIMIT * 4
    for stage in ("teacher", "self_edit", "wrong_solution", "correct"):
        assert stages[stage]["n_out"] > 0, stage
    usage = summary["llm_usage"]
    assert usage["requests"] == stats["served"] and usage["cost_usd"] > 0
    _distinct_ids(shards)

    attempts = {a.attempt_id: a for a in read_records(shards, "attempts")}
    mistakes = read_records(shards, "mistakes")
    natural = [m for m in mistakes if m.origin == "natural"]
    assert natural and all(attempts[m.attempt_id].verdict == "incorrect" for m in natural)
    for mistake in natural:  # the teacher's step exists; the checker's view is kept beside it
        assert 0 <= mistake.first_error_step < len(mistake.wrong_steps)
        assert mistake.checker_agrees is not None
        assert mistake.prompt_version and mistake.prompt_version.startswith("math/teacher@")
        assert all(c.verdict == "correct" for c in mistake.corrections)
    self_edits = [m for m in mistakes if m.producer.startswith("self-edit:")]
    assert self_edits and all(m.edit is not None for m in self_edits)
    assert all(attempts[m.attempt_id].verdict == "correct" for m in self_edits)
    assert {a.prompt_version.split("@")[0] for a in attempts.values()} == {"math/solve"}

    out = tmp_path / "export"
    exported = run_export(
        recipes=["lema", "lemma"], shards=str(shards), out=str(out), origins=["natural"]
    )
    assert sum(exported["configs"]["lema_messages"].values()) > 0
    _, [(rate,)] = catalog.query(
        shards,
        "select avg(case when checker_agrees then 1 else 0 end) from mistakes "
        "where producer like 'teacher:%'",
    )
    assert rate is not None
    assert "teacher_agreement" in catalog.stats_with_columns(shards)


def test_an_identical_rerun_makes_no_request(fixtures: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with running_double(fixtures=[str(fixtures)]) as double:
        first = _run(tmp_path / "a", double.base_url, cache_dir=str(cache))
        double.reset_stats()
        second = _run(tmp_path / "b", double.base_url, cache_dir=str(cache))
        assert double.stats()["requests"] == 0
    assert second["llm_usage"]["cached"] == first["llm_usage"]["requests"]
    assert second["llm_usage"]["cost_usd"] == 0
    for table in ("attempts", "mistakes"):
        a = [r.model_dump(exclude={"run_id"}) for r in read_records(tmp_path / "a", table)]
        b = [r.model_dump(exclude={"run_id"}) for r in read_records(tmp_path / "b", table)]
        assert a == b, table


def test_thirty_percent_faults_every_request_ends_kept_or_rejected(
    fixtures: Path, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    with running_double(fixtures=[str(fixtures)], fault_rate=0.3, hang_seconds=5) as double:
        summary = _run(shards, double.base_url, timeout=1.0, max_retries=2)
        stats = double.stats()
    assert sum(stats["by_fault"].values()) > 0
    stages = _balanced(summary)
    assert stages["sample"]["n_in"] == LIMIT * 4
    reasons = {
        r["reason"] for c in stages.values() for r in c["rejected_by_reason"]
    }  # the faults that outlast the client's retries, and replies that break the schema
    assert reasons & {
        "timeout",
        "server_error",
        "connection",
        "bad_response",
        "rate_limited",
        "truncated",
        "schema_mismatch",
        "invalid_json",
    }
    rejects = read_records(shards, "rejects")
    assert all(r.reason and r.message for r in rejects)
    _distinct_ids(shards)


def test_replayed_wrong_attempts_go_to_the_teacher(tmp_path: Path) -> None:
    problems = load_gsm8k(str(GSM8K_TEST), "test", limit=LIMIT)
    replayed = replay_inputs(problems, read_replay(str(GSM8K_MODEL_SOLUTIONS)))
    attempts = verify_attempts(replayed, "scripted")
    settings = LLMSettings(sampler="replay", teacher="llm", model=MODEL)
    prompt = load_prompt("math/teacher")
    by_id = {p.problem_id: p for p in problems}
    entries = {}
    for attempt in (a for a in attempts if a.verdict == "incorrect"):
        problem = by_id[attempt.problem_id]
        request = teacher_request(problem, attempt, MODEL, structured_params(settings), prompt)
        entries[fixture_key(request.message_dicts())] = [
            teacher_reply(problem, attempt).model_dump_json()
        ]
    write_fixtures(tmp_path / "teacher.jsonl", entries.items())
    wrong = sum(a.verdict == "incorrect" for a in attempts)
    with running_double(fixtures=[str(tmp_path / "teacher.jsonl")]) as double:
        summary = generate_locally(
            workers=1,
            source="gsm8k",
            path=str(GSM8K_TEST),
            limit=LIMIT,
            shards=str(tmp_path / "shards"),
            llm={
                "sampler": "replay",
                "teacher": "llm",
                "model": MODEL,
                "replay": str(GSM8K_MODEL_SOLUTIONS),
            },
            endpoint={"base_url": double.base_url},
        )
        assert double.stats()["fixture_misses"] == 0
    stages = _balanced(summary)
    assert stages["replay"]["n_out"] == len(attempts)
    assert stages["teacher"]["n_in"] == wrong
    stored = read_records(tmp_path / "shards", "attempts")
    assert {a.source_label for a in stored} == {"correct", "incorrect"}
    assert all(a.source_label == a.verdict for a in stored)  # errata agrees with the file here
    natural = [m for m in read_records(tmp_path / "shards", "mistakes") if m.origin == "natural"]
    assert natural and all(m.producer == f"teacher:{MODEL}" for m in natural)


def test_a_rerun_of_a_finished_run_skips_every_batch_and_sends_nothing(
    fixtures: Path, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    with running_double(fixtures=[str(fixtures)]) as double:
        first = _run(shards, double.base_url, cache_dir=None)
        double.reset_stats()
        again = _run(shards, double.base_url)
        assert double.stats()["requests"] == 0
    assert again["batches_skipped"] == again["batches"] == first["batches"]
    assert again["counts"] == first["counts"]  # the books of the batches already written
