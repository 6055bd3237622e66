"""A local OpenAI-compatible server for tests, `make demo-llm` and throughput benchmarks.

A test double, not a model: each chat reply comes from fixtures keyed by the request (see
`fixture_key`), else `--reply`. It can inject faults at a rate, deterministically per request
body, and enforce RPM/TPM limits with OpenAI's rate-limit headers.

    python -m errata.testing.openai_double --port 0 --port-file port.txt --latency-ms 100

From Python, `running_double(...)` starts it as a subprocess and yields a `Double`.

Endpoints: POST /v1/chat/completions, GET /v1/models, GET /health, GET /stats,
POST /stats/reset. Faults: 429, 500, hang, drop, malformed_json, truncated, schema.

Order per chat request: validate (400), look up the reply, check the RPM/TPM windows (429,
no latency), draw the fault, sleep --latency-ms, answer. Rate-limit headers are sent for the
limits that were configured; a request's tokens are its prompt plus its intended reply.
/stats/reset zeroes the counters only: rate-limit windows and per-body arrival counts (which
the fault draws depend on) keep running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errata.testing.openai_double_app import (
    ALL_FAULTS,
    DEFAULT_MODELS,
    DoubleConfig,
    OpenAIDouble,
    asgi_app,
    decide_fault,
    fixture_key,
    hide_deliberate_drops,
    load_fixtures,
    write_fixtures,
)

__all__ = [
    "ALL_FAULTS",
    "Double",
    "decide_fault",
    "fixture_key",
    "main",
    "running_double",
    "write_fixtures",
]

STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_GRACE_SECONDS = 5.0


# ---- the server process ----------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m errata.testing.openai_double",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="sleep per chat request")
    parser.add_argument("--fixtures", nargs="+", action="extend", default=[], metavar="FILE")
    parser.add_argument("--reply", default="ok", help="reply when no fixture matches")
    parser.add_argument("--model", nargs="+", action="extend", default=[], metavar="NAME")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated kinds")
    parser.add_argument("--retry-after", type=float, default=0.05, help="seconds, 429 fault")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--rpm", type=int, help="requests per sliding 60 s window")
    parser.add_argument("--tpm", type=int, help="tokens per sliding 60 s window")
    parser.add_argument("--seed", type=int, default=0, help="seeds the fault draws")
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args(argv)
    args.faults = [kind for kind in args.faults.split(",") if kind]
    unknown = sorted(set(args.faults) - set(ALL_FAULTS))
    if unknown:
        parser.error(f"unknown fault kinds {unknown}; known: {','.join(ALL_FAULTS)}")
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error("--fault-rate must be within [0, 1]")
    return args


def _write_atomically(path: Path, text: str) -> None:
    """So a reader polling for the file never sees it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT."""
    args = _parse_args(argv)
    import uvicorn  # here, so importing this module for `running_double` stays light

    double = OpenAIDouble(
        DoubleConfig(
            latency_ms=args.latency_ms,
            fixtures=load_fixtures(args.fixtures),
            reply=args.reply,
            models=tuple(args.model) or DEFAULT_MODELS,
            fault_rate=args.fault_rate,
            faults=tuple(args.faults),
            retry_after=args.retry_after,
            hang_seconds=args.hang_seconds,
            rpm=args.rpm,
            tpm=args.tpm,
            seed=args.seed,
        )
    )
    # Bind here rather than in uvicorn so port 0 works and the port is known.
    listener = socket.create_server((args.host, args.port), backlog=args.backlog)
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        asgi_app(double),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        workers=1,
        backlog=args.backlog,
        timeout_keep_alive=30,
        server_header=False,  # fewer bytes and cycles per response
        date_header=False,
        # A `hang` in flight must not hold up shutdown for --hang-seconds.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    hide_deliberate_drops()

    async def serve() -> None:
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            if args.port_file is not None:
                _write_atomically(args.port_file, str(port))
            print(
                f"openai_double: http://{args.host}:{port}/v1 latency={args.latency_ms}ms "
                f"fixtures={len(double.config.fixtures)} fault_rate={args.fault_rate} "
                f"rpm={args.rpm} tpm={args.tpm} seed={args.seed}",
                flush=True,
            )
        await serving

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:  # uvloop
        runner.run(serve())


# ---- the Python API --------------------------------------------------------------------------


def _http_json(url: str, method: str = "GET", timeout: float = 10.0) -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Double:
    """A running double: point an OpenAI client at `base_url`."""

    port: int
    log_path: Path
    process: subprocess.Popen

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def stats(self) -> dict:
        return _http_json(f"{self.root_url}/stats")

    def reset_stats(self) -> None:
        _http_json(f"{self.root_url}/stats/reset", method="POST")


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_until_healthy(process: subprocess.Popen, port_file: Path, log_path: Path) -> int:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"openai double exited with {process.returncode} before it was healthy; "
                f"log {log_path}:\n{_log_tail(log_path)}"
            )
        if port_file.exists():
            port = int(port_file.read_text())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        return port
            except OSError:
                pass
        time.sleep(0.02)
    raise TimeoutError(
        f"openai double not healthy after {STARTUP_TIMEOUT_SECONDS:.0f}s; "
        f"log {log_path}:\n{_log_tail(log_path)}"
    )


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it after a grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@contextmanager
def running_double(
    *,
    latency_ms: float = 0,
    fixtures: Iterable[str | Path] = (),
    reply: str = "ok",
    models: Sequence[str] = DEFAULT_MODELS,
    fault_rate: float = 0.0,
    faults: Sequence[str] = ALL_FAULTS,
    retry_after: float = 0.05,
    hang_seconds: float = 30.0,
    rpm: int | None = None,
    tpm: int | None = None,
    seed: int = 0,
) -> Iterator[Double]:
    """Run the double as a subprocess on a free loopback port for the `with` block."""
    workdir = Path(tempfile.mkdtemp(prefix="errata-openai-double-"))
    port_file, log_path = workdir / "port", workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "errata.testing.openai_double",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--latency-ms",
        str(latency_ms),
        f"--reply={reply}",  # one token, so a reply starting with "-" is not read as a flag
        "--fault-rate",
        str(fault_rate),
        "--faults",
        ",".join(faults),
        "--retry-after",
        str(retry_after),
        "--hang-seconds",
        str(hang_seconds),
        "--seed",
        str(seed),
    ]
    if models:
        command += ["--model", *models]
    fixture_paths = [str(path) for path in fixtures]
    if fixture_paths:
        command += ["--fixtures", *fixture_paths]
    if rpm is not None:
        command += ["--rpm", str(rpm)]
    if tpm is not None:
        command += ["--tpm", str(tpm)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so _stop reaches all of it
        )
    try:
        port = _wait_until_healthy(process, port_file, log_path)
        yield Double(port=port, log_path=log_path, process=process)
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
