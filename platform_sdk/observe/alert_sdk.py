"""Alert rules and events as SDK objects (the lead exposes the manager as ``p.observe.alerts``).

::

    alerts = AlertRuleManager(p)
    rule = alerts.create("slow-checkout", project="alice/shop", metric="http.server.duration",
                         agg="avg", labels={"route": "/checkout"}, threshold=800, for_=300)
    rule.query, rule.params          # the generated SQL and the values bound to it
    alerts.create("errors", project="alice/shop", kind="log", level="error", threshold=10)
    alerts.create("no-heartbeat", kind="sql", comparator="absent",
                  query="select max(timestamp) from logs where body = 'heartbeat'")
    alerts.evaluate()                # no server running: evaluate due rules now
    [(e.state, e.value) for e in rule.events()]
    rule.update(threshold=900); rule.disable(); rule.delete()

Rules are found by id, or by name with ``project=`` (without it, among global rules).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from platform_sdk.identity.sdk.tokens import validated
from platform_sdk.observe.alert_schemas import (
    AlertEventOut,
    AlertRuleCreate,
    AlertRuleOut,
    AlertRuleUpdate,
    AlertState,
)
from platform_sdk.observe.services import alerts as svc
from platform_sdk.sdkbase import Listing, Manager, Resource

__all__ = ["AlertEvent", "AlertEventManager", "AlertRule", "AlertRuleManager"]


def _project(project: Any) -> str | None:
    if project is None or isinstance(project, str):
        return project
    return str(project.full_name)


class AlertEvent(Resource[AlertEventOut]):
    """One episode of a rule: pending, firing, resolved."""

    def __repr__(self) -> str:
        e = self._data
        return f"<AlertEvent {e.rule} {e.state} value={e.value}>"


class AlertEventManager(Manager[AlertEvent]):
    """Alert events the acting user may read, newest first."""

    resource = AlertEvent

    def list(
        self,
        *,
        project: Any = None,
        rule: uuid.UUID | str | None = None,
        state: AlertState | str | None = None,
    ) -> Listing[AlertEvent]:
        return self._listing(
            svc.list_events,
            project=_project(project),
            rule=rule,
            state=AlertState(state) if state else None,
        )

    def get(self, event_id: uuid.UUID) -> AlertEvent:
        return self._wrap(self._call(svc.get_event, event_id=event_id))


class AlertRule(Resource[AlertRuleOut]):
    """One rule: ``update()``, ``enable()``, ``disable()``, ``delete()``, ``events()``."""

    _label: ClassVar[str] = "name"

    def update(self, **fields: Any) -> AlertRule:
        """Change the given fields (``threshold=…``, ``for_=…``, ``q=None`` clears a filter)."""
        body = validated(AlertRuleUpdate, **fields)
        self._data = self._manager._call(svc.update_rule, rule=self._data.id, body=body)
        return self

    def enable(self) -> AlertRule:
        return self.update(enabled=True)

    def disable(self) -> AlertRule:
        """Stop evaluating; an open event is resolved."""
        return self.update(enabled=False)

    def refresh(self) -> AlertRule:
        self._data = self._manager._call(svc.get_rule, rule=self._data.id)
        return self

    def delete(self) -> None:
        self._manager._call(svc.delete_rule, rule=self._data.id)

    def events(self, *, state: AlertState | str | None = None) -> Listing[AlertEvent]:
        """This rule's events, newest first."""
        return AlertEventManager(self.platform).list(rule=self._data.id, state=state)

    def __repr__(self) -> str:
        r = self._data
        where = r.project or "global"
        return f"<AlertRule {r.name!r} ({where}, {r.kind}) {r.state}>"


class AlertRuleManager(Manager[AlertRule]):
    """Alert rules: ``list(project=…)``, ``get``, ``create``, ``delete``, ``events``."""

    resource = AlertRule

    def list(self, *, project: Any = None, enabled: bool | None = None) -> Listing[AlertRule]:
        return self._listing(svc.list_rules, project=_project(project), enabled=enabled)

    def get(self, rule: uuid.UUID | str, *, project: Any = None) -> AlertRule:
        """By id, or by name in ``project`` (among global rules without one)."""
        return self._wrap(self._call(svc.get_rule, rule=rule, project=_project(project)))

    def create(self, name: str, *, project: Any = None, **fields: Any) -> AlertRule:
        """A new rule; ``fields`` as in :class:`AlertRuleCreate` (``for_`` for ``for``)."""
        body = validated(AlertRuleCreate, name=name, project=_project(project), **fields)
        return self._wrap(self._call(svc.create_rule, body=body))

    def delete(self, rule: uuid.UUID | str, *, project: Any = None) -> None:
        self._call(svc.delete_rule, rule=rule, project=_project(project))

    @property
    def events(self) -> AlertEventManager:
        return AlertEventManager(self.platform)

    def evaluate(self, now: datetime | None = None) -> int:
        """Evaluate the rules due at ``now`` in this process (what the server's evaluator
        does on its own); how many were evaluated."""
        from platform_sdk.observe.alerts import AlertEvaluator

        return AlertEvaluator(self.platform).run_once(now)
