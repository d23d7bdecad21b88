"""First start: catalogue, system roles and the first admin — once, and idempotently."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import SYSTEM_ROLES, Perm
from platform_sdk.core.audit import AuditLog
from platform_sdk.identity.bootstrap import bootstrap, bootstrap_admin, sync_catalogue
from platform_sdk.identity.models import Permission, Role, RolePermission, User
from platform_sdk.identity.passwords import verify_password


def _role_perms(db: Session, name: str) -> set[str]:
    role = db.scalars(select(Role).where(Role.name == name)).one()
    return set(
        db.scalars(select(RolePermission.permission).where(RolePermission.role_id == role.id))
    )


def test_bootstrap_creates_catalogue_roles_and_one_admin(session: Session) -> None:
    creds = bootstrap(session, admin_username="root", admin_email="root@example.test")
    session.commit()
    assert creds is not None
    assert creds.password not in repr(creds)
    assert set(session.scalars(select(Permission.name))) == {p.value for p in Perm}
    assert set(session.scalars(select(Role.name))) == set(SYSTEM_ROLES)
    assert _role_perms(session, "admin") == {p.value for p in Perm}
    assert _role_perms(session, "agent") == set()
    assert "project:write" in _role_perms(session, "developer")
    assert _role_perms(session, "viewer") == {"project:read", "deploy:read", "observe:read"}
    admin = bootstrap_admin(session)
    assert admin is not None
    assert admin.username == "root"
    assert admin.password_hash is not None
    assert verify_password(admin.password_hash, creds.password)
    assert not verify_password(admin.password_hash, creds.password + "x")
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "platform.init")).one()
    assert audit.actor_name == "system"
    assert audit.target_id == str(admin.id)


def test_bootstrap_twice_keeps_the_first_admin_and_returns_nothing(session: Session) -> None:
    first = bootstrap(session)
    session.commit()
    assert first is not None
    assert bootstrap(session) is None
    session.commit()
    assert len(session.scalars(select(User)).all()) == 1


def test_catalogue_sync_repairs_system_roles(session: Session) -> None:
    sync_catalogue(session)
    role = session.scalars(select(Role).where(Role.name == "viewer")).one()
    session.delete(session.get_one(RolePermission, (role.id, "project:read")))
    session.add(RolePermission(role_id=role.id, permission="admin:users"))
    session.commit()
    sync_catalogue(session)
    session.commit()
    assert _role_perms(session, "viewer") == {"project:read", "deploy:read", "observe:read"}
