"""First start of a data dir: the permission catalogue, the system roles and the first admin.

``bootstrap`` runs as the system (there is no actor yet), so it lives here and not in the
identity services. It is idempotent for the catalogue and roles — re-running it after an
upgrade adds new permissions to the system roles — and creates the admin only once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import SYSTEM_ROLES, Perm
from platform_sdk.core.audit import AuditLog
from platform_sdk.identity.models import Permission, Role, RolePermission, User, UserRole
from platform_sdk.identity.passwords import generate_password, hash_password

__all__ = ["AdminCredentials", "bootstrap", "bootstrap_admin", "is_bootstrapped"]


@dataclass(frozen=True)
class AdminCredentials:
    """The first admin's credentials: printed once, never stored in clear."""

    username: str
    password: str

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"AdminCredentials(username={self.username!r}, password='********')"


def sync_catalogue(db: Session) -> None:
    """Make the permission table and the system roles match the code's catalogue."""
    known = {p.name: p for p in db.scalars(select(Permission))}
    for perm in Perm:
        row = known.get(perm.value)
        if row is None:
            db.add(Permission(name=perm.value, description=perm.description))
        else:
            row.description = perm.description
    db.flush()
    for name, (description, perms) in SYSTEM_ROLES.items():
        role = db.scalar(select(Role).where(Role.name == name))
        if role is None:
            role = Role(name=name, description=description, is_system=True)
            db.add(role)
            db.flush()
        role.description, role.is_system = description, True
        have = set(
            db.scalars(select(RolePermission.permission).where(RolePermission.role_id == role.id))
        )
        want = {p.value for p in perms}
        for perm_name in sorted(want - have):
            db.add(RolePermission(role_id=role.id, permission=perm_name))
        for perm_name in have - want:
            db.delete(db.get_one(RolePermission, (role.id, perm_name)))
    db.flush()


def bootstrap_admin(db: Session) -> User | None:
    """The first user holding the global admin role (the data dir's owner), if any."""
    return db.scalar(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(Role.name == "admin", UserRole.project_id.is_(None), User.is_active)
        .order_by(User.created_at, User.username)
        .limit(1)
    )


def is_bootstrapped(db: Session) -> bool:
    return bootstrap_admin(db) is not None


def bootstrap(
    db: Session, *, admin_username: str = "admin", admin_email: str | None = None
) -> AdminCredentials | None:
    """Sync the catalogue; create the first admin if there is none. Returns new credentials."""
    sync_catalogue(db)
    if is_bootstrapped(db):
        return None
    if db.scalar(select(User).where(User.username == admin_username)) is not None:
        raise ValueError(f"user {admin_username!r} exists but is not an admin; pick another name")
    password = generate_password()
    admin = User(
        username=admin_username,
        email=admin_email,
        display_name="Administrator",
        password_hash=hash_password(password),
    )
    db.add(admin)
    db.flush()
    role = db.scalars(select(Role).where(Role.name == "admin")).one()
    db.add(UserRole(user_id=admin.id, role_id=role.id))
    db.add(
        AuditLog(
            actor_name="system",
            action="platform.init",
            target_type="user",
            target_id=str(admin.id),
            details={"admin": admin_username, "roles": sorted(SYSTEM_ROLES)},
        )
    )
    db.flush()
    return AdminCredentials(username=admin_username, password=password)
