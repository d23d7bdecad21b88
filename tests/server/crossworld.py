"""The world of the cross-project id tests: two projects, factories, and the registries.

:func:`make_world` builds alice (admin of ``alice/a``) and bob (admin of ``bob/b``), each
project with a repository holding a ``.platform.yaml``, and a client of the app (without its
lifespan, so no worker sends, runs or evaluates anything). Each factory makes one object of a
kind in a side's project through the services, as that side's user; the registries say which
factory serves which id, and which bodies and query values make a request valid.

Adding a route with a new kind of id: add its factory to :data:`KINDS` (path ids) or
:data:`REFS` (query parameters and body fields), or its reason to :data:`EXEMPT`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from platform_sdk.core.access import Actor
from platform_sdk.git.mr_schemas import MergeRequestCreate
from platform_sdk.git.repos import repo_path
from platform_sdk.git.services import merge_requests as mr_svc
from platform_sdk.git.services import mr_discussion
from platform_sdk.identity.models import User, UserKind
from platform_sdk.identity.schemas import ApiTokenCreate, BindingCreate, DelegationCreate
from platform_sdk.identity.services import bindings as binding_svc
from platform_sdk.identity.services import delegations as delegation_svc
from platform_sdk.identity.services import tokens as token_svc
from platform_sdk.notify.models import Notification, NotificationChannel
from platform_sdk.notify.schemas import WebhookCreate
from platform_sdk.notify.services import webhooks as webhook_svc
from platform_sdk.observe.alert_schemas import AlertRuleCreate
from platform_sdk.observe.models import AlertEvent
from platform_sdk.observe.otlp import decode_request
from platform_sdk.observe.services import alerts as alert_svc
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.pipelines.models import Artifact, PipelineStep
from platform_sdk.pipelines.schemas import TriggerIn
from platform_sdk.pipelines.services import runs as run_svc
from platform_sdk.projects.issue_schemas import CommentCreate, IssueCreate
from platform_sdk.projects.models import Project
from platform_sdk.projects.schemas import ProjectCreate
from platform_sdk.projects.services import issues as issue_svc
from platform_sdk.projects.services import projects as project_svc
from platform_sdk.sdk import Platform
from platform_sdk.secrets import service as secret_svc
from platform_sdk.server.app import create_app
from tests.observe.samples import kv, spans_request
from tests.pipelines.helpers import commit_files
from tests.plugins.platforms import People

PROJECT_PARAMS = ("owner", "name")
PROJECT_ROOT = "/api/projects/{owner}/{name}"
PIPELINE = "pipeline:\n  timeout: 1m\n  steps:\n    - name: a\n      commands: [x]\n"
HOOK_URL = "https://93.184.216.34/hook"  # a public address: no DNS, never sent (no worker runs)
B_NUMBERS = 1000  # B's issues, merge requests and runs count from here, A's from 1


# -- the two projects -------------------------------------------------------------------------
@dataclass
class Side:
    """One user and the project they own (its admin)."""

    actor: Actor
    project: str
    project_id: uuid.UUID
    bare: Path


@dataclass
class World:
    platform: Platform
    people: People
    client: TestClient
    alice: Side
    bob: Side
    headers: dict[str, str]  # the caller's token: alice's
    who: str = "alice"  # the caller, as failures name it
    serial: int = 0

    def unique(self, stem: str) -> str:
        self.serial += 1
        return f"{stem}{self.serial}"

    def call(self, fn: Callable[..., Any], actor: Actor, **kwargs: Any) -> Any:
        with self.platform.session() as db:
            return fn(db, actor=actor, **kwargs)


def _side(platform: Platform, people: People, username: str) -> Side:
    actor = people.user(username)
    with platform.session() as db:
        out = project_svc.create_project(db, actor=actor, body=ProjectCreate(name=username[0]))
    bare = repo_path(platform.settings, username, username[0])
    commit_files(bare, {".platform.yaml": PIPELINE, "README.md": f"{username}\n"})
    return Side(actor=actor, project=out.full_name, project_id=out.id, bare=bare)


def make_world(platform: Platform, people: People) -> World:
    """Alice owning alice/a, bob owning bob/b (B numbering from 1000), carol with no role,
    and alice's client."""
    alice = _side(platform, people, "alice")
    bob = _side(platform, people, "bob")
    with platform.session() as db:  # B's numbers never collide with A's
        db.execute(
            update(Project)
            .where(Project.id == bob.project_id)
            .values(
                next_issue_number=B_NUMBERS,
                next_mr_number=B_NUMBERS,
                next_pipeline_number=B_NUMBERS,
            )
        )
    people.user("carol")  # named in BODIES
    app: FastAPI = create_app(platform)
    app.state.platform = platform  # no lifespan: no worker sends, runs or evaluates anything
    return World(
        platform=platform,
        people=people,
        client=TestClient(app, raise_server_exceptions=False),
        alice=alice,
        bob=bob,
        headers=people.auth(people.token(alice.actor, name="cross")),
    )


# -- factories: make an object of a kind in a side's project -----------------------------------
Ids = dict[str, str]  # path parameter -> value, of one side, built left to right


def _issue(w: World, s: Side, ids: Ids) -> str:
    out = w.call(issue_svc.create_issue, s.actor, project=s.project, body=IssueCreate(title="t"))
    return str(out.number)


def _merge_request(w: World, s: Side, ids: Ids) -> str:
    branch = w.unique("topic-")
    commit_files(s.bare, {f"{branch}.txt": "x\n"}, branch=branch)
    body = MergeRequestCreate(source_branch=branch, target_branch="main", title=branch)
    out = w.call(mr_svc.create_merge_request, s.actor, project=s.project, body=body)
    return str(out.number)


def _issue_comment(w: World, s: Side, ids: Ids) -> str:
    number = int(_issue(w, s, ids))
    body = CommentCreate(body="original")
    out = w.call(issue_svc.create_comment, s.actor, project=s.project, number=number, body=body)
    return str(out.id)


def _mr_comment(w: World, s: Side, ids: Ids) -> str:
    """A merge request comment (the same table as issue comments, edited by the same route)."""
    number = int(_merge_request(w, s, ids))
    body = CommentCreate(body="original")
    out = w.call(
        mr_discussion.create_mr_comment, s.actor, project=s.project, number=number, body=body
    )
    return str(out.id)


def _commit(w: World, s: Side, ids: Ids) -> str:
    return commit_files(s.bare, {w.unique("c") + ".txt": "x\n"})


def _run(w: World, s: Side, ids: Ids) -> str:
    out = w.call(run_svc.trigger_run, s.actor, project=s.project, body=TriggerIn(ref="main"))
    with w.platform.session() as db:  # an artifact of step "a", to download
        step = db.scalars(select(PipelineStep).where(PipelineStep.pipeline_id == out.id)).one()
        key = f"test-artifacts/{out.id}/out.txt"
        w.platform.runtime.blobs.put(key, b"artifact of " + s.project.encode())
        db.add(
            Artifact(
                pipeline_id=out.id,
                step_id=step.id,
                name="out.txt",
                blob_key=key,
                size_bytes=len(b"artifact of " + s.project.encode()),
                sha256="0" * 64,
                content_type="text/plain",
            )
        )
    return str(out.number)


def _webhook(w: World, s: Side, ids: Ids) -> str:
    body = WebhookCreate(url=HOOK_URL, events=["*"])
    return str(w.call(webhook_svc.create_webhook, s.actor, project=s.project, body=body).id)


def _delivery(w: World, s: Side, ids: Ids) -> str:
    hook = uuid.UUID(ids["webhook_id"]) if "webhook_id" in ids else uuid.UUID(_webhook(w, s, ids))
    out = w.call(webhook_svc.send_test_delivery, s.actor, project=s.project, webhook_id=hook)
    return str(out.id)


def _token(w: World, s: Side, ids: Ids) -> str:
    body = ApiTokenCreate(name=w.unique("tok-"))
    return str(w.call(token_svc.create_token, s.actor, body=body).id)


def _binding(w: World, s: Side, ids: Ids) -> str:
    member = w.people.user(w.unique("member-"))
    body = BindingCreate(user=member.username, role="viewer", project=s.project)
    return str(w.call(binding_svc.create_binding, s.actor, body=body).id)


def _delegation(w: World, s: Side, ids: Ids) -> str:
    grantee = w.people.user(w.unique("grantee-"))
    body = DelegationCreate(grantee=grantee.username, permission="project:read", project=s.project)
    return str(w.call(delegation_svc.create_delegation, s.actor, body=body).id)


def _rule(w: World, s: Side, ids: Ids) -> str:
    body = AlertRuleCreate.model_validate(
        {"name": w.unique("rule-"), "project": s.project, "kind": "log", "level": "error"}
    )
    return str(w.call(alert_svc.create_rule, s.actor, body=body).id)


def _alert_event(w: World, s: Side, ids: Ids) -> str:
    rule = uuid.UUID(_rule(w, s, ids))
    with w.platform.session() as db:
        event = AlertEvent(rule_id=rule, value=1.0, labels={})
        db.add(event)
        db.flush()
        return str(event.id)


def _notification(w: World, s: Side, ids: Ids) -> str:
    with w.platform.session() as db:
        note = Notification(
            user_id=s.actor.user_id,
            project_id=s.project_id,
            kind="issue.assigned",
            title="for " + s.actor.username,
            channel=NotificationChannel.INBOX,
        )
        db.add(note)
        db.flush()
        return str(note.id)


def _secret(w: World, s: Side, ids: Ids) -> str:
    name = w.unique("SECRET_")
    w.call(secret_svc.set_secret, s.actor, name=name, value="v", project=s.project)
    return name


def _agent(w: World, s: Side, ids: Ids) -> str:
    """An agent the side's user owns (users see themselves and their agents)."""
    name = w.unique(f"{s.actor.username}-agent-")
    agent = w.people.user(name, kind=UserKind.AGENT, password=None)
    with w.platform.session() as db:
        db.execute(update(User).where(User.id == agent.user_id).values(owner_id=s.actor.user_id))
    return name


def _telemetry(w: World, s: Side, *, session: str) -> str:
    trace = uuid.uuid4().hex
    request = spans_request()
    resource = request.resource_spans[0].resource.attributes
    del resource[:]
    resource.extend(
        [
            kv("service.name", "svc"),
            kv("platform.project", s.project),
            kv("platform.session", session),
        ]
    )
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.trace_id = bytes.fromhex(trace)
    pb = request.SerializeToString()
    decoded = decode_request("traces", pb, "application/x-protobuf", None, max_bytes=1 << 24)
    telemetry_of(w.platform.runtime).spool.append("spans", decoded.table)
    return trace


def _trace(w: World, s: Side, ids: Ids) -> str:
    return _telemetry(w, s, session=w.unique("sess-"))


def _session(w: World, s: Side, ids: Ids) -> str:
    session = w.unique("sess-")
    _telemetry(w, s, session=session)
    return session


@dataclass(frozen=True)
class Kind:
    make: Callable[[World, Side, Ids], str]
    missing: str  # a well-formed id that names nothing
    also: tuple[Callable[[World, Side, Ids], str], ...] = ()  # other objects the id may name

    @property
    def factories(self) -> tuple[Callable[[World, Side, Ids], str], ...]:
        return (self.make, *self.also)


NO_UUID = str(uuid.UUID(int=1))
KINDS: dict[str, Kind] = {
    # under /api/projects/{owner}/{name}/
    "issues/{number}": Kind(_issue, "999999"),
    "comments/{comment_id}": Kind(_issue_comment, NO_UUID, also=(_mr_comment,)),
    "commits/{sha}": Kind(_commit, "0" * 40),
    "merge_requests/{number}": Kind(_merge_request, "999999"),
    "pipelines/{number}": Kind(_run, "999999"),
    "webhooks/{webhook_id}": Kind(_webhook, NO_UUID),
    "deliveries/{delivery_id}": Kind(_delivery, NO_UUID),
    # addressed by id alone
    "tokens/{token_id}": Kind(_token, NO_UUID),
    "bindings/{binding_id}": Kind(_binding, NO_UUID),
    "delegations/{delegation_id}": Kind(_delegation, NO_UUID),
    "rules/{rule_id}": Kind(_rule, NO_UUID),
    "events/{event_id}": Kind(_alert_event, NO_UUID),
    "notifications/{notification_id}": Kind(_notification, NO_UUID),
    "secrets/{name}": Kind(_secret, "NO_SUCH_SECRET"),
    "users/{username}": Kind(_agent, "nobody-here"),
    "traces/{trace_id}": Kind(_trace, "0" * 31 + "1"),
    "sessions/{session_id}": Kind(_session, "no-such-session"),
}

# Query parameters and body fields that name an object (``?project=`` on lists and secrets,
# ``?rule=``, ``{"project": …}`` on creations); found by name (project) or format (uuid).
REFS: dict[str, Kind] = {
    "project": Kind(lambda w, s, ids: s.project, "nobody/nothing"),
    "rule": Kind(_rule, NO_UUID),
}

# Path ids (``roles/{name}``), operations (``PUT /api/secrets/{name}``: its path id) and
# references (``GET /api/audit ?project``) that name no object of a project or another user.
EXEMPT: dict[str, str] = {
    "roles/{name}": "roles are one global catalogue: every signed-in user may read them, "
    "only a global admin:roles holder may change them (tests/identity/test_roles.py)",
    "GET /api/audit ?project": "the audit log needs admin:config globally, whose holder reads "
    "every project: no project-scoped reader exists to cross over",
    "PUT /api/secrets/{name}": "PUT sets the name in the project given by ?project=, "
    "creating it there, so its {name} never addresses another project's secret (its "
    "?project= is still crossed by the query check)",
}

BODIES: dict[str, Any] = {
    "PATCH /api/projects/{owner}/{name}/issues/{number}": {"title": "changed"},
    "POST /api/projects/{owner}/{name}/issues/{number}/comments": {"body": "sneaked in"},
    "PATCH /api/projects/{owner}/{name}/comments/{comment_id}": {"body": "rewritten"},
    "PATCH /api/projects/{owner}/{name}/merge_requests/{number}": {"title": "changed"},
    "POST /api/projects/{owner}/{name}/merge_requests/{number}/reviews": {"verdict": "commented"},
    "POST /api/projects/{owner}/{name}/merge_requests/{number}/comments": {"body": "sneaked"},
    "POST /api/projects/{owner}/{name}/merge_requests/{number}/merge": {"strategy": "merge"},
    "PATCH /api/projects/{owner}/{name}/webhooks/{webhook_id}": {
        "url": "https://93.184.216.35/elsewhere"
    },
    "PATCH /api/users/{username}": {"display_name": "renamed"},
    "PUT /api/secrets/{name}": {"value": "overwritten"},
    # creations whose "project" field the body check sets (carol: a user with no role)
    "POST /api/tokens": {"name": "bounded"},
    "POST /api/bindings": {"user": "carol", "role": "viewer"},
    "POST /api/delegations": {"grantee": "carol", "permission": "project:read"},
    "POST /api/observe/alerts/rules": {"name": "errors", "kind": "log", "level": "error"},
    "PATCH /api/observe/alerts/rules/{rule_id}": {"description": "changed"},
}
QUERIES: dict[str, dict[str, str]] = {
    "GET /api/projects/{owner}/{name}/pipelines/{number}/logs": {"step": "a"},
    "GET /api/projects/{owner}/{name}/pipelines/{number}/artifacts/download": {"name": "out.txt"},
    "GET /api/observe/metrics/query": {"name": "http.requests"},
}
