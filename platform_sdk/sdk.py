"""The embedded platform: every capability as Python objects over one data dir.

``platform_sdk.open()`` builds a :class:`Platform` from the settings (argument > environment >
``.env`` > default). With the embedded defaults — SQLite in the data dir, objects in a local
folder, an in-process bus — a missing data dir is initialised on first open (like a SQLite
file), and the new admin's password is shown once. With an explicit ``DATABASE_URL`` the schema
is never changed behind the operator's back: an outdated one raises ``SchemaOutdated``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.__about__ import __version__
from platform_sdk.config import Settings, load_settings
from platform_sdk.core import events
from platform_sdk.core.access import Actor
from platform_sdk.core.blobs import BlobStore, open_blobs
from platform_sdk.core.bus import Bus, open_bus
from platform_sdk.core.db import make_engine, make_sessionmaker, session_scope
from platform_sdk.core.extras import missing_extra
from platform_sdk.core.health import Readiness, check_component, check_readiness
from platform_sdk.core.migrate import ensure_current, schema_state, upgrade
from platform_sdk.core.runtime import Runtime
from platform_sdk.core.sandbox import Sandbox
from platform_sdk.errors import NotFound
from platform_sdk.identity.bootstrap import AdminCredentials, bootstrap, bootstrap_admin
from platform_sdk.identity.models import User, UserKind
from platform_sdk.identity.sdk.audit import AuditManager
from platform_sdk.identity.sdk.delegations import DelegationManager
from platform_sdk.identity.sdk.roles import BindingManager, RoleManager
from platform_sdk.identity.sdk.tokens import TokenManager
from platform_sdk.identity.sdk.users import UserManager
from platform_sdk.notify.sdk import NotificationManager
from platform_sdk.notify.subscribers import install as install_notify
from platform_sdk.pipelines.subscribers import install as install_pipelines
from platform_sdk.projects.sdk import ProjectManager
from platform_sdk.sdkbase import html_table
from platform_sdk.secrets.sdk import SecretManager

if TYPE_CHECKING:
    from platform_sdk.dashboards import Dashboards
    from platform_sdk.observe.sdk import Observe
    from platform_sdk.pipelines.worker import PipelineWorker

__all__ = ["Platform", "open"]

log = logging.getLogger(__name__)


class Platform:
    """One platform instance, acting as one user (the data dir's admin unless told otherwise)."""

    def __init__(self, settings: Settings, *, user: str | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings.resolved_database_url)
        self.blobs: BlobStore = open_blobs(settings)
        self.bus: Bus = open_bus(settings)
        self.runtime = Runtime(settings=settings, bus=self.bus, blobs=self.blobs)
        self.sessions = make_sessionmaker(self.engine, info={"runtime": self.runtime})
        events.install(self.sessions)
        install_notify(self.runtime)
        install_pipelines(self.runtime)
        self._username = user
        self._actor: Actor | None = None
        self._worker: PipelineWorker | None = None
        self._worker_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    def initialise(
        self, *, admin_username: str = "admin", admin_email: str | None = None
    ) -> AdminCredentials | None:
        """Migrate the schema and bootstrap roles and the first admin (idempotent)."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.engine)
        with self.session() as db:
            return bootstrap(db, admin_username=admin_username, admin_email=admin_email)

    def acting_as(self, actor: Actor) -> Platform:
        """This platform acting as ``actor`` (a request's authenticated user): the same engine,
        bus, object store and runtime, its own managers. Nothing is opened, so the answer must
        not be closed — the resources belong to this platform."""
        clone = object.__new__(Platform)
        for name in ("settings", "engine", "blobs", "bus", "runtime", "sessions", "_worker_lock"):
            setattr(clone, name, getattr(self, name))
        clone._worker = self._worker
        clone._username = actor.username
        clone._actor = actor
        return clone

    def pipeline_worker(self) -> PipelineWorker:
        """This process's pipeline worker for driving runs without a server (``run.wait()``)."""
        with self._worker_lock:
            if self._worker is None:
                from platform_sdk.pipelines.worker import PipelineWorker

                self._worker = PipelineWorker(self)
            return self._worker

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None
        self.runtime.close()
        self.bus.close()
        self.engine.dispose()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- capabilities ---------------------------------------------------------------------
    @cached_property
    def users(self) -> UserManager:
        """Users and agents: ``p.users.create("alice", email=…)``."""
        return UserManager(self)

    @cached_property
    def tokens(self) -> TokenManager:
        """API tokens of the acting user (``p.users.get(name).tokens`` for another's)."""
        return TokenManager(self)

    @cached_property
    def roles(self) -> RoleManager:
        return RoleManager(self)

    @cached_property
    def bindings(self) -> BindingManager:
        """Role bindings, global or per project."""
        return BindingManager(self)

    @cached_property
    def delegations(self) -> DelegationManager:
        return DelegationManager(self)

    @cached_property
    def observe(self) -> Observe:
        """Telemetry: ``sql``, ``logs``, ``trace``, ``metrics.query``, ``tail``, ``alerts``."""
        from platform_sdk.observe.sdk import Observe

        return Observe(self)

    @cached_property
    def secrets(self) -> SecretManager:
        """Global secrets (``project.secrets`` for a project's)."""
        return SecretManager(self)

    @cached_property
    def projects(self) -> ProjectManager:
        return ProjectManager(self)

    @cached_property
    def notifications(self) -> NotificationManager:
        """The acting user's notifications and preferences."""
        return NotificationManager(self)

    @cached_property
    def audit(self) -> AuditManager:
        return AuditManager(self)

    @cached_property
    def dashboards(self) -> Dashboards:
        """Panel dashboards over this platform: ``p.dashboards.observe()`` renders inline."""
        try:
            from platform_sdk.dashboards import Dashboards
        except ImportError as exc:
            raise missing_extra("workbench", "the dashboards", exc) from None

        return Dashboards(self)

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session that commits on success and rolls back on error."""
        with session_scope(self.sessions) as db:
            yield db

    @property
    def actor(self) -> Actor:
        """Who this platform object acts as."""
        if self._actor is None:
            self._actor = self._resolve_actor()
        return self._actor

    def _resolve_actor(self) -> Actor:
        with self.session() as db:
            if self._username is None:
                user = bootstrap_admin(db)
                if user is None:
                    raise NotFound("this data dir has no admin yet: run `platform init`")
            else:
                user = db.scalar(select(User).where(User.username == self._username))
                if user is None or not user.is_active:
                    raise NotFound(f"no active user {self._username!r}")
            return Actor(
                user_id=user.id, username=user.username, is_agent=user.kind == UserKind.AGENT
            )

    def readiness(self) -> Readiness:
        """Which of database, object store and bus answer (and whether the schema is current);
        on the local runtime also whether its sandbox can run steps (``sandbox``: the
        bubblewrap version, or ``none (PLATFORM_LOCAL_SANDBOX=none)``)."""
        ready = check_readiness(
            self.engine,
            {
                "object_store": (self.blobs.backend, self.blobs.ping),
                "bus": (self.bus.backend, self.bus.ping),
            },
        )
        if self.settings.runtime != "local":
            return ready
        sandbox = check_component("sandbox", self.sandbox.mode, self.sandbox.describe)
        return Readiness([*ready.components, sandbox])

    @cached_property
    def sandbox(self) -> Sandbox:
        """How the local runtime isolates steps (``PLATFORM_LOCAL_SANDBOX``,
        ``PLATFORM_LOCAL_LIMITS``); the data dir never shows inside."""
        return Sandbox(
            self.settings.local_sandbox,
            limits=self.settings.limits,
            hide=(self.settings.data_dir,),
        )

    def describe(self) -> dict[str, Any]:
        """What this instance runs on, for ``platform status``, ``__repr__`` and notebooks."""
        return {
            "version": __version__,
            "data_dir": str(self.settings.data_dir.resolve()),
            "database": self.engine.url.render_as_string(hide_password=True),
            "object_store": self.blobs.backend,
            "bus": self.bus.backend,
            "runtime": self.settings.runtime,
            "sandbox": self.settings.local_sandbox if self.settings.runtime == "local" else "pods",
            "user": self._username or "(data dir admin)",
        }

    def __repr__(self) -> str:
        d = self.describe()
        return f"<Platform {d['database']} as {d['user']}>"

    def _repr_html_(self) -> str:
        return html_table(self.describe(), caption="Platform")


def open(data_dir: str | None = None, *, user: str | None = None, **settings: Any) -> Platform:
    """Open the embedded platform over ``data_dir`` (default ``PLATFORM_DATA_DIR`` or ./.platform).

    Keyword arguments override settings by field name (``database_url=…``, ``valkey_url=…``).
    """
    resolved = load_settings(data_dir=data_dir, **settings)
    platform = Platform(resolved, user=user)
    try:
        if resolved.database_url is None:
            if not schema_state(platform.engine).is_current:
                creds = platform.initialise()
                if creds is not None:
                    print(
                        f"Initialised a new platform in {resolved.data_dir}: admin "
                        f"{creds.username!r}, password {creds.password!r} (shown only once)"
                    )
        else:
            ensure_current(platform.engine)
    except BaseException:
        platform.close()
        raise
    return platform
