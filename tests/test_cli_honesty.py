"""What the CLI promises a new user on a fresh clone (issue 7, "a fast, honest CLI").

Bad input or a bad option fails before any work, in one line naming file and line, exit status
2, with nothing written and Prefect never imported; a missing or empty shard root is an error,
not zero rows; `--shards` always names a shard root; every stage is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from errata.flows.cli import app
from errata.generators.domains import DOMAINS, error_types
from errata.generators.sources.synthetic import generate
from errata.schemas.records import ReasonCount, Run, StageCount
from errata.store import catalog
from errata.store.shards import write_records

runner = CliRunner()

# Runs the real CLI in a fresh interpreter, then records which heavy modules it imported.
PROBE = """
import json, sys
from errata.flows.cli import app
try:
    app(sys.argv[2:], prog_name="errata")
finally:
    heavy = [m for m in ("prefect", "datasets", "torch") if m in sys.modules]
    with open(sys.argv[1], "w") as handle:
        json.dump(heavy, handle)
"""


def _errata(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `errata ARGS` in `cwd` with its own PREFECT_HOME; returns the process and the heavy
    modules it imported."""
    modules_file = cwd / "imported-modules.json"
    env = os.environ | {"PREFECT_HOME": str(cwd / "prefect-home"), "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)  # no Prefect API: a run is not tracked, and says so
    process = subprocess.run(
        [sys.executable, "-c", PROBE, str(modules_file), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return process, json.loads(modules_file.read_text())


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _mapped_file(path: Path, n: int, bad_line: int | None = None) -> Path:
    """Synthetic problems under other field names, solutions without a final `#### n` line."""
    lines = []
    for problem in generate(n):
        steps = problem.reference_solution.rsplit("\n", 1)[0]
        row = {"problem": problem.question, "worked": steps, "final": int(problem.reference_answer)}
        lines.append(json.dumps(row))
    if bad_line is not None:
        lines.insert(bad_line - 1, '{"problem": "How many?", "worked": ')
    path.write_text("\n".join(lines) + "\n")
    return path


# --- bug 1: bad input stops before Prefect, in one line ------------------------------------


def test_bad_line_fails_in_one_line_before_prefect_and_writes_nothing(tmp_path: Path) -> None:
    good = json.dumps({"question": "Q?", "answer": "1 + 1 = <<1+1=2>>2\n#### 2"})
    (tmp_path / "dirty.jsonl").write_text(f"{good}\n{good}\n{{not json\n{good}\n")
    process, heavy = _errata(["run", "--source", "gsm8k", "--path", "dirty.jsonl"], tmp_path)
    output = process.stdout + process.stderr
    assert process.returncode == 2, output
    assert len(_lines(output)) <= 3, output
    assert "Traceback" not in output
    assert _lines(output)[0].startswith("error: dirty.jsonl:3: expected a JSON object"), output
    assert heavy == [], f"imported before validation: {heavy}"
    assert not (tmp_path / "prefect-home").exists(), "a Prefect server or client started"
    assert not (tmp_path / "data").exists(), "a shard folder was created"


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = _mapped_file(tmp_path / "mine.jsonl", 3)
    process, heavy = _errata(["run", "--source", "file", "--path", str(path)], tmp_path)
    assert process.returncode == 2
    assert _lines(process.stderr) == [
        f"error: {path}:1: expected field 'question' (string), got nothing"
    ]
    assert heavy == [] and not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--source", "gsm8k", "--path", "absent.jsonl"], "absent.jsonl: expected an existing"),
        (["--source", "gsm8k", "--path", "."], ".: expected an existing file"),
        (["--source", "file"], "--source file needs --path"),
        (["--path", "x.jsonl"], "--path: the synthetic source is built in"),
        (["--question-field", "problem"], "--question-field: only --source file"),
    ],
)
def test_wrong_paths_and_option_combinations_fail_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result.output)
    assert line.startswith(f"error: {expected}")
    assert list(tmp_path.iterdir()) == []


def test_numeric_options_are_checked_by_typer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for option in ("--limit", "--batch-size", "--workers"):
        result = runner.invoke(app, ["run", option, "0"])
        assert result.exit_code == 2 and option in result.output
    assert list(tmp_path.iterdir()) == []


# --- bug 3: unknown error types -----------------------------------------------------------


def test_unknown_error_types_fail_with_the_allowed_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "--error-types", "counting,bogus"])
    assert result.exit_code == 2
    (line,) = _lines(result.output)
    assert line.startswith("error: --error-types: no rule for counting, bogus; expected any of")
    assert all(name in line for name in error_types())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--recipe", "lemma,bogus", "error: --recipe: unknown recipe bogus; expected any of lemma"),
        ("--origins", "human", "error: --origins: unknown origin human; expected any of"),
        ("--error-types", "nope", "error: --error-types: unknown error type nope; expected"),
    ],
)
def test_export_names_fail_before_prefect(
    tmp_path: Path, option: str, value: str, expected: str
) -> None:
    process, heavy = _errata(["export", option, value], tmp_path)
    assert process.returncode == 2
    (line,) = _lines(process.stdout + process.stderr)
    assert line.startswith(expected)
    assert heavy == [] and not (tmp_path / "data").exists()


# --- bug 4: a missing or empty shard root is an error --------------------------------------


@pytest.mark.parametrize("command", [["query", "select 1"], ["stats"], ["export"]])
def test_missing_or_empty_shard_root_is_an_error(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nope"
    result = runner.invoke(app, [*command, "--shards", str(missing)])
    assert result.exit_code == 2
    (line,) = _lines(result.output)
    assert line == f"error: {missing}: no such shard folder; run errata run --shards {missing} " + (
        "first, or pass --shards DIR"
    )
    assert not missing.exists()

    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    result = runner.invoke(app, [*command, "--shards", str(empty)])
    assert result.exit_code == 2
    (line,) = _lines(result.output)
    assert line.startswith(f"error: {empty} holds no errata shards")


# --- bug 6: one name per meaning ----------------------------------------------------------


@pytest.mark.parametrize("command", [["run"], ["query", "select 1"], ["stats"]])
def test_out_is_not_a_shard_root(tmp_path: Path, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "No such option: --out" in result.output
    assert not (tmp_path / "x").exists()


def test_every_shard_reading_command_takes_shards() -> None:
    for command in ("run", "query", "stats", "export"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert "--shards" in result.output, command


# --- bug 5: every stage, with rejects by reason and seconds --------------------------------


def _run_record(invocation: str, finished_at: str, counts: list[StageCount]) -> Run:
    return Run(
        run_id="run-stats",
        invocation_id=invocation,
        flow="generate",
        parameters="{}",
        started_at=finished_at,
        finished_at=finished_at,
        wall_seconds=1.0,
        batches_total=1,
        batches_skipped=0,
        counts=counts,
        errata_version="test",
    )


def test_stats_shows_the_stages_of_the_latest_invocation_of_each_run(tmp_path: Path) -> None:
    source_only = [StageCount(stage="source", n_in=9, n_out=9, n_rejected=0)]
    reasons = [("no_site", 3), ("answer_unchanged", 30), ("implausible_value", 12), ("zzz", 1)]
    every_stage = [
        StageCount(
            stage=stage,
            n_in=100,
            n_out=54 if stage == "inject" else 100,
            n_rejected=46 if stage == "inject" else 0,
            rejected_by_reason=[ReasonCount(reason=r, n=n) for r, n in reasons]
            if stage == "inject"
            else [],
            seconds=0.25,
        )
        for stage in ("source", *DOMAINS["math"].stages)
    ]
    write_records(
        tmp_path, "runs", "c", "first", [_run_record("a", "2026-01-01T10:00", every_stage)]
    )
    write_records(
        tmp_path, "runs", "c", "again", [_run_record("b", "2026-01-02T10:00", every_stage)]
    )
    write_records(
        tmp_path, "runs", "c", "older", [_run_record("c", "2025-12-31T10:00", source_only)]
    )
    columns, rows = catalog.stats_with_columns(tmp_path)["stages_of_latest_runs"]
    assert columns == ["run_id", "stage", "in", "kept", "rejected", "top_reject_reasons", "seconds"]
    assert [row[1] for row in rows] == ["source", *DOMAINS["math"].stages]
    inject = rows[[row[1] for row in rows].index("inject")]
    assert inject == (
        "run-stats",
        "inject",
        100,
        54,
        46,
        "answer_unchanged 30, implausible_value 12, no_site 3",
        0.25,
    )

    process, _ = _errata(["stats", "--shards", str(tmp_path)], tmp_path)
    assert process.returncode == 0, process.stderr
    assert "stages of latest runs" in process.stdout
    assert "answer_unchanged 30, implausible_value 12, no_site 3" in process.stdout


# --- bugs 1, 2 and 5 end to end: a mapped file with a bad line, through the real flow -------


MAPPED_RUN_ARGS = [
    "run",
    "--source",
    "file",
    "--path",
    "mine.jsonl",
    "--question-field",
    "problem",
    "--solution-field",
    "worked",
    "--answer-field",
    "final",
    "--skip-bad",
    "--shards",
    "shards",
]


@pytest.fixture(scope="module")
def mapped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A mapped file with a bad line at line 4, run with --skip-bad: (folder, stdout)."""
    folder = tmp_path_factory.mktemp("mapped-run")
    _mapped_file(folder / "mine.jsonl", 30, bad_line=4)
    process, heavy = _errata(MAPPED_RUN_ARGS, folder)
    assert process.returncode == 0, process.stdout + process.stderr
    # No Prefect API is configured, so the run is not tracked and never needs Prefect.
    assert heavy == [], f"an untracked run imported {heavy}"
    return folder, process.stdout


def _stage_rows(output: str) -> dict[str, list[str]]:
    """The stages table of a run summary: stage -> [in, kept, rejected, reasons, seconds]."""
    stages = ("source", *DOMAINS["math"].stages)
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines()]
    return {row[0]: row[1:] for row in cells if row and row[0] in stages}


def test_mapped_file_without_final_lines_yields_mistakes(mapped_run: tuple[Path, str]) -> None:
    folder, _ = mapped_run
    shards = folder / "shards"
    _, ((mistakes,),) = catalog.query(shards, "select count(*) from mistakes")
    assert mistakes >= 30  # several error types apply to each of the 30 problems
    _, reasons = catalog.query(shards, "select reason, count(*) from rejects group by 1")
    assert "no_final_answer" not in dict(reasons)


def test_skip_bad_sends_the_bad_line_to_rejects(mapped_run: tuple[Path, str]) -> None:
    folder, _ = mapped_run
    _, rows = catalog.query(
        folder / "shards", "select item_id, reason from rejects where stage = 'source'"
    )
    assert rows == [("mine.jsonl:4", "bad_json")]


def test_run_summary_prints_every_stage_with_rejects_and_seconds(
    mapped_run: tuple[Path, str],
) -> None:
    _, output = mapped_run
    header = next(line for line in output.splitlines() if "stage" in line and "kept" in line)
    for column in ("in", "kept", "rejected", "top reject reasons", "seconds"):
        assert column in header
    rows = _stage_rows(output)
    assert list(rows) == ["source", *DOMAINS["math"].stages]
    assert rows["source"][:4] == ["31", "30", "1", "bad_json 1"]
    assert int(rows["inject"][2]) > 0  # not every error type has a site in every problem
    assert all(float(row[4]) >= 0 for row in rows.values())
    assert "--shards shards" in output  # the printed query names the same shard root


def test_run_says_it_was_not_tracked_without_a_prefect_api(mapped_run: tuple[Path, str]) -> None:
    folder, output = mapped_run
    (line,) = [line for line in output.splitlines() if line.startswith("Prefect tracking:")]
    assert line.startswith("Prefect tracking: none")
    assert not list((folder / "prefect-home").glob("*.db")), "a Prefect server database appeared"


def test_resumed_run_reports_every_stage_as_the_first_did(mapped_run: tuple[Path, str]) -> None:
    folder, first = mapped_run
    process, _ = _errata(MAPPED_RUN_ARGS, folder)
    assert process.returncode == 0, process.stderr
    assert "1 batches (1 already done)" in process.stdout
    first_rows, again_rows = _stage_rows(first), _stage_rows(process.stdout)
    # in, kept, rejected and reasons come from the books the first run wrote.
    assert {k: v[:4] for k, v in again_rows.items()} == {k: v[:4] for k, v in first_rows.items()}


def test_unknown_runner_fails_before_prefect(tmp_path: Path) -> None:
    process, heavy = _errata(["run", "--runner", "spark"], tmp_path)
    assert process.returncode == 2
    assert "'spark' is not one of 'local', 'dask'" in process.stderr
    assert heavy == [] and not (tmp_path / "data").exists()
