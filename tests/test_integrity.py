"""Store integrity: every record its own id, one writer per store, damaged shards quarantined,
and a run or export killed at its first write resumes to the uninterrupted bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from errata.flows.batches import generate_locally
from errata.generators.sources.files import load_mapped
from errata.generators.sources.gsm8k import load_gsm8k
from errata.store import catalog
from errata.store.export import read_manifest
from errata.store.shards import (
    LOCK_NAME,
    QUARANTINE_DIR,
    StoreBusyError,
    lock_store,
    quarantine_unreadable,
    shard_files,
    unreadable_shards,
)
from tests.conftest import GSM8K_TEST, REPO
from tests.killed_runs import kill_at_first_write

ERRATA = [sys.executable, "-m", "errata.flows.cli"]
# Each table's id column: a duplicated row shows as count(*) > count(distinct id).
ID_COLUMNS = {"problems": "problem_id", "mistakes": "mistake_id", "rejects": "reject_id"}


def untracked_env() -> dict[str, str]:
    """The environment minus Prefect's settings: runs and exports stay in one process tree."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def errata(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ERRATA, *args], cwd=REPO, env=untracked_env(), capture_output=True, text=True
    )


def start_errata(*args: str) -> subprocess.Popen[str]:
    """`errata ARGS` started in the background; its stderr is kept for the assertion."""
    return subprocess.Popen(
        [*ERRATA, *args],
        cwd=REPO,
        env=untracked_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def sql(root: Path, query: str) -> list[tuple]:
    return catalog.query(root, query)[1]


def file_digests(root: Path, pattern: str = "**/*") -> dict[str, str]:
    """sha256 of every file matching `pattern` under `root`, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.glob(pattern))
        if p.is_file()
    }


def data_digests(root: Path) -> dict[str, str]:
    """The data tables' shards; `runs` and `batches` carry times, so they are left out."""
    return {k: v for t in ID_COLUMNS for k, v in file_digests(root, f"{t}/**/*.parquet").items()}


def assert_no_duplicates(root: Path) -> None:
    for table, column in ID_COLUMNS.items():
        [(rows, distinct)] = sql(root, f"select count(*), count(distinct {column}) from {table}")
        assert rows == distinct, f"{table}: {rows} rows for {distinct} distinct {column}"


# --- item 1: one id per record, whatever the file layout --------------------------------------


def test_a_one_line_json_array_gives_every_record_its_own_problem_id(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in GSM8K_TEST.read_text().splitlines()[:50]]
    array = tmp_path / "arr.json"
    array.write_text(json.dumps(rows))  # one line: every record starts on line 1
    shards, out = tmp_path / "shards", tmp_path / "export"

    run = errata("run", "--source", "gsm8k", "--path", str(array), "--shards", str(shards))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sql(shards, "select count(*), count(distinct problem_id) from problems") == [(50, 50)]

    export = errata("export", "--shards", str(shards), "--out", str(out))
    assert export.returncode == 0, export.stderr[-2000:]
    splits = {split for splits in read_manifest(out)["files"].values() for split in splits}
    assert splits == {"train", "test"}


def test_a_one_line_array_of_a_mapped_file_gives_every_record_its_own_id(tmp_path: Path) -> None:
    rows = [
        {"q": f"What is {i} + 1?", "s": f"{i} + 1 = <<{i}+1={i + 1}>>{i + 1}"} for i in range(9)
    ]
    array = tmp_path / "mine.json"
    array.write_text(json.dumps([{**row, "a": str(i + 1)} for i, row in enumerate(rows)]))
    problems = load_mapped(array, question_field="q", solution_field="s", answer_field="a")
    assert [p.source_id for p in problems] == ["1", *(f"1-{n}" for n in range(1, 9))]
    assert len({p.problem_id for p in problems}) == 9


def test_json_lines_keep_their_line_numbered_ids() -> None:
    """Stores written before the fix hold these ids; a rerun must find its batches."""
    problems = load_gsm8k(str(GSM8K_TEST), limit=3)
    assert [p.source_id for p in problems] == ["test-00000", "test-00001", "test-00002"]


# --- item 2: one writer per store -------------------------------------------------------------


def test_a_second_writer_fails_fast_naming_the_first(tmp_path: Path) -> None:
    held = lock_store(tmp_path)
    assert held is not None and (tmp_path / LOCK_NAME).is_file()
    with pytest.raises(StoreBusyError, match=rf"pid {os.getpid()} .*use another --shards"):
        lock_store(tmp_path)
    held.release()
    again = lock_store(tmp_path)  # released: free again
    assert again is not None
    again.release()
    assert lock_store("memory://errata-lockless") is None  # object stores have no flock


def test_a_run_refused_by_the_lock_writes_nothing(tmp_path: Path) -> None:
    held = lock_store(tmp_path)
    assert held is not None
    try:
        with pytest.raises(StoreBusyError):
            generate_locally(shards=str(tmp_path), limit=20, batch_size=10, workers=1)
    finally:
        held.release()
    assert not any(shard_files(tmp_path, table) for table in ID_COLUMNS)
    # The refused run left no hold behind: the next run in this process goes ahead.
    summary = generate_locally(shards=str(tmp_path), limit=20, batch_size=10, workers=1)
    assert summary["batches"] == 2 and summary["batches_skipped"] == 0


@pytest.mark.slow
def test_two_runs_at_once_on_one_store_never_duplicate_rows(tmp_path: Path) -> None:
    """Same seed, different -n, started together: both would write their own cut of the last
    batch position (90-95 and 90-100) if nothing kept them apart; without the lock about
    half the rounds end with 105 problem rows for 100 ids. A -n that is a multiple of the
    batch size has no partial batch, so could never collide. The runs overlap even at small
    n, since the CLI's start-up is most of a run here."""
    refused = 0
    for attempt in range(10):
        root = tmp_path / f"store-{attempt}"
        common = ["run", "--batch-size", "10", "--workers", "1", "--shards", str(root)]
        runs = [start_errata(*common, "-n", n) for n in ("95", "100")]
        errors = [run.communicate()[1] for run in runs]
        for run, error in zip(runs, errors, strict=True):
            # A run either finished or was refused in one line naming the store's holder.
            busy = run.returncode == 2 and "another errata run is writing to" in error
            assert run.returncode == 0 or busy, error[-2000:]
            refused += busy
        assert any(run.returncode == 0 for run in runs), errors
        assert_no_duplicates(root)
    assert refused, "the runs never overlapped, so the lock was never put to the test"


# --- item 3: a shard that does not read back is not done ---------------------------------------


def test_a_truncated_shard_is_quarantined_and_its_batch_redone(tmp_path: Path) -> None:
    run = {"limit": 100, "batch_size": 10, "seed": 5, "workers": 1}
    clean, damaged = tmp_path / "clean", tmp_path / "damaged"
    generate_locally(shards=str(clean), **run)
    generate_locally(shards=str(damaged), **run)
    victim = sorted(damaged.glob("mistakes/*/*.parquet"))[3]
    with victim.open("r+b") as file:
        file.truncate(victim.stat().st_size // 2)

    from typer.testing import CliRunner

    from errata.flows.cli import app

    # Readers say what is wrong and what fixes it, instead of failing inside DuckDB.
    for command in (["query", "select 1"], ["stats"], ["export"]):
        said = CliRunner().invoke(app, [*command, "--shards", str(damaged)])
        assert said.exit_code == 2 and said.output.count("\n") == 1, said.output
        assert "does not read back whole" in said.output and "errata run" in said.output

    resumed = generate_locally(shards=str(damaged), **run)

    moved = damaged / QUARANTINE_DIR / victim.relative_to(damaged)
    assert resumed["quarantined"] == [str(moved)] and moved.is_file()
    assert resumed["batches_skipped"] == 9 and resumed["mistakes_written"] > 0
    assert data_digests(damaged) == data_digests(clean)
    for table in ID_COLUMNS:
        count = f"select count(*) from {table}"
        assert sql(damaged, count) == sql(clean, count)


def test_a_damaged_shard_under_an_fsspec_root_is_quarantined_too() -> None:
    import fsspec

    root = f"memory://errata-quarantine-{os.getpid()}"
    fs = fsspec.filesystem("memory")
    try:
        generate_locally(shards=root, limit=20, batch_size=10, workers=1)
        [first, _] = shard_files(root, "problems")
        _, path = fsspec.core.url_to_fs(str(first))
        fs.pipe(path, fs.cat(path)[:100])  # cut short, as an interrupted copy would leave it

        assert [str(s) for s in unreadable_shards(root)] == [str(first)]
        [moved] = quarantine_unreadable(root)
        assert f"/{QUARANTINE_DIR}/problems/" in str(moved) and fs.exists(str(moved))
        assert unreadable_shards(root) == [] and len(shard_files(root, "problems")) == 1
    finally:
        fs.rm(root, recursive=True)


# --- item 4: kill -9 at the first write --------------------------------------------------------


@pytest.mark.slow
def test_a_run_killed_at_its_first_shard_write_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    options = ["-n", "200", "--batch-size", "50", "--seed", "4", "--workers", "1"]
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    command = [*ERRATA, "run", *options, "--shards", str(killed)]
    at_kill = kill_at_first_write(command, untracked_env(), killed)
    assert at_kill, "killed before any shard was started"
    assert len(list(killed.glob("mistakes/*/*.parquet"))) == 0  # the first batch never finished

    resumed = subprocess.run(command, cwd=REPO, env=untracked_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]  # the dead run's lock died with it
    generate_locally(shards=str(clean), limit=200, batch_size=50, seed=4, workers=1)
    assert data_digests(killed) == data_digests(clean)
    assert len(data_digests(clean)) == 12  # four batches of three data tables


@pytest.mark.slow
def test_an_export_killed_in_its_first_seconds_reruns_to_the_same_folder(tmp_path: Path) -> None:
    """kill -9 one export in its start-up (first 2 s), another at its first file write."""
    shards, clean, killed = tmp_path / "shards", tmp_path / "clean", tmp_path / "killed"
    generate_locally(shards=str(shards), limit=300, batch_size=100, seed=2, workers=1)
    assert errata("export", "--shards", str(shards), "--out", str(clean)).returncode == 0

    command = [*ERRATA, "export", "--shards", str(shards), "--out", str(killed)]
    kill_at_first_write(command, untracked_env(), killed, deadline_seconds=2.0)
    assert kill_at_first_write(command, untracked_env(), killed), "killed before any write"
    rerun = errata("export", "--shards", str(shards), "--out", str(killed))
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    assert not list(killed.rglob("*.tmp"))
    assert not list(tmp_path.glob(f".{killed.name}.staging-*"))
    assert file_digests(killed) == file_digests(clean)
