"""Whether a Prefect API is configured, decided without importing Prefect (about 1 s).

A run is tracked by Prefect when an API is configured: `PREFECT_API_URL` in the
environment or in the active Prefect profile. Without one, Prefect would start a
temporary server for every command (4–20 s here, against about 1 s of work for 200
problems), so errata runs the same steps without Prefect and says so.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

UNTRACKED = "not tracked: no Prefect API configured (set PREFECT_API_URL, or pass --prefect)"


def _profiles_path() -> Path:
    explicit = os.environ.get("PREFECT_PROFILES_PATH")
    if explicit:
        return Path(explicit).expanduser()
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    return home / "profiles.toml"


def prefect_api_url() -> str | None:
    """The configured Prefect API URL, from the environment or the active profile."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    try:
        profiles = tomllib.loads(_profiles_path().read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    settings = profiles.get("profiles", {}).get(active or "", {})
    return settings.get("PREFECT_API_URL") or None


def use_prefect(force: bool | None = None) -> bool:
    """Run under Prefect when forced, or when an API is configured (unless forced off)."""
    if force is not None:
        return force
    return prefect_api_url() is not None


def tracking_note(tracked: bool) -> str:
    if not tracked:
        return UNTRACKED
    url = prefect_api_url()
    return f"tracked by Prefect at {url}" if url else "tracked by a temporary Prefect server"
