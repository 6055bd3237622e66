"""The store: atomic deterministic shards, batch checkpoints, and the DuckDB catalog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from errata.schemas.arrow import table_schema, to_arrow
from errata.schemas.records import (
    SCHEMA_VERSION,
    TABLES,
    Attempt,
    BatchBooks,
    Correction,
    Edit,
    Mistake,
    Problem,
    ReasonCount,
    Record,
    Reject,
    Run,
    StageCount,
)
from errata.store.catalog import (
    STATS_SQL,
    connect,
    query,
    register_parquet_views,
    render_table,
    stats,
)
from errata.store.shards import (
    TEMP_SUFFIX,
    SchemaVersionError,
    batch_done,
    batch_item_ids,
    batch_key,
    batches_at,
    check_schema_version,
    clean_orphans,
    read_records,
    read_table,
    remove_batch,
    shard_files,
    shard_path,
    write_records,
    write_shard,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG = "cfg0001"


def make_problem(i: int = 0, source: str = "gsm8k") -> Problem:
    return Problem(
        problem_id=f"p-{i}",
        source=source,
        source_id=str(i),
        split="test",
        domain="math",
        question=f"What is {i} + 2?",
        reference_solution=f"{i} + 2 = {i + 2}",
        reference_answer=str(i + 2),
        license="MIT",
    )


def make_attempt(i: int = 0, verdict: str = "incorrect") -> Attempt:
    return Attempt(
        attempt_id=f"a-{i}",
        problem_id=f"p-{i}",
        producer="llm:test",
        steps=["step one", "step two"],
        text="step one\nstep two",
        final_answer=None if verdict == "unparseable" else "5",
        verdict=verdict,
        first_error_step=1,
        prompt_tokens=10,
        cost_usd=0.0001,
        run_id="r-1",
    )


def make_mistake(i: int = 0, error_type: str = "calculation", source: str = "gsm8k") -> Mistake:
    correction = Correction(
        kind="fix_continue",
        reflection="Wait, 3 + 2 is 5.",
        continuation="So the answer is 5.",
        trajectory="3 + 2 = 6. Wait, 3 + 2 is 5. So the answer is 5.",
        final_answer="5",
        verdict="correct",
    )
    return Mistake(
        mistake_id=f"m-{i}",
        problem_id=f"p-{i}",
        source=source,
        domain="math",
        origin="injected",
        method="rule:calculation",
        error_type=error_type,
        first_error_step=0,
        question="What is 3 + 2?",
        reference_steps=["3 + 2 = 5"],
        wrong_steps=["3 + 2 = 6"],
        reference_answer="5",
        wrong_answer="6",
        explanation="6 is not 3 + 2",
        corrections=[correction, correction.model_copy(update={"kind": "fresh_restart"})],
        producer="rule",
        edit=Edit(
            original_step="3 + 2 = 5",
            original_start=8,
            original_end=9,
            wrong_start=8,
            wrong_end=9,
            seed=42,
        ),
        run_id="r-1",
    )


def make_reject(i: int = 0, stage: str = "verify", reason: str = "no_answer") -> Reject:
    return Reject(
        reject_id=f"x-{i}",
        stage=stage,
        reason=reason,
        message="no final answer",
        item_id=f"p-{i}",
        payload='{"a": 1}',
        run_id="r-1",
    )


def make_run(run_id: str = "r-1", started_at: str = "2025-01-01T00:00:00Z") -> Run:
    return Run(
        run_id=run_id,
        invocation_id="inv-1",
        flow="math",
        parameters='{"limit": 3}',
        started_at=started_at,
        finished_at=started_at,
        wall_seconds=1.5,
        batches_total=2,
        batches_skipped=1,
        counts=[StageCount(stage="load", n_in=3, n_out=2, n_rejected=1)],
        errata_version="0.1.0",
    )


def make_books(batch: str = "00000-b0") -> BatchBooks:
    counts = [
        StageCount(
            stage="parse",
            n_in=3,
            n_out=2,
            n_rejected=1,
            rejected_by_reason=[ReasonCount(reason="no_annotations", n=1)],
            seconds=0.25,
        )
    ]
    return BatchBooks(batch=batch, run_id="r-1", domain="math", n_problems=3, counts=counts)


SAMPLES: dict[str, list[Record]] = {
    "problems": [make_problem(0), make_problem(1, "math500")],
    "attempts": [make_attempt(0), make_attempt(1, "unparseable")],
    "mistakes": [make_mistake(0), make_mistake(1, "counting")],
    "rejects": [make_reject(0)],
    "batches": [make_books()],
    "runs": [make_run()],
}


def visible_parquet(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{TEMP_SUFFIX}"))


def test_samples_cover_every_table() -> None:
    assert set(SAMPLES) == set(TABLES)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_records_roundtrip(tmp_path: Path, table: str) -> None:
    records = SAMPLES[table]
    write_records(tmp_path, table, CONFIG, batch_key(["a", "b"]), records)
    back = read_table(tmp_path, table)
    assert back.schema.equals(table_schema(table))
    model = TABLES[table]
    assert [model.model_validate(row) for row in back.to_pylist()] == records


def test_empty_shard_is_written_and_readable(tmp_path: Path) -> None:
    path = write_records(tmp_path, "mistakes", CONFIG, "b0", [])
    assert path.exists()
    on_disk = pq.read_table(path)
    assert on_disk.num_rows == 0
    assert on_disk.column_names == table_schema("mistakes").names
    assert read_table(tmp_path, "mistakes").num_rows == 0
    assert batch_done(tmp_path, ["mistakes"], CONFIG, "b0")


def test_read_table_with_no_shards_is_empty_with_schema(tmp_path: Path) -> None:
    empty = read_table(tmp_path, "attempts")
    assert empty.num_rows == 0
    assert empty.schema.equals(table_schema("attempts"))


def test_read_table_concatenates_shards(tmp_path: Path) -> None:
    write_records(tmp_path, "problems", CONFIG, "b1", [make_problem(1)])
    write_records(tmp_path, "problems", "cfg0002", "b2", [make_problem(2), make_problem(3)])
    ids = sorted(read_table(tmp_path, "problems").column("problem_id").to_pylist())
    assert ids == ["p-1", "p-2", "p-3"]


def test_write_records_rejects_wrong_model(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Mistake"):
        write_records(tmp_path, "mistakes", CONFIG, "b0", [make_problem()])
    assert visible_parquet(tmp_path) == []
    assert temp_files(tmp_path) == []


def test_rewrite_is_byte_identical(tmp_path: Path) -> None:
    first = write_records(tmp_path, "mistakes", CONFIG, "b0", SAMPLES["mistakes"])
    first_bytes = first.read_bytes()
    again = write_records(tmp_path, "mistakes", CONFIG, "b0", SAMPLES["mistakes"])
    assert again == first and again.read_bytes() == first_bytes
    # A table built in several chunks writes the same bytes as a single-chunk one.
    chunks = [to_arrow([r], Mistake) for r in SAMPLES["mistakes"]]
    chunked = write_shard(tmp_path / "chunked.parquet", pa.concat_tables(chunks))
    assert chunked.read_bytes() == first_bytes
    assert temp_files(tmp_path) == []


def test_rewrite_in_another_process_is_byte_identical(tmp_path: Path) -> None:
    here = write_records(tmp_path / "a", "problems", CONFIG, "b0", SAMPLES["problems"])
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import SAMPLES, CONFIG
        from errata.store.shards import write_records
        write_records({str(tmp_path / "b")!r}, "problems", CONFIG, "b0", SAMPLES["problems"])
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, timeout=60)
    there = shard_path(tmp_path / "b", "problems", CONFIG, "b0")
    assert there.read_bytes() == here.read_bytes()


def test_footer_holds_only_the_schema_version(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-do-not-leak")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_do_not_leak")
    for table, records in SAMPLES.items():
        path = write_records(tmp_path, table, CONFIG, "b0", records)
        meta = pq.ParquetFile(path).metadata
        assert meta.metadata == {b"errata.schema_version": SCHEMA_VERSION.encode()}
        assert meta.created_by.startswith("parquet-cpp-arrow")
        raw = path.read_bytes()
        for secret in (b"sk-secret", b"hf_secret", b"ARROW:schema", b"pandas"):
            assert secret not in raw


def test_shard_options(tmp_path: Path) -> None:
    n = 70_000
    table = pa.table({"i": pa.array(range(n), pa.int64())})
    path = write_shard(tmp_path / "t" / "x.parquet", table)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [65536, n - 65536]
    column = meta.row_group(0).column(0)
    assert column.compression == "ZSTD"
    assert column.has_offset_index and column.has_column_index


def test_batch_key_and_shard_naming(tmp_path: Path) -> None:
    key = batch_key(["p-1", "p-2"])
    assert key == batch_key(["p-1", "p-2"])
    assert key != batch_key(["p-2", "p-1"])
    assert key != batch_key(["p-1"])
    path = shard_path(tmp_path, "mistakes", CONFIG, key)
    assert path == tmp_path / "mistakes" / f"config={CONFIG}" / f"part-{key}.parquet"


def test_batch_done_needs_every_table(tmp_path: Path) -> None:
    tables = ["attempts", "mistakes", "rejects"]
    key = batch_key(["p-1"])
    assert not batch_done(tmp_path, tables, CONFIG, key)
    write_records(tmp_path, "attempts", CONFIG, key, [make_attempt()])
    write_records(tmp_path, "mistakes", CONFIG, key, [make_mistake()])
    assert not batch_done(tmp_path, tables, CONFIG, key)
    write_records(tmp_path, "rejects", CONFIG, key, [])
    assert batch_done(tmp_path, tables, CONFIG, key)
    assert not batch_done(tmp_path, tables, "other-config", key)
    assert not batch_done(tmp_path, tables, CONFIG, batch_key(["p-2"]))


KILLED_WRITER = """
import os, sys
sys.path.insert(0, {repo!r})
import pyarrow as pa
from errata.store.shards import write_shard
n = 400_000
table = pa.table({{"s": [os.urandom(16).hex() for _ in range(n)], "i": list(range(n))}})
i = 0
while True:
    write_shard({out!r} + f"/t/config=c/part-{{i:04d}}.parquet", table)
    i += 1
"""


def _start_writer_and_kill_mid_write(root: Path) -> subprocess.Popen:
    """Start a looping shard writer; SIGKILL it as soon as a temp file is seen."""
    script = KILLED_WRITER.format(repo=str(REPO), out=str(root))
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if visible_parquet(root) and temp_files(root):
                break
            assert child.poll() is None, "writer exited early"
            time.sleep(0.005)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    return child


@pytest.mark.slow
def test_kill_mid_write_leaves_no_partial_shard(tmp_path: Path) -> None:
    # The child writes most of the time, so the kill nearly always lands mid-write;
    # retry a few times to make "a temp file was left" certain.
    for attempt in range(5):
        root = tmp_path / f"try{attempt}"
        child = _start_writer_and_kill_mid_write(root)
        assert child.returncode == -signal.SIGKILL
        if temp_files(root):
            break
    leftovers = temp_files(root)
    assert leftovers, "no write was interrupted in 5 tries"
    assert all(p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX) for p in leftovers)
    shards = visible_parquet(root)
    assert shards
    for shard in shards:
        assert pq.read_table(shard).num_rows == 400_000
    assert shard_files(root, "t") == shards

    assert clean_orphans(root) == []  # too young to be judged orphans: their writer may run
    removed = clean_orphans(root, max_age_seconds=0)
    assert sorted(removed) == leftovers
    assert temp_files(root) == []
    assert visible_parquet(root) == shards


def test_clean_orphans_judges_by_age_only(tmp_path: Path) -> None:
    directory = tmp_path / "mistakes" / "config=c"
    directory.mkdir(parents=True)
    # A writer's pid says nothing about a writer on another host sharing the root: a young
    # temp file is kept whatever its name says, an old one is removed.
    young = directory / f".part-a.parquet.otherhost-{os.getpid()}.abc123{TEMP_SUFFIX}"
    young_dead_pid = directory / f".part-b.parquet.otherhost-999999999.abc123{TEMP_SUFFIX}"
    stale = directory / f".part-c.parquet.{os.getpid()}.def456{TEMP_SUFFIX}"
    unrelated = directory / "notes.tmp"
    for path in (young, young_dead_pid, stale, unrelated):
        path.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    os.utime(unrelated, (old, old))
    assert clean_orphans(tmp_path) == [stale]
    assert young.exists() and young_dead_pid.exists() and unrelated.exists()
    assert clean_orphans(tmp_path, max_age_seconds=0) == [young, young_dead_pid]
    assert unrelated.exists()
    assert clean_orphans(tmp_path / "missing") == []


def write_sample_store(root: Path) -> None:
    """Two configs, several shards each, one with an older narrower schema."""
    write_records(root, "problems", "c1", "b1", [make_problem(1), make_problem(2)])
    write_records(root, "problems", "c1", "b2", [make_problem(3, "math500")])
    write_records(root, "attempts", "c1", "b1", [make_attempt(1), make_attempt(2, "correct")])
    write_records(root, "mistakes", "c1", "b1", [make_mistake(1), make_mistake(2)])
    write_records(root, "mistakes", "0042", "b2", [make_mistake(3, "counting", "math500")])
    write_records(root, "rejects", "c1", "b1", [make_reject(1), make_reject(2, "load", "bad")])
    write_records(root, "rejects", "c1", "b2", [])
    write_records(root, "runs", "c1", "r1", [make_run("r-1", "2025-01-01T00:00:00Z")])
    write_records(root, "runs", "c1", "r2", [make_run("r-2", "2025-02-01T00:00:00Z")])
    # A shard from an older schema without `metadata`: union_by_name fills it with NULL.
    old = table_schema("problems")
    old = old.remove(old.get_field_index("metadata"))
    row = make_problem(4).model_dump()
    del row["metadata"]
    write_shard(
        root / "problems" / "config=c0" / "part-old.parquet", pa.Table.from_pylist([row], old)
    )


def test_catalog_views_over_shards(tmp_path: Path) -> None:
    write_sample_store(tmp_path)
    con = connect(tmp_path)
    assert con.execute("select count(*) from problems").fetchone() == (4,)
    assert con.execute("select count(*) from problems where metadata is null").fetchone() == (1,)
    configs = con.execute("select config, count(*) from mistakes group by 1 order by 1").fetchall()
    assert configs == [("0042", 1), ("c1", 2)]
    types = dict(con.execute("select column_name, column_type from (describe mistakes)").fetchall())
    assert types["config"] == "VARCHAR"
    assert types["wrong_steps"] == "VARCHAR[]"
    assert con.execute("select count(*) from rejects").fetchone() == (2,)
    nested = con.execute("select corrections[1].kind from mistakes limit 1").fetchone()
    assert nested == ("fix_continue",)
    con.close()


def test_catalog_on_empty_root(tmp_path: Path) -> None:
    con = connect(tmp_path / "nothing-here")
    for table in TABLES:
        assert con.execute(f"select count(*) from {table}").fetchone() == (0,)
        columns = [row[0] for row in con.execute(f"describe {table}").fetchall()]
        assert columns == [*table_schema(table).names, "config"]
    con.close()
    assert all(rows == [] for rows in stats(tmp_path).values())


def test_catalog_sees_empty_shard_columns(tmp_path: Path) -> None:
    write_records(tmp_path, "rejects", CONFIG, "b0", [])
    columns, rows = query(tmp_path, "select * from rejects")
    assert rows == []
    assert columns == [*table_schema("rejects").names, "config"]


def test_query_returns_columns_and_rows(tmp_path: Path) -> None:
    write_sample_store(tmp_path)
    columns, rows = query(
        tmp_path, "select source, count(*) as n from problems group by source order by source"
    )
    assert columns == ["source", "n"]
    assert rows == [("gsm8k", 3), ("math500", 1)]


def test_register_parquet_views(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), export / "sft.parquet")
    con = connect(tmp_path)
    register_parquet_views(
        con,
        {"sft": str(export / "*.parquet"), "mistakes": str(tmp_path / "none" / "*.parquet")},
    )
    assert con.execute("select sum(x) from sft").fetchone() == (6,)
    assert con.execute("select count(*) from mistakes").fetchone() == (0,)
    with pytest.raises(FileNotFoundError):
        register_parquet_views(con, {"other": str(tmp_path / "none" / "*.parquet")})
    con.close()


def test_stats(tmp_path: Path) -> None:
    write_sample_store(tmp_path)
    summary = stats(tmp_path)
    assert set(summary) == set(STATS_SQL)
    assert summary["problems_by_source"] == [("gsm8k", 3), ("math500", 1)]
    assert summary["mistakes_by_source"] == [("gsm8k", 2), ("math500", 1)]
    assert summary["mistakes_by_error_type"] == [("calculation", 2), ("counting", 1)]
    assert summary["mistakes_by_origin"] == [("injected", 3)]
    assert summary["rejects_by_stage_reason"] == [("load", "bad", 1), ("verify", "no_answer", 1)]
    assert summary["attempts_by_verdict"] == [("correct", 1), ("incorrect", 1)]
    assert summary["runs"] == [
        ("r-2", "math", "2025-02-01T00:00:00Z", 1.5),
        ("r-1", "math", "2025-01-01T00:00:00Z", 1.5),
    ]


def test_render_table() -> None:
    table = render_table(["name", "n", "cost"], [("a", 3, 0.000123), ("b", None, 2.5)], "t")
    assert table.title == "t"
    assert [c.header for c in table.columns] == ["name", "n", "cost"]
    assert [c.justify for c in table.columns] == ["left", "right", "right"]
    console = Console(width=80, record=True)
    console.print(table)
    text = console.export_text()
    assert "0.000123" in text and "2.5" in text and "None" not in text


def test_batches_at_a_position_their_members_and_removal(tmp_path: Path) -> None:
    write_records(tmp_path, "problems", "src", "00002-aaa", [make_problem(1), make_problem(2)])
    write_records(tmp_path, "problems", "src", "00002-bbb", [make_problem(1)])
    write_records(tmp_path, "problems", "src", "00003-ccc", [make_problem(3)])
    assert batches_at(tmp_path, "problems", "src", "00002") == ["00002-aaa", "00002-bbb"]
    members = batch_item_ids(tmp_path, "problems", "src", "00002-aaa", "problem_id")
    assert members == {make_problem(1).problem_id, make_problem(2).problem_id}
    remove_batch(tmp_path, {"problems": "src", "mistakes": "cfg"}, "00002-bbb")
    assert batches_at(tmp_path, "problems", "src", "00002") == ["00002-aaa"]


# --- shared roots (fsspec) and schema versions --------------------------------------------------


@pytest.fixture
def memory_root():
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"memory://store-{os.getpid()}-{time.monotonic_ns()}"
    yield root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_fsspec_root_writes_the_same_bytes_and_reads_back(tmp_path: Path, memory_root) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    local = write_records(tmp_path, "mistakes", CONFIG, "00001-b0", SAMPLES["mistakes"])
    remote = write_records(memory_root, "mistakes", CONFIG, "00001-b0", SAMPLES["mistakes"])
    assert remote == f"{memory_root}/mistakes/config={CONFIG}/part-00001-b0.parquet"
    assert fs.cat(remote) == local.read_bytes()
    assert [r.model_dump() for r in read_records(memory_root, "mistakes")] == [
        r.model_dump() for r in SAMPLES["mistakes"]
    ]
    assert batch_done(memory_root, ["mistakes"], CONFIG, "00001-b0")
    assert not batch_done(memory_root, ["mistakes", "rejects"], CONFIG, "00001-b0")
    assert batches_at(memory_root, "mistakes", CONFIG, "00001") == ["00001-b0"]
    ids = batch_item_ids(memory_root, "mistakes", CONFIG, "00001-b0", "mistake_id")
    assert ids == {"m-0", "m-1"}
    # No temp object is left beside the shard.
    assert [p.rsplit("/", 1)[-1] for p in fs.find(memory_root)] == ["part-00001-b0.parquet"]
    remove_batch(memory_root, {"mistakes": CONFIG}, "00001-b0")
    assert read_table(memory_root, "mistakes").num_rows == 0


def test_fsspec_root_orphans_are_judged_by_age(memory_root) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    temp = f"{memory_root}/mistakes/config=c/.part-a.parquet.otherhost-1.abc{TEMP_SUFFIX}"
    fs.pipe(temp, b"partial")
    assert clean_orphans(memory_root) == []
    assert clean_orphans(memory_root, max_age_seconds=0) == [temp.replace("://", ":///")]
    assert not fs.exists(temp)


def test_check_schema_version_names_the_old_version(tmp_path: Path) -> None:
    check_schema_version(tmp_path / "missing")
    write_records(tmp_path, "problems", CONFIG, "b0", SAMPLES["problems"])
    write_records(tmp_path, "mistakes", CONFIG, "b0", [])
    check_schema_version(tmp_path)
    old = to_arrow(SAMPLES["rejects"], Reject)
    old = old.replace_schema_metadata({b"errata.schema_version": b"0"})
    write_shard(tmp_path / "rejects" / "config=c" / "part-old.parquet", old)
    with pytest.raises(SchemaVersionError) as raised:
        check_schema_version(tmp_path)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError) and "\n" not in message
    assert message.startswith(f"{tmp_path}: shards written by errata schema version 0 (1 shards)")
    assert f"this errata reads version {SCHEMA_VERSION}" in message
