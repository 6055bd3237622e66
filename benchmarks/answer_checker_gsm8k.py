"""Answer checker vs GSM8K's own `is_correct` grades, plus throughput of both verification paths.

Usage: .venv/bin/python benchmarks/answer_checker_gsm8k.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from errata.generators.verify.answers import AnswerCheck, verify_answers  # noqa: E402

MODEL_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
DEFAULT_DATA = REPO.parent / "shared" / "data" / "gsm8k"
RUNS = 3


def load_graded_pairs(data_dir: Path) -> list[tuple[str, str, bool]]:
    """(model solution, ground truth, is_correct) for every model solution in the file."""
    pairs = []
    with (data_dir / "example_model_solutions.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            for key in MODEL_KEYS:
                graded = row[key]
                pairs.append((graded["solution"], row["ground_truth"], graded["is_correct"]))
    return pairs


def latex_pairs(count: int = 300) -> list[tuple[str, str]]:
    """Equivalent and non-equivalent LaTeX answers that the numeric fast path cannot settle."""
    pairs: list[tuple[str, str]] = []
    for n in range(1, count + 1):
        kind = n % 5
        if kind == 0:
            pairs.append((f"\\frac{{{n}}}{{4}}", f"{n / 4}"))
        elif kind == 1:
            pairs.append((f"\\sqrt{{{4 * n}}}", f"2\\sqrt{{{n}}}"))
        elif kind == 2:
            pairs.append((f"\\boxed{{\\dfrac{{{n}}}{{8}}}}", f"\\frac{{{2 * n}}}{{16}}"))
        elif kind == 3:
            pairs.append((f"({n}, {n + 1}]", f"({n},{n + 1}]"))
        else:
            pairs.append((f"{n}\\pi", f"\\frac{{{2 * n + 1}\\pi}}{{2}}"))  # not equal
    return pairs


def median_rate(run: Callable[[], object], items: int) -> float:
    """Items per second, median of RUNS timed runs."""
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def agreement(graded: Sequence[tuple[str, str, bool]]) -> tuple[float, Counter, list]:
    checks = verify_answers([(solution, truth) for solution, truth, _ in graded])
    confusion: Counter = Counter()
    disagreements: list[tuple[str, str, bool, AnswerCheck]] = []
    for (solution, truth, is_correct), check in zip(graded, checks, strict=True):
        confusion[(is_correct, check.verdict)] += 1
        if (check.verdict == "correct") != is_correct:
            disagreements.append((solution, truth, is_correct, check))
    return 1 - len(disagreements) / len(graded), confusion, disagreements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    graded = load_graded_pairs(args.data)
    rate, confusion, disagreements = agreement(graded)
    print(f"agreement with is_correct: {rate:.4%} over {len(graded)} model solutions")
    for (is_correct, verdict), count in sorted(confusion.items()):
        print(f"  is_correct={is_correct!s:<5} verdict={verdict:<11} {count}")
    for solution, _truth, is_correct, check in disagreements[:10]:
        print(f"  disagree: is_correct={is_correct} {check} | solution tail {solution[-80:]!r}")

    pairs = [(solution, truth) for solution, truth, _ in graded]
    numeric_rate = median_rate(lambda: verify_answers(pairs), len(pairs))
    print(f"numeric fast path: {numeric_rate:,.0f} items/s ({len(pairs)} GSM8K pairs, inline)")

    latex = latex_pairs()
    start = time.perf_counter()
    verdicts = Counter(check.verdict for check in verify_answers(latex, workers=2))
    cold_seconds = time.perf_counter() - start
    latex_rate = median_rate(lambda: verify_answers(latex, workers=2), len(latex))
    print(
        f"math-verify path: {latex_rate:,.0f} items/s ({len(latex)} LaTeX pairs, 2 warm workers; "
        f"first call incl. worker start {cold_seconds:.1f}s) verdicts {dict(verdicts)}"
    )


if __name__ == "__main__":
    main()
