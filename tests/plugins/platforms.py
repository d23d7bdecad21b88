"""An initialised platform per test (on each database), and ways to make actors in it.

``people`` creates users with global or project role bindings straight in the tables (not
through the services under test), and ``people.token(...)`` mints an API token for HTTP tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from platform_sdk.config import load_settings
from platform_sdk.core.access import Actor
from platform_sdk.identity.authn import TOKEN_PREFIX, hash_token, new_token
from platform_sdk.identity.models import ApiToken, Role, User, UserKind, UserRole
from platform_sdk.identity.passwords import hash_password
from platform_sdk.projects.models import Project, Visibility
from platform_sdk.sdk import Platform


@pytest.fixture
def platform(db_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A migrated, bootstrapped platform whose data dir is this test's own."""
    plat = Platform(load_settings(data_dir=tmp_path / "data", database_url=db_url))
    plat.initialise()
    yield plat
    plat.close()


class People:
    """Makes users, projects and tokens directly in the store of ``platform``."""

    PASSWORD = "correct horse battery staple"

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def user(
        self,
        username: str,
        *,
        roles: tuple[str, ...] = (),
        project_roles: dict[uuid.UUID, tuple[str, ...]] | None = None,
        kind: UserKind = UserKind.HUMAN,
        password: str | None = PASSWORD,
        active: bool = True,
    ) -> Actor:
        with self.platform.session() as db:
            user = User(
                username=username,
                kind=kind,
                is_active=active,
                password_hash=hash_password(password) if password else None,
            )
            db.add(user)
            db.flush()
            for name in roles:
                role = db.scalars(select(Role).where(Role.name == name)).one()
                db.add(UserRole(user_id=user.id, role_id=role.id))
            for project_id, names in (project_roles or {}).items():
                for name in names:
                    role = db.scalars(select(Role).where(Role.name == name)).one()
                    db.add(UserRole(user_id=user.id, role_id=role.id, project_id=project_id))
            return Actor(user_id=user.id, username=username, is_agent=kind == UserKind.AGENT)

    def project(
        self, owner: Actor, name: str, visibility: Visibility = Visibility.PRIVATE
    ) -> uuid.UUID:
        with self.platform.session() as db:
            project = Project(owner_id=owner.user_id, name=name, visibility=visibility)
            db.add(project)
            db.flush()
            return project.id

    def token(
        self,
        actor: Actor,
        *,
        scopes: list[str] | None = None,
        project_id: uuid.UUID | None = None,
        expires_at: datetime | None = None,
        name: str | None = None,
    ) -> str:
        raw = new_token(TOKEN_PREFIX)
        with self.platform.session() as db:
            db.add(
                ApiToken(
                    user_id=actor.user_id,
                    name=name or f"t-{uuid.uuid4().hex[:8]}",
                    prefix=raw[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 8],
                    token_hash=hash_token(raw),
                    scopes=scopes,
                    project_id=project_id,
                    expires_at=expires_at,
                )
            )
        return raw

    @staticmethod
    def auth(raw: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def people(platform: Platform) -> People:
    return People(platform)


@pytest.fixture
def admin(platform: Platform) -> Actor:
    """The bootstrap admin, as the embedded SDK acts."""
    return platform.actor
