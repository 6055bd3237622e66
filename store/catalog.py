"""A DuckDB catalog over the Parquet shards: in-memory views, never a database file.

A DuckDB file held open for writing blocks every other process, even readers, so the
shards stay the truth and each query opens its own in-memory connection.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from rich.table import Table

from errata.schemas.arrow import table_schema
from errata.schemas.records import TABLES
from errata.store.export import EXCLUSIONS, META_DIR, export_files, is_export
from errata.store.shards import SHARD_SUFFIX, check_schema_version, scan_footers

PARTITION_COLUMN = "config"
DEFAULT_SHARDS = Path("data/shards")

STATS_SQL: dict[str, str] = {
    "problems_by_source": """
        select source, count(*) as n from problems group by source order by n desc, source
    """,
    "mistakes_by_source": """
        select source, count(*) as n from mistakes group by source order by n desc, source
    """,
    "mistakes_by_error_type": """
        select error_type, count(*) as n from mistakes
        group by error_type order by n desc, error_type
    """,
    "mistakes_by_origin": """
        select origin, count(*) as n from mistakes group by origin order by n desc, origin
    """,
    "rejects_by_stage_reason": """
        select stage, reason, count(*) as n from rejects
        group by stage, reason order by stage, n desc, reason
    """,
    "attempts_by_verdict": """
        select verdict, count(*) as n from attempts group by verdict order by n desc, verdict
    """,
    "runs": """
        select run_id, flow, started_at, wall_seconds from runs
        order by started_at desc, run_id
    """,
    # The stage books of each run's latest invocation, in stage order; the top three reject
    # reasons are sorted by count, then name, inside DuckDB.
    "stages_of_latest_runs": """
        with latest as (
            select run_id, finished_at, counts from runs
            qualify row_number() over (
                partition by run_id order by finished_at desc, invocation_id desc
            ) = 1
        ),
        stages as (
            select run_id, finished_at, unnest(counts) as c,
                generate_subscripts(counts, 1) as position
            from latest
        )
        select
            run_id,
            c.stage as stage,
            c.n_in as "in",
            c.n_out as kept,
            c.n_rejected as rejected,
            array_to_string(
                list_transform(
                    list_slice(
                        list_sort(
                            list_transform(
                                c.rejected_by_reason,
                                lambda r: {'minus_n': -r.n, 'reason': r.reason}
                            )
                        ),
                        1, 3
                    ),
                    lambda r: r.reason || ' ' || -r.minus_n
                ),
                ', '
            ) as top_reject_reasons,
            round(c.seconds, 3) as seconds
        from stages
        order by finished_at desc, run_id, position
    """,
}
# Summaries over columns that stores written before the LLM stages lack: shown when present.
LLM_STATS_SQL: dict[str, str] = {
    # Where a teacher named the first wrong step: how often the step checker agrees (it proves
    # no earlier step wrong), and how often it proves the very same step wrong.
    "teacher_agreement": """
        select producer, count(*) as mistakes,
            count(*) filter (where checker_agrees) as checker_agrees,
            count(*) filter (where not checker_agrees) as checker_finds_earlier,
            count(*) filter (where checker_first_error_step = first_error_step) as same_step,
            round(avg(case when checker_agrees then 1.0 else 0.0 end), 3) as agreement_rate
        from mistakes where checker_agrees is not null
        group by producer order by producer
    """,
    "llm_usage_of_runs": """
        select run_id, llm_usage.requests as requests, llm_usage.cached as cached,
            llm_usage.failed as failed, llm_usage.prompt_tokens as prompt_tokens,
            llm_usage.completion_tokens as completion_tokens,
            round(llm_usage.cost_usd, 6) as cost_usd, wall_seconds
        from runs where llm_usage is not null
        order by started_at desc, run_id
    """,
}


class ShardRootError(ValueError):
    """A shard root that does not exist or holds no errata shards."""


def check_shard_root(root: Path) -> None:
    """Raise ShardRootError unless `root` is a folder holding at least one errata shard, and
    SchemaVersionError if its shards were written by another schema version.

    Without this a mistyped --shards reads as empty tables: zero rows, and no hint why.
    """
    folder = Path(root)
    if not folder.exists():
        raise ShardRootError(
            f"{root}: no such shard folder; run errata run --shards {root} first, "
            "or pass --shards DIR"
        )
    if not folder.is_dir():
        raise ShardRootError(f"{root}: not a folder; pass the shard root as --shards DIR")
    if not any(glob.glob(table_glob(folder, table), recursive=True) for table in TABLES):
        raise ShardRootError(
            f"{root} holds no errata shards (no Parquet files under {', '.join(TABLES)}); "
            f"run errata run --shards {root} first, or pass --shards DIR"
        )
    scan = scan_footers(folder)  # one read of the footers for both checks
    damaged = scan.unreadable
    if damaged:
        more = f" and {len(damaged) - 1} more" if len(damaged) > 1 else ""
        raise ShardRootError(
            f"{damaged[0]}{more} does not read back whole (truncated?); run errata run "
            f"--shards {root} with the same options to quarantine it and redo its batch"
        )
    check_schema_version(folder, scan)


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_glob(root: Path, table: str) -> str:
    return str(Path(root).resolve() / table / "**" / f"*{SHARD_SUFFIX}")


def _create_parquet_view(con: duckdb.DuckDBPyConnection, name: str, pattern: str) -> None:
    files = glob.glob(pattern, recursive=True)
    options = "union_by_name=true, hive_partitioning=true"
    # Pin the partition to text: a config hash of digits only would otherwise become a number.
    if any(f"{PARTITION_COLUMN}=" in f for f in files):
        options += f", hive_types={{'{PARTITION_COLUMN}': 'VARCHAR'}}"
    con.execute(
        f"create or replace view {quote_ident(name)} as "
        f"select * from read_parquet({sql_string(pattern)}, {options})"
    )


def _register_empty(con: duckdb.DuckDBPyConnection, name: str) -> None:
    schema = table_schema(name).append(pa.field(PARTITION_COLUMN, pa.string()))
    con.register(name, schema.empty_table())


def register_parquet_views(con: duckdb.DuckDBPyConnection, name_to_glob: dict[str, str]) -> None:
    """Add one view per name over the Parquet files its glob matches.

    A name of a record table with no files yet gets an empty view with that table's
    columns; any other name whose glob matches nothing raises FileNotFoundError.
    """
    for name, pattern in name_to_glob.items():
        if glob.glob(pattern, recursive=True):
            _create_parquet_view(con, name, pattern)
        elif name in TABLES:
            _register_empty(con, name)
        else:
            raise FileNotFoundError(f"view {name!r}: no Parquet files match {pattern}")


def register_export_views(con: duckdb.DuckDBPyConnection, export_dir: Path) -> list[str]:
    """One view per config of an export folder, with a `split` column; returns the names.

    The exclusion log is the view `export_exclusions`.
    """
    names = []
    for config, splits in export_files(export_dir).items():
        parts = [
            f"select *, {sql_string(split)} as split "
            f"from read_parquet([{', '.join(sql_string(str(f)) for f in files)}])"
            for split, files in splits.items()
        ]
        con.execute(
            f"create or replace view {quote_ident(config)} as {' union all by name '.join(parts)}"
        )
        names.append(config)
    exclusions = Path(export_dir) / META_DIR / EXCLUSIONS
    con.execute(
        "create or replace view export_exclusions as "
        f"select * from read_parquet({sql_string(str(exclusions))})"
    )
    return [*names, "export_exclusions"]


def connect(root: Path, export_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per record table over the shards under `root`,
    and, when `export_dir` holds an export, one view per export config."""
    con = duckdb.connect(":memory:")
    register_parquet_views(con, {table: table_glob(root, table) for table in TABLES})
    if export_dir is not None and is_export(export_dir):
        register_export_views(con, export_dir)
    return con


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    result = con.execute(sql)
    columns = [d[0] for d in result.description or []]
    return columns, result.fetchall()


def query(root: Path, sql: str, export_dir: Path | None = None) -> tuple[list[str], list[tuple]]:
    """Run one SQL statement over the shards (and an export); returns column names and rows."""
    con = connect(root, export_dir)
    try:
        return _run(con, sql)
    finally:
        con.close()


def stats_with_columns(root: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every STATS_SQL summary, with its column names."""
    con = connect(root)
    try:
        found = {name: _run(con, sql) for name, sql in STATS_SQL.items()}
        for name, sql in LLM_STATS_SQL.items():
            try:
                columns, rows = _run(con, sql)
            except duckdb.BinderException:  # a store from before these columns
                continue
            if rows:
                found[name] = (columns, rows)
        return found
    finally:
        con.close()


def stats(root: Path) -> dict[str, list[tuple]]:
    """Counts by source, error type, origin, reject stage and reason, verdict; latest runs."""
    return {name: rows for name, (_, rows) in stats_with_columns(root).items()}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".6g") if math.isfinite(value) else str(value)
    return str(value)


def render_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> Table:
    """A rich table of query output; numeric columns are right-aligned."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        values = [row[i] for row in rows if row[i] is not None]
        numeric = bool(values) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        )
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table
