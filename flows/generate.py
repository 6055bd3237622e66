"""The `generate` run: problems in, verified mistake records out as Parquet shards.

`run_generate` is the one entry point. With a Prefect API configured (or `--runner dask`, or
`prefect=True`) it runs the Prefect flow `generate_flow` (`errata.flows.generate_flow`): one task
per batch on the flow's task runner (Prefect's process pool locally, a Dask cluster through
prefect-dask). With no API configured and the local runner, the same batch function runs in a
plain process pool and the summary says the run was not tracked: a temporary Prefect server
costs more than a small run, so this path does not even import Prefect. Both write
byte-identical shards and the same `runs` record; `errata.flows.batches` holds the work.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from errata.flows.batches import DEFAULT_OUT, config_hash_for, errata_version, generate_locally
from errata.store.shards import check_schema_version

Runner = Literal["local", "dask"]
RUNNERS: tuple[str, ...] = ("local", "dask")
NOT_TRACKED = "none: no Prefect API configured (set PREFECT_API_URL to track runs)"
TURNED_OFF = "none: turned off for this run"

__all__ = [
    "NOT_TRACKED",
    "RUNNERS",
    "config_hash_for",
    "errata_version",
    "prefect_api_url",
    "run_generate",
]


def prefect_api_url() -> str | None:
    """The Prefect API this process would report to, or None.

    Prefect's settings answer (environment, `.env`, `prefect.toml`, `pyproject.toml`, the
    active profile), but loading them costs more than a second, more than a small run. When
    none of those sources exists, no API can be configured and Prefect is not asked.
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "prefect.settings" not in sys.modules and not _prefect_settings_may_name_an_api():
        return None
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def _prefect_settings_may_name_an_api() -> bool:
    """False only when no source Prefect reads settings from could name an API URL."""
    if os.environ.get("PREFECT_PROFILE") or os.environ.get("PREFECT_PROFILES_PATH"):
        return True
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    if (home / "profiles.toml").exists() or Path("prefect.toml").exists():
        return True
    mentions = {".env": "PREFECT_", "pyproject.toml": "tool.prefect"}
    for name, text in mentions.items():
        path = Path(name)
        if path.is_file() and text in path.read_text(encoding="utf-8", errors="replace"):
            return True
    return False


def run_generate(
    runner: Runner = "local",
    dask_address: str | None = None,
    prefect: bool | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """Run `generate` with the given flow parameters; returns the run's summary.

    `runner`: "local" (processes on this machine) or "dask" (a LocalCluster of `workers`
    processes, or the scheduler at `dask_address`). `prefect`: None decides by whether a
    Prefect API is configured; True always runs the Prefect flow (Prefect's temporary server if
    none is configured); False never does (not with Dask, whose runner is Prefect's). The
    summary's `tracking` and `runner` say which.
    """
    if dask_address:
        runner = "dask"
    if runner not in RUNNERS:
        raise ValueError(f"--runner: expected one of {', '.join(RUNNERS)}, got {runner!r}")
    if runner == "dask" and prefect is False:
        raise ValueError("--runner dask runs through Prefect's task runner; drop --no-prefect")
    check_schema_version(parameters.get("out", DEFAULT_OUT))  # before any server starts
    untracked = prefect is False or (
        prefect is None and runner == "local" and not prefect_api_url()
    )
    if untracked:
        summary = generate_locally(**parameters)
        tracking = TURNED_OFF if prefect is False else NOT_TRACKED
        return {**summary, "runner": "local processes", "tracking": tracking}

    from errata.flows.generate_flow import describe_runner, generate_flow, prefect_api, task_runner

    workers = parameters.get("workers", 2)
    on = task_runner(runner, workers, dask_address)
    with prefect_api() as tracking:
        summary = generate_flow.with_options(task_runner=on)(**parameters)
    return {
        **summary,
        "runner": describe_runner(runner, workers, dask_address),
        "tracking": tracking,
    }


def __getattr__(name: str) -> Any:
    # `generate_flow` lives with Prefect in errata.flows.generate_flow; importing it from here
    # still works, without making every untracked run import Prefect.
    if name == "generate_flow":
        from errata.flows.generate_flow import generate_flow

        return generate_flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
