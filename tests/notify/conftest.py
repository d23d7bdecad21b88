"""Fixtures of the notify tests: a platform with the subscribers installed, a team around one
project, a scripted local HTTP receiver and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from platform_sdk.core import events
from platform_sdk.core.access import Actor
from platform_sdk.identity.models import Role, User, UserRole
from platform_sdk.notify.subscribers import install
from platform_sdk.sdk import Platform
from tests.plugins.platforms import People

T = TypeVar("T")


@pytest.fixture
def plat(platform: Platform) -> Platform:
    """The test platform with loopback targets allowed and the subscribers installed."""
    settings = platform.settings.model_copy(update={"webhook_allow_private": True})
    platform.settings = settings
    platform.runtime.settings = settings
    install(platform.runtime)
    return platform


@pytest.fixture
def strict(platform: Platform) -> Platform:
    """The test platform with the default (refusing) target rule."""
    install(platform.runtime)
    return platform


@dataclass
class Team:
    """alice is admin of alice/app; dev writes, viewer reads; bob is a stranger."""

    alice: Actor
    dev: Actor
    viewer: Actor
    bob: Actor
    app_id: uuid.UUID
    app: str = "alice/app"


@pytest.fixture
def team(people: People) -> Team:
    alice = people.user("alice")
    app_id = people.project(alice, "app")
    with people.platform.session() as db:
        role = db.scalars(select(Role).where(Role.name == "admin")).one()
        db.add(UserRole(user_id=alice.user_id, role_id=role.id, project_id=app_id))
    dev = people.user("dev", project_roles={app_id: ("developer",)})
    with people.platform.session() as db:
        db.get_one(User, alice.user_id).email = "alice@example.test"
        db.get_one(User, dev.user_id).email = "dev@example.test"
    return Team(
        alice=alice,
        dev=dev,
        viewer=people.user("viewer", project_roles={app_id: ("viewer",)}),
        bob=people.user("bob"),
        app_id=app_id,
    )


def call(platform: Platform, fn: Callable[..., T], actor: Actor, **kwargs: Any) -> T:
    """Run a service as ``actor`` in its own committed transaction."""
    with platform.session() as db:
        return fn(db, actor=actor, **kwargs)


def emit(platform: Platform, channel: str, payload: dict[str, Any]) -> None:
    with platform.session() as db:
        events.emit(db, channel, payload)


def mr_event(team: Team, action: str, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "type": "merge_request",
        "action": action,
        "project_id": str(team.app_id),
        "project": team.app,
        "actor": actor.username,
        "actor_id": str(actor.user_id),
        "number": 7,
        "title": "Fix login",
        "author": "dev",
        "author_id": str(team.dev.user_id),
        "source_branch": "fix",
        "target_branch": "main",
        "verdict": None,
        "merge_commit": None,
        **extra,
    }


@dataclass
class Receiver:
    """A local HTTP endpoint answering the scripted statuses in turn (then 200)."""

    url: str
    script: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", script=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.script.pop(0) if state.script else 200
            reply = b"ok" if status < 300 else b"boom"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    url: str
    messages: list[Any] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    box = Mailbox(url="")

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            box.messages.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    box.url = f"smtp://127.0.0.1:{port}"
    yield box
    controller.stop()
