"""The export flow end to end: real shards from synthetic and GSM8K problems, a real
(temporary) Prefect server, then the folder read back by `datasets`, DuckDB and pyarrow."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from prefect.testing.utilities import prefect_test_harness
from trl.data_utils import is_conversational, maybe_apply_chat_template
from typer.testing import CliRunner

from errata.flows.cli import app
from errata.flows.export import run_export
from errata.flows.generate import run_generate
from errata.generators.recipes.select import Contamination
from errata.generators.rendering import strip_annotations
from errata.generators.verify.answers import extract_answer, verify_answer
from errata.store import catalog
from errata.store.export import export_files, read_manifest
from tests.conftest import GSM8K_TEST
from tests.trl_helpers import check_trl_row, offline_chat_tokenizer

pytestmark = pytest.mark.slow

ALL_RECIPES = ["lemma", "rise", "lema", "introspect", "prm", "retry", "kto"]


@pytest.fixture(scope="module", autouse=True)
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store") / "shards"
    run_generate(source="synthetic", limit=120, batch_size=60, shards=str(root), seed=3)
    run_generate(source="gsm8k", path=str(GSM8K_TEST), limit=120, batch_size=60, shards=str(root))
    return root


@pytest.fixture(scope="module")
def export_dir(shards: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "all"
    run_export(
        recipes=ALL_RECIPES, shards=str(shards), out=str(out), decontaminate=[str(GSM8K_TEST)]
    )
    return out


def _rows(export_dir: Path, config: str, split: str | None = None) -> list[dict]:
    files = export_files(export_dir)[config]
    splits = [split] if split else list(files)
    return [row for s in splits for f in files.get(s, []) for row in pq.read_table(f).to_pylist()]


def _mistakes(shards: Path) -> dict[str, dict]:
    columns, rows = catalog.query(shards, "select * from mistakes")
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def test_every_config_loads_in_datasets_with_duckdb_counts(export_dir: Path, shards: Path):
    files = export_files(export_dir)
    assert list(files) == [
        "lemma_messages",
        "lemma_alpaca",
        "rise_solution_pairs",
        "rise_step_pairs",
        "lema_completion",
        "lema_messages",
        "introspect",
        "prm",
        "retry",
        "kto",
    ]
    for config, splits in files.items():
        loaded = datasets.load_dataset(str(export_dir), config)
        _, counted = catalog.query(
            shards, f"select split, count(*) from {config} group by split", export_dir
        )
        assert {split: ds.num_rows for split, ds in loaded.items()} == dict(counted), config
        assert set(loaded) == set(splits) == {"train", "test"}
        assert all(n > 0 for n in dict(counted).values())


# Every config but lemma_alpaca (Alpaca's instruction/input/output is not a TRL shape).
TRL_CONFIGS = {
    "lemma_messages": True,  # config -> conversational
    "rise_solution_pairs": True,
    "rise_step_pairs": False,
    "lema_completion": False,
    "lema_messages": True,
    "introspect": True,
    "prm": False,
    "retry": False,
    "kto": False,
}


def test_rows_pass_trls_own_format_helpers(export_dir: Path):
    tokenizer = offline_chat_tokenizer()
    for config, conversational in TRL_CONFIGS.items():
        train = datasets.load_dataset(str(export_dir), config, split="train")
        for row in train:
            assert is_conversational(row) is conversational, config
            check_trl_row(row, tokenizer)
        # The path TRL's trainers take: Dataset.map over the whole split.
        mapped = train.map(maybe_apply_chat_template, fn_kwargs={"processing_class": tokenizer})
        if config in ("lemma_messages", "lema_messages", "introspect"):
            assert all("<|im_start|>assistant" in text for text in mapped["text"])
        if config == "rise_solution_pairs":
            assert all(p.endswith("<|im_start|>assistant\n") for p in mapped["prompt"])


def test_the_trl_check_rejects_malformed_export_rows(export_dir: Path):
    tokenizer = offline_chat_tokenizer()
    row = _rows(export_dir, "lemma_messages", "train")[0]
    del row["messages"][1]["role"]
    with pytest.raises(ValueError, match="role"):
        check_trl_row(row, tokenizer)
    pair = _rows(export_dir, "rise_solution_pairs", "train")[0]
    pair["chosen"] = pair["chosen"][0]["content"]  # a string beside a conversational prompt
    with pytest.raises(ValueError, match="mixes"):
        check_trl_row(pair, tokenizer)
    steps = _rows(export_dir, "prm", "train")[0]
    steps["labels"] = steps["labels"][:-1]
    with pytest.raises(ValueError, match="labels"):
        check_trl_row(steps, tokenizer)


def test_card_front_matter_lists_every_config_with_one_default(export_dir: Path):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(export_dir / "README.md")
    data = card.data.to_dict()
    configs = data["configs"]
    assert [c["config_name"] for c in configs] == list(export_files(export_dir))
    assert sum(bool(c.get("default")) for c in configs) == 1
    assert sorted(data["license"]) == ["cc0-1.0", "mit"]
    assert data["task_categories"] == ["text-generation"]
    assert data["size_categories"] and data["tags"]
    for config in configs:
        for entry in config["data_files"]:
            assert list(export_dir.glob(entry["path"])), entry
    body = card.text
    for heading in ("Mistakes by error type", "Decontamination", "Sources and licenses"):
        assert heading in body
    assert "test.jsonl" in body and "13-gram" in body
    assert "arXiv:2503.17439" in body and "arXiv:2410.06638" in body


def test_no_problem_is_in_two_splits(export_dir: Path):
    split_of: dict[str, str] = {}
    for config, splits in export_files(export_dir).items():
        for split in splits:
            for row in _rows(export_dir, config, split):
                assert split_of.setdefault(row["problem_id"], split) == split, config


def test_no_decontamination_question_reaches_train(export_dir: Path, shards: Path):
    benchmark = {json.loads(line)["question"] for line in GSM8K_TEST.read_text().splitlines()}
    index = Contamination(benchmark, n=13)
    questions = dict(catalog.query(shards, "select problem_id, question from problems")[1])
    sources = dict(catalog.query(shards, "select problem_id, source from problems")[1])
    train_sources = set()
    for config in export_files(export_dir):
        for row in _rows(export_dir, config, "train"):
            question = questions[row["problem_id"]]
            assert question not in benchmark, config
            assert index.match(question) is None, config
            train_sources.add(sources[row["problem_id"]])
    assert train_sources == {"synthetic"}  # every GSM8K test question was caught
    manifest = read_manifest(export_dir)
    assert manifest["decontamination"]["dropped_rows"] > 0
    assert manifest["decontamination"]["questions"] == len(benchmark)
    # ... while the GSM8K problems assigned to test are kept for evaluation.
    assert any(sources[r["problem_id"]] == "gsm8k" for r in _rows(export_dir, "prm", "test"))


def test_no_exported_row_carries_calculator_markup(export_dir: Path):
    for config, splits in export_files(export_dir).items():
        for files in splits.values():
            for path in files:
                text = json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False)
                assert "<<" not in text and ">>" not in text, config


def test_rise_step_pairs_differ_only_inside_the_edit_span(export_dir: Path):
    rows = _rows(export_dir, "rise_step_pairs")
    assert rows
    for row in rows:
        chosen, rejected = row["chosen"], row["rejected"]
        a, b = row["chosen_edit_start"], row["chosen_edit_end"]
        c, d = row["rejected_edit_start"], row["rejected_edit_end"]
        assert chosen != rejected
        assert chosen[:a] == rejected[:c] and chosen[b:] == rejected[d:]
        assert chosen[a:b] != rejected[c:d]


def test_lemma_trajectories_end_in_the_verified_answer(export_dir: Path, shards: Path):
    mistakes = _mistakes(shards)
    rows = _rows(export_dir, "lemma_messages")
    assert {r["correction"] for r in rows} == {"fix_continue", "fresh_restart"}
    for row in rows:
        trajectory = row["messages"][-1]["content"]
        reference = mistakes[row["mistake_id"]]["reference_answer"]
        assert verify_answer(extract_answer(trajectory), reference).verdict == "correct", row
        assert row["reflection"] in trajectory


def test_lema_output_names_the_recorded_wrong_step(export_dir: Path, shards: Path):
    mistakes = _mistakes(shards)
    for row in _rows(export_dir, "lema_completion"):
        step = mistakes[row["mistake_id"]]["first_error_step"] + 1
        assert row["completion"].startswith(f"Incorrect step: Step {step}\n"), row
        assert f"Step {step}: " in row["prompt"]
        corrected = row["completion"].split("Correct solution:\n", 1)[1]
        assert corrected.startswith("...\n" if step > 1 else f"Step {step}: ")


def test_prm_labels_turn_false_at_the_first_error(export_dir: Path):
    for row in _rows(export_dir, "prm"):
        labels, first = row["labels"], row["first_error_step"]
        assert len(labels) == len(row["completions"])
        if first == -1:
            assert all(labels) and row["mistake_id"] is None
        else:
            assert labels == [i < first for i in range(len(labels))]


def test_retry_rows_carry_the_injected_step_before_back(export_dir: Path, shards: Path):
    mistakes = _mistakes(shards)
    for row in _rows(export_dir, "retry"):
        mistake = mistakes[row["mistake_id"]]
        wrong_step = strip_annotations(mistake["wrong_steps"][mistake["first_error_step"]])
        assert f"{wrong_step} [BACK] " in row["completion"]
        assert row["completion"].count("[BACK]") == row["retries"] >= 1


def test_rerun_under_prefect_gives_byte_identical_files(
    export_dir: Path, shards: Path, tmp_path: Path
):
    # The fixture's export ran without a Prefect API; this one runs as the Prefect flow.
    again = tmp_path / "again"
    summary = run_export(
        prefect=True,
        recipes=ALL_RECIPES,
        shards=str(shards),
        out=str(again),
        decontaminate=[str(GSM8K_TEST)],
    )
    assert summary["tracking"].startswith(("Prefect API at", "temporary Prefect server at"))

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    first, second = digests(export_dir), digests(again)
    # parquet per config and split, card, manifest, exclusions, the report and its 3 charts
    assert len(first) == 10 * 2 + 3 + 4
    assert first == second


def test_filters_and_caps(shards: Path, tmp_path: Path):
    out = tmp_path / "calc"
    summary = run_export(
        recipes=["lema", "kto"],
        shards=str(shards),
        out=str(out),
        error_types=["calculation"],
        max_per_problem=1,
        test_fraction=0.5,
    )
    assert set(summary["configs"]) == {"lema_completion", "lema_messages", "kto"}
    for config in summary["configs"]:
        seen: set[tuple[str, str]] = set()
        for split in ("train", "test"):
            for row in _rows(out, config, split):
                assert row["error_type"] in ("calculation", None)
                assert (row["problem_id"], split) not in seen
                seen.add((row["problem_id"], split))
    assert any(key.endswith("max_per_problem/over_limit") for key in summary["excluded"])
    assert any(key.endswith("filter/error_type_not_selected") for key in summary["excluded"])


def test_export_errors_name_the_fix(shards: Path, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(app, ["export", "--recipe", "lemma,nope", "--shards", str(shards)])
    assert result.exit_code == 2 and "unknown recipe" in result.output
    result = runner.invoke(
        app, ["export", "--recipe", "kto", "--shards", str(shards), "--origins", "natural"]
    )
    assert result.exit_code == 2 and "no rows left" in result.output
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "README.md").write_text("my own card")
    result = runner.invoke(
        app, ["export", "--recipe", "kto", "--shards", str(shards), "--out", str(foreign)]
    )
    assert result.exit_code == 2 and "errata did not write" in result.output
    assert (foreign / "README.md").read_text() == "my own card"
    assert sorted(p.name for p in foreign.iterdir()) == ["README.md"]
    missing = tmp_path / "nothing.jsonl"
    result = runner.invoke(
        app,
        ["export", "--recipe", "kto", "--shards", str(shards), "--decontaminate", str(missing)],
    )
    assert result.exit_code == 2 and "nothing.jsonl" in re.sub(r"[\s│]+", "", result.output)
    result = runner.invoke(
        app, ["query", "select 1", "--shards", str(shards), "--export", str(foreign)]
    )
    assert result.exit_code == 2 and "not an errata export" in result.output


def test_cli_export_shows_rows_and_query_sees_the_configs(shards: Path, tmp_path: Path):
    out = tmp_path / "lema"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["export", "--recipe", "lema", "--shards", str(shards), "--out", str(out), "--show", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "Incorrect step: Step" in result.output
    result = runner.invoke(
        app,
        [
            "query",
            "select count(*) from lema_messages where split = 'train'",
            "--shards",
            str(shards),
            "--export",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = pq.read_metadata(out / "lema_messages" / "train-00000-of-00001.parquet").num_rows
    assert str(expected) in result.output
