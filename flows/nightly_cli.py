"""`errata nightly` and `errata serve`: one incremental night now, or the nightly schedule
served from this process."""

from __future__ import annotations


def nightly_command() -> None:
    """Run one incremental night now (being built)."""
    raise NotImplementedError("errata nightly is being built")


def serve_command() -> None:
    """Serve the nightly deployment from this process (being built)."""
    raise NotImplementedError("errata serve is being built")
