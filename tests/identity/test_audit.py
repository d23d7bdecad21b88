"""Reading the audit log: admins only, filters, pagination, through services, HTTP, CLI, SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import PermissionDenied, ValidationFailed
from platform_sdk.identity.cli.audit import audit as audit_cli
from platform_sdk.identity.sdk.audit import AuditManager
from platform_sdk.identity.services.audit import list_audit
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People


def _seed(platform: Platform, actor: Actor, n: int = 5) -> None:
    with platform.session() as db:
        for i in range(n):
            audit.record(db, actor, f"widget.poke{i % 2}", target_type="widget", target_id=i)
        audit.record(
            db, actor, "secret.set", target_type="secret", details={"name": "X", "value": "hunter2"}
        )


def test_admins_read_with_filters_and_pages(platform: Platform, admin: Actor) -> None:
    _seed(platform, admin)
    with platform.session() as db:
        everything = list_audit(db, actor=admin, page=PageParams(per_page=200))
        assert everything.items[0].action == "secret.set"  # newest first
        pokes = list_audit(db, actor=admin, page=PageParams(per_page=2), action="widget.")
        assert pokes.total == 5
        assert len(pokes.items) == 2
        assert pokes.next_page == 2
        assert list_audit(db, actor=admin, page=PageParams(), action="widget.poke1").total == 2
        assert list_audit(db, actor=admin, page=PageParams(), target_id="3").total == 1
        assert list_audit(db, actor=admin, page=PageParams(), user="nobody").total == 0
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert list_audit(db, actor=admin, page=PageParams(), since=later).total == 0
        with pytest.raises(ValidationFailed, match="timezone"):
            list_audit(db, actor=admin, page=PageParams(), since=datetime(2026, 1, 1))


def test_secret_looking_details_are_redacted(platform: Platform, admin: Actor) -> None:
    _seed(platform, admin, 0)
    with platform.session() as db:
        row = list_audit(db, actor=admin, page=PageParams(), action="secret.set").items[0]
    assert row.details == {"name": "X", "value": "[redacted]"}


def test_non_admins_are_refused(platform: Platform, people: People) -> None:
    dev = people.user("dev", roles=("developer",))
    with platform.session() as db, pytest.raises(PermissionDenied):
        list_audit(db, actor=dev, page=PageParams())


def test_http_audit(platform: Platform, people: People, admin: Actor) -> None:
    _seed(platform, admin)
    app = create_app(platform)
    dev = people.user("dev", roles=("developer",))
    with TestClient(app) as c:
        assert c.get("/api/audit").status_code == 401
        assert c.get("/api/audit", headers=people.auth(people.token(dev))).status_code == 403
        h = people.auth(people.token(admin))
        body = c.get("/api/audit", params={"action": "widget.", "per_page": 3}, headers=h).json()
        assert body["total"] == 5
        assert body["next_page"] == 2
        assert len(body["items"]) == 3
        r = c.get("/api/audit", params={"since": "2026-01-01T00:00:00"}, headers=h)
        assert r.status_code == 422
        assert c.get("/api/audit", params={"per_page": 0}, headers=h).status_code == 422


def test_cli_and_sdk(platform: Platform, admin: Actor) -> None:
    _seed(platform, admin)
    result = CliRunner().invoke(
        audit_cli,
        ["--action", "widget.", "--limit", "3", "--json"],
        obj={"settings": platform.settings, "as_user": None},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    assert {r["action"] for r in rows} <= {"widget.poke0", "widget.poke1"}
    listing = AuditManager(platform).list(action="widget.")
    assert listing.total == 5
    entries = list(listing)
    assert len(entries) == 5
    assert "widget.poke" in repr(entries[0])
