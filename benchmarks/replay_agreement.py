"""errata's verdicts on replayed GSM8K model solutions vs the file's own `is_correct` labels.

Replays `example_model_solutions.jsonl` against the GSM8K test problems, verifies every
attempt with errata, and prints the agreement and every disagreement with a reason category.

Usage: .venv/bin/python benchmarks/replay_agreement.py [--data DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from errata.generators.sampling.attempts import verify_attempts  # noqa: E402
from errata.generators.sampling.replay import read_replay, replay_inputs  # noqa: E402
from errata.generators.sources.gsm8k import load_gsm8k  # noqa: E402
from errata.generators.verify.arithmetic import parse_number  # noqa: E402
from errata.schemas.records import Attempt  # noqa: E402

DEFAULT_DATA = REPO / "tests" / "fixtures" / "gsm8k"


@dataclass(frozen=True)
class Disagreement:
    problem_index: int
    model_key: str
    file_label: str | None
    verdict: str
    reference: str
    extracted: str | None
    reason: str


def reason_category(attempt: Attempt, reference: str) -> str:
    """A one-line guess at why errata and the file disagree, for sorting them by hand."""
    if attempt.verdict in ("unparseable", "timeout"):
        return f"errata could not decide ({attempt.verdict}: {attempt.verify_detail})"
    predicted = parse_number(attempt.final_answer or "")
    expected = parse_number(reference)
    if predicted is not None and expected is not None:
        if predicted == expected:
            return "numerically equal; the file calls it wrong (file label wrong)"
        if round(predicted) == expected:
            return "rounds to the reference; the file accepts rounding"
        return "numerically different; the file calls it right (file label wrong)"
    return "not a plain number on one side; math-verify decided"


def replay_agreement(
    data: Path, workers: int = 1
) -> tuple[list[Attempt], list[Disagreement], list[int]]:
    """Attempts, the disagreements with the file's labels, and each attempt's problem index."""
    problems = load_gsm8k(str(data / "test.jsonl"))
    replay = read_replay(str(data / "example_model_solutions.jsonl"))
    inputs = replay_inputs(problems, replay)
    attempts = verify_attempts(inputs, run_id="replay-agreement", workers=workers)
    index_of = {problem.problem_id: index for index, problem in enumerate(problems)}
    indices = [index_of[item.problem.problem_id] for item in inputs]
    disagreements = []
    for item, attempt, index in zip(inputs, attempts, indices, strict=True):
        if attempt.source_label != attempt.verdict:
            disagreements.append(
                Disagreement(
                    problem_index=index,
                    model_key=attempt.producer.rsplit("/", 1)[-1],
                    file_label=attempt.source_label,
                    verdict=attempt.verdict,
                    reference=item.problem.reference_answer,
                    extracted=attempt.final_answer,
                    reason=reason_category(attempt, item.problem.reference_answer),
                )
            )
    return attempts, disagreements, indices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    start = time.perf_counter()
    attempts, disagreements, _ = replay_agreement(args.data, args.workers)
    seconds = time.perf_counter() - start
    agree = len(attempts) - len(disagreements)
    print(f"attempts: {len(attempts)} ({seconds:.1f}s)")
    rate = agree / len(attempts)
    print(f"agreement with the file's is_correct: {agree}/{len(attempts)} = {rate:.4%}")
    verdicts = Counter((a.source_label, a.verdict) for a in attempts)
    for (label, verdict), count in sorted(verdicts.items(), key=str):
        print(f"  file={label!s:<9} errata={verdict:<11} {count}")
    with_step = sum(a.first_error_step is not None for a in attempts if a.verdict == "incorrect")
    wrong = sum(a.verdict == "incorrect" for a in attempts)
    print(f"incorrect attempts with a first wrong step located: {with_step}/{wrong}")
    print(f"disagreements: {len(disagreements)}")
    for d in disagreements:
        print(
            f"  problem {d.problem_index} {d.model_key}: file={d.file_label} errata={d.verdict} "
            f"reference={d.reference!r} extracted={d.extracted!r} -- {d.reason}"
        )


if __name__ == "__main__":
    main()
