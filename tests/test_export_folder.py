"""The export folder: errata never deletes or overwrites what it did not write, cleans up
after a killed export, and its card counts each batch once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from errata.generators.recipes.report import stage_totals
from errata.schemas.records import BatchBooks, ReasonCount, StageCount
from errata.store.export import (
    ExportDirError,
    is_export,
    read_manifest,
    write_export,
    write_manifest,
    written_files,
)

ROW = {"problem_id": "p-1", "mistake_id": "m-1", "source": "s", "origin": "injected"}


def kto_rows(n: int) -> list[dict]:
    return [
        {**ROW, "problem_id": f"p-{i}", "error_type": "calculation", "prompt": "q"}
        | {"completion": f"c{i}", "label": bool(i % 2)}
        for i in range(n)
    ]


def export(out: Path, configs: dict[str, dict[str, list[dict]]]) -> dict:
    return write_export(out, configs, [], lambda files: f"card of {sorted(files)}\n", {})


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_user_files_survive_every_export_and_stale_files_go(tmp_path: Path) -> None:
    out = tmp_path / "hub-clone"
    (out / ".git" / "objects").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "NOTES.md").write_text("mine")
    (out / "kto" / "my-extra.txt").parent.mkdir()
    (out / "kto" / "my-extra.txt").write_text("also mine")
    mine = digests(out)

    export(out, {"kto": {"train": kto_rows(4), "test": kto_rows(2)}, "prm": {"train": []}})
    assert is_export(out)
    assert {"kto/train-00000-of-00001.parquet", "kto/test-00000-of-00001.parquet"} <= (
        written_files(out)
    )
    export(out, {"kto": {"train": kto_rows(3), "test": []}})  # test split is gone now

    after = digests(out)
    assert {k: after[k] for k in mine} == mine  # every user file, byte for byte
    assert not (out / "kto" / "test-00000-of-00001.parquet").exists()
    assert (out / "kto" / "train-00000-of-00001.parquet").exists()
    assert read_manifest(out)["stale"] == []


def test_a_file_errata_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my own card")
    with pytest.raises(ExportDirError, match=r"README\.md, which errata did not write"):
        export(out, {"kto": {"train": kto_rows(2)}})
    assert [p.name for p in out.iterdir()] == ["README.md"]
    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(ExportDirError, match="is a file, not a folder"):
        export(target, {"kto": {"train": kto_rows(2)}})


def test_a_rerun_removes_what_a_killed_export_left(tmp_path: Path) -> None:
    out = tmp_path / "export"
    export(out, {"kto": {"train": kto_rows(2)}})
    temp = out / "kto" / ".train-00000-of-00001.parquet.host-123.abc.tmp"
    temp.write_bytes(b"half")
    staging = tmp_path / ".export.staging-4242"  # what errata 0.1 built beside the folder
    (staging / "kto").mkdir(parents=True)
    user_temp = out / "notes" / ".draft.tmp"  # not in a folder errata writes: left alone
    user_temp.parent.mkdir()
    user_temp.write_text("draft")
    export(out, {"kto": {"train": kto_rows(2)}})
    assert not temp.exists() and not staging.exists()
    assert user_temp.exists()


def test_stale_files_named_before_a_crash_are_removed_by_the_next_export(tmp_path: Path) -> None:
    out = tmp_path / "export"
    export(out, {"kto": {"train": kto_rows(2), "test": kto_rows(1)}})
    # A crash right after the manifest named the stale file and before it was removed.
    manifest = read_manifest(out)
    manifest["files"]["kto"].pop("test")
    write_manifest(out, {**manifest, "stale": ["kto/test-00000-of-00001.parquet"]})
    export(out, {"kto": {"train": kto_rows(2)}})
    assert not (out / "kto" / "test-00000-of-00001.parquet").exists()


def test_the_card_counts_each_batch_once_and_only_exported_runs() -> None:
    def books(run_id: str, batch: str, n: int) -> BatchBooks:
        parse = StageCount(stage="parse", n_in=n, n_out=n - 1, n_rejected=1)
        parse = parse.model_copy(update={"rejected_by_reason": [ReasonCount(reason="x", n=1)]})
        inject = StageCount(stage="inject", n_in=8 * (n - 1), n_out=5, n_rejected=8 * (n - 1) - 5)
        return BatchBooks(batch=batch, run_id=run_id, domain="math", n_problems=n, counts=[
            parse, inject
        ])  # fmt: skip

    first = [books("run-a", "00000-x", 100), books("run-a", "00001-y", 50)]
    resumed = [books("run-a", "00000-x", 100)]  # the same batch read again after a resume
    other = [books("run-b", "00000-z", 70)]
    totals = stage_totals([*first, *resumed, *other], {"run-a"})
    assert list(totals) == ["parse", "inject"]
    assert totals["parse"] == (150, 148)
