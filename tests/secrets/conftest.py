"""Fixtures of the secrets tests: a small team around one private project, and a shortcut to
call services in a committed transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from platform_sdk.core.access import Actor
from platform_sdk.sdk import Platform
from tests.plugins.platforms import People

T = TypeVar("T")


@dataclass
class Team:
    """alice owns alice/app; dev, ops and viewer hold those roles in it; bob owns bob/other."""

    alice: Actor
    dev: Actor
    ops: Actor
    viewer: Actor
    bob: Actor
    app_id: uuid.UUID
    other_id: uuid.UUID
    app: str = "alice/app"
    other: str = "bob/other"


@pytest.fixture
def team(people: People) -> Team:
    alice = people.user("alice")
    bob = people.user("bob")
    app_id = people.project(alice, "app")
    other_id = people.project(bob, "other")
    return Team(
        alice=alice,
        dev=people.user("dev", project_roles={app_id: ("developer",)}),
        ops=people.user("ops", project_roles={app_id: ("ops",)}),
        viewer=people.user("viewer", project_roles={app_id: ("viewer",)}),
        bob=bob,
        app_id=app_id,
        other_id=other_id,
    )


class Calls:
    """``calls(actor).fn(**kw)`` runs ``service.fn`` as ``actor`` in its own transaction."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def __call__(self, fn: Callable[..., T], actor: Actor, **kwargs: Any) -> T:
        with self.platform.session() as db:
            return fn(db, actor=actor, **kwargs)

    def sql(self, query: str, **params: Any) -> list[Any]:
        """Rows of a plain SQL query (no ORM, no decryption)."""
        with self.platform.engine.connect() as conn:
            return list(conn.execute(text(query), params).all())

    def execute(self, statement: str, **params: Any) -> None:
        with self.platform.engine.begin() as conn:
            conn.execute(text(statement), params)


@pytest.fixture
def calls(platform: Platform) -> Calls:
    return Calls(platform)
