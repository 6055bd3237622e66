"""Incremental nights: the `nightly` deployment on a real Prefect server with a process worker,
nights that add to one store without duplicates, a night with nothing new, a killed night."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from errata.flows import batches, nights
from errata.flows.batches import generate_locally
from errata.flows.cli import app
from errata.flows.nights import done_problems, night_plan, run_nightly
from errata.store import catalog
from errata.store.export import read_manifest
from tests.conftest import REPO

BIN = Path(sys.executable).parent
RECIPES = ["lemma", "rise", "lema"]


def _night(tmp: Path, max_problems: int, **extra: Any) -> dict[str, Any]:
    """One untracked night over a synthetic source in `tmp` (batches of 10)."""
    parameters = {
        "source": "synthetic",
        "seed": 5,
        "batch_size": 10,
        "workers": 2,
        "shards": str(tmp / "shards"),
        "export": str(tmp / "export"),
        "recipes": RECIPES,
        **extra,
    }
    return run_nightly(prefect=False, max_problems=max_problems, **parameters)


def _one(root: Path, sql: str, export: Path | None = None) -> Any:
    return catalog.query(root, sql, export)[1][0][0]


def _assert_no_duplicates(root: Path) -> None:
    for table, key in (("problems", "problem_id"), ("mistakes", "mistake_id")):
        total, distinct = catalog.query(
            root, f"select count(*), count(distinct {key}) from {table}"
        )[1][0]
        assert total == distinct > 0, table
    total, distinct = catalog.query(
        root, "select count(*), count(distinct reject_id) from rejects"
    )[1][0]
    assert total == distinct, "rejects"


def _ids(root: Path, table: str, key: str) -> set[str]:
    return {row[0] for row in catalog.query(root, f"select {key} from {table}")[1]}


def _card_counts(export: Path) -> dict[str, dict[str, int]]:
    """config -> split -> rows, read from the card's Configs table."""
    rows = re.findall(
        r"^\| `(\w+)` \| \w+ \| (\d+) \| (\d+) \|", (export / "README.md").read_text(), re.M
    )
    return {config: {"train": int(train), "test": int(test)} for config, train, test in rows}


# --- plain helpers ---------------------------------------------------------------------------


def test_night_plan_takes_the_next_problems_up_to_the_source_end() -> None:
    assert night_plan(0, 30, None, 10).limit == 30
    assert night_plan(30, 50, None, 10).waves == [80]
    assert night_plan(30, 50, 60, 10).new == 30  # the source ends at 60
    assert night_plan(80, 50, 80, 10).new == 0 and night_plan(80, 50, 80, 10).waves == []
    # With an LLM budget: waves end on batch boundaries, budgets checked after each.
    assert night_plan(25, 50, None, 10, wave_problems=20).waves == [40, 60, 75]
    with pytest.raises(ValueError, match="max_problems"):
        night_plan(0, 0, None, 10)


def test_spent_budget_names_the_budget_that_binds_first() -> None:
    usage = {"requests": 12, "cached": 4, "failed": 2, "cost_usd": 0.5}
    assert nights.requests_spent(usage) == 10
    assert nights.spent_budget(usage, 10, None) == "max_requests"
    assert nights.spent_budget(usage, 11, 0.5) == "max_cost_usd"
    assert nights.spent_budget(usage, 11, 0.6) is None
    assert nights.spent_budget(None, 1, 0.0) is None  # no model used: the budgets do not apply


# --- nights against one store ----------------------------------------------------------------


@pytest.mark.slow
def test_two_nights_add_up_without_duplicates_and_a_third_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(nights, "check_can_publish", lambda: None)
    monkeypatch.setattr(nights, "publish_export", lambda **step: published.append(step) or {})
    root, export = tmp_path / "shards", tmp_path / "export"

    first = _night(tmp_path, 30, limit=80)
    assert (first["night"], first["problems_before"], first["new_problems"]) == ("ran", 0, 30)
    assert _one(root, "select count(*) from problems") == 30
    second = _night(tmp_path, 50, limit=80, repo_id="someone/errata-nightly")
    assert (second["problems_before"], second["new_problems"]) == (30, 50)
    assert published == [
        {
            "repo_id": "someone/errata-nightly",
            "export": str(export),
            "shards": str(root),
            "private": True,
        }
    ]

    # The union of both nights: exactly the records of one run over the 80 problems.
    _assert_no_duplicates(root)
    assert _one(root, "select count(*) from problems") == 80
    once = tmp_path / "once"
    generate_locally(source="synthetic", seed=5, limit=80, batch_size=10, shards=str(once))
    for table, key in (("problems", "problem_id"), ("mistakes", "mistake_id")):
        assert _ids(root, table, key) == _ids(once, table, key), table
    assert _ids(root, "rejects", "reject_id") == _ids(once, "rejects", "reject_id")

    # The export is rebuilt from the whole store: the manifest, the card and DuckDB agree.
    manifest = read_manifest(export)["rows"]
    assert _card_counts(export) == manifest and set(manifest) >= {"lemma_messages"}
    for config, splits in manifest.items():
        sql = f'select split, count(*) from "{config}" group by split'
        assert dict(catalog.query(root, sql, export)[1]) == splits, config
    card = (export / "README.md").read_text()
    mistakes = _one(root, "select count(*) from mistakes")
    assert f"| injected | {mistakes} |" in card  # books of superseded batches not counted
    assert "| parse | 80 | 80 |" in card

    # A third night finds the source's end: no batch, no export rebuild, nothing published.
    before = {p: p.stat().st_mtime_ns for p in [*root.rglob("*.parquet"), *export.rglob("*")]}
    third = _night(tmp_path, 50, limit=80, repo_id="someone/errata-nightly")
    assert third["night"] == nights.NOTHING_NEW and third["new_problems"] == 0
    assert third["batches_run"] == 0 and third["export"] is None and third["published"] is None
    assert "nothing new" in third["message"]
    assert len(published) == 1
    after = {p: p.stat().st_mtime_ns for p in [*root.rglob("*.parquet"), *export.rglob("*")]}
    assert after == before


@pytest.mark.slow
def test_a_night_killed_half_way_is_completed_by_the_next_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_batch_spec = batches.run_batch_spec
    calls = {"n": 0}

    def dies_after_three(spec: batches.BatchSpec) -> batches.BatchOutcome:
        if calls["n"] == 3:
            raise KeyboardInterrupt("the machine went down")
        calls["n"] += 1
        return run_batch_spec(spec)

    monkeypatch.setattr(batches, "run_batch_spec", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        _night(tmp_path, 60, workers=1)  # batches in order, in this process
    monkeypatch.setattr(batches, "run_batch_spec", run_batch_spec)
    root = tmp_path / "shards"
    assert _one(root, "select count(*) from problems") == 30
    assert not (tmp_path / "export").exists()

    resumed = _night(tmp_path, 60)
    assert (resumed["problems_before"], resumed["problems_after"]) == (30, 90)
    _assert_no_duplicates(root)
    once = tmp_path / "once"
    generate_locally(source="synthetic", seed=5, limit=90, batch_size=10, shards=str(once))
    assert _ids(root, "mistakes", "mistake_id") == _ids(once, "mistakes", "mistake_id")
    assert read_manifest(tmp_path / "export")["rows"]


@pytest.mark.slow
def test_done_counts_the_unbroken_prefix_so_a_gap_is_filled_within_the_budget(
    tmp_path: Path,
) -> None:
    _night(tmp_path, 50)
    root = tmp_path / "shards"
    run_id = _one(root, "select distinct run_id from mistakes")
    key = run_id.removeprefix("run-")
    assert done_problems(str(root), key, 10) == 50
    # As if batches ran out of order and the night died before the third one was committed.
    [third] = [p for p in (root / "mistakes").rglob("part-00002-*.parquet")]
    third.unlink()
    assert done_problems(str(root), key, 10) == 20
    night = _night(tmp_path, 40)
    assert (night["problems_before"], night["problems_after"], night["batches_run"]) == (20, 60, 2)
    _assert_no_duplicates(root)


def test_nightly_command_checks_its_options_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["nightly", "--max-cost", "1", "--shards", str(tmp_path)])
    assert result.exit_code == 2 and "add --model" in result.output
    result = runner.invoke(app, ["nightly", "--recipes", "nope"])
    assert result.exit_code == 2 and "--recipes" in result.output
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    result = runner.invoke(app, ["serve"], env={**env, "PREFECT_HOME": str(tmp_path)})
    assert result.exit_code == 2 and "prefect server start" in result.output


@pytest.mark.slow
def test_nightly_command_runs_one_night(tmp_path: Path) -> None:
    args = ["nightly", "--limit", "20", "--max-problems", "20", "--batch-size", "10"]
    args += ["--shards", str(tmp_path / "shards"), "--export", str(tmp_path / "export")]
    env = {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": ""}
    result = CliRunner().invoke(app, [*args, "--no-prefect"], env=env)
    assert result.exit_code == 0, result.output
    assert "20 new problems (0 -> 20)" in result.output
    again = CliRunner().invoke(app, [*args, "--no-prefect"], env=env)
    assert again.exit_code == 0 and "nothing new" in again.output


# --- the deployment on a real Prefect server -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "prefect server exited"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"prefect server at {url} not healthy after {seconds} s")


def _prefect(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_nightly_deployment_runs_on_a_real_server_through_a_process_worker(
    tmp_path: Path,
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = None
    try:
        _wait_healthy(url, server)
        # prefect.yaml exactly as committed (`deploy --all` takes no overrides): its pool
        # name, on this test's own server.
        _prefect(env, "work-pool", "create", "errata-process", "--type", "process")
        _prefect(env, "deploy", "--all", "--prefect-file", "prefect.yaml")
        assert _read_deployment(env, "publish/publish")["entrypoint"] == (
            "flows/publish_flow.py:publish"
        )
        deployment = _read_deployment(env, "nightly/nightly")
        assert deployment["entrypoint"] == "flows/nightly_flow.py:nightly_flow"
        assert deployment["schedules"] == [{"cron": "0 2 * * *", "timezone": "UTC"}]
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
        ]
        shards, export = tmp_path / "shards", tmp_path / "export"
        parameters = {
            "max_problems": 30,
            "batch_size": 10,
            "shards": str(shards),
            "export": str(export),
            "recipes": ["lemma"],
        }
        out = _prefect(
            env, "deployment", "run", "nightly/nightly", "--params", json.dumps(parameters)
        )
        [flow_run_id] = re.findall(r"UUID: ([0-9a-f-]{36})", out)
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "errata-process", "--run-once"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        state = _wait_for_run(env, flow_run_id, worker)
        assert state == "COMPLETED"
        assert _one(shards, "select count(*) from problems") == 30
        assert _one(shards, "select count(*) from mistakes") > 0
        assert read_manifest(export)["rows"]["lemma_messages"]
    finally:
        for process in (worker, server):
            if process is not None:
                _stop(process)


def _client_script(body: str) -> str:
    return (
        "import json\nfrom prefect.client.orchestration import get_client\n"
        "with get_client(sync_client=True) as client:\n" + body
    )


def _read_deployment(env: dict[str, str], name: str) -> dict[str, Any]:
    """The deployment as the server holds it, read through Prefect's client."""
    script = _client_script(
        f"    d = client.read_deployment_by_name({name!r})\n"
        "    print(json.dumps({'entrypoint': d.entrypoint, 'pull_steps': d.pull_steps,\n"
        "        'schedules': [{'cron': s.schedule.cron, 'timezone': s.schedule.timezone}\n"
        "                      for s in d.schedules]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wait_for_run(
    env: dict[str, str], flow_run_id: str, worker: subprocess.Popen, seconds: float = 120
) -> str:
    """The flow run's final state type, read through Prefect's client once the worker, started
    with --run-once, has executed it and exited."""
    worker.wait(seconds)
    script = _client_script(f"    print(client.read_flow_run('{flow_run_id}').state.type.value)\n")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_night_with_a_model_stops_at_its_request_budget(tmp_path: Path) -> None:
    """LLM budgets bind between waves: the night stops once its requests reach the budget,
    short of its problem budget, and the next night goes on from there."""
    from errata.generators.domains.base import LLMSettings
    from errata.generators.sources.gsm8k import load_gsm8k
    from errata.testing.openai_double import running_double, write_fixtures
    from errata.testing.scripted import fixtures_for_run
    from tests.conftest import GSM8K_MODEL_SOLUTIONS, GSM8K_TEST

    llm = {"sampler": "llm", "teacher": "llm", "model": "errata-double", "samples": 2}
    settings = LLMSettings(**llm)
    problems = load_gsm8k(str(GSM8K_TEST), "test", limit=24)
    entries = fixtures_for_run(problems, str(GSM8K_MODEL_SOLUTIONS), settings)
    write_fixtures(tmp_path / "fixtures.jsonl", entries)
    with running_double(fixtures=[str(tmp_path / "fixtures.jsonl")]) as double:
        parameters = {
            "source": "gsm8k",
            "path": str(GSM8K_TEST),
            "batch_size": 4,
            "workers": 1,
            "shards": str(tmp_path / "shards"),
            "export": str(tmp_path / "export"),
            "recipes": RECIPES,
            "llm": llm,
            "endpoint": {"base_url": double.base_url},
        }
        night = run_nightly(prefect=False, max_problems=24, max_requests=10, **parameters)
        served = double.stats()["served"]
        assert night["stopped_by"] == "max_requests"
        assert 0 < night["new_problems"] < 24 and night["waves"] < 6
        assert nights.requests_spent(night["llm_usage"]) == served >= 10
        assert night["export"] is not None
        following = run_nightly(prefect=False, max_problems=4, **parameters)
    assert following["problems_before"] == night["problems_after"]
    assert following["new_problems"] == 4
    _assert_no_duplicates(tmp_path / "shards")
