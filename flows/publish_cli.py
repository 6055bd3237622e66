"""`errata publish`: gates, then one upload of the export folder to the Hub."""

from __future__ import annotations


def publish_command() -> None:
    """Publish the export folder to the Hugging Face Hub (being built)."""
    raise NotImplementedError("errata publish is being built")
