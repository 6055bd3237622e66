"""A math-verify worker process: JSON lines in on stdin, JSON lines out on stdout.

Started by `errata.generators.verify.answers` with `python -m` (a plain subprocess, so it works
from threads and from daemonic processes such as Dask's workers, where multiprocessing pools
cannot start). Here math-verify runs in this process's main thread, where a `setitimer` alarm
can bound each pair; the parent kills the whole process if even that does not stop it.

Protocol: after warming up, the worker writes `{"ready": pid}`. Each request is
`{"task": "module:function", "pairs": [[predicted, reference], ...], "timeout": seconds}`
and gets one line back: `{"checks": [[verdict, predicted, detail], ...]}`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any


def _resolve(name: str) -> Callable[..., Any]:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def main() -> None:
    # Keep the protocol channel to ourselves: anything a library prints goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr

    from errata.generators.verify.answers import warm_up

    warm_up()
    protocol.write(json.dumps({"ready": os.getpid()}) + "\n")
    protocol.flush()
    tasks: dict[str, Callable[..., Any]] = {}
    for line in sys.stdin:
        request = json.loads(line)
        name = request["task"]
        if name not in tasks:
            tasks[name] = _resolve(name)
        pairs = [tuple(pair) for pair in request["pairs"]]
        checks = tasks[name](pairs, request["timeout"])
        reply = [[c.verdict, c.predicted, c.detail] for c in checks]
        protocol.write(json.dumps({"checks": reply}, ensure_ascii=False) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
