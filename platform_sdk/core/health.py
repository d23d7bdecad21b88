"""Readiness of the components a platform process depends on.

Each check answers in bounded time and never raises: the result says which component is down
and why, so ``/readyz`` and ``platform status`` can name it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from platform_sdk.core.migrate import FIX_COMMAND, schema_state

__all__ = ["ComponentStatus", "Readiness", "check_component", "check_database", "check_readiness"]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    detail: str
    backend: str
    latency_ms: float

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "backend": self.backend,
            "latency_ms": round(self.latency_ms, 1),
        }


@dataclass(frozen=True)
class Readiness:
    components: list[ComponentStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.components if not c.ok]

    def to_dict(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ok else "unavailable",
            "failing": self.failing,
            "components": {c.name: c.to_dict() for c in self.components},
        }


def _timed(name: str, backend: str, probe: Callable[[], str]) -> ComponentStatus:
    start = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # a readiness probe reports every failure, whatever its kind
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        ok = False
    return ComponentStatus(name, ok, detail, backend, (time.perf_counter() - start) * 1000)


def check_component(name: str, backend: str, probe: Callable[[], str]) -> ComponentStatus:
    """One component whose ``probe`` answers its detail (or raises: the component is down)."""
    return _timed(name, backend, probe)


def check_database(engine: Engine) -> ComponentStatus:
    def probe() -> str:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        state = schema_state(engine)
        if not state.is_current:
            raise RuntimeError(f"schema outdated ({state.describe()}): run `{FIX_COMMAND}`")
        return f"schema at {', '.join(state.current)}"

    return _timed("database", engine.dialect.name, probe)


def check_readiness(
    engine: Engine, probes: dict[str, tuple[str, Callable[[], object]]]
) -> Readiness:
    """The database check plus one per named component: ``{name: (backend, ping)}``."""
    components = [check_database(engine)]
    for name, (backend, ping) in probes.items():

        def probe(ping: Callable[[], object] = ping) -> str:
            ping()
            return "reachable"

        components.append(_timed(name, backend, probe))
    return Readiness(components)
