"""Whether a command runs under Prefect: decided without importing Prefect when it can be.

A run is tracked when a Prefect API is configured (`PREFECT_API_URL`, or a Prefect settings
source naming one), or when the user forces it. Without one, Prefect would start a temporary
server for every command (4–20 s here, against about 1 s of work for 200 problems), so
errata runs the same steps without Prefect and says so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOT_TRACKED = "none: no Prefect API configured (set PREFECT_API_URL to track runs)"
TURNED_OFF = "none: turned off for this run"


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


def untracked_reason(prefect: bool | None) -> str | None:
    """Why a command runs without Prefect (`prefect` None decides by the configuration), or
    None when it runs under Prefect."""
    if prefect is False:
        return TURNED_OFF
    if prefect is None and not prefect_api_url():
        return NOT_TRACKED
    return None


@contextmanager
def prefect_api() -> Iterator[str]:
    """The configured Prefect API, or Prefect's temporary server set as the API for this run.

    Prefect starts the temporary server lazily per process; the task runner's worker processes
    (Prefect's process pool, Dask's workers) would each start their own. Starting it here, and
    naming it in the settings they inherit, gives the whole run one server.
    """
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    url = os.environ.get("PREFECT_API_URL") or get_current_settings().api.url
    if url:
        yield f"Prefect API at {url}"
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same instance Prefect's own client would start
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield f"temporary Prefect server at {server.api_url} (set PREFECT_API_URL to keep runs)"
