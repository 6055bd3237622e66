"""Publish an export folder to the Hugging Face Hub: gates first, then one upload.

Every gate runs before any Hub call, and each failure is one line naming what is wrong and
how to fix it: the folder is an errata export of this schema version, made with
decontamination; ids are unique in the shards and rows unique in the export; no file about
to go up holds a secret; `datasets` reads every config from exactly the files errata wrote.

What goes up: the card, every config's Parquet files, and what errata wrote to `_errata/`:
the manifest (options, decontamination, row counts and file list, with file names only, never
local paths), the exclusion log (every row left out and why), the run report and the charts the
card shows. They are provenance, published so anyone can audit the card's numbers; `datasets`
never mistakes them for data because the card's `configs` pin each config's `data_files`, which
`check_loads` verifies on the very folder that goes up. Nothing else in the export folder (a
user's own notes, `.git/`) goes up: the upload is a snapshot (hard links, or copies) of the
files the manifest lists.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import HfApi, get_token

from errata.schemas.exports import EXPORT_CONFIGS
from errata.schemas.records import SCHEMA_VERSION
from errata.store import catalog
from errata.store.catalog import quote_ident
from errata.store.export import (
    CARD,
    MANIFEST,
    META_DIR,
    data_files,
    export_lock,
    is_export,
    read_manifest,
)
from errata.store.shards import SCHEMA_VERSION_KEY

# Each record table's own id; the other tables (batches, runs) may repeat ids by design.
ID_COLUMNS = {
    "problems": "problem_id",
    "attempts": "attempt_id",
    "mistakes": "mistake_id",
    "rejects": "reject_id",
}
# Remote files errata owns: replaced by this commit, so a config that shrank from two files to
# one leaves no stale shard for the card's `<split>-*.parquet` pattern to pick up.
OWNED_REMOTE_PATTERNS = [*(f"{config}/*.parquet" for config in EXPORT_CONFIGS), f"{META_DIR}/*"]
# What detect-secrets' plugins miss (or filter out as too short or low in entropy), named as
# its plugins name theirs so one secret found by both reads once. The
# lookbehind keeps words such as "risk-adjusted" or "task-…" from matching.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "Hugging Face Token": re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"),
    "OpenAI Token": re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}"),
    "GitHub Token": re.compile(
        r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
    ),
    "AWS Access Key": re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    "Bearer Token": re.compile(r"(?i)(?<![A-Za-z0-9])bearer\s+[A-Za-z0-9._~+/-]{20,}=*"),
}
# Locations kept per distinct line: a secret repeated in every row is named a few times.
LOCATIONS_PER_LINE = 3
FINDINGS_SHOWN = 3
NEWLINES = re.compile(r"\r\n|\r|\n")  # what detect-secrets' line reader splits on


class PublishError(ValueError):
    """A gate refused the upload; the message is one line with the fix."""


@dataclass(frozen=True)
class Finding:
    """A secret-looking string: where it is and what it looks like (never its value)."""

    path: str  # relative to the folder that goes up
    where: str  # "line 12", or "config kto, row 3, column completion, line 1"
    kind: str

    def __str__(self) -> str:
        return f"{self.path} {self.where}: {self.kind}"


@dataclass
class PublishPlan:
    """Everything an upload needs, and what a dry run prints."""

    repo_id: str
    private: bool
    commit_message: str
    commit_description: str
    files: list[tuple[str, int]]  # path relative to the folder, bytes
    runs: list[str]
    checks: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return asdict(self)


# --- gates -------------------------------------------------------------------------------------


def require_token() -> None:
    """Refuse before any work when huggingface_hub finds no token (HF_TOKEN or a login)."""
    if get_token() is None:
        raise PublishError(
            "no Hugging Face token: export HF_TOKEN=... (a write token) or run hf auth login, "
            "then publish again; --dry-run needs none"
        )


def check_export_folder(export: Path) -> dict[str, Any]:
    """The folder's manifest, after checking it is an export whose listed files all exist."""
    if not is_export(export):
        raise PublishError(
            f"{export} is not an errata export folder (no {META_DIR}/{MANIFEST}); run errata "
            f"export --decontaminate BENCH.jsonl --out {export} first, or pass --export DIR"
        )
    manifest = read_manifest(export)
    missing = [f for f in upload_files(manifest) if not (export / f).is_file()]
    if missing:
        raise PublishError(
            f"{export / missing[0]} is missing from the export; rerun errata export --out {export}"
        )
    return manifest


def check_schema_versions(export: Path, shards: Path, manifest: dict[str, Any]) -> None:
    """The shards and the export were written by this errata's schema version."""
    try:
        catalog.check_shard_root(shards)  # exists, holds shards, reads back, our version
    except ValueError as exc:
        raise PublishError(str(exc)) from exc
    # The manifest names no version today; every config file's footer does.
    versions = {f"{META_DIR}/{MANIFEST}": str(manifest.get("schema_version", SCHEMA_VERSION))}
    for relative in data_files(manifest):
        metadata = pq.read_metadata(export / relative).metadata or {}
        versions[relative] = metadata.get(SCHEMA_VERSION_KEY, b"").decode() or "unknown"
    for relative, version in versions.items():
        if version != SCHEMA_VERSION:
            raise PublishError(
                f"{export / relative}: written by errata schema version {version}; this errata "
                f"writes version {SCHEMA_VERSION}. Rerun errata export --out {export}"
            )


def check_decontaminated(export: Path, manifest: dict[str, Any]) -> None:
    """The export dropped train rows that overlap a benchmark (`export --decontaminate`)."""
    if not (manifest.get("decontamination") or {}).get("files"):
        raise PublishError(
            f"{export} was exported without --decontaminate, so nothing shows its train rows "
            f"are free of benchmark questions; rerun errata export --decontaminate BENCH.jsonl "
            f"--out {export}"
        )


def row_id_column(config: str) -> str | None:
    """A config's own row id column, if its row model has one."""
    fields = EXPORT_CONFIGS[config][1].model_fields
    return next((name for name in ("row_id", "id") if name in fields), None)


def duplicates(shards: Path, export: Path, manifest: dict[str, Any]) -> list[str]:
    """Each shard table with repeated ids, and each export config with repeated rows (by its
    id column; by whole row, split aside, where its model has none), counted by DuckDB."""
    parts = [
        f"select '{table} ({column})' as what, count(*) as n, count(distinct {column}) as d "
        f"from {table}"
        for table, column in ID_COLUMNS.items()
    ]
    for config in manifest["files"]:
        column = row_id_column(config)
        view = quote_ident(config)
        distinct = (
            f"count(distinct {quote_ident(column)})"
            if column
            else f"(select count(*) from (select distinct * exclude (split) from {view}))"
        )
        label = f"export config {config} ({column or 'whole rows'})"
        parts.append(f"select '{label}', count(*), {distinct} from {view}")
    _, rows = catalog.query(shards, " union all ".join(parts), export)
    return [f"{what}: {n:,} rows, {d:,} distinct" for what, n, d in rows if n != d]


def check_unique(shards: Path, export: Path, manifest: dict[str, Any]) -> None:
    found = duplicates(shards, export, manifest)
    if found:
        raise PublishError(
            f"duplicates: {'; '.join(found)}; rerun errata run into a new --shards folder (for "
            f"a table) or errata export --out {export} (for a config), then publish"
        )


def export_runs(shards: Path, export: Path, manifest: dict[str, Any]) -> list[str]:
    """The runs whose mistakes the export's rows come from, newest first; else the shards'
    latest run."""
    configs = [c for c in manifest["files"] if "mistake_id" in EXPORT_CONFIGS[c][1].model_fields]
    used = " union ".join(f"select mistake_id from {quote_ident(c)}" for c in configs)
    sql = (
        "select m.run_id, max(r.finished_at) as finished from mistakes m "
        f"join ({used}) e on e.mistake_id = m.mistake_id "
        "left join runs r on r.run_id = m.run_id "
        "group by m.run_id order by finished desc nulls last, m.run_id"
    )
    _, rows = catalog.query(shards, sql, export) if configs else ([], [])
    if not rows:
        latest = "select run_id from runs order by finished_at desc, run_id limit 1"
        _, rows = catalog.query(shards, latest)
    return [row[0] for row in rows]


# --- what goes up ------------------------------------------------------------------------------


def meta_files(manifest: dict[str, Any]) -> list[str]:
    """The `_errata/` files that go up: the manifest and every file it lists as errata's own
    (the exclusion log, the run report and the charts the card shows)."""
    listed = [f"{META_DIR}/{MANIFEST}", *manifest.get("meta_files", [])]
    return [f for f in dict.fromkeys(listed) if f.startswith(f"{META_DIR}/")]


def upload_files(manifest: dict[str, Any]) -> list[str]:
    """Paths (relative to the export folder) that go up: card, data, `_errata` provenance."""
    return [CARD, *data_files(manifest), *meta_files(manifest)]


@contextmanager
def snapshot(export: Path, files: Sequence[str]) -> Iterator[Path]:
    """A temporary folder holding exactly `files` of `export`, taken under the export lock.

    Hard links where the filesystem allows (an export replaces files, never edits them, so a
    link keeps the content that was scanned), copies elsewhere.
    """
    export = Path(export).resolve()
    try:
        root = Path(tempfile.mkdtemp(prefix=f".{export.name}.publish-", dir=export.parent))
    except OSError:  # a read-only parent: the system temp folder
        root = Path(tempfile.mkdtemp(prefix="errata-publish-"))
    try:
        with export_lock(export):
            for relative in files:
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(export / relative, target)
                except OSError:
                    shutil.copy2(export / relative, target)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_loads(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Where `datasets` would read a config from other files than the manifest lists (an
    `_errata` file as a split, say); empty when every config resolves exactly."""
    from datasets import load_dataset_builder  # slow to import; only publish needs it

    problems = []
    for config, splits in manifest["files"].items():
        builder = load_dataset_builder(str(folder), config)
        resolved = {
            split: sorted(os.path.relpath(str(f), folder) for f in files)
            for split, files in (builder.config.data_files or {}).items()
        }
        expected = {split: sorted(files) for split, files in splits.items()}
        if resolved != expected:
            problems.append(
                f"config {config}: datasets reads {resolved}, the export wrote {expected}"
            )
    return problems


# --- secret scan -------------------------------------------------------------------------------


class _Lines:
    """Distinct lines of text to scan, each with the first places it occurs."""

    def __init__(self) -> None:
        self.where: dict[str, list[tuple[str, str]]] = {}

    def add(self, path: str, where: str, text: str) -> None:
        """Each line of `text`; a text of several lines names the line within it."""
        parts = NEWLINES.split(text)
        for number, line in enumerate(parts, start=1):
            line = line.rstrip()
            if not line:
                continue
            places = self.where.setdefault(line, [])
            if len(places) < LOCATIONS_PER_LINE:
                places.append((path, f"{where}, line {number}" if len(parts) > 1 else where))

    def add_text_file(self, path: str, text: str) -> None:
        for number, line in enumerate(NEWLINES.split(text), start=1):
            self.add(path, f"line {number}", line)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(column path, text) of every string inside a cell, nested lists and structs too."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _add_parquet(lines: _Lines, path: str, file: Path) -> None:
    parquet = pq.ParquetFile(file)
    config = path.split("/", 1)[0]
    label = f"config {config}, " if config in EXPORT_CONFIGS else ""
    for key, value in (parquet.metadata.metadata or {}).items():
        name = key.decode("utf-8", "replace")
        if key == b"ARROW:schema":  # base64 of the Arrow schema: scan what it holds
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(value)))
            lines.add(
                path, "Arrow schema in the footer", schema.to_string(show_schema_metadata=True)
            )
            continue
        lines.add(path, f"footer metadata key {name!r}", name)
        lines.add(path, f"footer metadata key {name!r}", value.decode("utf-8", "replace"))
    lines.add(path, "schema", parquet.schema_arrow.to_string(show_schema_metadata=True))
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            for column, value in record.items():
                for cell, text in _strings(value, column):
                    lines.add(path, f"{label}row {row}, column {cell}", text)
            row += 1


def _add_png(lines: _Lines, path: str, file: Path) -> None:
    """A chart's text chunks (software, title, comments); its pixels are drawn from counts."""
    from PIL import Image

    with Image.open(file) as image:
        for key, value in getattr(image, "text", {}).items():
            lines.add(path, f"PNG text chunk {key!r}", f"{key}: {value}")


def _detect_secrets(lines: list[str]) -> dict[int, set[str]]:
    """detect-secrets' plugins and filters, default settings, over one line per entry:
    index -> kinds found."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    found: dict[int, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="errata-scan-") as folder:
        rendering = Path(folder) / "lines.txt"
        rendering.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        with default_settings():
            secrets = SecretsCollection()
            secrets.scan_file(str(rendering))
        for potential in (s for group in secrets.data.values() for s in group):
            found.setdefault(potential.line_number - 1, set()).add(potential.type)
    return found


def scan_for_secrets(folder: Path, files: Sequence[str]) -> list[Finding]:
    """Secret-looking strings in `files` of `folder`: text files line by line; Parquet files
    by string cell (file, config, row, column) and footer metadata.

    Lines are scanned once however often they repeat (a question recurs in every config), so
    detect-secrets' context heuristics see each line alone.
    """
    lines = _Lines()
    for relative in files:
        file = Path(folder) / relative
        if file.suffix == ".parquet":
            _add_parquet(lines, relative, file)
            continue
        if file.suffix == ".png":
            _add_png(lines, relative, file)
            continue
        try:
            lines.add_text_file(relative, file.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            return [Finding(relative, "", "not UTF-8 text or Parquet, so it cannot be scanned")]
    distinct = list(lines.where)
    kinds = _detect_secrets(distinct)
    for index, line in enumerate(distinct):
        for kind, pattern in SECRET_PATTERNS.items():
            if pattern.search(line):
                kinds.setdefault(index, set()).add(kind)
    findings = {
        Finding(path, where, ", ".join(sorted(found)))
        for index, found in kinds.items()
        for path, where in lines.where[distinct[index]]
    }
    return sorted(findings, key=lambda f: (files.index(f.path), f.where))


def check_secrets(folder: Path, files: Sequence[str]) -> None:
    findings = scan_for_secrets(folder, files)
    if findings:
        shown = "; ".join(str(f) for f in findings[:FINDINGS_SHOWN])
        more = (
            f" and {len(findings) - FINDINGS_SHOWN} more" if len(findings) > FINDINGS_SHOWN else ""
        )
        raise PublishError(
            f"secret scan: {shown}{more}. Remove the secret from the shards or the export (and "
            "revoke it), rerun errata export, then publish"
        )


# --- the whole publish -------------------------------------------------------------------------


def commit_message(runs: Sequence[str], manifest: dict[str, Any]) -> str:
    rows = sum(sum(splits.values()) for splits in manifest.get("rows", {}).values())
    named = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    noun = "run" if len(runs) == 1 else "runs"
    return (
        f"errata publish: {len(manifest['files'])} configs, {rows:,} rows from {noun} "
        f"{named or 'unknown'}"
    )


def check_all(export: Path, shards: Path) -> tuple[dict[str, Any], list[str]]:
    """Every gate that needs no snapshot; returns the manifest and the checks passed."""
    manifest = check_export_folder(export)
    check_schema_versions(export, shards, manifest)
    check_decontaminated(export, manifest)
    check_unique(shards, export, manifest)
    decon = manifest["decontamination"]
    return manifest, [
        f"errata export of schema version {SCHEMA_VERSION}; shards of the same version",
        f"decontaminated against {', '.join(decon['files'])} ({decon['n']}-grams): "
        f"{decon['dropped_rows']:,} rows dropped",
        "ids unique in " + ", ".join(ID_COLUMNS) + "; rows unique in every config",
    ]


def publish(
    repo_id: str,
    export: Path,
    shards: Path,
    private: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Run every gate, then create the dataset repo (if new) and upload the folder in one
    commit; a dry run stops before the Hub. Returns the plan (and the commit's URL)."""
    export, shards = Path(export), Path(shards)
    if not dry_run:
        require_token()
    manifest, checks = check_all(export, shards)
    runs = export_runs(shards, export, manifest)
    files = upload_files(manifest)
    with snapshot(export, files) as folder:
        check_secrets(folder, files)
        checks.append(f"secret scan clean: {len(files)} files (detect-secrets and errata's own)")
        misread = check_loads(folder, manifest)
        if misread:
            raise PublishError(f"{misread[0]}; rerun errata export --out {export}")
        checks.append(f"datasets loads all {len(manifest['files'])} configs from their files only")
        plan = PublishPlan(
            repo_id=repo_id,
            private=private,
            commit_message=commit_message(runs, manifest),
            commit_description=" ".join(f"Gate passed: {check}." for check in checks),
            files=[(f, (folder / f).stat().st_size) for f in files],
            runs=runs,
            checks=checks,
        )
        if dry_run:
            return {**plan.summary(), "dry_run": True, "url": None}
        api = HfApi()  # the token: HF_TOKEN or the login, resolved by huggingface_hub
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=folder,
            commit_message=plan.commit_message,
            commit_description=plan.commit_description,
            allow_patterns=files,
            delete_patterns=OWNED_REMOTE_PATTERNS,
        )
    return {**plan.summary(), "dry_run": False, "url": getattr(commit, "commit_url", None)}
