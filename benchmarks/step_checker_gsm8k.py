"""How the step-arithmetic checker behaves: false alarms, slips found, speed.

    .venv/bin/python benchmarks/step_checker_gsm8k.py [--data DIR] [--repeats N]

DIR holds `test.jsonl` (reference answers) and `example_model_solutions.jsonl` (four model
solutions per problem, each marked correct or not). A solution is split into steps by
non-empty lines; the final-answer line is a step like any other.

Besides GSM8K's plain text with calculator annotations it measures LaTeX and symbolic chains:
the constructed competition-style solutions and slips of tests/test_verify_steps_latex.py,
and every GSM8K reference with its calculations rewritten in LaTeX (`\\(...\\)`, `$...$`,
`\\[...\\]` or bare; `{,}`, `\\,`, `,` or no thousands separators).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from errata.generators.verify.steps import (
    check_steps,
    clear_caches,
    first_error_step,
)
from tests.test_verify_steps_latex import (
    CORRECT_LATEX_SOLUTIONS,
    LATEX_SLIPS,
    SYMBOLIC_SLIPS,
    latex_references,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
ANNOTATION_RE = re.compile(r"<<[^<>]*>>")
# `<<expr=value>>value`: the annotation and the copy of its result printed after it.
RESULT_RE = re.compile(r"<<([^<>=]*)=(-?\d+(?:\.\d+)?)>>(\d+(?:\.\d+)?)")
# Cold LaTeX timing parses every side again: a prefix of the references keeps it short.
LATEX_TIMED_SOLUTIONS = 300

Solution = tuple[str | None, list[str]]  # (question, steps)


def split_steps(solution: str) -> list[str]:
    return [line for line in solution.split("\n") if line.strip()]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def flagged(solutions: list[Solution]) -> list[tuple[int, int]]:
    """(first error step, step count) for every solution with an arithmetic slip."""
    found = []
    for question, steps in solutions:
        index = first_error_step(check_steps(steps, question))
        if index is not None:
            found.append((index, len(steps)))
    return found


def found_at_step(cases: list[tuple[Solution, int]]) -> int:
    """How many slips are flagged at exactly the step that holds them."""
    return sum(
        first_error_step(check_steps(steps, question)) == index
        for (question, steps), index in cases
    )


def checked_share(solutions: list[Solution]) -> str:
    """The share of steps with at least one arithmetic claim read (ok or wrong)."""
    verdicts = Counter(
        v.verdict for question, steps in solutions for v in check_steps(steps, question)
    )
    return percent(verdicts["ok"] + verdicts["wrong"], sum(verdicts.values()))


def percent(part: int, whole: int) -> str:
    return f"{100 * part / max(whole, 1):.2f}%"


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


def injected(references: list[Solution], keep_annotations: bool) -> list[tuple[Solution, int]]:
    cases = []
    for question, steps in references:
        slipped = inject_slip(steps, keep_annotations)
        if slipped is not None:
            cases.append(((question, slipped[0]), slipped[1]))
    return cases


def cpu_seconds(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def microseconds_per_step(solutions: list[Solution], cold: bool, repeats: int) -> float:
    """Median over `repeats` of CPU time per step; `cold` forgets memoized results first."""
    steps = sum(len(solution) for _, solution in solutions)
    timings = []
    for _ in range(repeats):
        if cold:
            clear_caches()
        timings.append(cpu_seconds(lambda: [check_steps(s, q) for q, s in solutions]))
    return statistics.median(timings) / steps * 1e6


def python_loop_ms() -> float:
    """The figures above depend on the machine and its load; this calibrates them."""

    def loop() -> int:
        total = 0
        for i in range(1_000_000):
            total += i * i
        return total

    return cpu_seconds(loop) * 1000


def new_table(title: str, columns: list[str], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def false_alarm_table(sets: list[tuple[str, list[Solution]]]) -> Table:
    table = new_table(
        "False alarms: correct solutions flagged (first_error_step is not None)",
        ["set", "solutions", "steps", "steps read", "flagged", "rate"],
        "The GSM8K reference flag is a real slip in the data ('$32 - $20 = $300').",
    )
    for name, solutions in sets:
        count = len(flagged(solutions))
        steps = sum(len(steps) for _, steps in solutions)
        row = [str(len(solutions)), str(steps), checked_share(solutions), str(count)]
        table.add_row(name, *row, percent(count, len(solutions)))
    return table


def slips_table(
    wrong_by_model: dict[str, list[Solution]], at_step: list[tuple[str, list]]
) -> Table:
    table = new_table(
        "Slips found",
        ["set", "solutions", "found", "rate"],
        "Wrong model solutions: any arithmetic flag (most are wrong for reasons other than "
        "arithmetic). The others: flagged at exactly the step that holds the slip.",
    )
    every_wrong = [solution for solutions in wrong_by_model.values() for solution in solutions]
    count = len(flagged(every_wrong))
    table.add_row(
        "wrong model solutions", str(len(every_wrong)), str(count), percent(count, len(every_wrong))
    )
    for model, solutions in wrong_by_model.items():
        count = len(flagged(solutions))
        table.add_row(f"  {model}", str(len(solutions)), str(count), percent(count, len(solutions)))
    for name, cases in at_step:
        count = found_at_step(cases)
        table.add_row(name, str(len(cases)), str(count), percent(count, len(cases)))
    return table


def first_error_table(flags: list[tuple[int, int]]) -> Table:
    table = new_table(
        "Flagged wrong model solutions: where the first error is",
        ["where", "solutions"],
        "position: first error step / (steps - 1)",
    )
    by_step = Counter(min(index, 6) for index, _ in flags)
    for step in range(7):
        table.add_row(f"step {step}{'+' if step == 6 else ''}", str(by_step[step]))
    quarters = Counter(min(int(4 * index / max(count - 1, 1)), 3) for index, count in flags)
    for quarter, label in enumerate(["[0, .25)", "[.25, .5)", "[.5, .75)", "[.75, 1]"]):
        table.add_row(f"position {label}", str(quarters[quarter]))
    last = sum(index == count - 1 for index, count in flags)
    table.add_row("on the final-answer line", str(last))
    return table


def speed_table(sets: list[tuple[str, list[Solution]]], repeats: int, first_latex: float) -> Table:
    table = new_table(
        f"Speed: CPU µs per step, median of {repeats} repeats",
        ["set", "steps", "cold (caches cleared)", "warm (re-check)"],
        f"A 1M-iteration `total += i * i` loop takes {python_loop_ms():.0f} ms here; the first "
        f"LaTeX step took {first_latex * 1000:.0f} ms (it imports the LaTeX parser).",
    )
    for name, solutions in sets:
        steps = sum(len(steps) for _, steps in solutions)
        cold = microseconds_per_step(solutions, cold=True, repeats=repeats)
        warm = microseconds_per_step(solutions, cold=False, repeats=repeats)
        table.add_row(name, str(steps), f"{cold:.1f}", f"{warm:.1f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per speed figure")
    options = parser.parse_args()
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")
    console = Console(width=120)
    tests = read_jsonl(options.data / "test.jsonl")
    samples = read_jsonl(options.data / "example_model_solutions.jsonl")

    first_latex = cpu_seconds(lambda: check_steps(CORRECT_LATEX_SOLUTIONS[0]))
    references = [(row["question"], split_steps(row["answer"])) for row in tests]
    plain = [(q, [ANNOTATION_RE.sub("", s) for s in steps]) for q, steps in references]
    correct: list[Solution] = []
    wrong_by_model: dict[str, list[Solution]] = {model: [] for model in MODELS}
    for row in samples:
        for model in MODELS:
            solution = (row["question"], split_steps(row[model]["solution"]))
            if row[model]["is_correct"]:
                correct.append(solution)
            else:
                wrong_by_model[model].append(solution)
    in_latex = latex_references(tests)
    latex_correct = [
        (row["question"], steps) for row, (steps, _, _) in zip(tests, in_latex, strict=True)
    ]
    latex_slipped = [
        ((row["question"], slipped), index)
        for row, (_, slipped, index) in zip(tests, in_latex, strict=True)
        if index is not None
    ]
    constructed = [(None, steps) for steps in CORRECT_LATEX_SOLUTIONS]

    console.print(f"data: {options.data}")
    console.print(
        false_alarm_table(
            [
                ("GSM8K references", references),
                ("GSM8K references, annotations removed", plain),
                ("correct model solutions", correct),
                ("GSM8K references in LaTeX", latex_correct),
                ("constructed LaTeX solutions", constructed),
            ]
        )
    )
    console.print(
        slips_table(
            wrong_by_model,
            [
                ("injected +1, with annotations", injected(references, keep_annotations=True)),
                ("injected +1, annotations removed", injected(references, keep_annotations=False)),
                ("injected +1, GSM8K references in LaTeX", latex_slipped),
                ("constructed LaTeX slips", [((None, s), i) for s, i in LATEX_SLIPS]),
                ("symbolic-chain slips", [((None, s), i) for s, i in SYMBOLIC_SLIPS]),
            ],
        )
    )
    every_wrong = [solution for solutions in wrong_by_model.values() for solution in solutions]
    console.print(first_error_table(flagged(every_wrong)))
    console.print(
        speed_table(
            [
                ("GSM8K references", references),
                ("every GSM8K solution", references + correct + every_wrong),
                (
                    f"GSM8K references in LaTeX, first {LATEX_TIMED_SOLUTIONS}",
                    latex_correct[:LATEX_TIMED_SOLUTIONS],
                ),
                ("constructed LaTeX solutions", constructed),
            ],
            options.repeats,
            first_latex,
        )
    )


if __name__ == "__main__":
    main()
