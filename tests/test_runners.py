"""Who runs the batches does not change what is written: plain processes, Prefect's process
pool and a Dask LocalCluster write the same bytes; a killed Dask run resumes to them; a resumed
run keeps its stage books."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

import errata.flows.tracking as tracking
from errata.flows.generate import run_generate
from errata.flows.tracking import NOT_TRACKED
from errata.schemas.arrow import to_arrow
from errata.schemas.records import BatchBooks, Problem
from errata.store import catalog
from errata.store.shards import (
    SchemaVersionError,
    clean_orphans,
    lock_store,
    read_records,
    read_table,
    write_shard,
)
from tests.conftest import GSM8K_TEST, REPO
from tests.killed_runs import kill_after_batches
from tests.test_store import make_problem

DATA_TABLES = ("problems", "mistakes", "rejects")
STAGES = ["source", "parse", "inject", "verify_injection", "correct"]
RUNNERS = ("plain", "prefect", "dask")
RUN = {"source": "synthetic", "limit": 300, "batch_size": 100, "seed": 3, "workers": 2}


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def digests(root: Path, tables=DATA_TABLES) -> dict[str, str]:
    """sha256 of every shard of the data tables, by path under the root."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for table in tables
        for p in sorted((root / table).rglob("*.parquet"))
    }


def without_seconds(counts: list[dict]) -> list[dict]:
    return [{k: v for k, v in c.items() if k != "seconds"} for c in counts]


def sql(root: Path, query: str) -> list[tuple]:
    return catalog.query(root, query)[1]


def run_counts(root: Path) -> list[list[dict]]:
    """Each `runs` record's stage counts (without seconds), in the order the runs skipped more."""
    runs = sorted(read_records(root, "runs"), key=lambda r: r.batches_skipped)  # type: ignore[attr-defined]
    return [without_seconds([c.model_dump() for c in r.counts]) for r in runs]  # type: ignore[attr-defined]


# --- fast: the untracked path ------------------------------------------------------------------


def test_untracked_run_says_so_and_resumed_run_keeps_every_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "prefect_api_url", lambda: None)
    out = tmp_path / "shards"
    first = run_generate(shards=str(out), **RUN)
    assert first["tracking"] == NOT_TRACKED
    assert [c["stage"] for c in first["counts"]] == STAGES
    for count in first["counts"]:
        assert count["n_in"] == count["n_out"] + count["n_rejected"], count
    # Every batch left its books beside its data.
    books = read_records(out, "batches")
    assert sorted(b.n_problems for b in books if isinstance(b, BatchBooks)) == [100, 100, 100]

    resumed = run_generate(shards=str(out), **RUN)
    assert resumed["batches_skipped"] == 3 and resumed["mistakes_written"] == 0
    assert resumed["counts"] == first["counts"]  # not just `source`: the books were read back
    assert sql(out, "select batches_skipped from runs order by 1") == [(0,), (3,)]
    assert run_counts(out)[0] == run_counts(out)[1] == without_seconds(first["counts"])


UNTRACKED_RUN = """
import sys
from errata.flows.generate import run_generate
from errata.flows.tracking import prefect_api_url
print(prefect_api_url())
summary = run_generate(shards={out!r}, limit=20, batch_size=10)
print(summary["tracking"])
print("prefect imported:", "prefect" in sys.modules)
"""


def test_untracked_run_never_imports_prefect(tmp_path: Path) -> None:
    """With no source of Prefect settings at all, the small-run path stays small."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    script = UNTRACKED_RUN.format(out=str(tmp_path / "shards"))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["None", NOT_TRACKED, "prefect imported: False"]

    # A profile that names an API is Prefect's to read: then the answer is Prefect's.
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "profiles.toml").write_text(
        'active = "remote"\n[profiles.remote]\nPREFECT_API_URL = "http://prefect.example:4200/api"\n'
    )
    script = "from errata.flows.tracking import prefect_api_url; print(prefect_api_url())"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "http://prefect.example:4200/api", done.stderr[-2000:]


def test_a_run_into_an_fsspec_root_resumes_there() -> None:
    """A shard root may be any fsspec URL (here the in-process memory filesystem)."""
    import fsspec

    root = f"memory://errata-run-{os.getpid()}"
    try:
        first = run_generate(shards=root, limit=30, batch_size=10, workers=1, prefect=False)
        assert read_table(root, "mistakes").num_rows == first["mistakes_written"] > 0
        assert read_table(root, "batches").num_rows == 3
        again = run_generate(shards=root, limit=30, batch_size=10, workers=1, prefect=False)
        assert again["batches_skipped"] == 3 and again["counts"] == first["counts"]
    finally:
        fsspec.filesystem("memory").rm(root, recursive=True)


def test_prefect_off_and_dask_need_prefect(tmp_path: Path) -> None:
    summary = run_generate(shards=str(tmp_path), limit=20, batch_size=10, prefect=False)
    assert summary["tracking"].startswith("none:") and summary["batches"] == 2
    with pytest.raises(ValueError, match="dask"):
        run_generate(shards=str(tmp_path), runner="dask", prefect=False)
    with pytest.raises(ValueError, match="--runner"):
        run_generate(shards=str(tmp_path), runner="ray")


def test_a_store_of_another_schema_version_stops_the_run(tmp_path: Path) -> None:
    problem = make_problem(1)
    old = to_arrow([problem], Problem).replace_schema_metadata({b"errata.schema_version": b"1x"})
    write_shard(tmp_path / "problems" / "config=c" / "part-0.parquet", old)
    with pytest.raises(SchemaVersionError, match="schema version 1x"):
        run_generate(shards=str(tmp_path), limit=10, prefect=False)
    assert not (tmp_path / "mistakes").exists()


def test_no_pool_lives_at_module_level() -> None:
    """Parallelism belongs to the task runner: no module keeps a process pool of its own."""
    for path in [*(REPO / "flows").glob("*.py"), *(REPO / "generators").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                text = ast.unparse(node.value)
                assert "PoolExecutor" not in text and "Pool(" not in text, (path, text)
        # The old module-global pool was `_POOL`; a constant like `_CONNECTIONS_PER_POOL` is not.
        assert not re.search(r"^_POOL\b", path.read_text(), re.M), path


# --- slow: real Prefect, real Dask -------------------------------------------------------------


@pytest.mark.slow
def test_local_prefect_and_dask_runs_write_identical_shards(
    tmp_path: Path, prefect_server: str
) -> None:
    plain = run_generate(shards=str(tmp_path / "plain"), prefect=False, **RUN)
    pooled = run_generate(shards=str(tmp_path / "prefect"), **RUN)
    dask = run_generate(shards=str(tmp_path / "dask"), runner="dask", **RUN)
    assert pooled["tracking"] == f"Prefect API at {prefect_server}"
    assert "Dask LocalCluster of 2" in dask["runner"]
    expected = digests(tmp_path / "plain")
    assert len(expected) == 9  # three batches of three data tables
    assert digests(tmp_path / "prefect") == expected
    assert digests(tmp_path / "dask") == expected
    for summary in (pooled, dask):
        assert without_seconds(summary["counts"]) == without_seconds(plain["counts"])
        assert summary["mistakes_written"] == plain["mistakes_written"] > 0
    # runs and batches carry seconds and invocation ids: same rows and shape, not same bytes.
    for name in RUNNERS:
        root = tmp_path / name
        assert sql(root, "select count(*), sum(n_problems) from batches") == [(3, 300)]
        assert sql(root, "select count(*), max(batches_total) from runs") == [(1, 3)]
    columns = {name: catalog.query(tmp_path / name, "select * from runs")[0] for name in RUNNERS}
    assert len({tuple(c) for c in columns.values()}) == 1


@pytest.mark.slow
@pytest.mark.parametrize("prefect", [False, True])
def test_a_run_whose_batch_fails_leaves_the_store_unlocked(
    tmp_path: Path, prefect_server: str, prefect: bool
) -> None:
    """A replay file gone by the time the batches read it fails the batch, not the plan."""
    root = tmp_path / "store"
    replay = {"sampler": "replay", "replay": str(tmp_path / "gone.jsonl")}
    with pytest.raises(Exception, match=r"gone\.jsonl"):
        run_generate(
            shards=str(root),
            source="gsm8k",
            path=str(GSM8K_TEST),
            limit=4,
            batch_size=2,
            workers=1,
            llm=replay,
            prefect=prefect,
        )
    lock = lock_store(root)  # raised StoreBusyError while this process still held it
    assert lock is not None
    lock.release()


@pytest.mark.slow
def test_killed_dask_run_resumes_to_the_same_data(tmp_path: Path, prefect_server: str) -> None:
    """kill -9 `errata run --runner dask` (CLI, scheduler and workers) mid-way; rerun it."""
    run = {**RUN, "limit": 600, "batch_size": 20, "seed": 9}
    out = tmp_path / "killed"
    options = ["--limit", "600", "--batch-size", "20", "--seed", "9", "--workers", "2"]
    command = [sys.executable, "-m", "errata.flows.cli", "run", "--runner", "dask", *options]
    command += ["--shards", str(out)]
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    done_before = kill_after_batches(command, env, out, batches=30)

    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    clean = run_generate(shards=str(tmp_path / "clean"), prefect=False, **run)
    assert digests(out) == digests(tmp_path / "clean")
    skipped = sql(out, "select max(batches_skipped) from runs")[0][0]
    assert skipped >= done_before, (skipped, done_before)  # the rerun trusted what was written
    # The resumed run's books hold every stage, with the uninterrupted run's totals.
    assert (
        run_counts(out)[-1] == run_counts(tmp_path / "clean")[0] == without_seconds(clean["counts"])
    )
    # Temp files of the killed writers are hidden, never read, and removed once old enough.
    assert all(p.name.startswith(".") for p in out.rglob("*.tmp"))
    clean_orphans(out, max_age_seconds=0)
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_a_run_joins_an_existing_dask_scheduler(tmp_path: Path, prefect_server: str) -> None:
    from distributed import LocalCluster

    run = {**RUN, "limit": 100, "batch_size": 50}
    plain = run_generate(shards=str(tmp_path / "plain"), prefect=False, **run)
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as cluster:
        joined = run_generate(
            shards=str(tmp_path / "joined"), dask_address=cluster.scheduler_address, **run
        )
    assert joined["runner"] == f"Dask at {cluster.scheduler_address}"
    assert digests(tmp_path / "joined") == digests(tmp_path / "plain")
    assert without_seconds(joined["counts"]) == without_seconds(plain["counts"])
