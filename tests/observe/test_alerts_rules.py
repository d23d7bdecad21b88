"""Alert rules: CRUD, who may see and change them, validation, parameterised SQL."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import AlreadyExists, NotFound, PermissionDenied, ValidationFailed
from platform_sdk.observe.alert_schemas import AlertRuleCreate, AlertRuleUpdate
from platform_sdk.observe.alerts import evaluate_rule
from platform_sdk.observe.models import AlertRule
from platform_sdk.observe.services import alerts as svc
from tests.observe.alertkit import Team, at, ingest, log_rows, team

__all__ = ["team"]


def _names(team: Team, who: Any, **filters: Any) -> list[str]:
    page = team.call(svc.list_rules, who, page=PageParams(), **filters)
    return [r.name for r in page.items]


def test_metric_rule_compiles_to_sql_with_bound_values(team: Team) -> None:
    rule = team.create(
        name="hot-cpu",
        metric="system.cpu.utilization",
        agg="max",
        labels={"host.name": "web-1", "cpu": 3},
        service="api",
        threshold=0.9,
        **{"for": 120},
    )
    assert rule.kind == "metric"
    assert rule.project == team.app
    assert rule.window == 300
    assert rule.for_ == 120
    assert rule.state == "ok"
    assert rule.created_by == "dev"
    assert "max(value)" in rule.query
    for value in ("system.cpu.utilization", "web-1", "host.name", "api"):
        assert value not in rule.query  # values are parameters, never SQL text
    assert "$metric" in rule.query
    assert "json_extract_string(labels, $label_key_0) = $label_value_0" in rule.query
    assert rule.params == {
        "metric": "system.cpu.utilization",
        "label_key_0": '$."cpu"',
        "label_value_0": "3",
        "label_key_1": '$."host.name"',
        "label_value_1": "web-1",
        "service": "api",
    }
    assert rule.model_dump(mode="json")["for"] == 120  # the JSON key is "for"
    with team.platform.session() as db:
        actions = db.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(rule.id))
        ).all()
    assert actions == ["alert.rule.create"]


def test_a_hostile_search_text_is_only_ever_text(team: Team) -> None:
    hostile = "'); drop table logs; --"
    rule = team.create(name="hostile", kind="log", q=hostile, threshold=0)
    assert hostile not in rule.query
    assert rule.params["q"] == "%'); drop table logs; --%"
    percent = team.create(name="percent", kind="log", q="50%_off", level="Error")
    assert percent.params == {"q": "%50\\%\\_off%", "level": "ERROR"}
    ingest(
        team.platform,
        "logs",
        log_rows(
            [
                (-10, "INFO", f"user typed {hostile}"),
                (-9, "error", "50%_off today"),
                (-8, "ERROR", "500 off today"),  # % and _ are not wildcards
                (-7, "ERROR", "50x off"),
            ]
        ),
    )
    with team.platform.session() as db:
        rules = {r.name: r for r in db.scalars(select(AlertRule))}
    assert evaluate_rule(team.platform, rules["hostile"], at(0)) == 1.0
    assert evaluate_rule(team.platform, rules["percent"], at(0)) == 1.0


def test_who_may_read_and_write_rules(team: Team) -> None:
    rule = team.create(name="errors", kind="log", level="error", threshold=5)
    # viewer reads but may not write
    assert team.call(svc.get_rule, team.viewer, rule=rule.id).name == "errors"
    assert _names(team, team.viewer) == ["errors"]
    body = AlertRuleCreate(name="mine", kind="log", project=team.app)
    with pytest.raises(PermissionDenied, match="alert:manage"):
        team.call(svc.create_rule, team.viewer, body=body)
    with pytest.raises(PermissionDenied):
        team.call(svc.update_rule, team.viewer, rule=rule.id, body=AlertRuleUpdate(threshold=1))
    with pytest.raises(PermissionDenied):
        team.call(svc.delete_rule, team.viewer, rule=rule.id)
    # bob sees nothing of alice/app: not the rule, not the project
    hidden: list[tuple[Any, dict[str, Any]]] = [
        (svc.get_rule, {"rule": rule.id}),
        (svc.get_rule, {"rule": "errors", "project": team.app}),
        (svc.update_rule, {"rule": rule.id, "body": AlertRuleUpdate(threshold=1)}),
        (svc.delete_rule, {"rule": rule.id}),
        (svc.list_events, {"rule": rule.id, "page": PageParams()}),
        (svc.list_rules, {"project": team.app, "page": PageParams()}),
    ]
    for fn, kwargs in hidden:
        with pytest.raises(NotFound):
            team.call(fn, team.bob, **kwargs)
    with pytest.raises(NotFound, match="project alice/app not found"):
        team.call(svc.create_rule, team.bob, body=body)
    assert _names(team, team.bob) == []
    # global rules: only with observe:read and alert:manage globally
    global_body = AlertRuleCreate(name="platform-errors", kind="log", level="error")
    with pytest.raises(PermissionDenied, match="observe:read globally"):
        team.call(svc.create_rule, team.dev, body=global_body)
    made = team.call(svc.create_rule, team.admin, body=global_body)
    assert made.project is None
    with pytest.raises(NotFound):
        team.call(svc.get_rule, team.dev, rule=made.id)
    assert _names(team, team.dev) == ["errors"]
    assert _names(team, team.admin) == ["errors", "platform-errors"]
    assert _names(team, team.admin, project=team.app) == ["errors"]
    assert team.call(svc.get_rule, team.admin, rule="platform-errors").id == made.id


def test_names_are_unique_per_project_and_among_global_rules(team: Team) -> None:
    team.create(name="cpu", metric="cpu")
    with pytest.raises(AlreadyExists, match="in alice/app"):
        team.create(name="cpu", metric="cpu")
    team.create(team.admin, name="cpu", metric="cpu", project=team.other)
    team.create(team.admin, name="cpu", metric="cpu", project=None)
    with pytest.raises(AlreadyExists, match="among global rules"):
        team.create(team.admin, name="cpu", metric="cpu", project=None)
    second = team.create(name="cpu2", metric="cpu")
    with pytest.raises(AlreadyExists):
        team.call(svc.update_rule, team.dev, rule=second.id, body=AlertRuleUpdate(name="cpu"))


def test_update_recompiles_and_delete_removes(team: Team) -> None:
    rule = team.create(name="latency", metric="http.duration", labels={"route": "/a"})
    changed = team.call(
        svc.update_rule,
        team.dev,
        rule="latency",
        project=team.app,
        body=AlertRuleUpdate.model_validate({"agg": "rate", "for": 60, "labels": None}),
    )
    assert changed.agg == "rate"
    assert changed.for_ == 60
    assert changed.labels == {}
    assert "$label_key_0" not in changed.query
    assert "sum(increase) / $window::DOUBLE" in changed.query
    assert changed.threshold == rule.threshold
    # switching kind drops the old kind's fields
    as_log = team.call(
        svc.update_rule,
        team.dev,
        rule=rule.id,
        body=AlertRuleUpdate(kind="log", q="timeout", window=60),
    )
    assert (as_log.kind, as_log.metric, as_log.q, as_log.window) == ("log", None, "timeout", 60)
    assert as_log.query.startswith("SELECT count(*)")
    with pytest.raises(ValidationFailed, match="metric: not used by log rules"):
        team.call(svc.update_rule, team.dev, rule=rule.id, body=AlertRuleUpdate(metric="x"))
    with team.platform.session() as db:
        audited = db.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(rule.id)).order_by(AuditLog.at)
        ).all()
    assert audited == ["alert.rule.create", "alert.rule.update", "alert.rule.update"]
    team.call(svc.delete_rule, team.dev, rule=rule.id)
    with pytest.raises(NotFound):
        team.call(svc.get_rule, team.dev, rule=rule.id)


BAD: list[tuple[dict[str, Any], str]] = [
    ({"metric": "cpu usage"}, "metric"),
    ({"metric": "cpu", "labels": {'a"b': "x"}}, "labels"),
    ({"metric": "cpu", "window": 5}, "greater than or equal to 10"),
    ({"metric": "cpu", "window": 8 * 86400}, "less than or equal to 604800"),
    ({"metric": "cpu", "threshold": math.nan}, "finite"),
    ({"metric": "cpu", "threshold": math.inf}, "finite"),
    ({"metric": "cpu", "interval_seconds": 1}, "greater than or equal to 10"),
    ({}, "say which kind of rule"),
    ({"kind": "metric"}, "a metric rule needs the metric's name"),
    ({"metric": "cpu", "q": "x"}, "q: not used by metric rules"),
    ({"kind": "log", "agg": "avg"}, "agg: not used by log rules"),
    ({"kind": "sql"}, "a sql rule needs its SELECT"),
    ({"query": "delete from logs"}, "only a SELECT is allowed"),
    ({"query": "select 1; select 2"}, "send one statement (got 2)"),
    ({"query": "select service from logs"}, "first column (service) must be a number"),
    ({"query": "select nope from logs"}, "nope"),
    ({"query": "select count(*) from projects"}, "projects"),
    ({"query": "select $foo"}, "unknown parameter(s) $foo"),
    ({"query": "select count(*) from read_csv('/etc/passwd')"}, "not allowed"),
    ({"metric": "cpu", "bogus": 1}, "bogus"),
]


@pytest.mark.parametrize(("fields", "message"), BAD)
def test_invalid_rules_are_refused_with_a_clear_message(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertRuleCreate.model_validate({"name": "r", **fields})
    assert message in str(caught.value)


def test_valid_sql_rules_may_use_the_window_parameters() -> None:
    rule = AlertRuleCreate.model_validate(
        {
            "name": "slow spans",
            "query": "select count(*) / $window from spans "
            "where duration_ms > 500 and timestamp >= $since;",
            "comparator": "ge",
            "threshold": 2,
        }
    )
    assert rule.kind == "sql"
    assert rule.window == 3600
    assert AlertRuleCreate(name="x", kind="log", level=" warn ").level == "WARN"
