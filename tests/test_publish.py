"""`errata publish`: every gate runs before any Hub call; one upload_folder for a clean export.

The Hub is replaced at the method boundary (`HfApi.create_repo`, `HfApi.upload_folder`); no
test touches the network (HF_HUB_OFFLINE=1 in conftest).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, patch

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi
from typer.testing import CliRunner

from errata.flows.batches import generate_locally
from errata.flows.cli import app
from errata.flows.export import run_export
from errata.schemas.exports import RECIPES
from errata.store import publish as publishing
from errata.store.export import read_manifest, write_manifest
from errata.store.publish import (
    SECRET_PATTERNS,
    PublishError,
    check_loads,
    publish,
    snapshot,
    upload_files,
)
from errata.store.shards import shard_files
from tests.conftest import GSM8K_TEST

FAKE_HF_TOKEN = "hf_" + "Planted0" * 5
PLANTED_KEY = "sk-test-PLANTED-3f9c2a7e1b"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """Shards of a synthetic run and their decontaminated export: (shards, export, run id)."""
    root = tmp_path_factory.mktemp("publish")
    shards, export = root / "shards", root / "export"
    summary = generate_locally(workers=1, source="synthetic", limit=60, shards=str(shards))
    run_export(
        prefect=False,
        recipes=list(RECIPES),
        shards=str(shards),
        out=str(export),
        decontaminate=[str(GSM8K_TEST)],
    )
    return shards, export, summary["run_id"]


@pytest.fixture
def store(built, tmp_path: Path) -> tuple[Path, Path, str]:
    """A copy of the built shards and export that a test may spoil."""
    shards, export, run_id = built
    shutil.copytree(shards, tmp_path / "shards")
    shutil.copytree(export, tmp_path / "export")
    return tmp_path / "shards", tmp_path / "export", run_id


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, MagicMock]]:
    """The Hub's two calls, recorded; a token is present (HF_TOKEN)."""
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    with (
        patch.object(HfApi, "create_repo") as create_repo,
        patch.object(HfApi, "upload_folder") as upload_folder,
    ):
        yield {"create_repo": create_repo, "upload_folder": upload_folder}


def _no_hub_call(hub: dict[str, MagicMock]) -> bool:
    return not hub["create_repo"].called and not hub["upload_folder"].called


def _rewrite_parquet(path: Path, change: Callable[[list[dict]], None], **metadata: str) -> None:
    """Rewrite one Parquet file with its rows changed; its footer keeps the schema version."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows)
    schema = table.schema.with_metadata(
        {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}}
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


# --- a clean export --------------------------------------------------------------------------


def test_a_clean_export_goes_up_in_one_commit_naming_its_run(store, hub) -> None:
    shards, export, run_id = store
    seen: dict[str, Any] = {}

    def upload(**kwargs: Any) -> MagicMock:
        folder = Path(kwargs["folder_path"])  # a snapshot, gone after the call
        seen["files"] = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        return MagicMock(commit_url="https://hub.example/commit/1")

    hub["upload_folder"].side_effect = upload
    summary = publish("org/errata-demo", export, shards, private=True)

    hub["create_repo"].assert_called_once_with(
        "org/errata-demo", repo_type="dataset", private=True, exist_ok=True
    )
    hub["upload_folder"].assert_called_once()
    kwargs = hub["upload_folder"].call_args.kwargs
    assert kwargs["repo_id"] == "org/errata-demo"
    assert kwargs["repo_type"] == "dataset"
    assert run_id in kwargs["commit_message"]
    assert "token" not in kwargs  # huggingface_hub resolves it
    expected = upload_files(read_manifest(export))
    assert sorted(kwargs["allow_patterns"]) == seen["files"] == sorted(expected)
    assert "_errata/export.json" in expected and "_errata/exclusions.parquet" in expected
    assert summary["url"] == "https://hub.example/commit/1"


def test_only_the_files_errata_wrote_go_up(store, hub) -> None:
    shards, export, _ = store
    (export / "notes.txt").write_text("my own notes\n")
    (export / "kto" / "train-extra.parquet").write_bytes(b"not errata's")
    summary = publish("org/errata-demo", export, shards, dry_run=True)
    paths = [path for path, _ in summary["files"]]
    assert "notes.txt" not in paths and "kto/train-extra.parquet" not in paths
    assert paths == upload_files(read_manifest(export))


def test_the_folder_that_goes_up_loads_with_datasets_for_every_config(store) -> None:
    from datasets import load_dataset

    _, export, _ = store
    manifest = read_manifest(export)
    with snapshot(export, upload_files(manifest)) as folder:
        assert (folder / "_errata" / "exclusions.parquet").is_file()
        assert check_loads(folder, manifest) == []
        for config, splits in manifest["files"].items():
            loaded = load_dataset(str(folder), config)
            assert set(loaded) == set(splits)  # no `_errata` file as a split
            assert {s: loaded[s].num_rows for s in loaded} == manifest["rows"][config]


# --- tokens and dry runs ---------------------------------------------------------------------


def test_no_token_is_refused_with_the_fix_before_any_work(store, hub) -> None:
    shards, export, _ = store
    with (
        patch.object(publishing, "get_token", return_value=None),
        patch.object(publishing, "check_all") as gates,
    ):
        result = CliRunner().invoke(
            app, ["publish", "--repo-id", "org/x", "--export", str(export), "--shards", str(shards)]
        )
    assert result.exit_code == 2
    assert "export HF_TOKEN=" in result.output and "hf auth login" in result.output
    assert not gates.called and _no_hub_call(hub)


def test_a_dry_run_needs_no_token_and_calls_no_hub(store, hub) -> None:
    shards, export, run_id = store
    with patch.object(publishing, "get_token", return_value=None):
        result = CliRunner().invoke(
            app,
            [
                *("publish", "--repo-id", "org/x", "--export", str(export)),
                *("--shards", str(shards), "--dry-run"),
            ],
        )
    assert result.exit_code == 0, result.output
    assert _no_hub_call(hub)
    assert "_errata/export.json" in result.output and "org/x" in result.output
    assert run_id in result.output and "public" in result.output


# --- gates -----------------------------------------------------------------------------------


def _without_decontamination(shards: Path, export: Path) -> None:
    write_manifest(export, {**read_manifest(export), "decontamination": {}})


def _of_another_schema_version(shards: Path, export: Path) -> None:
    path = export / read_manifest(export)["files"]["kto"]["train"][0]
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({b"errata.schema_version": b"1"}), path)


def _with_a_duplicated_shard(shards: Path, export: Path) -> None:
    first = Path(shard_files(shards, "mistakes")[0])
    shutil.copy(first, first.with_name("part-copy.parquet"))


def _with_a_duplicated_row(shards: Path, export: Path) -> None:
    path = export / read_manifest(export)["files"]["kto"]["train"][0]
    _rewrite_parquet(path, lambda rows: rows.append(rows[0]))


def _not_an_export(shards: Path, export: Path) -> None:
    (export / "_errata" / "export.json").unlink()


@pytest.mark.parametrize(
    ("spoil", "named"),
    [
        (_without_decontamination, "--decontaminate BENCH.jsonl"),
        (_of_another_schema_version, "schema version 1"),
        (_with_a_duplicated_shard, "mistakes (mistake_id)"),
        (_with_a_duplicated_row, "export config kto"),
        (_not_an_export, "not an errata export folder"),
    ],
)
def test_a_failing_gate_stops_before_any_hub_call(store, hub, spoil, named: str) -> None:
    shards, export, _ = store
    spoil(shards, export)
    with pytest.raises(PublishError, match=r"rerun errata|run errata") as caught:
        publish("org/errata-demo", export, shards)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)
    assert _no_hub_call(hub)


# --- secrets ---------------------------------------------------------------------------------


def _in_the_card(export: Path) -> str:
    lines = (export / "README.md").read_text().splitlines()
    lines.insert(20, f"Uploaded with {FAKE_HF_TOKEN}")
    (export / "README.md").write_text("\n".join(lines) + "\n")
    return "README.md line 21: Hugging Face Token"


def _in_a_cell(export: Path) -> str:
    relative = read_manifest(export)["files"]["kto"]["train"][0]

    def plant(rows: list[dict]) -> None:
        rows[3]["completion"] += f"\nOPENAI_API_KEY={PLANTED_KEY}"

    _rewrite_parquet(export / relative, plant)
    return f"{relative} config kto, row 3, column completion"


def _in_a_nested_cell(export: Path) -> str:
    relative = read_manifest(export)["files"]["lemma_messages"]["test"][0]

    def plant(rows: list[dict]) -> None:
        rows[0]["messages"][1]["content"] = "Authorization: Bearer " + "abcdEFGH1234" * 3

    _rewrite_parquet(export / relative, plant)
    return f"{relative} config lemma_messages, row 0, column messages[1].content"


def _in_parquet_metadata(export: Path) -> str:
    relative = read_manifest(export)["files"]["prm"]["train"][0]
    _rewrite_parquet(export / relative, lambda rows: None, note="AKIAIOSFODNN7EXAMPLE")
    return f"{relative} footer metadata key 'note'"


def _in_the_manifest(export: Path) -> str:
    write_manifest(export, {**read_manifest(export), "uploader": "ghp_" + "x1Y2" * 9})
    line = next(
        n
        for n, text in enumerate((export / "_errata/export.json").read_text().splitlines(), 1)
        if "uploader" in text
    )
    return f"_errata/export.json line {line}: GitHub Token"


def _in_the_exclusion_log(export: Path) -> str:
    path = export / "_errata" / "exclusions.parquet"

    def plant(rows: list[dict]) -> None:
        rows[2]["detail"] = f"key {FAKE_HF_TOKEN}"

    _rewrite_parquet(path, plant)
    return "_errata/exclusions.parquet row 2, column detail"


@pytest.mark.parametrize(
    "plant",
    [
        _in_the_card,
        _in_a_cell,
        _in_a_nested_cell,
        _in_parquet_metadata,
        _in_the_manifest,
        _in_the_exclusion_log,
    ],
)
def test_a_planted_secret_blocks_the_upload_and_is_named(store, hub, plant) -> None:
    shards, export, _ = store
    where = plant(export)
    with pytest.raises(PublishError, match="secret scan") as caught:
        publish("org/errata-demo", export, shards)
    message = str(caught.value)
    assert where in message
    assert FAKE_HF_TOKEN not in message and PLANTED_KEY not in message  # never the value
    assert _no_hub_call(hub)


def test_a_dry_run_runs_the_secret_scan_too(store, hub) -> None:
    shards, export, _ = store
    _in_the_card(export)
    with pytest.raises(PublishError, match=r"README\.md line 21"):
        publish("org/errata-demo", export, shards, dry_run=True)


@pytest.mark.parametrize(
    "text",
    [
        FAKE_HF_TOKEN,
        PLANTED_KEY,
        "sk-proj-" + "Ab3_" * 10,
        "ghs_" + "a1B2" * 9,
        "github_pat_" + "a1B2_" * 8,
        "AKIAIOSFODNN7EXAMPLE",
        "Bearer eyJhbGciOiJIUzI1NiJ9.abcdefghijklmnop",
    ],
)
def test_errata_patterns_catch_what_detect_secrets_misses(text: str) -> None:
    assert any(p.search(f"value: {text}") for p in SECRET_PATTERNS.values())


@pytest.mark.parametrize(
    "text",
    [
        "A risk-free-rate-of-return-question costs 12 dollars.",
        "The bearer bonds pay 5% a year, so 200 * 0.05 = 10.",
        "Each task-based-assessment-worksheet has 4 sections.",
        "She has 3 AKIA stickers and 16 ABCDEFGHIJKLMNOP cards.",
    ],
)
def test_ordinary_math_text_is_no_secret(text: str) -> None:
    assert not any(p.search(text) for p in SECRET_PATTERNS.values())


def test_the_summary_is_json(store) -> None:
    shards, export, _ = store
    summary = publish("org/errata-demo", export, shards, dry_run=True)
    assert json.loads(json.dumps(summary))["dry_run"] is True


def test_the_prefect_flow_takes_no_token_and_reports_the_plan(store, hub) -> None:
    import inspect

    from errata.flows import publish_flow

    shards, export, run_id = store
    parameters = inspect.signature(publish_flow.publish.fn).parameters
    assert list(parameters) == ["repo_id", "export", "shards", "private", "dry_run"]
    with patch.object(publish_flow, "create_markdown_artifact") as artifact:
        summary = publish_flow.publish.fn("org/x", str(export), str(shards), dry_run=True)
    assert summary["runs"] == [run_id] and _no_hub_call(hub)
    assert "would upload" in artifact.call_args.args[0]
