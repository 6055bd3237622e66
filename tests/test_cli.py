"""The file-checking and query commands, run through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from errata.flows.cli import app
from errata.generators.domains import StageConfig, run_batch
from errata.generators.sources.synthetic import SyntheticConfig, generate
from errata.store.shards import write_records
from tests.conftest import GSM8K_MODEL_SOLUTIONS, MODEL_KEYS

runner = CliRunner()


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_verify_answers_writes_a_verdict_per_line(tmp_path: Path) -> None:
    src = _jsonl(
        tmp_path / "preds.jsonl",
        [
            {"prediction": "so she makes $18.\n#### 18", "reference": "18", "id": 1},
            {"prediction": "The answer is 17", "reference": "#### 18"},
            {"prediction": "\\boxed{\\frac{1}{2}}", "reference": "0.5"},
            {"prediction": "I am not sure.", "reference": "3"},
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["verify-answers", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert [r["verdict"] for r in rows] == ["correct", "incorrect", "correct", "unparseable"]
    assert rows[0]["id"] == 1 and rows[0]["predicted_answer"] == "18"


def test_verify_answers_names_line_and_field(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "preds.jsonl", [{"prediction": "1", "reference": "1"}, {"x": 1}])
    result = runner.invoke(app, ["verify-answers", str(src)])
    assert result.exit_code == 2
    assert f"{src}:2" in result.output and "'prediction'" in result.output


def test_verify_steps_marks_the_first_wrong_step(tmp_path: Path) -> None:
    src = _jsonl(
        tmp_path / "steps.jsonl",
        [
            {"steps": ["She has 3 + 4 = <<3+4=7>>7 eggs.", "She sells 7 * 2 = 15 dollars."]},
            {"steps": ["3 + 4 = 7", "7 * 2 = 14", "#### 14"], "question": "q"},
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["verify-steps", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    first, second = _read(out)
    assert first["first_error_step"] == 1
    assert [v["verdict"] for v in first["step_verdicts"]] == ["ok", "wrong"]
    assert second["first_error_step"] is None


def test_verify_steps_on_real_wrong_model_solutions(tmp_path: Path) -> None:
    rows = []
    for line in GSM8K_MODEL_SOLUTIONS.read_text().splitlines():
        record = json.loads(line)
        for key in MODEL_KEYS:
            if not record[key]["is_correct"]:
                steps = [s for s in record[key]["solution"].splitlines() if s.strip()]
                rows.append({"steps": steps})
    src = _jsonl(tmp_path / "wrong.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert runner.invoke(app, ["verify-steps", str(src), "--out", str(out)]).exit_code == 0
    annotated = _read(out)
    slips = [r["first_error_step"] for r in annotated if r["first_error_step"] is not None]
    assert len(annotated) == 3275
    # Measured: 175 of 3,275 wrong solutions (5.3%) contain an arithmetic slip.
    assert 0.04 <= len(slips) / len(annotated) <= 0.07


def test_query_and_stats_read_the_shards(tmp_path: Path) -> None:
    problems = generate(5, SyntheticConfig(seed=2))
    result = run_batch(problems, StageConfig(seed=2), "run-cli")
    write_records(tmp_path, "problems", "p", "b0", problems)
    write_records(tmp_path, "mistakes", "c", "b0", result.mistakes)
    write_records(tmp_path, "rejects", "c", "b0", result.rejects)
    query = runner.invoke(
        app, ["query", "select count(*) as n from mistakes", "--shards", str(tmp_path)]
    )
    assert query.exit_code == 0 and str(len(result.mistakes)) in query.output
    stats = runner.invoke(app, ["stats", "--shards", str(tmp_path)])
    assert stats.exit_code == 0
    assert "calculation" in stats.output and "synthetic" in stats.output
    bad = runner.invoke(app, ["query", "select nope", "--shards", str(tmp_path)])
    assert bad.exit_code == 2 and "nope" in bad.output
