"""Write a Hub-ready export folder: one config per folder, Parquet shards per split.

Layout: `<out>/<config>/<split>-00000-of-0000N.parquet`, a README.md dataset card, and
`_errata/` with the exclusion log and a manifest listing every file errata wrote. Every byte
is a function of the rows: the same shards export to identical files.

The folder may hold the user's own files (a clone of their Hub dataset repo has `.git/`,
notes, scripts): errata writes each of its files atomically in place, removes only files
that its previous manifest lists, and writes the manifest last, so a crash leaves the old
manifest pointing at files that still exist and a rerun finishes the job. One export at a
time writes into a folder (an flock on the folder).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from errata.schemas.arrow import arrow_schema
from errata.schemas.exports import EXPORT_CONFIGS
from errata.store.shards import TEMP_SUFFIX, write_atomically, write_shard

DEFAULT_EXPORT = Path("data/export")
META_DIR = "_errata"
MANIFEST = "export.json"
EXCLUSIONS = "exclusions.parquet"
CARD = "README.md"
# The Hub's viewer wants row groups well under ~100 MB uncompressed.
ROW_GROUP_BYTES = 32 * 1024 * 1024
MAX_ROWS_PER_FILE = 200_000

EXCLUSION_SCHEMA = pa.schema(
    [
        pa.field("config", pa.string(), nullable=False),
        pa.field("step", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("problem_id", pa.string(), nullable=False),
        pa.field("mistake_id", pa.string()),
    ]
)


class ExportDirError(Exception):
    """The output folder cannot take an export without losing a file errata did not write."""


def shard_name(split: str, index: int, total: int) -> str:
    return f"{split}-{index:05d}-of-{total:05d}.parquet"


def config_table(config: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of a config in the schema derived from its row model."""
    return pa.Table.from_pylist(rows, schema=arrow_schema(EXPORT_CONFIGS[config][1]))


def _row_group_size(table: pa.Table) -> int:
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, min(table.num_rows, ROW_GROUP_BYTES // per_row))


def write_parquet(path: Path, table: pa.Table) -> None:
    """zstd, page index, viewer-sized row groups, written atomically like every shard."""
    write_shard(path, table, row_group_size=_row_group_size(table))


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + MAX_ROWS_PER_FILE] for i in range(0, len(rows), MAX_ROWS_PER_FILE)]


def config_files(
    config: str, rows_by_split: dict[str, list[dict[str, Any]]]
) -> dict[str, list[str]]:
    """split -> the file paths (relative to the folder) a config's non-empty splits take."""
    files: dict[str, list[str]] = {}
    for split, rows in rows_by_split.items():
        chunks = _chunks(rows)
        for index in range(len(chunks)):
            files.setdefault(split, []).append(f"{config}/{shard_name(split, index, len(chunks))}")
    return files


def write_config(
    out: Path, config: str, rows_by_split: dict[str, list[dict[str, Any]]]
) -> dict[str, list[str]]:
    """Write each non-empty split of a config; returns split -> file paths relative to out."""
    files = config_files(config, rows_by_split)
    for split, paths in files.items():
        for relative, chunk in zip(paths, _chunks(rows_by_split[split]), strict=True):
            write_parquet(out / relative, config_table(config, chunk))
    return files


def write_exclusions(out: Path, excluded: Sequence[Any]) -> None:
    rows = [asdict(item) for item in excluded]
    rows.sort(key=lambda r: (r["config"], r["step"], r["problem_id"], r["mistake_id"] or ""))
    write_parquet(out / META_DIR / EXCLUSIONS, pa.Table.from_pylist(rows, schema=EXCLUSION_SCHEMA))


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_text(out / META_DIR / MANIFEST, text)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically, as every shard is written."""
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def read_manifest(out: Path) -> dict[str, Any]:
    return json.loads((Path(out) / META_DIR / MANIFEST).read_text(encoding="utf-8"))


def is_export(path: Path) -> bool:
    return (Path(path) / META_DIR / MANIFEST).is_file()


def data_files(manifest: dict[str, Any]) -> list[str]:
    """The Parquet files of every config and split the manifest lists, in a stable order."""
    files = manifest.get("files", {})
    return sorted(f for splits in files.values() for fs in splits.values() for f in fs)


def written_files(out: Path) -> set[str]:
    """Paths (relative to `out`) of every file the folder's current export wrote."""
    if not is_export(out):
        return set()
    manifest = read_manifest(out)
    data = set(data_files(manifest))
    # `stale`: files of the export before, listed until they are gone (see write_export).
    meta = {f"{META_DIR}/{MANIFEST}", *manifest.get("meta_files", [])}
    return data | meta | set(manifest.get("stale", []))


def check_target(out: Path, paths: Sequence[str]) -> None:
    """Refuse a target that is not a folder, or that holds a file errata would overwrite
    without having written it (a user's own README.md, say)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportDirError(f"{out} is a file, not a folder: choose a folder for the export")
    ours = written_files(out)
    clashes = sorted(p for p in paths if (out / p).exists() and p not in ours)
    if clashes:
        shown = ", ".join(clashes[:3]) + (" …" if len(clashes) > 3 else "")
        raise ExportDirError(
            f"{out} holds {shown}, which errata did not write and would overwrite; move "
            "them or choose another --out"
        )


@contextmanager
def export_lock(out: Path) -> Iterator[None]:
    """Lock the folder itself (flock on its descriptor, so no lock file joins the export); a
    second export into it waits for the first."""
    Path(out).mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def remove_leftovers(out: Path) -> list[Path]:
    """Temp files of killed exports inside `out`, and the staging folders that errata 0.1
    built beside it. Call with the lock held, so no other export is writing."""
    out = Path(out).resolve()
    removed = [p for p in out.rglob(f".*{TEMP_SUFFIX}") if p.is_file() and _ours(out, p)]
    for temp in removed:
        temp.unlink(missing_ok=True)
    for staging in out.parent.glob(f".{out.name}.staging-*"):
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(staging)
    return removed


def _ours(out: Path, path: Path) -> bool:
    """A path errata may clean up: at the top level, or under a config or `_errata/`."""
    parts = path.relative_to(out).parts
    return len(parts) == 1 or parts[0] == META_DIR or parts[0] in EXPORT_CONFIGS


META_FILES = (CARD, f"{META_DIR}/{EXCLUSIONS}", f"{META_DIR}/{MANIFEST}")


def write_export(
    out: Path,
    rows: dict[str, dict[str, list[dict[str, Any]]]],
    excluded: Sequence[Any],
    card: Callable[[dict[str, dict[str, list[str]]]], str],
    manifest: dict[str, Any],
) -> dict[str, dict[str, list[str]]]:
    """Write an export into `out` beside whatever else it holds; returns config -> split ->
    files. `card` renders README.md from the files written."""
    out = Path(out)
    planned = {config: config_files(config, splits) for config, splits in rows.items()}
    planned = {config: splits for config, splits in planned.items() if splits}
    current = {f for splits in planned.values() for fs in splits.values() for f in fs}
    check_target(out, [*sorted(current), *META_FILES])
    with export_lock(out):
        remove_leftovers(out)
        previous = written_files(out)
        for config in planned:
            write_config(out, config, rows[config])
        write_exclusions(out, excluded)
        write_text(out / CARD, card(planned))
        current |= set(META_FILES[:2])
        stale = sorted(previous - current - {META_FILES[2]})
        listed = {**manifest, "files": planned, "meta_files": list(META_FILES[:2])}
        # The manifest names the stale files until they are gone, so a crash in between
        # leaves them to the next export rather than to nobody.
        write_manifest(out, {**listed, "stale": stale})
        remove_stale(out, set(stale), set())
        write_manifest(out, {**listed, "stale": []})
    return planned


def remove_stale(out: Path, previous: set[str], current: set[str]) -> list[str]:
    """Delete the files the previous export wrote and this one did not, then the config
    folders that leaves empty. Nothing else is touched."""
    stale = sorted(previous - current)
    for relative in stale:
        (Path(out) / relative).unlink(missing_ok=True)
    for folder in sorted({(Path(out) / r).parent for r in stale}, reverse=True):
        if folder != Path(out) and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return stale


def export_files(out: Path) -> dict[str, dict[str, list[Path]]]:
    """config -> split -> Parquet files of an export folder, read from its manifest."""
    written = read_manifest(out)["files"]
    ordered = [c for c in EXPORT_CONFIGS if c in written]
    return {
        config: {
            split: [Path(out) / f for f in written[config][split]]
            for split in sorted(written[config], key=lambda split: (split != "train", split))
        }
        for config in ordered
    }
