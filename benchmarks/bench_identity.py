"""Permission checks (cached and uncached) and login latency, on SQLite and PostgreSQL.

Goals from the identity issue: a cached check under 50 µs, an uncached one under 5 ms on
PostgreSQL. Baselines measured in the same run: a bare ``frozenset`` membership test (what a
cached check cannot beat), one ``SELECT`` round trip on the same engine (what an uncached check
cannot beat), and a bare argon2 verification (what a login cannot beat).

    .venv/bin/python benchmarks/bench_identity.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import header, median, table
from sqlalchemy import select, text

from platform_sdk.config import load_settings
from platform_sdk.core.access import Actor
from platform_sdk.core.db import make_engine
from platform_sdk.identity import authn, rbac
from platform_sdk.identity.models import Delegation, Role, User, UserRole
from platform_sdk.identity.passwords import hash_password, verify_password
from platform_sdk.projects.models import Project
from platform_sdk.sdk import Platform

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "benchmark password"  # noqa: S105 -- a throwaway benchmark user


@contextmanager
def backend(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    name = f"bench_identity_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=None)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(plat: Platform) -> tuple[Actor, uuid.UUID]:
    """A developer bound on one project, with a few delegations: a realistic grant set."""
    with plat.session() as db:
        user = User(username="bench", password_hash=hash_password(PASSWORD))
        db.add(user)
        db.flush()
        projects = []
        for i in range(20):
            p = Project(owner_id=user.id, name=f"p{i}")
            db.add(p)
            projects.append(p)
        db.flush()
        dev = db.scalars(select(Role).where(Role.name == "developer")).one()
        viewer = db.scalars(select(Role).where(Role.name == "viewer")).one()
        db.add(UserRole(user_id=user.id, role_id=viewer.id))
        for p in projects:
            db.add(UserRole(user_id=user.id, role_id=dev.id, project_id=p.id))
        admin = db.scalars(select(User).where(User.username == "admin")).one()
        for i, perm in enumerate(["secret:read", "deploy:promote", "alert:manage"]):
            db.add(
                Delegation(
                    grantor_id=admin.id,
                    grantee_id=user.id,
                    permission=perm,
                    project_id=projects[i].id,
                    expires_at=datetime.now(UTC) + timedelta(days=1),
                )
            )
        return Actor(user_id=user.id, username="bench"), projects[5].id


def per_call(fn: Callable[[], object], n: int, runs: int) -> float:
    """Median over ``runs`` of the mean seconds per call of ``fn`` over ``n`` calls."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n)
    return median(samples)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def measure(kind: str, url: str, tmp: Path, quick: bool) -> list[list[str]]:
    plat = Platform(load_settings(data_dir=tmp / kind, database_url=url))
    plat.initialise()
    actor, project_id = seed(plat)
    rows: list[list[str]] = []
    n_cached, n_uncached, n_login = (2000, 100, 3) if quick else (20000, 500, 10)
    with plat.session() as db:
        cache = rbac.permission_cache(db)
        assert rbac.can(db, actor, "project:write", project_id)
        assert rbac.can(db, actor, "deploy:promote", None) is False

        cached = per_call(lambda: rbac.can(db, actor, "project:write", project_id), n_cached, 5)
        perms = frozenset({"project:read", "project:write"})
        bare = per_call(lambda: "project:write" in perms, n_cached, 5)
        rows.append(
            [
                kind,
                "check, cached",
                us(cached),
                "frozenset membership",
                us(bare),
                f"{cached / bare:,.0f}x",
                "< 50 µs",
            ]
        )

        def uncached_check() -> None:
            cache.invalidate()
            rbac.can(db, actor, "project:write", project_id)

        uncached = per_call(uncached_check, n_uncached, 3)
        one_select = per_call(
            lambda: db.execute(select(User.is_active).where(User.id == actor.user_id)).all(),
            n_uncached,
            3,
        )
        rows.append(
            [
                kind,
                "check, uncached",
                us(uncached),
                "one SELECT round trip",
                us(one_select),
                f"{uncached / one_select:.2f}x",
                "< 5 ms",
            ]
        )

    stored = hash_password(PASSWORD)

    def one_login() -> None:
        with plat.session() as db:
            authn.login(db, username="bench", password=PASSWORD, client_addr="127.0.0.1")

    login = per_call(one_login, n_login, 1)
    verify = per_call(lambda: verify_password(stored, PASSWORD), n_login, 1)
    rows.append(
        [kind, "login", us(login), "argon2 verify alone", us(verify), f"{login / verify:.2f}x", ""]
    )
    plat.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    header("identity: permission checks and login")
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for kind in ("sqlite", "postgres"):
            try:
                with backend(kind, tmp) as url:
                    rows += measure(kind, url, tmp, args.quick)
            except Exception as exc:  # a down PostgreSQL skips its rows, loudly
                print(f"{kind}: skipped ({type(exc).__name__}: {exc})".splitlines()[0])
    table(["backend", "operation", "platform", "baseline", "baseline time", "ratio", "goal"], rows)
    print("\nratio = platform time / baseline time")


if __name__ == "__main__":
    main()
