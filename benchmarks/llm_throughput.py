"""How close the LLM client comes to its ceiling, and what it costs in CPU per request.

Starts the OpenAI test double in its own process, then sends N requests through
`errata.generators.llm` split over worker processes (spawn), each with its share of the
concurrency and RPM (`split_endpoint`), the way a stage's batches run in two processes. Each
worker imports everything, waits at a barrier, and reports when it started and finished and
the CPU it used meanwhile, so the figures are the request phase of the client processes only
(not the server's CPU, not interpreter start-up).

    .venv/bin/python benchmarks/llm_throughput.py            # the three scenarios, median of 3
    .venv/bin/python benchmarks/llm_throughput.py --only b --repeat 1

Ratio = achieved requests/s ÷ ceiling, ceiling = min(C / latency, RPM / 60).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

# Run as a script from the checkout: make `errata` importable without installing.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: int
    latency_ms: float
    concurrency: int
    rpm: int | None = None

    @property
    def ceiling(self) -> float:
        by_concurrency = self.concurrency / (self.latency_ms / 1000)
        return by_concurrency if self.rpm is None else min(by_concurrency, self.rpm / 60)


SCENARIOS = {
    "a": Scenario("a: 5000 req, L=1 s, C=256", 5000, 1000, 256),
    "b": Scenario("b: 2000 req, L=100 ms, C=64", 2000, 100, 64),
    "c": Scenario("c: 1500 req, L=50 ms, C=64, RPM 6000", 1500, 50, 64, rpm=6000),
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker(endpoint, prompts: list[str], barrier: Barrier, results) -> None:  # type: ignore[no-untyped-def]
    from errata.generators.llm import ChatRequest, run_requests

    requests = [
        ChatRequest.build("errata-double", [{"role": "user", "content": p}], {"max_tokens": 8})
        for p in prompts
    ]
    barrier.wait()
    cpu_before, started = _cpu_seconds(), time.time()
    outcome, usage = run_requests(endpoint, requests)
    finished, cpu = time.time(), _cpu_seconds() - cpu_before
    results.put((started, finished, cpu, sum(r.ok for r in outcome), usage.requests))


def run_once(base_url: str, scenario: Scenario, processes: int, workdir: str) -> dict:
    from errata.generators.llm import Endpoint, split_endpoint

    endpoint = Endpoint(
        base_url,
        timeout=30.0,
        concurrency=scenario.concurrency,
        rpm=scenario.rpm,
        cache_dir=os.path.join(workdir, "cache"),
        progress_dir=os.path.join(workdir, "progress"),
    )
    share = split_endpoint(endpoint, processes)
    prompts = [f"Reply with the single word ok. (request {i})" for i in range(scenario.requests)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(share, prompts[i::processes], barrier, results))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if any(worker.exitcode != 0 for worker in workers):
        raise SystemExit(f"a worker failed: exit codes {[w.exitcode for w in workers]}")
    reports = [results.get(timeout=10) for _ in workers]
    span = max(r[1] for r in reports) - min(r[0] for r in reports)
    rate = scenario.requests / span
    return {
        "rate": rate,
        "ratio": rate / scenario.ceiling,
        "cpu_ms_per_request": 1000 * sum(r[2] for r in reports) / scenario.requests,
        "ok": sum(r[3] for r in reports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=sorted(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    from errata.testing.openai_double import running_double

    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {args.processes} processes")
    for key in args.only:
        scenario = SCENARIOS[key]
        with running_double(latency_ms=scenario.latency_ms) as double:
            runs = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="errata-llm-bench-") as workdir:
                    runs.append(run_once(double.base_url, scenario, args.processes, workdir))
            server_cpu = double.stats()["cpu_seconds"]
        median = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
        ratios = ", ".join(f"{run['ratio']:.3f}" for run in runs)
        print(
            f"{scenario.name}: {median['rate']:.0f} req/s of ceiling {scenario.ceiling:.0f}, "
            f"ratio {median['ratio']:.3f} (runs {ratios}), "
            f"client CPU {median['cpu_ms_per_request']:.2f} ms/request, "
            f"ok {median['ok']:.0f}/{scenario.requests}, server CPU {server_cpu:.1f} s in all",
            flush=True,
        )


if __name__ == "__main__":
    main()
