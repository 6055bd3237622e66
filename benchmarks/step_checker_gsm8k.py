"""How the step-arithmetic checker behaves on GSM8K: false alarms, slips found, speed.

    .venv/bin/python benchmarks/step_checker_gsm8k.py [--data DIR]

DIR holds `test.jsonl` (reference answers) and `example_model_solutions.jsonl` (four model
solutions per problem, each marked correct or not). A solution is split into steps by
non-empty lines; the final-answer line is a step like any other.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from errata.generators.verify.steps import (
    check_steps,
    clear_caches,
    first_error_step,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
ANNOTATION_RE = re.compile(r"<<[^<>]*>>")
# `<<expr=value>>value`: the annotation and the copy of its result printed after it.
RESULT_RE = re.compile(r"<<([^<>=]*)=(-?\d+(?:\.\d+)?)>>(\d+(?:\.\d+)?)")
REPEATS = 5


def split_steps(solution: str) -> list[str]:
    return [line for line in solution.split("\n") if line.strip()]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def flagged(solutions: list[tuple[str | None, list[str]]]) -> list[tuple[int, int]]:
    """(first error step, step count) for every solution with an arithmetic slip."""
    found = []
    for question, steps in solutions:
        index = first_error_step(check_steps(steps, question))
        if index is not None:
            found.append((index, len(steps)))
    return found


def rate(part: int, whole: int) -> str:
    return f"{part:>5} / {whole:<5} = {100 * part / max(whole, 1):6.2f}%"


def inject_slip(steps: list[str], keep_annotations: bool) -> tuple[list[str], int] | None:
    """Add 1 to the first annotated result (annotation and printed copy alike)."""
    for index, step in enumerate(steps):
        match = RESULT_RE.search(step)
        if match is None or match.group(2) != match.group(3):
            continue
        wrong = str(Decimal(match.group(2)) + 1)
        slipped = f"<<{match.group(1)}={wrong}>>{wrong}"
        changed = [*steps[:index], step[: match.start()] + slipped + step[match.end() :]]
        changed += steps[index + 1 :]
        if not keep_annotations:
            changed = [ANNOTATION_RE.sub("", line) for line in changed]
        return changed, index
    return None


def injected_recall(references: list[list[str]], keep_annotations: bool) -> tuple[int, int]:
    """How many injected slips are flagged at exactly the step that holds them."""
    hits = total = 0
    for steps in references:
        injected = inject_slip(steps, keep_annotations)
        if injected is None:
            continue
        changed, index = injected
        total += 1
        hits += first_error_step(check_steps(changed)) == index
    return hits, total


def microseconds_per_step(solutions: list[list[str]], cold: bool) -> float:
    """Median over REPEATS of CPU time per step; `cold` forgets memoized results first."""
    steps = sum(len(solution) for solution in solutions)
    timings = []
    for _ in range(REPEATS):
        if cold:
            clear_caches()
        started = time.process_time()
        for solution in solutions:
            check_steps(solution)
        timings.append((time.process_time() - started) / steps * 1e6)
    return statistics.median(timings)


def python_loop_ms() -> float:
    """The figures above depend on the machine and its load; this calibrates them."""
    started = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i * i
    return (time.process_time() - started) * 1000


def histogram(values: list[int], width: int = 40) -> list[str]:
    counts = Counter(values)
    peak = max(counts.values(), default=1)
    return [
        f"  {label:>6}: {counts[label]:>5} {'#' * round(width * counts[label] / peak)}"
        for label in sorted(counts)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    data = parser.parse_args().data
    tests = read_jsonl(data / "test.jsonl")
    samples = read_jsonl(data / "example_model_solutions.jsonl")

    references = [(row["question"], split_steps(row["answer"])) for row in tests]
    correct, wrong = [], []
    wrong_by_model: dict[str, list] = {model: [] for model in MODELS}
    for row in samples:
        for model in MODELS:
            solution = (row["question"], split_steps(row[model]["solution"]))
            if row[model]["is_correct"]:
                correct.append(solution)
            else:
                wrong.append(solution)
                wrong_by_model[model].append(solution)

    every_solution = [steps for _, steps in references + correct + wrong]
    step_total = sum(len(steps) for steps in every_solution)
    verdicts = Counter(
        verdict.verdict for steps in every_solution for verdict in check_steps(steps)
    )
    print(f"data: {data}")
    print(
        f"problems {len(tests)}, reference solutions {len(references)}, model solutions "
        f"{len(correct) + len(wrong)} ({len(correct)} correct, {len(wrong)} wrong), "
        f"steps {step_total}"
    )
    print(
        "step verdicts: "
        + ", ".join(f"{name} {verdicts[name]}" for name in ("ok", "wrong", "unchecked"))
    )

    print("\nsolutions flagged (first_error_step is not None)")
    flagged_references = flagged(references)
    flagged_plain = flagged(
        [(q, [ANNOTATION_RE.sub("", s) for s in steps]) for q, steps in references]
    )
    flagged_correct = flagged(correct)
    flagged_wrong = flagged(wrong)
    print(f"  reference answers            {rate(len(flagged_references), len(references))}")
    print(f"  reference, annotations gone  {rate(len(flagged_plain), len(references))}")
    print(f"  correct model solutions      {rate(len(flagged_correct), len(correct))}")
    print(f"  wrong model solutions        {rate(len(flagged_wrong), len(wrong))}")
    for model, solutions in wrong_by_model.items():
        print(f"    wrong, {model:<20} {rate(len(flagged(solutions)), len(solutions))}")

    print("\nwrong model solutions: first error step (0-based)")
    print(
        "\n".join(histogram([min(index, 6) for index, _ in flagged_wrong])).replace(
            "     6:", "    6+:"
        )
    )
    print("wrong model solutions: relative position of the first error, index / (steps - 1)")
    quarters = [min(int(4 * index / max(count - 1, 1)), 3) for index, count in flagged_wrong]
    labels = ["[0, .25)", "[.25, .5)", "[.5, .75)", "[.75, 1]"]
    counts = Counter(quarters)
    for quarter, label in enumerate(labels):
        print(f"  {label:>10}: {counts[quarter]:>5}")
    last_step = sum(index == count - 1 for index, count in flagged_wrong)
    print(f"  on the final-answer line: {last_step}")

    reference_steps = [steps for _, steps in references]
    print("\ninjected slips (first annotated result + 1), flagged at that very step")
    print(f"  with annotations             {rate(*injected_recall(reference_steps, True))}")
    print(f"  annotations removed          {rate(*injected_recall(reference_steps, False))}")

    print("\nspeed: CPU µs per step, median of 5 repeats over the reference answers")
    print(f"  cold (caches cleared)  {microseconds_per_step(reference_steps, cold=True):6.1f}")
    print(f"  warm (re-check)        {microseconds_per_step(reference_steps, cold=False):6.1f}")
    print(f"  all solutions, cold    {microseconds_per_step(every_solution, cold=True):6.1f}")
    print(
        f"  (yardstick: a 1M-iteration `total += i * i` loop takes {python_loop_ms():.0f} ms here)"
    )


if __name__ == "__main__":
    main()
