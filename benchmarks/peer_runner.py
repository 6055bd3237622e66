"""errata's entry in the peer throughput table (/work/shared/peers, `run_errata.py`).

`run(...)` sends the prompts the way an LLM stage of a user's run does: the same `Endpoint`,
`LLMClient` (limiter, response cache in `workdir`, progress files), the batch split over two
processes (one event loop per core, each with half the concurrency), and each process writing
its results as a Parquet shard (temp file, then rename) before the call returns.

The second process is forked when this process has no other threads (the benchmark's plain
script): that starts it in milliseconds with errata already imported. With threads around
(a Prefect worker, say) fork is unsafe, and forkserver with errata preloaded is used instead.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Imported by /work/shared/peers/run_errata.py with the checkout on sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from errata.generators.llm import (
    ChatRequest,
    ChatResult,
    Endpoint,
    run_requests,
    split_endpoint,
)

# pyarrow imports pandas on its first conversion of Python lists (0.2-0.3 s here): pay it at
# import time, as the pipeline's own modules do, not inside the first shard write.
pa.array(["primed"], pa.string())

PROCESSES = 2
MAX_TOKENS = 8  # as the other runners ask


def _write_shard(results: list[ChatResult], path: Path) -> None:
    table = pa.table(
        {
            "item_id": [r.request.item_id for r in results],
            "content": [r.content for r in results],
            "error": [r.error for r in results],
            "prompt_tokens": pa.array([r.prompt_tokens for r in results], pa.int32()),
            "completion_tokens": pa.array([r.completion_tokens for r in results], pa.int32()),
            "cost_usd": [r.cost_usd for r in results],
            "cached": [r.cached for r in results],
        }
    )
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, path)


def _run_share(endpoint: Endpoint, model: str, prompts: list[str], first: int, shard: str) -> int:
    requests = [
        ChatRequest.build(
            model,
            [{"role": "user", "content": prompt}],
            {"max_tokens": MAX_TOKENS},
            item_id=f"prompt-{first + offset}",
        )
        for offset, prompt in enumerate(prompts)
    ]
    results, _ = run_requests(endpoint, requests)
    _write_shard(results, Path(shard))
    return sum(result.ok for result in results)


def _child(arguments: tuple, answer: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    answer.put(_run_share(*arguments))


def run(
    base_url: str, model: str, api_key: str, prompts: list[str], concurrency: int, workdir: str
) -> int:
    """Sends `prompts` through errata's LLM stage; returns the number of successful replies."""
    os.environ["OPENAI_API_KEY"] = api_key  # as a user exports it; never in the Endpoint
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    endpoint = Endpoint(
        base_url,
        timeout=60.0,
        max_retries=2,
        concurrency=concurrency,
        cache_dir=str(work / "cache"),
        progress_dir=str(work / "progress"),
    )
    share = split_endpoint(endpoint, PROCESSES)
    half = (len(prompts) + 1) // 2
    if threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["errata.generators.llm.client"])
    answer = context.SimpleQueue()
    child = context.Process(
        target=_child,
        args=((share, model, prompts[half:], half, str(work / "results-1.parquet")), answer),
    )
    child.start()
    # This process takes the other half itself rather than idling while the child works.
    ok = _run_share(share, model, prompts[:half], 0, str(work / "results-0.parquet"))
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"the second LLM worker process failed (exit code {child.exitcode})")
    return ok + answer.get()
