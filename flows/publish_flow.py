"""The Prefect `publish` flow: the gates and the upload of store/publish.py, and a report.

No token parameter: parameters show in the UI, so huggingface_hub finds the token itself
(HF_TOKEN in the worker's environment, or its login).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from errata.store import publish as publishing
from errata.store.catalog import DEFAULT_SHARDS
from errata.store.export import DEFAULT_EXPORT


def report_markdown(summary: dict[str, Any]) -> str:
    """What went up (or would), and the gates passed."""
    action = "would upload" if summary["dry_run"] else "uploaded"
    lines = [
        f"# errata publish to `{summary['repo_id']}` "
        f"({'private' if summary['private'] else 'public'})",
        "",
        f"{action} {len(summary['files'])} files: {summary['commit_message']}",
        "",
        *(f"- {check}" for check in summary["checks"]),
        "",
        "| file | bytes |",
        "|---|---:|",
        *(f"| {path} | {size:,} |" for path, size in summary["files"]),
    ]
    if summary.get("url"):
        lines += ["", f"Commit: {summary['url']}"]
    return "\n".join(lines)


@flow(name="publish", log_prints=True)
def publish(
    repo_id: str,
    export: str = str(DEFAULT_EXPORT),
    shards: str = str(DEFAULT_SHARDS),
    private: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Gate the export folder, then upload it to the Hub dataset repo in one commit."""
    summary = publishing.publish(
        repo_id, Path(export), Path(shards), private=private, dry_run=dry_run
    )
    create_markdown_artifact(report_markdown(summary), key="errata-publish-summary")
    return summary
