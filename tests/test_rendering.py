"""Training text without calculator markup, and the final answer in the format asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest
from math_verify import parse, verify

from errata.generators.domains import StageConfig, run_batch
from errata.generators.recipes import BUILDERS
from errata.generators.recipes.common import RecipeSettings
from errata.generators.rendering import (
    ANSWER_FORMATS,
    RenderOptions,
    answer_line,
    render_text,
    strip_annotations,
)
from errata.generators.solutions import split_steps
from errata.generators.sources.gsm8k import load_gsm8k
from errata.generators.sources.synthetic import SyntheticConfig, generate
from errata.generators.verify.steps import check_steps
from errata.schemas.records import Mistake
from tests.conftest import GSM8K_TEST


@pytest.mark.parametrize(
    ("step", "rendered"),
    [
        (
            "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.",
            "Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
        ),
        ("She makes 9 * 2 = $<<9*2=18>>18 every day.", "She makes 9 * 2 = $18 every day."),
        ("He has <<5*4=20>>20 apples.", "He has 5 * 4 = 20 apples."),
        ("It costs 2*(3+4)=$<<2*(3+4)=14>>14.", "It costs 2*(3+4)=$14."),
        (
            "First 3+2=<<3+2=5>>5, then <<5*6=30>>30 in all.",
            "First 3+2=5, then 5 * 6 = 30 in all.",
        ),
        ("No markup here: 7 + 1 = 8.", "No markup here: 7 + 1 = 8."),
    ],
)
def test_markup_is_dropped_and_the_arithmetic_stays_written(step: str, rendered: str) -> None:
    assert strip_annotations(step) == rendered


def test_answer_formats_and_line_count() -> None:
    text = "A = <<2+2=4>>4 pens.\nB = <<4*3=12>>12.\n#### 12"
    lines = {
        f: render_text(text, RenderOptions(answer_format=f)).splitlines() for f in ANSWER_FORMATS
    }
    assert lines["gsm8k"] == ["A = 2 + 2 = 4 pens.", "B = 4 * 3 = 12.", "#### 12"]
    assert lines["boxed"][-1] == "The final answer is $\\boxed{12}$."
    assert lines["sentence"][-1] == "The answer is 12."
    kept = render_text(text, RenderOptions(keep_annotations=True))
    assert kept == text
    with pytest.raises(ValueError, match="expected one of gsm8k, boxed, sentence"):
        answer_line("12", "latex")


def test_every_gsm8k_reference_renders_clean_and_still_checks(gsm8k_rows: list[dict]) -> None:
    for row in gsm8k_rows:
        steps, _ = split_steps(row["answer"])
        rendered = [strip_annotations(step) for step in steps]
        assert not any("<<" in s or ">>" in s for s in rendered), row["answer"]
        before = {v.index for v in check_steps(steps) if v.verdict == "wrong"}
        after = {v.index for v in check_steps(rendered) if v.verdict == "wrong"}
        # Rendering adds no false alarm (GSM8K's own `$32 - $20 = $300` typo stays flagged).
        assert after <= before, (row["answer"], rendered)


@pytest.fixture(scope="module")
def mistakes() -> list[Mistake]:
    synthetic = run_batch(generate(40, SyntheticConfig(seed=5)), StageConfig(seed=5), "run-r")
    gsm8k = run_batch(load_gsm8k(str(GSM8K_TEST), "test", limit=40), StageConfig(), "run-r")
    return [*synthetic.mistakes, *gsm8k.mistakes]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _rows(mistakes: list[Mistake], settings: RecipeSettings) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for build in BUILDERS.values():
        for config, built in build(mistakes, settings).rows.items():
            rows.setdefault(config, []).extend(r.model_dump() for r in built)
    return rows


def test_no_row_of_any_recipe_carries_markup_by_default(mistakes: list[Mistake]) -> None:
    rows = _rows(mistakes, RecipeSettings())
    assert len(rows) == 10
    for config, config_rows in rows.items():
        assert config_rows, config
        for row in config_rows:
            assert not any("<<" in s for s in _strings(row)), (config, row)


def test_keep_annotations_gives_the_stored_text(mistakes: list[Mistake]) -> None:
    settings = RecipeSettings(render=RenderOptions(keep_annotations=True))
    by_id = {m.mistake_id: m for m in mistakes}
    rows = _rows(mistakes, settings)
    for row in rows["lemma_messages"]:
        mistake = by_id[row["mistake_id"]]
        stored = {c.kind: c.trajectory for c in mistake.corrections}[row["correction"]]
        assert row["messages"][-1]["content"] == stored
    for row in rows["rise_step_pairs"]:
        edit = by_id[row["mistake_id"]].edit
        assert edit is not None and row["chosen"] == edit.original_step
        spans = (row["chosen_edit_start"], row["chosen_edit_end"], row["rejected_edit_end"])
        assert spans == (edit.original_start, edit.original_end, edit.wrong_end)


# config -> where its final-answer text is, for rows that carry a verified-correct answer
ANSWER_TEXT = {
    "lemma_messages": lambda r: r["messages"][-1]["content"],
    "lemma_alpaca": lambda r: r["output"],
    "rise_solution_pairs": lambda r: r["chosen"][-1]["content"],
    "lema_completion": lambda r: r["completion"],
    "lema_messages": lambda r: r["messages"][-1]["content"],
    "introspect": lambda r: r["messages"][-1]["content"],
    "retry": lambda r: r["completion"],
    "kto": lambda r: r["completion"] if r["label"] else None,
}


def test_boxed_answers_verify_with_math_verify(mistakes: list[Mistake]) -> None:
    settings = RecipeSettings(render=RenderOptions(answer_format="boxed"))
    reference = {m.mistake_id: m.reference_answer for m in mistakes}
    reference |= {m.problem_id: m.reference_answer for m in mistakes}
    checked = 0
    for config, text_of in ANSWER_TEXT.items():
        for row in _rows(mistakes, settings)[config]:
            text = text_of(row)
            if text is None:
                continue
            gold = reference[row["mistake_id"] or row["problem_id"]]
            last = text.splitlines()[-1]
            assert last.startswith("The final answer is $\\boxed{"), (config, last)
            assert verify(parse(f"${gold}$"), parse(last)), (config, json.dumps(row)[:300])
            checked += 1
    assert checked > 500
