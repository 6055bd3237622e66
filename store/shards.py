"""Parquet shards: one file per (table, config, batch), written atomically.

The output is the checkpoint: a batch is done when every table's shard exists, so a
rerun skips it. A shard only becomes visible through `os.replace` of a fsynced temp
file, so a crash never leaves a half-written `.parquet` behind.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from errata.schemas.arrow import table_schema, to_arrow
from errata.schemas.ids import content_hash
from errata.schemas.records import TABLES, Record

TEMP_SUFFIX = ".tmp"
SHARD_SUFFIX = ".parquet"
ROW_GROUP_ROWS = 64 * 1024
# Only our own keys reach the footer, so nothing from the environment can leak into it.
FOOTER_KEY_PREFIX = "errata."
# A temp file whose writer still runs is left alone unless it is this old.
ORPHAN_MAX_AGE_SECONDS = 3600.0


def batch_key(item_ids: Sequence[str]) -> str:
    """Content hash of the batch's item ids, in order."""
    return content_hash("batch", list(item_ids))


def shard_path(root: Path, table: str, config_hash: str, batch: str) -> Path:
    """Where the shard of `table` for one (config, batch) lives."""
    return Path(root) / table / f"config={config_hash}" / f"part-{batch}{SHARD_SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(directory: Path) -> None:
    """mkdir -p, fsyncing the parent of each directory created so its entry survives a crash."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        _fsync_dir(created.parent)


def _open_temp(path: Path) -> tuple[int, Path]:
    """Create a hidden temp file next to `path`; its name carries our pid for clean_orphans."""
    while True:
        name = f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        temp = path.parent / name
        try:
            # 0o666 so the umask applies, as for any plain file (mkstemp would force 0o600).
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue


def _footer_metadata(schema: pa.Schema) -> dict[bytes, bytes]:
    metadata = schema.metadata or {}
    return {k: v for k, v in metadata.items() if k.decode().startswith(FOOTER_KEY_PREFIX)}


def write_shard(path: Path, table: pa.Table, row_group_size: int = ROW_GROUP_ROWS) -> Path:
    """Write `table` to `path` atomically and deterministically (same table, same bytes)."""
    path = Path(path)
    _make_dirs(path.parent)
    # One chunk per column, so page boundaries do not depend on how the caller built the table.
    table = table.combine_chunks()
    fd, temp = _open_temp(path)
    try:
        with open(fd, "wb") as file:
            # store_schema=False drops the ARROW:schema blob; the footer then holds only our
            # keys. created_by is "parquet-cpp-arrow version X", fixed for a pyarrow version.
            writer = pq.ParquetWriter(
                file,
                table.schema,
                compression="zstd",
                write_page_index=True,
                store_schema=False,
            )
            writer.write_table(table, row_group_size=row_group_size)
            writer.add_key_value_metadata(_footer_metadata(table.schema))
            writer.close()
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_records(
    root: Path, table_name: str, config_hash: str, batch: str, records: list[Record]
) -> Path:
    """Write one batch's records of a table; an empty list still writes a (schema-only) shard."""
    model = TABLES[table_name]
    wrong = [type(r).__name__ for r in records if not isinstance(r, model)]
    if wrong:
        raise TypeError(f"table {table_name!r} takes {model.__name__} records, got {wrong[0]}")
    path = shard_path(root, table_name, config_hash, batch)
    return write_shard(path, to_arrow(records, model))


def batch_done(root: Path, tables: Sequence[str], config_hash: str, batch: str) -> bool:
    """True when every table's shard for this batch exists."""
    return all(shard_path(root, t, config_hash, batch).exists() for t in tables)


def batches_at(root: Path, table: str, config_hash: str, position: str) -> list[str]:
    """Names of the batches of `table` whose name starts with `position-`."""
    directory = Path(root) / table / f"config={config_hash}"
    pattern = f"part-{position}-*{SHARD_SUFFIX}"
    return sorted(p.name[len("part-") : -len(SHARD_SUFFIX)] for p in directory.glob(pattern))


def batch_item_ids(root: Path, table: str, config_hash: str, batch: str, column: str) -> set[str]:
    """The ids in one column of one shard (a batch's members)."""
    path = shard_path(root, table, config_hash, batch)
    return set(pq.read_table(path, columns=[column]).column(column).to_pylist())


def remove_batch(root: Path, tables: dict[str, str], batch: str) -> None:
    """Delete one batch's shards; `tables` maps table name to its config hash."""
    for table, config_hash in tables.items():
        shard_path(root, table, config_hash, batch).unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_owner(temp: Path) -> int | None:
    # .<name>.<pid>.<random>.tmp
    parts = temp.name.removesuffix(TEMP_SUFFIX).split(".")
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return None


def clean_orphans(root: Path, max_age_seconds: float = ORPHAN_MAX_AGE_SECONDS) -> list[Path]:
    """Remove temp files left under `root` by killed writers; returns the removed paths.

    A temp file whose writer process is still alive is kept (another run may be writing
    into the same root) unless it is older than `max_age_seconds`.
    """
    root = Path(root)
    if not root.exists():
        return []
    removed = []
    now = time.time()
    for temp in sorted(root.rglob(f".*{SHARD_SUFFIX}.*{TEMP_SUFFIX}")):
        owner = _temp_owner(temp)
        try:
            age = now - temp.stat().st_mtime
        except FileNotFoundError:
            continue  # its writer just renamed it
        if owner is not None and _pid_alive(owner) and age < max_age_seconds:
            continue
        temp.unlink(missing_ok=True)
        removed.append(temp)
    return removed


def shard_files(root: Path, table_name: str) -> list[Path]:
    """Visible shards of a table, sorted so reads are in a stable order."""
    return sorted((Path(root) / table_name).glob(f"**/*{SHARD_SUFFIX}"))


def read_table(root: Path, table_name: str) -> pa.Table:
    """All shards of a table in the table's schema (an empty table if there are none)."""
    schema = table_schema(table_name)
    files = [str(p) for p in shard_files(root, table_name)]
    if not files:
        return schema.empty_table()
    # An explicit schema makes every shard read back with the model's types and field names.
    return ds.dataset(files, schema=schema, format="parquet").to_table()


def read_records(root: Path, table_name: str) -> list[Record]:
    """All rows of a table as its record model."""
    model = TABLES[table_name]
    return [model.model_validate(row) for row in read_table(root, table_name).to_pylist()]
