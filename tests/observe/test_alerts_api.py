"""Alert rules and events over HTTP, the CLI and the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.alert_cli import alerts as alerts_cli
from platform_sdk.observe.alert_routes import router
from platform_sdk.observe.alert_sdk import AlertRuleManager
from platform_sdk.observe.alerts import AlertEvaluator
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.observe.alertkit import Team, at, ingest, log_rows, team
from tests.plugins.platforms import People

__all__ = ["team"]

BASE = "/api/observe/alerts"


@pytest.fixture
def client(team: Team) -> Iterator[TestClient]:
    app = create_app(team.platform)
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_http_crud_events_and_permissions(team: Team, people: People, client: TestClient) -> None:
    dev = people.auth(people.token(team.dev))
    viewer = people.auth(people.token(team.viewer))
    bob = people.auth(people.token(team.bob))
    body = {
        "name": "errors",
        "project": team.app,
        "kind": "log",
        "level": "error",
        "threshold": 0,
        "for": 0,
    }
    assert client.post(f"{BASE}/rules", json=body).status_code == 401
    assert client.post(f"{BASE}/rules", json=body, headers=viewer).status_code == 403
    assert client.post(f"{BASE}/rules", json=body, headers=bob).status_code == 404
    bad = client.post(f"{BASE}/rules", json={**body, "window": 5}, headers=dev)
    assert bad.status_code == 422
    assert "window" in bad.json()["error"]["message"]
    made = client.post(f"{BASE}/rules", json=body, headers=dev)
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["for"] == 0
    assert rule["query"].startswith("SELECT count(*)")
    assert rule["params"] == {"level": "ERROR"}
    rid = rule["id"]
    listed = client.get(f"{BASE}/rules", params={"project": team.app}, headers=viewer).json()
    assert [r["id"] for r in listed["items"]] == [rid]
    assert client.get(f"{BASE}/rules", headers=bob).json()["total"] == 0
    assert client.get(f"{BASE}/rules/{rid}", headers=bob).status_code == 404
    changed = client.patch(f"{BASE}/rules/{rid}", json={"for": 0, "q": "boom"}, headers=dev)
    assert changed.status_code == 200, changed.text
    assert changed.json()["q"] == "boom"
    assert client.patch(f"{BASE}/rules/{rid}", json={"q": None}, headers=viewer).status_code == 403

    ingest(team.platform, "logs", log_rows([(-5, "ERROR", "boom!")]))
    assert AlertEvaluator(team.platform).run_once(now=at(0)) == 1
    firing = client.get(f"{BASE}/events", params={"state": "firing"}, headers=viewer).json()
    (event,) = firing["items"]
    assert (event["rule"], event["project"], event["value"]) == ("errors", team.app, 1.0)
    assert client.get(f"{BASE}/rules/{rid}/events", headers=dev).json()["total"] == 1
    assert client.get(f"{BASE}/events/{event['id']}", headers=dev).json()["state"] == "firing"
    assert client.get(f"{BASE}/events/{event['id']}", headers=bob).status_code == 404
    assert client.get(f"{BASE}/events", headers=bob).json()["total"] == 0
    assert client.get(f"{BASE}/rules/{rid}", headers=dev).json()["state"] == "firing"

    assert client.delete(f"{BASE}/rules/{rid}", headers=viewer).status_code == 403
    assert client.delete(f"{BASE}/rules/{rid}", headers=dev).status_code == 204
    assert client.get(f"{BASE}/rules/{rid}", headers=dev).status_code == 404


def _cli(team: Team, *args: str, user: str = "dev") -> Result:
    obj: dict[str, Any] = {"settings": team.platform.settings, "as_user": user}
    return CliRunner().invoke(alerts_cli, list(args), obj=obj)


def test_cli(team: Team) -> None:
    made = _cli(
        team,
        *("rules", "create", "cpu", "--project", team.app, "--metric", "cpu"),
        *("--label", "host=a", "--threshold", "0.5", "--for", "2m", "--window", "1m", "--json"),
    )
    assert made.exit_code == 0, made.output
    rule = json.loads(made.stdout)
    assert (rule["for"], rule["window"], rule["labels"]) == (120, 60, {"host": "a"})
    listed = _cli(team, "rules", "list", "--project", team.app)
    assert "cpu" in listed.stdout
    assert "STATE" in listed.stdout
    shown = json.loads(_cli(team, "rules", "show", "cpu", "--project", team.app, "--json").stdout)
    assert shown["id"] == rule["id"]
    assert shown["events"] == []
    updated = _cli(
        team,
        *("rules", "update", "cpu", "--project", team.app, "--threshold", "0.7"),
        *("--clear", "labels", "--disable", "--json"),
    )
    assert updated.exit_code == 0, updated.output
    data = json.loads(updated.stdout)
    assert (data["threshold"], data["labels"], data["enabled"]) == (0.7, {}, False)
    bad = _cli(team, "rules", "create", "x", "--project", team.app, "--metric", "a b")
    assert bad.exit_code == 1
    assert "error[validation_failed]: metric" in bad.stderr
    denied = _cli(team, "rules", "rm", "cpu", "--project", team.app, user="viewer")
    assert denied.exit_code == 1
    assert "permission_denied" in denied.stderr
    _cli(team, "rules", "update", rule["id"], "--enable")
    evaluated = _cli(team, "evaluate", "--json")
    assert json.loads(evaluated.stdout) == {"evaluated": 1}
    events = _cli(team, "events", "--rule", "cpu", "--project", team.app, "--json")
    assert json.loads(events.stdout) == []  # no data: nothing pending
    removed = _cli(team, "rules", "rm", "cpu", "--project", team.app)
    assert removed.exit_code == 0, removed.output
    missing = _cli(team, "rules", "show", rule["id"])
    assert missing.exit_code == 1
    assert "not_found" in missing.stderr


def test_sdk(team: Team) -> None:
    ingest(team.platform, "logs", log_rows([(-5, "ERROR", "boom")]))
    with Platform(team.platform.settings, user="dev") as as_dev:
        alerts = AlertRuleManager(as_dev)
        rule = alerts.create("errors", project=team.app, kind="log", level="error", for_=0)
        assert repr(rule) == "<AlertRule 'errors' (alice/app, log) ok>"
        assert rule.params == {"level": "ERROR"}
        with pytest.raises(ValidationFailed, match="window"):
            alerts.create("bad", project=team.app, kind="log", window=1)
        assert alerts.evaluate(now=at(0)) == 1
        assert rule.refresh().state == "firing"
        (event,) = rule.events()
        assert (event.state, event.value) == ("firing", 1.0)
        assert [e.id for e in alerts.events.list(project=team.app, state="firing")] == [event.id]
        assert alerts.events.get(event.id).rule == "errors"
        assert [r.name for r in alerts.list()] == ["errors"]
        assert rule.update(threshold=5).threshold == 5
        assert rule.disable().state == "ok"
        assert [e.state for e in rule.events()] == ["resolved"]
        assert alerts.get("errors", project=team.app).enabled is False
        rule.delete()
        with pytest.raises(NotFound):
            alerts.get("errors", project=team.app)
