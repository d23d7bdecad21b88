"""Alert rules and their events: create, read, list, change, delete; list events.

Who may do what:

- **Read** a rule or its events: ``observe:read`` in the rule's project — or held globally,
  for global rules (``project`` None), which watch every project's telemetry. Anything else
  is ``NotFound``, whether the rule exists or not.
- **Write** (create, update, delete): ``alert:manage`` there as well (``PermissionDenied``
  when the rule is visible but the permission is missing). A rule reports what it sees, so
  writing one also needs the read permission of its scope.

Rules are referenced by id, or by name within a project (``project=`` given) or among the
global rules (no project): ``rule`` accepts either.

Creating or changing a rule compiles its structured fields into SQL
(:mod:`~platform_sdk.observe.alert_sql`): ``query`` stores the text, ``spec["params"]`` the
bound values; the evaluator replays both. ``spec["status"]`` holds the evaluator's last
error, cleared by any change of the rule. Disabling or deleting a rule resolves its open
event (:func:`~platform_sdk.observe.alert_state.close_open`). Every change writes an
``alert.rule.*`` audit row in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.types import utcnow
from platform_sdk.errors import AlreadyExists, NotFound, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.observe.alert_records import (
    compile_rule,
    event_out,
    parse_rule,
    rule_fields,
    rule_out,
)
from platform_sdk.observe.alert_schemas import (
    KIND_FIELDS,
    AlertEventOut,
    AlertRuleCreate,
    AlertRuleOut,
    AlertRuleUpdate,
)
from platform_sdk.observe.alert_state import close_open
from platform_sdk.observe.models import AlertEvent, AlertRule, AlertState
from platform_sdk.observe.scope import actor_scope, project_labels
from platform_sdk.projects.access import find_project

__all__ = [
    "create_rule",
    "delete_rule",
    "get_event",
    "get_rule",
    "list_events",
    "list_rules",
    "update_rule",
]


# -- helpers ------------------------------------------------------------------------------
def _label(db: Session, project_id: uuid.UUID | None) -> str | None:
    if project_id is None:
        return None
    return project_labels(db, {project_id}).get(project_id)


def _label_in(labels: dict[uuid.UUID, str], project_id: uuid.UUID | None) -> str | None:
    return labels.get(project_id) if project_id else None


def _visible_project(db: Session, actor: Actor, ref: str | uuid.UUID) -> uuid.UUID:
    """The project's id if the actor may ``observe:read`` it (NotFound otherwise)."""
    project = find_project(db, ref)
    if project is None or not rbac.can(db, actor, Perm.OBSERVE_READ, project.id):
        raise NotFound(f"project {ref} not found")
    return project.id


def _require_manage(db: Session, actor: Actor, project_id: uuid.UUID | None) -> uuid.UUID | None:
    allowed, via = rbac.check(db, actor, Perm.ALERT_MANAGE, project_id)
    if not allowed:
        where = "globally" if project_id is None else f"in {_label(db, project_id)}"
        raise PermissionDenied(
            f"{actor.username} lacks {Perm.ALERT_MANAGE} {where}",
            details={"permission": Perm.ALERT_MANAGE.value},
        )
    return via


def _access_rule(
    db: Session,
    actor: Actor,
    rule: uuid.UUID | str,
    project: str | None = None,
    *,
    manage: bool = False,
) -> tuple[AlertRule, uuid.UUID | None]:
    """The rule (by id, or by name in ``project`` / among global rules) and the delegation
    ``alert:manage`` came through; NotFound when unseen, PermissionDenied when read-only."""
    found: AlertRule | None = None
    ref = _as_uuid(rule)
    if ref is not None:
        found = db.get(AlertRule, ref)
    else:
        pid = _visible_project(db, actor, project) if project else None
        found = db.scalar(
            select(AlertRule).where(
                AlertRule.name == str(rule),
                AlertRule.project_id == pid if pid else AlertRule.project_id.is_(None),
            )
        )
    visible = found is not None and rbac.can(db, actor, Perm.OBSERVE_READ, found.project_id)
    if found is None or not visible or (found.project_id and _label(db, found.project_id) is None):
        raise NotFound(f"alert rule {rule} not found")
    via = _require_manage(db, actor, found.project_id) if manage else None
    return found, via


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _record(
    db: Session,
    actor: Actor,
    action: str,
    rule: AlertRule,
    via: uuid.UUID | None,
    details: dict[str, Any],
) -> None:
    audit.record(
        db,
        actor,
        action,
        target_type="alert_rule",
        target_id=rule.id,
        project_id=rule.project_id,
        via=via,
        details={"name": rule.name, **details},
    )


def _save(
    db: Session, rule: AlertRule, label: str | None, changes: dict[str, Any] | None = None
) -> None:
    """Insert ``rule`` or apply ``changes`` to it in a savepoint (a taken name: AlreadyExists;
    ``begin_nested`` flushes what came before, so the changes are made inside it)."""
    name = (changes or {}).get("name", rule.name)
    try:
        with db.begin_nested():
            for key, value in (changes or {}).items():
                setattr(rule, key, value)
            db.add(rule)
            db.flush()
    except IntegrityError:
        where = f"in {label}" if label else "among global rules"
        raise AlreadyExists(
            f"an alert rule named {name!r} exists {where}", details={"field": "name"}
        ) from None


# -- rules --------------------------------------------------------------------------------
def create_rule(db: Session, *, actor: Actor, body: AlertRuleCreate) -> AlertRuleOut:
    """Create a rule in ``body.project`` (or a global one), compiling its query."""
    project_id: uuid.UUID | None = None
    if body.project is not None:
        project_id = _visible_project(db, actor, body.project)
    elif not rbac.can(db, actor, Perm.OBSERVE_READ, None):
        raise PermissionDenied(
            f"{actor.username} lacks {Perm.OBSERVE_READ} globally: a global rule watches "
            "every project's telemetry",
            details={"permission": Perm.OBSERVE_READ.value},
        )
    via = _require_manage(db, actor, project_id)
    label = _label(db, project_id)
    query, spec = compile_rule(body)
    rule = AlertRule(
        project_id=project_id,
        name=body.name,
        description=body.description,
        kind=body.kind,
        spec=spec,
        query=query,
        comparator=body.comparator,
        threshold=body.threshold,
        for_seconds=body.for_,
        interval_seconds=body.interval_seconds,
        severity=body.severity,
        enabled=body.enabled,
        channels=[],
        created_by_id=actor.user_id,
    )
    _save(db, rule, label)
    _record(db, actor, "alert.rule.create", rule, via, {"kind": body.kind.value, "query": query})
    return rule_out(db, rule, label)


def get_rule(
    db: Session, *, actor: Actor, rule: uuid.UUID | str, project: str | None = None
) -> AlertRuleOut:
    """One rule, by id or by name (in ``project``, or among global rules)."""
    found, _ = _access_rule(db, actor, rule, project)
    return rule_out(db, found, _label(db, found.project_id))


def _visible_rules(db: Session, actor: Actor, project: str | None) -> Select[Any]:
    stmt = select(AlertRule)
    if project is not None:
        return stmt.where(AlertRule.project_id == _visible_project(db, actor, project))
    seen = actor_scope(db, actor)
    reach = [AlertRule.project_id.in_(seen.project_ids)]
    if seen.global_read:
        reach.append(AlertRule.project_id.is_(None))
    return stmt.where(or_(*reach))


def list_rules(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    project: str | None = None,
    enabled: bool | None = None,
) -> Page[AlertRuleOut]:
    """Rules the actor may read (of ``project`` only, when given), by name."""
    stmt = _visible_rules(db, actor, project)
    if enabled is not None:
        stmt = stmt.where(AlertRule.enabled.is_(enabled))
    stmt = stmt.order_by(AlertRule.name, AlertRule.id)
    labels = project_labels(db)
    return paginate(db, stmt, page, lambda r: rule_out(db, r, _label_in(labels, r.project_id)))


def update_rule(
    db: Session,
    *,
    actor: Actor,
    rule: uuid.UUID | str,
    body: AlertRuleUpdate,
    project: str | None = None,
) -> AlertRuleOut:
    """Change the fields sent in ``body``; the query is compiled again."""
    found, via = _access_rule(db, actor, rule, project, manage=True)
    label = _label(db, found.project_id)
    current = rule_fields(found, label)
    sent = {("for" if f == "for_" else f): getattr(body, f) for f in body.model_fields_set}
    merged = dict(current)
    if sent.get("kind") not in (None, found.kind):
        for field in KIND_FIELDS[found.kind] | {"window"}:
            merged.pop(field, None)
    merged.update(sent)
    if "kind" in sent and sent["kind"] is None:
        merged["kind"] = found.kind
    new = parse_rule(merged, check_query="query" in sent or "kind" in sent)
    query, spec = compile_rule(new)
    changed = {
        k: v for k, v in new.model_dump(mode="json").items() if current.get(k) != v and k in sent
    }
    if not changed and query == found.query:
        return rule_out(db, found, label)
    was_enabled = found.enabled
    fields = {
        "name": new.name,
        "description": new.description,
        "kind": new.kind,
        "spec": spec,
        "query": query,
        "comparator": new.comparator,
        "threshold": new.threshold,
        "for_seconds": new.for_,
        "interval_seconds": new.interval_seconds,
        "severity": new.severity,
        "enabled": new.enabled,
    }
    _save(db, found, label, fields)
    if was_enabled and not new.enabled:
        close_open(db, found, label, utcnow(), actor)
    shown = {k: ("(changed)" if k in ("query", "description") else v) for k, v in changed.items()}
    _record(db, actor, "alert.rule.update", found, via, {"changed": shown})
    return rule_out(db, found, label)


def delete_rule(
    db: Session, *, actor: Actor, rule: uuid.UUID | str, project: str | None = None
) -> None:
    """Delete the rule and its events (a firing event is resolved first, and announced)."""
    found, via = _access_rule(db, actor, rule, project, manage=True)
    label = _label(db, found.project_id)
    close_open(db, found, label, utcnow(), actor)
    _record(db, actor, "alert.rule.delete", found, via, {"project": label})
    db.delete(found)
    db.flush()


# -- events -------------------------------------------------------------------------------
def list_events(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    rule: uuid.UUID | str | None = None,
    project: str | None = None,
    state: AlertState | None = None,
) -> Page[AlertEventOut]:
    """Events of one rule, of a project's rules, or of every rule the actor may read;
    newest first."""
    if rule is not None:
        found, _ = _access_rule(db, actor, rule, project)
        rules = select(AlertRule).where(AlertRule.id == found.id)
    else:
        rules = _visible_rules(db, actor, project)
    ids = rules.with_only_columns(AlertRule.id).scalar_subquery()
    stmt = select(AlertEvent).where(AlertEvent.rule_id.in_(ids))
    if state is not None:
        stmt = stmt.where(AlertEvent.state == state)
    stmt = stmt.order_by(AlertEvent.started_at.desc(), AlertEvent.id.desc())
    labels = project_labels(db)
    seen: dict[uuid.UUID, AlertRule] = {}

    def convert(event: AlertEvent) -> AlertEventOut:
        if event.rule_id not in seen:
            seen[event.rule_id] = db.get_one(AlertRule, event.rule_id)
        owner = seen[event.rule_id]
        return event_out(event, owner, _label_in(labels, owner.project_id))

    return paginate(db, stmt, page, convert)


def get_event(db: Session, *, actor: Actor, event_id: uuid.UUID) -> AlertEventOut:
    """One event (NotFound unless the actor may read its rule)."""
    event = db.get(AlertEvent, event_id)
    rule = db.get(AlertRule, event.rule_id) if event is not None else None
    if (
        event is None
        or rule is None
        or not rbac.can(db, actor, Perm.OBSERVE_READ, rule.project_id)
        or (rule.project_id and _label(db, rule.project_id) is None)
    ):
        raise NotFound(f"alert event {event_id} not found")
    return event_out(event, rule, _label(db, rule.project_id))
