"""The store: Parquet shards are the truth; DuckDB reads them through in-memory views."""

from errata.store.catalog import (
    STATS_SQL,
    connect,
    query,
    register_parquet_views,
    render_table,
    stats,
    stats_with_columns,
)
from errata.store.shards import (
    TEMP_SUFFIX,
    batch_done,
    batch_key,
    clean_orphans,
    read_table,
    shard_files,
    shard_path,
    write_records,
    write_shard,
)

__all__ = [
    "STATS_SQL",
    "TEMP_SUFFIX",
    "batch_done",
    "batch_key",
    "clean_orphans",
    "connect",
    "query",
    "read_table",
    "register_parquet_views",
    "render_table",
    "shard_files",
    "shard_path",
    "stats",
    "stats_with_columns",
    "write_records",
    "write_shard",
]
