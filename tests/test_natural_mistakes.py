"""A mistake found rather than made: a hand-written wrong attempt with its first wrong step
located, no edit. It gets the same corrections as an injection and goes into every recipe
that can use it; RISE step pairs say why they cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from errata.generators.domains.math import correct_natural
from errata.generators.mistakes.draft import natural_draft
from errata.generators.recipes import BUILDERS
from errata.generators.recipes.assemble import ExportOptions, assemble
from errata.generators.recipes.common import RecipeSettings
from errata.generators.sources.gsm8k import problems_from_rows
from errata.generators.verify.answers import verify_answer
from errata.schemas.exports import RECIPES, configs_of
from errata.schemas.records import Mistake, Problem
from errata.store.shards import read_records, write_records

# GSM8K test problem 1 (Janet's ducks). The attempt forgets the four eggs baked into muffins.
QUESTION = (
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
    "muffins for her friends every day with four. She sells the remainder at the farmers' "
    "market daily for $2 per fresh duck egg. How much in dollars does she make every day at "
    "the farmers' market?"
)
REFERENCE = (
    "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
    "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18"
)
WRONG_STEPS = [
    "Janet has 16 - 3 = 13 eggs left after breakfast.",
    "She sells them for 13 * 2 = $26 a day.",
]


@pytest.fixture(scope="module")
def problem() -> Problem:
    (problem,) = problems_from_rows(
        [{"question": QUESTION, "answer": REFERENCE}], "test", origin="hand"
    )
    return problem


@pytest.fixture(scope="module")
def natural(problem: Problem) -> Mistake:
    draft = natural_draft(
        problem,
        WRONG_STEPS,
        first_error_step=0,
        error_type="deleted_term",
        explanation="Step 1 leaves out the 4 eggs she bakes into muffins: 16 - 3 - 4 = 9.",
        wrong_answer="26",
        method="teacher:hand",
        producer="test",
        attempt_id="a-hand-1",
    )
    result = correct_natural([draft], run_id="run-natural")
    assert not result.rejects, result.rejects
    (mistake,) = result.mistakes
    return mistake


def test_natural_mistake_has_the_core_and_no_edit(natural: Mistake) -> None:
    assert natural.origin == "natural" and natural.edit is None
    assert natural.attempt_id == "a-hand-1"
    assert natural.first_error_step == 0 and natural.wrong_steps == WRONG_STEPS
    assert natural.reference_steps == REFERENCE.splitlines()[:-1]


def test_corrections_come_from_the_core_and_verify(natural: Mistake) -> None:
    kinds = {c.kind: c for c in natural.corrections}
    assert set(kinds) == {"fix_continue", "fresh_restart"}
    for correction in natural.corrections:
        assert correction.verdict == "correct"
        assert verify_answer(correction.trajectory, "18").verdict == "correct"
        lines = correction.trajectory.splitlines()
        assert lines[0] == WRONG_STEPS[0] and lines[1] == correction.reflection
    # The correct prefix is empty, so fix & continue resumes the reference at step 0.
    assert kinds["fix_continue"].continuation == REFERENCE


def test_every_recipe_that_can_use_it_does(natural: Mistake) -> None:
    settings = RecipeSettings(retry_rate=0.0)
    for recipe, build in BUILDERS.items():
        out = build([natural], settings)
        for config in configs_of(recipe):
            rows = [r for r in out.rows.get(config, []) if r.mistake_id == natural.mistake_id]
            if config == "rise_step_pairs":
                assert not rows
                (excluded,) = [e for e in out.excluded if e.config == config]
                assert excluded.reason == "no_edit" and excluded.mistake_id == natural.mistake_id
            else:
                assert rows, f"{config} has no row for the natural mistake"
                assert all(r.origin == "natural" for r in rows)
    lema = BUILDERS["lema"]([natural], settings).rows["lema_completion"][0]
    assert lema.completion.startswith("Incorrect step: Step 1\n")
    retry = BUILDERS["retry"]([natural], settings).rows["retry"][0]
    assert retry.completion.startswith(f"{WRONG_STEPS[0]} [BACK] Janet sells 16 - 3 - 4")


def test_an_export_of_natural_mistakes_lists_the_rise_exclusion(natural: Mistake) -> None:
    options = ExportOptions(recipes=RECIPES, origins=("natural",), test_fraction=0.0)
    assembled = assemble([natural], options)
    assert assembled.counts("lema_completion") == {"train": 1, "test": 0}
    assert assembled.counts("rise_step_pairs") == {"train": 0, "test": 0}
    reasons = {(e.config, e.reason) for e in assembled.excluded}
    assert ("rise_step_pairs", "no_edit") in reasons


def test_a_step_that_does_not_exist_is_rejected(problem: Problem) -> None:
    draft = natural_draft(problem, WRONG_STEPS, 5, "calculation", "?", "26", "teacher:hand", "t")
    result = correct_natural([draft], run_id="run-natural")
    assert not result.mistakes
    assert [(r.stage, r.reason) for r in result.rejects] == [("locate", "no_such_step")]
    books = {c.stage: c for c in result.counts}
    assert books["locate"].n_rejected == 1 and books["correct"].n_in == 0


def test_natural_mistakes_round_trip_through_a_shard(natural: Mistake, tmp_path: Path) -> None:
    write_records(tmp_path, "mistakes", "c", "b0", [natural])
    assert read_records(tmp_path, "mistakes") == [natural]
