"""`make demo-llm`: the LLM path end to end, offline, against the local test double.

Scripted fixtures for the first GSM8K test problems are written, the test double is started
as its own process on loopback, and `errata run` samples attempts, sends the wrong ones to a
teacher and has the model self-edit the correct ones, exactly as it would against a real
endpoint; then `errata stats` and `errata export`. The double's replies are fixtures built
from real GSM8K model solutions and errata's own rules: it is a test double, not a model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from errata.testing.openai_double import running_double
from errata.testing.scripted import main as write_fixtures

REPO = Path(__file__).resolve().parents[1]
GSM8K = REPO / "tests" / "fixtures" / "gsm8k"
MODEL = "errata-double"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m errata.testing.demo_llm")
    parser.add_argument("--limit", type=int, default=40, help="GSM8K test problems")
    parser.add_argument("--out", type=Path, default=Path("data/demo-llm"))
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    fixtures = args.out / "fixtures.jsonl"
    shards = args.out / "shards"
    write_fixtures(
        [
            "--problems", str(GSM8K / "test.jsonl"),
            "--solutions", str(GSM8K / "example_model_solutions.jsonl"),
            "--limit", str(args.limit),
            "--model", MODEL,
            "--out", str(fixtures),
        ]
    )  # fmt: skip
    errata = [sys.executable, "-m", "errata.flows.cli"]
    with running_double(
        latency_ms=args.latency_ms, fixtures=[str(fixtures)], fault_rate=args.fault_rate
    ) as double:
        print(f"test double (scripted fixtures, not a model) at {double.base_url}", flush=True)
        run = [
            *errata, "run",
            "--source", "gsm8k", "--path", str(GSM8K / "test.jsonl"), "--limit", str(args.limit),
            "--sampler", "llm", "--teacher", "llm", "--injector", "both",
            "--model", MODEL, "--base-url", double.base_url,
            "--shards", str(shards),
        ]  # fmt: skip
        # A local endpoint needs no key; none is set, so none can leak.
        env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        subprocess.run(run, check=True, env=env)
        stats = double.stats()
        print(
            f"the double answered {stats['requests']} requests "
            f"({stats['fixture_misses']} without a fixture)"
        )
    subprocess.run([*errata, "stats", "--shards", str(shards)], check=True)
    export = [
        *errata, "export", "--shards", str(shards), "--out", str(args.out / "export"),
        "--origins", "natural",
    ]  # fmt: skip
    subprocess.run(export, check=True)


if __name__ == "__main__":
    main()
