"""Parquet shards: one file per (table, config, batch), written atomically.

The output is the checkpoint: a batch is done when every table's shard exists, so a
rerun skips it. A shard only becomes visible through `os.replace` of a fsynced temp
file, so a crash never leaves a half-written `.parquet` behind.

Roots are local folders or fsspec URLs (`memory://`, `s3://...`) shared by several hosts. On
other filesystems a shard is written as a hidden temp object and moved into place, which is
as atomic as that filesystem's move.

One run writes into a local root at a time (`lock_store`), and a shard that no longer reads
back (truncated from outside) is moved to `_quarantine/` so its batch is redone
(`quarantine_unreadable`).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from errata.schemas.arrow import table_schema, to_arrow
from errata.schemas.ids import content_hash
from errata.schemas.records import SCHEMA_VERSION, TABLES, Record

TEMP_SUFFIX = ".tmp"
SHARD_SUFFIX = ".parquet"
ROW_GROUP_ROWS = 64 * 1024
# Only our own keys reach the footer, so nothing from the environment can leak into it.
FOOTER_KEY_PREFIX = "errata."
SCHEMA_VERSION_KEY = b"errata.schema_version"
# A temp file is an orphan once it is this old. Age is the only test that holds on a shared
# root: a writer on another host has a pid that means nothing here.
ORPHAN_MAX_AGE_SECONDS = 3600.0

# Held (flock) by the process that orchestrates a run, for the whole run; see `lock_store`.
LOCK_NAME = ".errata-run.lock"
# Shards that did not read back, kept for a post-mortem. Outside every table folder, so no
# reader's glob (`<table>/**/*.parquet`) and no `shard_files` ever sees them.
QUARANTINE_DIR = "_quarantine"

# A root or shard location: a local path, or an fsspec URL for other filesystems.
Location = Path | str


class SchemaVersionError(ValueError):
    """Shards under a root were written by another errata schema version."""


class StoreBusyError(ValueError):
    """Another errata run holds the writer lock of a shard root."""


def _filesystem(location: Location) -> tuple[AbstractFileSystem, str]:
    return url_to_fs(str(location))


def _is_url(location: Location) -> bool:
    return "://" in str(location)


def _join(root: Location, *parts: str) -> Location:
    """`root/parts...`: a Path for local roots, a URL string for the others."""
    if _is_url(root):
        return "/".join([str(root).rstrip("/"), *parts])
    return Path(root).joinpath(*parts)


def batch_key(item_ids: Sequence[str]) -> str:
    """Content hash of the batch's item ids, in order."""
    return content_hash("batch", list(item_ids))


def shard_path(root: Location, table: str, config_hash: str, batch: str) -> Location:
    """Where the shard of `table` for one (config, batch) lives."""
    return _join(root, table, f"config={config_hash}", f"part-{batch}{SHARD_SUFFIX}")


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


def _temp_name(name: str) -> str:
    """A hidden temp name next to shard `name`; host and pid are there for diagnosis only."""
    host = socket.gethostname().replace(".", "-") or "host"
    return f".{name}.{host}-{os.getpid()}.{secrets.token_hex(6)}{TEMP_SUFFIX}"


def _open_temp(path: Path) -> tuple[int, Path]:
    """Create a hidden temp file next to `path`."""
    while True:
        temp = path.parent / _temp_name(path.name)
        try:
            # 0o666 so the umask applies, as for any plain file (mkstemp would force 0o600).
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue


def _footer_metadata(schema: pa.Schema) -> dict[bytes, bytes]:
    metadata = schema.metadata or {}
    return {k: v for k, v in metadata.items() if k.decode().startswith(FOOTER_KEY_PREFIX)}


def _write_parquet(file: object, table: pa.Table, row_group_size: int) -> None:
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


def write_shard(path: Location, table: pa.Table, row_group_size: int = ROW_GROUP_ROWS) -> Location:
    """Write `table` to `path` atomically and deterministically (same table, same bytes)."""
    # One chunk per column, so page boundaries do not depend on how the caller built the table.
    table = table.combine_chunks()
    if _is_url(path):
        return _write_shard_fsspec(str(path), table, row_group_size)
    return write_atomically(Path(path), lambda file: _write_parquet(file, table, row_group_size))


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write a local file through `write` into a fsynced temp file renamed over `path`: a
    reader, or a crash, never sees it half-written."""
    _make_dirs(path.parent)
    fd, temp = _open_temp(path)
    try:
        with open(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _write_shard_fsspec(url: str, table: pa.Table, row_group_size: int) -> str:
    """A temp object beside the shard, then a move: readers never see a partial shard."""
    fs, path = _filesystem(url)
    directory, name = path.rsplit("/", 1)
    fs.makedirs(directory, exist_ok=True)
    temp = f"{directory}/{_temp_name(name)}"
    try:
        with fs.open(temp, "wb") as file:
            _write_parquet(file, table, row_group_size)
        fs.mv(temp, path)
    except BaseException:
        if fs.exists(temp):
            fs.rm(temp)
        raise
    return url


def write_records(
    root: Location, table_name: str, config_hash: str, batch: str, records: list[Record]
) -> Location:
    """Write one batch's records of a table; an empty list still writes a (schema-only) shard."""
    model = TABLES[table_name]
    wrong = [type(r).__name__ for r in records if not isinstance(r, model)]
    if wrong:
        raise TypeError(f"table {table_name!r} takes {model.__name__} records, got {wrong[0]}")
    path = shard_path(root, table_name, config_hash, batch)
    return write_shard(path, to_arrow(records, model))


def _exists(location: Location) -> bool:
    if _is_url(location):
        fs, path = _filesystem(location)
        return fs.exists(path)
    return Path(location).exists()


def batch_done(root: Location, tables: Sequence[str], config_hash: str, batch: str) -> bool:
    """True when every table's shard for this batch exists."""
    return all(_exists(shard_path(root, t, config_hash, batch)) for t in tables)


def batches_at(root: Location, table: str, config_hash: str, position: str) -> list[str]:
    """Names of the batches of `table` whose name starts with `position-`."""
    fs, directory = _filesystem(_join(root, table, f"config={config_hash}"))
    paths = fs.glob(f"{directory}/part-{position}-*{SHARD_SUFFIX}")
    names = (p.rsplit("/", 1)[-1] for p in paths)
    return sorted(name[len("part-") : -len(SHARD_SUFFIX)] for name in names)


def _read(location: Location, columns: list[str] | None = None) -> pa.Table:
    if _is_url(location):
        fs, path = _filesystem(location)
        return pq.read_table(path, columns=columns, filesystem=fs)
    return pq.read_table(location, columns=columns)


def batch_item_ids(
    root: Location, table: str, config_hash: str, batch: str, column: str
) -> set[str]:
    """The ids in one column of one shard (a batch's members)."""
    path = shard_path(root, table, config_hash, batch)
    return set(_read(path, [column]).column(column).to_pylist())


def read_shard_records(
    root: Location, table_name: str, config_hash: str, batch: str
) -> list[Record]:
    """The rows of one shard as the table's record model."""
    model = TABLES[table_name]
    table = _read(shard_path(root, table_name, config_hash, batch))
    return [model.model_validate(row) for row in table.to_pylist()]


def remove_batch(root: Location, tables: dict[str, str], batch: str) -> None:
    """Delete one batch's shards; `tables` maps table name to its config hash."""
    for table, config_hash in tables.items():
        location = shard_path(root, table, config_hash, batch)
        if _is_url(location):
            fs, path = _filesystem(location)
            if fs.exists(path):
                fs.rm(path)
        else:
            Path(location).unlink(missing_ok=True)


def _temp_files(fs: AbstractFileSystem, root: str) -> Iterator[str]:
    if not fs.exists(root):
        return
    for path in sorted(fs.find(root)):
        name = path.rsplit("/", 1)[-1]
        if name.startswith(".") and SHARD_SUFFIX in name and name.endswith(TEMP_SUFFIX):
            yield path


def clean_orphans(
    root: Location, max_age_seconds: float = ORPHAN_MAX_AGE_SECONDS
) -> list[Location]:
    """Remove temp files under `root` older than `max_age_seconds`; returns the removed paths.

    Younger temp files may belong to a writer still running, on this host or another one
    sharing the root, so they are left alone: they are hidden and never read as shards.
    """
    fs, base = _filesystem(root)
    local = isinstance(fs, LocalFileSystem) and not _is_url(root)
    removed: list[Location] = []
    now = time.time()
    for temp in _temp_files(fs, base):
        try:
            age = now - fs.modified(temp).timestamp()
        except FileNotFoundError:
            continue  # its writer just renamed it
        except NotImplementedError:
            continue  # a filesystem that cannot tell an age: never guess
        if age < max_age_seconds:
            continue
        try:
            fs.rm(temp)
        except FileNotFoundError:
            continue
        removed.append(Path(temp) if local else fs.unstrip_protocol(temp))
    return removed


def shard_files(root: Location, table_name: str) -> list[Location]:
    """Visible shards of a table, sorted so reads are in a stable order."""
    if not _is_url(root):
        return sorted((Path(root) / table_name).glob(f"**/*{SHARD_SUFFIX}"))
    fs, base = _filesystem(_join(root, table_name))
    found = fs.glob(f"{base}/**/*{SHARD_SUFFIX}") if fs.exists(base) else []
    return sorted(fs.unstrip_protocol(p) for p in found if not p.rsplit("/", 1)[-1].startswith("."))


def read_table(root: Location, table_name: str) -> pa.Table:
    """All shards of a table in the table's schema (an empty table if there are none)."""
    schema = table_schema(table_name)
    files = shard_files(root, table_name)
    if not files:
        return schema.empty_table()
    # An explicit schema makes every shard read back with the model's types and field names.
    if _is_url(root):
        fs, _ = _filesystem(root)
        paths = [_filesystem(f)[1] for f in files]
        return ds.dataset(paths, schema=schema, format="parquet", filesystem=fs).to_table()
    return ds.dataset([str(p) for p in files], schema=schema, format="parquet").to_table()


def read_records(root: Location, table_name: str) -> list[Record]:
    """All rows of a table as its record model."""
    model = TABLES[table_name]
    return [model.model_validate(row) for row in read_table(root, table_name).to_pylist()]


def _footer(shard: Location) -> pq.FileMetaData | None:
    """The shard's Parquet footer, or None when the file does not end in a readable one."""
    fs, path = _filesystem(shard)
    try:
        return pq.read_metadata(path, filesystem=fs)
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError
        return None


@dataclass(frozen=True)
class FooterScan:
    """What one read of every shard's footer found."""

    unreadable: list[Location]  # shards that do not end in a readable footer (truncated)
    other_versions: dict[str, int]  # schema version -> shards written by it, if not ours


def scan_footers(root: Location) -> FooterScan:
    """Read the footer of every visible shard under `root` once (a few KB each)."""
    unreadable: list[Location] = []
    found: dict[str, int] = {}
    if not _exists(root):
        return FooterScan(unreadable, found)
    for table in TABLES:
        for shard in shard_files(root, table):
            footer = _footer(shard)
            if footer is None:
                unreadable.append(shard)
                continue
            metadata = footer.metadata or {}
            version = metadata.get(SCHEMA_VERSION_KEY, b"").decode() or "unknown"
            if version != SCHEMA_VERSION:
                found[version] = found.get(version, 0) + 1
    return FooterScan(unreadable, found)


def check_schema_version(root: Location, scan: FooterScan | None = None) -> None:
    """Raise SchemaVersionError if any shard under `root` has another schema version.

    Reads footers only, unless the caller already has them (`scan`). A shard without a
    readable footer is no version at all: the next run quarantines it.
    """
    found = (scan or scan_footers(root)).other_versions
    if found:
        versions = ", ".join(f"{v} ({n} shards)" for v, n in sorted(found.items()))
        raise SchemaVersionError(
            f"{root}: shards written by errata schema version {versions}; this errata reads "
            f"version {SCHEMA_VERSION}. Write to a new shard folder or delete this one."
        )


# --- damaged shards ----------------------------------------------------------------------------


def unreadable_shards(root: Location) -> list[Location]:
    """Visible shards of every table whose Parquet footer does not read back (truncated)."""
    return scan_footers(root).unreadable


def quarantine(root: Location, shard: Location) -> Location:
    """Move one shard to `root/_quarantine/<its path under root>`; returns where it went.

    A file already quarantined under that name is kept: the newcomer gets a time suffix.
    """
    fs, base = _filesystem(root)
    _, path = _filesystem(shard)
    relative = path[len(base.rstrip("/")) + 1 :]
    target = f"{base.rstrip('/')}/{QUARANTINE_DIR}/{relative}"
    if fs.exists(target):
        target = f"{target.removesuffix(SHARD_SUFFIX)}.{time.time_ns()}{SHARD_SUFFIX}"
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    fs.mv(path, target)
    return (
        target
        if isinstance(fs, LocalFileSystem) and not _is_url(root)
        else fs.unstrip_protocol(target)
    )


def quarantine_unreadable(root: Location) -> list[Location]:
    """Quarantine every shard under `root` that does not read back; returns the new paths.

    A batch is done when its shards exist, so a shard cut short from outside would otherwise
    count as done and only fail later, in DuckDB. Once it is gone its batch is redone. Only
    shards behind an atomic rename are visible, so a writer still running never has one here.
    """
    if not _exists(root):
        return []
    return [quarantine(root, shard) for shard in unreadable_shards(root)]


# --- one writer per store ----------------------------------------------------------------------


class StoreLock:
    """An flock on `root/.errata-run.lock`, held until `release` (or the process dies)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = -1


def _lock_holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", errors="replace").strip()
    return text or "pid unknown"


def lock_store(root: Location) -> StoreLock | None:
    """Take the writer lock of a local shard root for a whole run, or raise StoreBusyError.

    Two runs writing one store at once can each write their own cut of the same batch
    position (`-n 2950` and `-n 3000`), and neither sees the other's to supersede it, so rows
    are duplicated. The second run fails fast, in one line naming the holder, rather than
    waiting: a run that silently waits behind another for an hour looks hung. The process that
    orchestrates the run holds the lock; batches written by its pool or Dask workers, on this
    host or another, fall inside that window. flock holds on local disks and, through the
    kernel's lock manager, on NFS. The lock dies with its process, so a killed run never
    leaves the store locked.

    An fsspec URL root (`s3://`, `memory://`) gets no lock (None): object stores have no
    flock, so concurrent runs on one URL must be kept apart by whoever starts them.
    """
    if _is_url(root):
        return None
    _make_dirs(Path(root))
    path = Path(root) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd)
        os.close(fd)
        raise StoreBusyError(
            f"another errata run is writing to {root} ({holder}); wait for it or use another "
            "--shards"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
    return StoreLock(fd, path)
