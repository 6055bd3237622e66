"""Bad input is one line, never a traceback (issue 8).

A corpus of broken files goes through every command that takes a file. Each case must exit 2
with at most one line of output naming the file (and line, where there is one) or the option,
and leave the disk as it was: no shard root or export folder created, an existing --out file
with its bytes. The bulk runs in-process (CliRunner); a subset runs the installed `errata`.
"""

from __future__ import annotations

import builtins
import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from errata.flows.cli import app
from errata.generators.recipes.select import Contamination
from errata.generators.sources.errors import BadInputError
from errata.generators.sources.files import iter_json_lines, load_mapped, read_records
from errata.generators.sources.gsm8k import load_gsm8k

runner = CliRunner()
ERRATA = Path(sys.executable).parent / "errata"
PREVIOUS_OUT = b'{"kept": "as it was"}\n'
# A record every command accepts, so that a case's later line is the first one at fault.
GOOD_RECORD = {
    "question": "How many?",
    "answer": "2 + 2 = 4\n#### 4",
    "steps": ["2 + 2 = 4"],
    "prediction": "4",
    "reference": "4",
}


@dataclass(frozen=True)
class Case:
    """One broken input: its file name, how to make it, and the line an error must name."""

    name: str
    make: Callable[[Path], None]
    line: int | None = None


def _text(content: str | bytes) -> Callable[[Path], None]:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return lambda path: path.write_bytes(data)


def _json_line(**fields: object) -> str:
    return json.dumps({**GOOD_RECORD, **fields}) + "\n"


def _truncated_gzip(path: Path) -> None:
    whole = gzip.compress(_json_line().encode() * 200)
    path.write_bytes(whole[: len(whole) // 2])


CASES = {
    "deep-json": Case("deep.jsonl", _text(_json_line() + "[" * 100_000 + "\n"), line=2),
    "deep-json-array": Case("deep.json", _text("[" * 100_000 + "1" + "]" * 100_000), line=1),
    "huge-integer": Case("huge.jsonl", _text('{"question": ' + "9" * 5000 + "}\n"), line=1),
    "lone-surrogate": Case("surrogate.jsonl", _text('{"question": "\\ud800 x"}\n'), line=1),
    "invalid-utf8-json-array": Case("bytes.json", _text(b'[{"question": "\xff"}]'), line=1),
    "not-gzip": Case("plain.jsonl.gz", _text(_json_line())),
    "truncated-gzip": Case("cut.jsonl.gz", _truncated_gzip),
    "not-parquet": Case("fake.parquet", _text(b"PAR1 not really")),
    "empty-file": Case("empty.jsonl", _text("")),
    "blank-lines-only": Case("blank.jsonl", _text("\n  \n")),
    "empty-json-array": Case("empty.json", _text("[]")),
    "directory": Case("folder.jsonl", lambda path: path.mkdir()),
    "fifo": Case("pipe.jsonl", lambda path: os.mkfifo(path)),
    "missing-path": Case("absent.jsonl", lambda path: None),
    "non-object-line": Case("list.jsonl", _text(_json_line() + "[1, 2]\n"), line=2),
    "wrong-field-type": Case("typed.jsonl", _text('{"question": 5, "steps": 3}\n'), line=1),
    "bad-json-line": Case("syntax.jsonl", _text(_json_line() + "{oops\n"), line=2),
}


def _file_args(path: Path, out: Path, store: Path | None = None) -> dict[str, list[str]]:
    """Every command that takes a file, run on `path`; what they would write goes under `out`.

    `export --decontaminate` is among them when a shard root `store` is given.
    """
    shards = str(out / "shards")
    fields = ["--question-field", "question", "--solution-field", "answer"]
    args = {
        "run-gsm8k": ["run", "--source", "gsm8k", "--path", str(path), "--shards", shards],
        "run-file": ["run", "--source", "file", "--path", str(path), *fields, "--shards", shards],
        "verify-answers": ["verify-answers", str(path), "--out", str(out / "answers.jsonl")],
        "verify-steps": ["verify-steps", str(path), "--out", str(out / "steps.jsonl")],
    }
    if store is not None:
        export = ["export", "--decontaminate", str(path), "--shards", str(store)]
        args["export-decontaminate"] = [*export, "--out", str(out / "export")]
    return args


COMMANDS = ["run-gsm8k", "run-file", "verify-answers", "verify-steps", "export-decontaminate"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real shard root, made once: `errata run -n 20`."""
    shards = tmp_path_factory.mktemp("store") / "shards"
    result = runner.invoke(app, ["run", "-n", "20", "--shards", str(shards)])
    assert result.exit_code == 0, result.output
    return shards


def _snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under `root` with its mtime and, for files, its bytes."""
    return {
        str(path.relative_to(root)): (
            path.lstat().st_mtime_ns,
            path.read_bytes() if path.is_file() else None,
        )
        for path in root.rglob("*")
    }


def _assert_one_line_error(output: str, exit_code: int, names: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert exit_code == 2, output
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert lines[0].startswith("error: ") and re.search(names, lines[0]), lines[0]


def _where(case: Case) -> str:
    """What the error line must name: the file, and its line when there is one."""
    name = re.escape(case.name)
    return name if case.line is None else rf"{name}:( line )?{case.line}\b"


def _prepare(tmp_path: Path, case: Case) -> tuple[Path, Path]:
    """The case's file and an output folder holding an existing --out file per command."""
    path = tmp_path / case.name
    case.make(path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "answers.jsonl").write_bytes(PREVIOUS_OUT)
    (out / "steps.jsonl").write_bytes(PREVIOUS_OUT)
    return path, out


@pytest.mark.parametrize(
    ("case_id", "command"),
    [(c, m) for c in CASES for m in COMMANDS],
)
def test_bad_file_is_one_line_and_changes_nothing(
    case_id: str, command: str, tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    case = CASES[case_id]
    path, out = _prepare(tmp_path, case)
    args = _file_args(path, out, store)
    before = _snapshot(tmp_path)
    store_before = _snapshot(store)
    result = runner.invoke(app, args[command])
    _assert_one_line_error(result.output, result.exit_code, _where(case))
    assert _snapshot(tmp_path) == before
    assert _snapshot(store) == store_before


# --- a representative subset through the installed console script ------------------------

SUBPROCESS_CASES = [
    ("deep-json", "verify-answers"),
    ("lone-surrogate", "verify-steps"),
    ("truncated-gzip", "run-file"),
    ("fifo", "verify-steps"),
    ("huge-integer", "run-gsm8k"),
    ("not-parquet", "run-file"),
]


def _console_script(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ERRATA), *args],
        cwd=cwd,
        env=os.environ | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("case_id", "command"), SUBPROCESS_CASES)
def test_bad_file_through_the_console_script(case_id: str, command: str, tmp_path: Path) -> None:
    case = CASES[case_id]
    path, out = _prepare(tmp_path, case)
    before = _snapshot(tmp_path)
    process = _console_script(_file_args(path, out)[command], tmp_path)
    _assert_one_line_error(process.stdout + process.stderr, process.returncode, _where(case))
    assert _snapshot(tmp_path) == before


def test_option_error_through_the_console_script(tmp_path: Path) -> None:
    process = _console_script(["run", "-n", "0"], tmp_path)
    _assert_one_line_error(process.stdout + process.stderr, process.returncode, "--limit")
    assert list(tmp_path.iterdir()) == []


# --- every reader, called directly ---------------------------------------------------------


def _contamination(path: Path) -> object:
    return Contamination.from_files([path])


READERS: dict[str, Callable[[Path], object]] = {
    "iter_json_lines": lambda path: list(iter_json_lines(path)),
    "read_records": lambda path: list(read_records(path)),
    "load_mapped": lambda path: load_mapped(path, solution_field="answer"),
    "load_gsm8k": lambda path: load_gsm8k(str(path)),
    "contamination": _contamination,
}


READER_ACCEPTS = {
    ("wrong-field-type", "iter_json_lines"): "reads objects; fields are its callers' to check",
    ("wrong-field-type", "read_records"): "reads objects; fields are its callers' to check",
}


@pytest.mark.parametrize(
    ("case_id", "reader"),
    [(c, r) for c in CASES for r in READERS if (c, r) not in READER_ACCEPTS],
)
def test_every_reader_raises_a_value_error_naming_the_file(
    case_id: str, reader: str, tmp_path: Path
) -> None:
    case = CASES[case_id]
    path = tmp_path / case.name
    case.make(path)
    # FileNotFoundError is the decontamination reader's word for a missing benchmark file.
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        READERS[reader](path)
    assert re.search(_where(case), str(info.value)), str(info.value)
    assert "\n" not in str(info.value)


# --- an unreadable file ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run-file", "verify-answers", "verify-steps"])
def test_unreadable_file_is_one_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, which reads a chmod 000 file, so open() itself is made to refuse.
    path, out = _prepare(tmp_path, Case("locked.jsonl", _text(_json_line())))
    real_open = builtins.open

    def refusing_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", refusing_open)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, _file_args(path, out)[command])
    _assert_one_line_error(result.output, result.exit_code, r"locked\.jsonl: .*Permission denied")
    assert _snapshot(tmp_path) == before


# --- options -------------------------------------------------------------------------------

OPTION_CASES = {
    "limit-zero": (["run", "-n", "0"], r"--limit"),
    "limit-negative": (["run", "-n", "-5"], r"--limit"),
    "limit-zero-gsm8k": (["run", "--source", "gsm8k", "--path", "g.jsonl", "-n", "0"], "--limit"),
    "verify-answers-workers-zero": (["verify-answers", "g.jsonl", "--workers", "0"], "--workers"),
    "verify-answers-timeout-zero": (["verify-answers", "g.jsonl", "--timeout", "0"], "--timeout"),
    "unknown-option": (["run", "--bogus"], "--bogus"),
    "verify-out-in-missing-folder": (
        ["verify-steps", "steps.jsonl", "--out", "no/such/out.jsonl"],
        r"--out no/such/out\.jsonl",
    ),
    "decontaminate-directory": (["export", "--decontaminate", "."], r"\.: .*a folder"),
    "stats-missing-shards": (["stats", "--shards", "nowhere"], "nowhere"),
    "query-missing-shards": (["query", "select 1", "--shards", "nowhere"], "nowhere"),
}


@pytest.mark.parametrize("case_id", list(OPTION_CASES))
def test_bad_option_is_one_line_naming_it(
    case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.jsonl").write_text(_json_line())
    (tmp_path / "steps.jsonl").write_text('{"steps": ["1 + 1 = 2"]}\n')
    args, names = OPTION_CASES[case_id]
    before = _snapshot(tmp_path)
    result = runner.invoke(app, args)
    _assert_one_line_error(result.output, result.exit_code, names)
    assert _snapshot(tmp_path) == before


def test_export_out_that_is_a_file_is_one_line(tmp_path: Path, store: Path) -> None:
    out = tmp_path / "taken"
    out.write_bytes(PREVIOUS_OUT)
    before = _snapshot(tmp_path)
    store_before = _snapshot(store)
    result = runner.invoke(app, ["export", "--shards", str(store), "--out", str(out)])
    _assert_one_line_error(result.output, result.exit_code, r"taken")
    assert _snapshot(tmp_path) == before
    assert _snapshot(store) == store_before


# --- verify-steps: an over-long number is that step's verdict, not the file's failure ---------


def test_overlong_number_leaves_only_its_step_unchecked(tmp_path: Path) -> None:
    steps = ["2 + 2 = 4", "9" * 5000 + " = 1", "3 * 3 = 9"]
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"steps": steps}) + "\n" + json.dumps({"steps": ["1 = 1"]}) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["verify-steps", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    assert [v["verdict"] for v in first["step_verdicts"]] == ["ok", "unchecked", "ok"]
    assert second["first_error_step"] is None


def test_bad_input_error_is_a_value_error() -> None:
    # The CLI reports every ValueError from a reader as one line; BadInputError must be one.
    assert issubclass(BadInputError, ValueError)


def test_verify_replaces_out_only_when_done_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "good.jsonl"
    path.write_text(_json_line())
    out = tmp_path / "out.jsonl"
    out.write_bytes(PREVIOUS_OUT)
    out.chmod(0o640)
    result = runner.invoke(app, ["verify-answers", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["verdict"] == "correct"
    assert out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl", "out.jsonl"]
