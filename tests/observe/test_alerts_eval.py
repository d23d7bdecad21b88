"""The evaluator: windows, ``for``, firing and resolving, notifications, claims, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import ValidationFailed
from platform_sdk.notify.services import notifications as notes
from platform_sdk.observe.alert_schemas import AlertRuleUpdate
from platform_sdk.observe.alerts import AlertEvaluator, evaluate_rule
from platform_sdk.observe.models import AlertRule
from platform_sdk.observe.services import alerts as svc
from tests.observe.alertkit import Team, at, ingest, log_rows, metric_rows, team

__all__ = ["team"]


def _rule(team: Team, name: str) -> AlertRule:
    with team.platform.session() as db:
        found = db.scalar(select(AlertRule).where(AlertRule.name == name))
        assert found is not None
        return found


def test_a_metric_rule_fires_after_for_and_resolves_and_notifies(team: Team) -> None:
    plat = team.platform
    rule = team.create(
        name="hot-cpu",
        metric="cpu",
        labels={"host": "a"},
        comparator="gt",
        threshold=0.8,
        window=60,
        interval_seconds=60,
        severity="critical",
        **{"for": 120},
    )
    ingest(plat, "metrics", metric_rows("cpu", [(-30, 0.9)], labels={"host": "a"}))
    ingest(plat, "metrics", metric_rows("cpu", [(-20, 0.1)], labels={"host": "b"}))  # filtered
    ingest(plat, "metrics", metric_rows("cpu", [(-10, 0.1)], project="bob/other"))  # unseen
    evaluator = AlertEvaluator(plat)
    assert evaluator.run_once(now=at(0)) == 1
    assert team.states(rule.id) == ["pending"]
    assert evaluator.run_once(now=at(30)) == 0  # not due before its interval
    ingest(plat, "metrics", metric_rows("cpu", [(30, 0.95)], labels={"host": "a"}))
    assert evaluator.run_once(now=at(60)) == 1
    assert team.states(rule.id) == ["pending"]  # held 60 s of 120
    assert team.actions() == []
    ingest(plat, "metrics", metric_rows("cpu", [(90, 0.85)], labels={"host": "a"}))
    assert evaluator.run_once(now=at(120)) == 1
    assert team.states(rule.id) == ["firing"]
    assert team.call(svc.get_rule, team.dev, rule=rule.id).state == "firing"
    (fired,) = team.events
    assert fired["action"] == "firing"
    assert fired["rule"] == "hot-cpu"
    assert fired["project"] == team.app
    assert fired["project_id"] == str(team.app_id)
    assert fired["value"] == 0.85
    assert (fired["threshold"], fired["comparator"], fired["severity"]) == (0.8, "gt", "critical")
    assert (fired["actor"], fired["actor_id"]) == ("system", None)
    assert fired["url"].endswith("/alice/app/alerts")
    # the notification went out to dev (developer on the project: alert:manage), not viewer
    inbox = team.call(notes.list_notifications, team.dev, page=PageParams())
    assert [(n.kind, n.title) for n in inbox.items] == [
        ("alert.firing", "[alice/app] alert firing: hot-cpu")
    ]
    assert "0.85 > 0.8" in inbox.items[0].body
    assert team.call(notes.list_notifications, team.viewer, page=PageParams()).items == []
    # the condition stops holding: resolved, announced once
    ingest(plat, "metrics", metric_rows("cpu", [(150, 0.2)], labels={"host": "a"}))
    assert evaluator.run_once(now=at(180)) == 1
    assert evaluator.run_once(now=at(240)) == 1  # no data: nothing more happens
    assert team.states(rule.id) == ["resolved"]
    assert team.actions() == ["firing", "resolved"]
    assert team.events[1]["value"] == 0.2
    event = team.call(svc.list_events, team.viewer, page=PageParams(), project=team.app).items[0]
    assert (event.fired_at, event.resolved_at, event.notified) == (at(120), at(180), True)
    with plat.session() as db:
        audited = db.scalars(
            select(AuditLog.action)
            .where(AuditLog.target_id == str(rule.id), AuditLog.actor_name == "system")
            .order_by(AuditLog.at)
        ).all()
    assert audited == ["alert.firing", "alert.resolved"]


def test_a_pending_event_that_stops_holding_resolves_silently(team: Team) -> None:
    rule = team.create(name="flappy", kind="log", level="error", threshold=0, window=60)
    rule = team.call(svc.update_rule, team.dev, rule=rule.id, body=AlertRuleUpdate(**{"for": 300}))
    ingest(team.platform, "logs", log_rows([(-5, "ERROR", "boom")]))
    evaluator = AlertEvaluator(team.platform)
    evaluator.run_once(now=at(0))
    assert team.states(rule.id) == ["pending"]
    evaluator.run_once(now=at(60))  # the error left the window
    assert team.states(rule.id) == ["resolved"]
    (event,) = team.call(svc.list_events, team.dev, page=PageParams(), rule=rule.id).items
    assert (event.fired_at, event.resolved_at) == (None, at(60))
    assert team.events == []


def test_log_count_rule_with_for_zero_fires_at_once(team: Team) -> None:
    rule = team.create(
        name="errors", kind="log", level="error", service="api", comparator="ge", threshold=2
    )
    ingest(
        team.platform,
        "logs",
        log_rows([(-50, "ERROR", "a"), (-40, "error", "b"), (-30, "WARN", "c")])
        + log_rows([(-20, "ERROR", "d")], service="worker")
        + log_rows([(-400, "ERROR", "old")]),  # outside the 300 s window
    )
    assert evaluate_rule(team.platform, _rule(team, "errors"), at(0)) == 2.0
    AlertEvaluator(team.platform).run_once(now=at(0))
    assert team.states(rule.id) == ["firing"]
    assert team.events[0]["value"] == 2.0


def test_absent_fires_without_data_and_resolves_when_data_comes(team: Team) -> None:
    heartbeat = team.create(
        name="heartbeat", kind="log", q="heartbeat", comparator="absent", window=60
    )
    gauge = team.create(name="queue", metric="queue.depth", comparator="absent", window=60)
    evaluator = AlertEvaluator(team.platform)
    assert evaluator.run_once(now=at(0)) == 2
    assert team.states(heartbeat.id) == ["firing"]
    assert team.states(gauge.id) == ["firing"]
    ingest(team.platform, "logs", log_rows([(30, "INFO", "Heartbeat ok")]))
    ingest(team.platform, "metrics", metric_rows("queue.depth", [(30, 0.0)]))
    assert evaluator.run_once(now=at(60)) == 2
    assert team.states(heartbeat.id) == ["resolved"]
    assert team.states(gauge.id) == ["resolved"]  # a 0 gauge is data
    assert sorted(team.actions()) == ["firing", "firing", "resolved", "resolved"]


def test_sql_rule_sees_its_window_and_its_project_only(team: Team) -> None:
    query = "select count(distinct service) from logs where severity = 'ERROR'"
    team.create(name="noisy", query=query, comparator="ge", threshold=2, window=120)
    team.create(team.admin, name="everyone", query=query, project=None, threshold=2)
    ingest(
        team.platform,
        "logs",
        log_rows([(-60, "ERROR", "x")], service="a")
        + log_rows([(-200, "ERROR", "x")], service="b")  # outside the window
        + log_rows([(-60, "ERROR", "x")], service="c", project="bob/other")
        + log_rows([(-60, "ERROR", "x")], service="d", project=None),
    )
    assert evaluate_rule(team.platform, _rule(team, "noisy"), at(0)) == 1.0
    assert evaluate_rule(team.platform, _rule(team, "everyone"), at(0)) == 4.0
    rate = team.create(name="per-second", query="select count(*) / $window from logs")
    assert rate.window == 3600
    assert evaluate_rule(team.platform, _rule(team, "per-second"), at(0)) == 2 / 3600


def test_metric_aggregates(team: Team) -> None:
    points = [(-50, 10.0), (-40, 40.0), (-30, 25.0)]
    ingest(team.platform, "metrics", metric_rows("g", points))
    counter = [(-50, 100.0), (-40, 160.0), (-30, 5.0), (-20, 35.0)]  # resets after 160
    ingest(team.platform, "metrics", metric_rows("c", counter, temporality="cumulative"))
    expected = {"avg": 25.0, "sum": 75.0, "min": 10.0, "max": 40.0, "count": 3.0, "last": 25.0}
    for agg, value in expected.items():
        team.create(name=f"g-{agg}", metric="g", agg=agg, window=60)
        assert evaluate_rule(team.platform, _rule(team, f"g-{agg}"), at(0)) == value
    team.create(name="c-rate", metric="c", agg="rate", window=60)
    assert evaluate_rule(team.platform, _rule(team, "c-rate"), at(0)) == (60 + 5 + 30) / 60
    team.create(name="none", metric="missing", agg="max", window=60)
    assert evaluate_rule(team.platform, _rule(team, "none"), at(0)) is None


def test_two_evaluators_never_evaluate_a_rule_twice(team: Team) -> None:
    team.create(name="errors", kind="log", threshold=0)
    first, second = AlertEvaluator(team.platform), AlertEvaluator(team.platform)
    seen_by_second = second.due(at(0))  # both read the rule as due …
    assert [d.id for d in first.due(at(0))] == [d.id for d in seen_by_second]
    assert first.run_once(now=at(0)) == 1  # … the first claims it …
    assert not second.claim(seen_by_second[0], at(0))  # … the second cannot
    assert second.run_once(now=at(0)) == 0
    assert second.run_once(now=at(60)) == 1
    assert first.run_once(now=at(60)) == 0


def test_errors_are_kept_on_the_rule_and_never_stop_the_loop(team: Team) -> None:
    broken = team.create(name="broken", query="select count(*) from logs")
    fine = team.create(name="fine", kind="log", comparator="absent")
    with team.platform.session() as db:  # as if the view had lost a column since
        row = db.get_one(AlertRule, broken.id)
        row.query = "select sum(gone) from logs"
    evaluator = AlertEvaluator(team.platform)
    assert evaluator.run_once(now=at(0)) == 2
    failed = team.call(svc.get_rule, team.dev, rule=broken.id)
    assert failed.last_error is not None
    assert "gone" in failed.last_error
    assert failed.state == "ok"
    assert team.states(fine.id) == ["firing"]
    evaluator.run_once(now=at(60))  # the same error is not audited again
    with team.platform.session() as db:
        row = db.get_one(AlertRule, broken.id)
        row.query = "select count(*) from logs"
    evaluator.run_once(now=at(120))
    assert team.call(svc.get_rule, team.dev, rule=broken.id).last_error is None
    with team.platform.session() as db:
        audited = db.scalars(
            select(AuditLog.action)
            .where(AuditLog.target_id == str(broken.id), AuditLog.actor_name == "system")
            .order_by(AuditLog.at)
        ).all()
    assert audited == ["alert.error", "alert.recovered"]
    # a broken rule can still be changed without touching its query (which clears its
    # error until the next evaluation); a new query is checked
    with team.platform.session() as db:
        db.get_one(AlertRule, broken.id).query = "select sum(gone) from logs"
    evaluator.run_once(now=at(180))
    changed = team.call(
        svc.update_rule, team.dev, rule=broken.id, body=AlertRuleUpdate(threshold=3)
    )
    assert (changed.threshold, changed.last_error) == (3, None)
    with pytest.raises(ValidationFailed, match="gone"):
        team.call(
            svc.update_rule, team.dev, rule=broken.id, body=AlertRuleUpdate(query="select gone")
        )


def test_disabling_or_deleting_a_firing_rule_resolves_it(team: Team) -> None:
    one = team.create(name="one", kind="log", comparator="absent")
    two = team.create(name="two", kind="log", comparator="absent")
    evaluator = AlertEvaluator(team.platform)
    assert evaluator.run_once(now=at(0)) == 2
    off = team.call(svc.update_rule, team.dev, rule=one.id, body=AlertRuleUpdate(enabled=False))
    assert off.state == "ok"
    assert team.states(one.id) == ["resolved"]
    team.call(svc.delete_rule, team.dev, rule=two.id)
    assert team.actions() == ["firing", "firing", "resolved", "resolved"]
    assert team.events[-1]["actor"] == "dev"
    assert evaluator.run_once(now=at(60)) == 0  # disabled rules are not evaluated


def test_the_background_loop_evaluates_until_stopped(team: Team) -> None:
    team.create(name="quiet", kind="log", comparator="absent")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def fired(_: dict[str, Any]) -> None:  # called in the evaluator's thread
            loop.call_soon_threadsafe(stop.set)

        team.platform.runtime.on("events.alert", fired)
        await asyncio.wait_for(AlertEvaluator(team.platform).run_forever(stop), timeout=30)

    asyncio.run(main())
    assert team.actions() == ["firing"]
