"""Write a Hub-ready export folder: one config per folder, Parquet shards per split.

Layout: `<out>/<config>/<split>-00000-of-0000N.parquet`, a README.md dataset card, and
`_errata/` with the exclusion log and a manifest. The folder is built beside `out` and
swapped in whole, so a reader never sees a half-written export, and every byte of it is a
function of the rows: the same shards export to identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from errata.schemas.arrow import arrow_schema
from errata.schemas.exports import EXPORT_CONFIGS
from errata.store.shards import write_shard

DEFAULT_EXPORT = Path("data/export")
META_DIR = "_errata"
MANIFEST = "export.json"
EXCLUSIONS = "exclusions.parquet"
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
    """The output folder exists and is not an errata export, so it is not replaced."""


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


def write_config(
    out: Path, config: str, rows_by_split: dict[str, list[dict[str, Any]]]
) -> dict[str, list[str]]:
    """Write each non-empty split of a config; returns split -> file paths relative to out."""
    files: dict[str, list[str]] = {}
    for split, rows in rows_by_split.items():
        if not rows:
            continue
        chunks = [rows[i : i + MAX_ROWS_PER_FILE] for i in range(0, len(rows), MAX_ROWS_PER_FILE)]
        for index, chunk in enumerate(chunks):
            relative = f"{config}/{shard_name(split, index, len(chunks))}"
            write_parquet(out / relative, config_table(config, chunk))
            files.setdefault(split, []).append(relative)
    return files


def write_exclusions(out: Path, excluded: Sequence[Any]) -> None:
    rows = [asdict(item) for item in excluded]
    rows.sort(key=lambda r: (r["config"], r["step"], r["problem_id"], r["mistake_id"] or ""))
    write_parquet(out / META_DIR / EXCLUSIONS, pa.Table.from_pylist(rows, schema=EXCLUSION_SCHEMA))


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / META_DIR).mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (out / META_DIR / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(out: Path) -> dict[str, Any]:
    return json.loads((Path(out) / META_DIR / MANIFEST).read_text(encoding="utf-8"))


def is_export(path: Path) -> bool:
    return (Path(path) / META_DIR / MANIFEST).is_file()


def staging_dir(out: Path) -> Path:
    """A fresh folder beside `out` to build the export in."""
    out = Path(out).resolve()
    if out.exists() and not is_export(out) and any(out.iterdir()):
        raise ExportDirError(
            f"{out} exists and is not an errata export; choose an empty or new folder "
            "(errata only replaces folders it wrote)"
        )
    staging = out.with_name(f".{out.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, out: Path) -> None:
    """Swap the finished export in place of any earlier one."""
    out = Path(out).resolve()
    previous = out.with_name(f".{out.name}.previous-{os.getpid()}")
    if out.exists():
        os.replace(out, previous)
    os.replace(staging, out)
    shutil.rmtree(previous, ignore_errors=True)


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
