"""``platform audit``: read the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from platform_sdk.clikit import emit, json_option
from platform_sdk.identity.cli_common import open_platform
from platform_sdk.identity.sdk.audit import AuditManager

__all__ = ["audit"]


@click.command()
@click.option("--user", help="Only actions by this user.")
@click.option("--action", help="Exact action, or a prefix ending in '.' (e.g. secret.).")
@click.option("--target-type", help="Only this kind of target (user, token, secret …).")
@click.option("--project", help="Only this project (owner/name or id).")
@click.option("--since", type=click.DateTime(), help="From this UTC time.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
def audit(
    user: str | None,
    action: str | None,
    target_type: str | None,
    project: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit log, newest first (needs admin:config)."""
    with open_platform() as p:
        rows = []
        listing = AuditManager(p).list(
            user=user,
            action=action,
            target_type=target_type,
            project=project,
            since=since.replace(tzinfo=UTC) if since else None,
        )
        for entry in listing:
            rows.append(entry.to_dict())
            if len(rows) >= limit:
                break
    if as_json:
        emit(rows, as_json=True)
        return
    emit(
        [
            {
                "at": r["at"][:19].replace("T", " "),
                "actor": r["actor_name"],
                "action": r["action"],
                "target": f"{r['target_type']}:{r['target_id']}" if r["target_type"] else "",
                "from": r["client_addr"] or "",
            }
            for r in rows
        ],
        as_json=False,
    )
