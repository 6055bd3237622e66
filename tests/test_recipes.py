"""Recipes and assembly over real pipeline output (no Prefect): shapes, accounting, options."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest

from errata.generators.domains import StageConfig, run_batch
from errata.generators.recipes import BUILDERS
from errata.generators.recipes.assemble import ExportOptions, assemble
from errata.generators.recipes.common import RecipeSettings
from errata.generators.recipes.select import Contamination
from errata.generators.rendering import strip_annotations
from errata.generators.sources.synthetic import generate
from errata.schemas.arrow import arrow_schema
from errata.schemas.exports import EXPORT_CONFIGS, RECIPES, configs_of
from errata.schemas.records import Mistake

ROW_STEPS = ("dedupe", "decontaminate", "max_per_problem")


@pytest.fixture(scope="module")
def mistakes() -> list[Mistake]:
    return run_batch(generate(80), StageConfig(), run_id="run-test").mistakes


def test_every_recipe_is_built_and_every_config_has_a_row_model():
    assert set(BUILDERS) == set(RECIPES)
    for config, (recipe, model, description) in EXPORT_CONFIGS.items():
        assert config in configs_of(recipe) and description
        schema = arrow_schema(model)
        assert schema.names[:5] == ["problem_id", "mistake_id", "source", "origin", "error_type"]
    messages = arrow_schema(EXPORT_CONFIGS["lemma_messages"][1]).field("messages").type
    text = pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), False)
    assert messages == pa.list_(pa.struct(list(text)))


def test_each_mistake_yields_rows_or_a_recorded_exclusion(mistakes: list[Mistake]):
    settings = RecipeSettings()
    per_mistake = {
        "lemma_messages": 2,  # fix & continue and fresh & restart
        "lemma_alpaca": 2,
        "rise_solution_pairs": 1,
        "rise_step_pairs": 1,
        "lema_completion": 1,
        "lema_messages": 1,
        "introspect": 1,
        "retry": 1,
    }
    for recipe, build in BUILDERS.items():
        out = build(mistakes, settings)
        excluded = Counter(e.config for e in out.excluded)
        for config in configs_of(recipe):
            rows = out.rows.get(config, [])
            if config in per_mistake:
                assert len(rows) + excluded[config] * per_mistake[config] == (
                    per_mistake[config] * len(mistakes)
                ), config
    skipped = BUILDERS["rise"](mistakes, settings).excluded
    assert skipped and {e.reason for e in skipped} == {"no_step_pair"}
    by_id = {m.mistake_id: m for m in mistakes}
    assert all(by_id[e.mistake_id].error_type == "missing_step" for e in skipped)


def _wrong_step(mistake: Mistake) -> str:
    return strip_annotations(mistake.wrong_steps[mistake.first_error_step])


def test_kto_and_prm_pair_each_wrong_solution_with_the_correct_one(mistakes: list[Mistake]):
    kto = BUILDERS["kto"](mistakes, RecipeSettings()).rows["kto"]
    assert Counter(row.label for row in kto) == {False: len(mistakes), True: len(mistakes)}
    assert all((row.mistake_id is None) == row.label for row in kto)
    prm = BUILDERS["prm"](mistakes, RecipeSettings()).rows["prm"]
    assert all(row.first_error_step == -1 for row in prm if row.mistake_id is None)


def test_introspect_trains_only_the_final_attempt(mistakes: list[Mistake]):
    for row in BUILDERS["introspect"](mistakes, RecipeSettings()).rows["introspect"]:
        assert [m.role for m in row.messages] == ["user", "assistant", "user", "assistant"]
        assert len(row.weights) == len(row.rewards) == 4
        assert row.weights[:3] == [0.0, 0.0, 0.0] and row.weights[3] == pytest.approx(12.182494)
        assert row.rewards[1] == 0.0 and row.rewards[3] == 1.0


def test_retry_rate_controls_the_extra_retries(mistakes: list[Mistake]):
    def retries(rate: float) -> list[int]:
        rows = BUILDERS["retry"](mistakes, RecipeSettings(retry_rate=rate)).rows["retry"]
        return [row.retries for row in rows]

    assert set(retries(0.0)) == {1}  # only the injected step
    assert sum(retries(0.5)) > sum(retries(0.1)) > len(mistakes)
    steps = {m.mistake_id: m for m in mistakes}
    for row in BUILDERS["retry"](mistakes, RecipeSettings(retry_rate=1.0)).rows["retry"]:
        lines = row.completion.split("\n")[:-1]  # every step but the last has a later step
        assert row.retries >= len(lines) - 1
        assert _wrong_step(steps[row.mistake_id]) + " [BACK] " in row.completion
    assert retries(0.3) == retries(0.3)  # seeded


def test_assembly_accounts_for_every_row(mistakes: list[Mistake]):
    questions = [m.question for m in mistakes[:40]]
    options = ExportOptions(recipes=RECIPES, max_per_problem=3, test_fraction=0.2)
    assembled = assemble(mistakes, options, Contamination(questions, n=13))
    built = {}
    for recipe in RECIPES:
        out = BUILDERS[recipe](sorted(mistakes, key=lambda m: m.problem_id), RecipeSettings())
        built.update({config: len(rows) for config, rows in out.rows.items()})
    dropped = Counter(e.config for e in assembled.excluded if e.step in ROW_STEPS)
    for config in options.configs():
        kept = sum(assembled.counts(config).values())
        assert built[config] == kept + dropped[config], config
    steps = {e.step for e in assembled.excluded}
    assert {"dedupe", "decontaminate", "max_per_problem"} <= steps


def test_assembly_does_not_depend_on_input_order(mistakes: list[Mistake]):
    options = ExportOptions(recipes=("lemma", "prm"), max_per_problem=2)
    forward = assemble(mistakes, options)
    backward = assemble(list(reversed(mistakes)), options)
    assert forward.rows == backward.rows
    assert sorted(map(repr, forward.excluded)) == sorted(map(repr, backward.excluded))


def test_unknown_recipe_is_refused(mistakes: list[Mistake]):
    with pytest.raises(ValueError, match="unknown recipe"):
        assemble(mistakes, ExportOptions(recipes=("lemma", "lemmas")))
