"""``/api/observe/alerts``: alert rules (CRUD) and their events over HTTP.

Thin, like every route: parse, call one service in
:mod:`platform_sdk.observe.services.alerts`, return its schema. Rules are addressed by id
here; ``?project=owner/name`` filters lists.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from platform_sdk.core.pagination import Page
from platform_sdk.observe.alert_schemas import (
    AlertEventOut,
    AlertRuleCreate,
    AlertRuleOut,
    AlertRuleUpdate,
    AlertState,
)
from platform_sdk.observe.services import alerts as svc
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/observe/alerts", tags=["alerts"])

ProjectQuery = Annotated[str | None, Query(max_length=200, description="owner/name")]


@router.get("/rules", summary="Alert rules the caller may read, by name")
def list_rules(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    project: ProjectQuery = None,
    enabled: bool | None = None,
) -> Page[AlertRuleOut]:
    return call(plat, svc.list_rules, actor=actor, page=page, project=project, enabled=enabled)


@router.post("/rules", status_code=201, summary="Create an alert rule")
def create_rule(plat: PlatformDep, actor: ActorDep, body: AlertRuleCreate) -> AlertRuleOut:
    return call(plat, svc.create_rule, actor=actor, body=body)


@router.get("/rules/{rule_id}", summary="One alert rule")
def get_rule(plat: PlatformDep, actor: ActorDep, rule_id: uuid.UUID) -> AlertRuleOut:
    return call(plat, svc.get_rule, actor=actor, rule=rule_id)


@router.patch("/rules/{rule_id}", summary="Change an alert rule (the fields sent)")
def update_rule(
    plat: PlatformDep, actor: ActorDep, rule_id: uuid.UUID, body: AlertRuleUpdate
) -> AlertRuleOut:
    return call(plat, svc.update_rule, actor=actor, rule=rule_id, body=body)


@router.delete("/rules/{rule_id}", status_code=204, summary="Delete an alert rule and its events")
def delete_rule(plat: PlatformDep, actor: ActorDep, rule_id: uuid.UUID) -> Response:
    call(plat, svc.delete_rule, actor=actor, rule=rule_id)
    return Response(status_code=204)


@router.get("/rules/{rule_id}/events", summary="Events of one rule, newest first")
def list_rule_events(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    rule_id: uuid.UUID,
    state: AlertState | None = None,
) -> Page[AlertEventOut]:
    return call(plat, svc.list_events, actor=actor, page=page, rule=rule_id, state=state)


@router.get("/events", summary="Alert events the caller may read, newest first")
def list_events(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    project: ProjectQuery = None,
    rule: Annotated[uuid.UUID | None, Query(description="Only this rule's events")] = None,
    state: AlertState | None = None,
) -> Page[AlertEventOut]:
    return call(
        plat, svc.list_events, actor=actor, page=page, project=project, rule=rule, state=state
    )


@router.get("/events/{event_id}", summary="One alert event")
def get_event(plat: PlatformDep, actor: ActorDep, event_id: uuid.UUID) -> AlertEventOut:
    return call(plat, svc.get_event, actor=actor, event_id=event_id)
