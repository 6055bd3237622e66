"""`errata publish`: gates, then one upload of the export folder to the Hub.

No Prefect import at load: it loads only when a Prefect API is configured (see
flows/tracking.py); otherwise the same gates and upload run directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from errata.store.catalog import DEFAULT_SHARDS
from errata.store.export import DEFAULT_EXPORT


def run_publish(**parameters: Any) -> dict[str, Any]:
    """Publish under Prefect when an API is configured, else directly."""
    from errata.flows.tracking import prefect_api, untracked_reason

    if untracked_reason(None):
        from errata.store.publish import publish

        return publish(
            parameters["repo_id"],
            Path(parameters["export"]),
            Path(parameters["shards"]),
            private=parameters["private"],
            dry_run=parameters["dry_run"],
        )
    from errata.flows.publish_flow import publish as publish_flow

    with prefect_api():
        return publish_flow(**parameters)


def publish_command(
    repo_id: Annotated[str, typer.Option("--repo-id", help="Hub dataset repo: ORG/NAME")],
    export: Annotated[
        Path, typer.Option("--export", help="Export folder (errata export --out)")
    ] = DEFAULT_EXPORT,
    shards: Annotated[
        Path, typer.Option("--shards", help="Shard root: the folder of Parquet shards.")
    ] = DEFAULT_SHARDS,
    private: Annotated[bool, typer.Option("--private", help="Create the repo private")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run every gate, print the upload, call no Hub")
    ] = False,
) -> None:
    """Publish the export folder to the Hugging Face Hub: gates (schema, unique ids,
    decontamination, secret scan, datasets loads it), then one commit. The token comes from
    HF_TOKEN or `hf auth login`."""
    from errata.flows.cli import _fail, console
    from errata.store import catalog
    from errata.store.publish import PublishError, require_token

    try:
        if not dry_run:
            require_token()  # before any work
        summary = run_publish(
            repo_id=repo_id,
            export=str(export),
            shards=str(shards),
            private=private,
            dry_run=dry_run,
        )
    except PublishError as exc:
        _fail(str(exc))
    rows = [(path, size) for path, size in summary["files"]]
    console.print(catalog.render_table(["file", "bytes"], rows, "upload"))
    for check in summary["checks"]:
        console.print(f"[green]✓[/] {check}", highlight=False)
    visibility = "private" if private else "public"
    console.print(f"repo: {repo_id} (dataset, {visibility})", highlight=False)
    console.print(f"commit message: {summary['commit_message']}", highlight=False)
    if dry_run:
        console.print("dry run: nothing was uploaded")
    else:
        console.print(f"uploaded: {summary.get('url') or repo_id}", highlight=False)
