"""Helpers for the user, auth and token tests: an app with their routers, the CLI, audit rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from platform_sdk.core.audit import AuditLog
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app

PASSWORD = "correct horse battery staple"  # tests.plugins.platforms.People.PASSWORD


@contextmanager
def api(platform: Platform, base_url: str = "http://testserver") -> Iterator[TestClient]:
    """A client of the server app (every router is mounted by create_app)."""
    app = create_app(platform)
    with TestClient(app, base_url=base_url, raise_server_exceptions=False) as client:
        yield client


def audit_rows(platform: Platform, action: str) -> list[AuditLog]:
    with platform.session() as db:
        return list(
            db.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.at))
        )


def assert_audit_clean(platform: Platform, *secrets: str) -> None:
    """No audit row anywhere mentions any of ``secrets`` (passwords, raw tokens)."""
    with platform.session() as db:
        for row in db.scalars(select(AuditLog)):
            text = repr((row.details, row.target_id, row.action))
            for secret in secrets:
                assert secret not in text, f"{row.action} leaks a secret: {row.details}"


def run_cli(
    platform: Platform,
    group: click.Group,
    args: Sequence[str],
    *,
    as_user: str | None = None,
    input: str | None = None,
) -> Result:
    obj: dict[str, Any] = {"settings": platform.settings, "as_user": as_user}
    return CliRunner().invoke(group, list(args), obj=obj, input=input)
