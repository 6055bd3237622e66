"""Parse and injection yield over the bundled GSM8K test split (issue 10 item 5)."""

from __future__ import annotations

from collections import Counter

from errata.generators.domains import StageConfig, run_batch
from errata.generators.solutions import SolutionParseError, parse_program
from errata.generators.sources.gsm8k import load_gsm8k
from tests.conftest import GSM8K_TEST


def test_gsm8k_test_solutions_parse_at_least_97_percent(gsm8k_rows: list[dict]) -> None:
    outcomes = Counter()
    for row in gsm8k_rows:
        try:
            program = parse_program(row["question"], row["answer"])
        except SolutionParseError as exc:
            outcomes[exc.reason] += 1
            continue
        outcomes["ok"] += 1
        # A parsed program reproduces the reference answer.
        answer = program.nodes[program.answer_node].value * program.answer_scale
        assert answer == program.answer, row["answer"]
    assert outcomes["ok"] / len(gsm8k_rows) >= 0.97, outcomes
    assert outcomes["answer_unlinked"] <= 10, outcomes  # each other reject names its cause


def test_gsm8k_test_problems_with_a_verified_mistake() -> None:
    problems = load_gsm8k(str(GSM8K_TEST), "test")
    result = run_batch(problems, StageConfig(seed=0), run_id="run-parse-yield")
    with_mistake = {m.problem_id for m in result.mistakes}
    assert len(with_mistake) / len(problems) >= 0.971, len(with_mistake)
