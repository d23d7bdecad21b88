"""What a service call can reach besides its session: settings, bus, object store, caches.

A :class:`Runtime` belongs to one :class:`~platform_sdk.sdk.Platform` (one process's view of
one deployment). Sessions made by the platform carry it in ``session.info``, so services keep
the signature of DESIGN.md — ``fn(db, *, actor, …)`` — and still find the bus, the permission
cache or the keyring through :func:`runtime_of`. Capabilities hang their per-process objects
(caches, keyrings) on :attr:`Runtime.extensions`, created lazily by :meth:`Runtime.extension`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from platform_sdk.config import Settings
from platform_sdk.core.blobs import BlobStore
from platform_sdk.core.bus import Bus

__all__ = ["Runtime", "runtime_of"]

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    bus: Bus
    blobs: BlobStore
    extensions: dict[str, Any] = field(default_factory=dict)
    listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = field(default_factory=dict)
    subscribers: dict[str, list[Callable[[Session, dict[str, Any]], None]]] = field(
        default_factory=dict
    )
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def extension(self, name: str, factory: Callable[[Runtime], T]) -> T:
        """The per-process object ``name``, made by ``factory(runtime)`` on first use."""
        with self._lock:
            if name not in self.extensions:
                self.extensions[name] = factory(self)
            return self.extensions[name]  # type: ignore[no-any-return]

    def on(self, channel: str, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(payload)`` in this process, synchronously, after each commit that
        emitted an event on ``channel`` (before the event goes out on the bus)."""
        with self._lock:
            self.listeners.setdefault(channel, []).append(listener)

    def subscribe(self, channel: str, fn: Callable[[Session, dict[str, Any]], None]) -> None:
        """Call ``fn(db, payload)`` inside the emitting transaction for each event on
        ``channel``: what it writes (webhook deliveries, notifications) commits or rolls back
        with the change that caused it — a transactional outbox, with no service importing
        another capability's internals."""
        with self._lock:
            self.subscribers.setdefault(channel, []).append(fn)

    def close(self) -> None:
        # last made, first closed: an extension may use one made before it while closing
        for ext in reversed(list(self.extensions.values())):
            close = getattr(ext, "close", None)
            if callable(close):
                close()
        self.extensions.clear()


def runtime_of(db: Session) -> Runtime:
    """The runtime of the platform that made this session."""
    rt = db.info.get("runtime")
    if rt is None:
        raise RuntimeError("this session was not made by a Platform (no runtime in session.info)")
    assert isinstance(rt, Runtime)
    return rt
