"""Per-type yield of rule-based injection on GSM8K test and on synthetic problems.

Yield = verified mistakes / attempts (one attempt per parsed problem and error type); the
reject reasons show where attempts go. Also prints the GSM8K parse rate.

    .venv/bin/python benchmarks/injection_yield.py [--gsm8k PATH] [--synthetic 1000] [--rejects]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from errata.generators.domains import StageConfig, run_batch
from errata.generators.mistakes.inject import RULE_ERROR_TYPES
from errata.generators.sources.gsm8k import load_gsm8k
from errata.generators.sources.synthetic import SyntheticConfig, generate
from errata.schemas.records import Problem

# The same GSM8K test set ships with the tests, so a clone with nothing beside it runs this too.
DEFAULT_GSM8K = Path(__file__).resolve().parents[1] / "tests/fixtures/gsm8k/test.jsonl"


def report(console: Console, name: str, problems: list[Problem], verbose: bool = False) -> None:
    config = StageConfig(seed=0)
    result = run_batch(problems, config, run_id=f"run-yield-{name}")
    counts = {c.stage: c for c in result.counts}
    parse = counts["parse"]
    with_mistake = len({m.problem_id for m in result.mistakes})
    console.print(
        f"[bold]{name}[/]: {parse.n_out}/{parse.n_in} solutions parse "
        f"({parse.n_out / parse.n_in:.1%}); {len(result.mistakes)} verified mistakes; "
        f"{with_mistake}/{parse.n_in} problems ({with_mistake / parse.n_in:.1%}) yield one or more"
    )
    kept = Counter(m.error_type for m in result.mistakes)
    reasons: dict[str, Counter] = {t: Counter() for t in RULE_ERROR_TYPES}
    for reject in result.rejects:
        if reject.stage != "parse":
            reasons[json.loads(reject.payload)["error_type"]][
                f"{reject.stage}:{reject.reason}"
            ] += 1
    table = Table(title=f"{name}: injection yield per error type")
    for column in ("error type", "attempts", "kept", "yield", "top reject reasons"):
        table.add_column(
            column, justify="left" if column in ("error type", "top reject reasons") else "right"
        )
    for error_type in RULE_ERROR_TYPES:
        top = ", ".join(f"{r} {n}" for r, n in reasons[error_type].most_common(3))
        table.add_row(
            error_type, str(parse.n_out), str(kept[error_type]),
            f"{kept[error_type] / parse.n_out:.1%}", top,
        )  # fmt: skip
    console.print(table)
    parse_reasons = Counter(r.reason for r in result.rejects if r.stage == "parse")
    console.print(f"parse rejects: {dict(parse_reasons.most_common())}")
    if verbose:
        for reject in sorted(result.rejects, key=lambda r: r.reason):
            if reject.stage == "parse":
                console.print(f"  {reject.reason}: {reject.message}", markup=False)
    console.print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gsm8k", type=Path, default=DEFAULT_GSM8K)
    parser.add_argument("--synthetic", type=int, default=1000)
    parser.add_argument("--rejects", action="store_true", help="list every parse reject")
    args = parser.parse_args()
    console = Console(width=140)
    if args.gsm8k.exists():
        report(console, "GSM8K test", load_gsm8k(str(args.gsm8k), "test"), args.rejects)
    report(console, "synthetic", generate(args.synthetic, SyntheticConfig(seed=0)))


if __name__ == "__main__":
    main()
