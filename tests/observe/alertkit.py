"""Shared pieces of the alert tests: a team around one project, telemetry rows, a clock.

alice owns alice/app; dev is bound ``developer`` there (alert:manage + observe:read), viewer
``viewer`` (observe:read only); bob owns bob/other and nothing else. The platform's admin
holds everything globally.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import PageParams
from platform_sdk.observe.alert_schemas import AlertRuleCreate, AlertRuleOut
from platform_sdk.observe.schema import LOGS, METRICS
from platform_sdk.observe.services import alerts as svc
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.sdk import Platform
from tests.plugins.platforms import People

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0 + seconds``: the test clock."""
    return T0 + timedelta(seconds=seconds)


@dataclass
class Team:
    platform: Platform
    admin: Actor
    alice: Actor
    dev: Actor
    viewer: Actor
    bob: Actor
    app_id: uuid.UUID
    other_id: uuid.UUID
    app: str = "alice/app"
    other: str = "bob/other"
    events: list[dict[str, Any]] = field(default_factory=list)

    def call(self, fn: Any, actor: Actor, **kwargs: Any) -> Any:
        with self.platform.session() as db:
            return fn(db, actor=actor, **kwargs)

    def create(self, actor: Actor | None = None, /, **fields: Any) -> AlertRuleOut:
        fields.setdefault("project", self.app)
        out: AlertRuleOut = self.call(
            svc.create_rule, actor or self.dev, body=AlertRuleCreate.model_validate(fields)
        )
        return out

    def states(self, rule_id: uuid.UUID) -> list[str]:
        """The rule's events' states, oldest first."""
        page = self.call(svc.list_events, self.admin, page=PageParams(), rule=rule_id)
        return [e.state.value for e in reversed(page.items)]

    def actions(self) -> list[str]:
        return [e["action"] for e in self.events]


@pytest.fixture
def team(platform: Platform, people: People) -> Team:
    alice = people.user("alice")
    app_id = people.project(alice, "app")
    bob = people.user("bob")
    other_id = people.project(bob, "other")
    dev = people.user("dev", project_roles={app_id: ("developer",)})
    viewer = people.user("viewer", project_roles={app_id: ("viewer",)})
    built = Team(platform, platform.actor, alice, dev, viewer, bob, app_id, other_id)
    platform.runtime.on("events.alert", built.events.append)
    return built


def metric_rows(
    name: str,
    points: Sequence[tuple[float, float]],
    *,
    project: str | None = "alice/app",
    labels: dict[str, Any] | None = None,
    service: str = "api",
    temporality: str = "unspecified",
) -> list[dict[str, Any]]:
    """One row per ``(seconds after T0, value)``."""
    text = json.dumps(labels or {})
    return [
        {
            "timestamp": at(s),
            "service": service,
            "project": project,
            "name": name,
            "kind": "sum" if temporality != "unspecified" else "gauge",
            "series_key": f"{name}:{text}:{project}",
            "labels": text,
            "value": value,
            "is_monotonic": temporality != "unspecified",
            "temporality": temporality,
        }
        for s, value in points
    ]


def log_rows(
    entries: list[tuple[float, str, str]],
    *,
    project: str | None = "alice/app",
    service: str = "api",
) -> list[dict[str, Any]]:
    """One row per ``(seconds after T0, severity, body)``."""
    return [
        {
            "timestamp": at(s),
            "service": service,
            "project": project,
            "severity": severity,
            "body": body,
            "attributes": "{}",
        }
        for s, severity, body in entries
    ]


def ingest(platform: Platform, dataset: str, rows: list[dict[str, Any]]) -> None:
    """Append rows to the spool, as OTLP ingest does (queryable at once)."""
    schema = METRICS if dataset == "metrics" else LOGS
    telemetry_of(platform.runtime).spool.append(dataset, pa.Table.from_pylist(rows, schema=schema))
