"""The in-process bus: the embedded default when no ``VALKEY_URL`` is set.

Everything lives in this process, guarded by one lock: a dict of subscriptions per channel and
a dict of cache entries with their expiry on a monotonic clock (injectable, so tests move time
instead of sleeping). A publisher serialises the message to JSON once and hands each subscriber
its own decoded copy, so subscribers cannot see each other's mutations and the message shape is
exactly what Valkey would deliver. Delivery appends to each subscription's bounded buffer and
never blocks; a full buffer drops its oldest message. Expired entries are removed when read and
swept every few hundred writes, so memory stays bounded by the live entries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from platform_sdk.core.bus import (
    DEFAULT_MAX_PENDING,
    Bus,
    Message,
    Subscription,
    check_name,
    check_value,
    encode_message,
    ttl_millis,
)
from platform_sdk.errors import BadRequest, DependencyUnavailable

__all__ = ["InProcessBus", "SharedInProcessBus", "shared_bus"]

SWEEP_EVERY = 512
"""Writes between two sweeps of expired cache entries."""


class InProcessBus(Bus):
    """Pub/sub and cache within one process; thread-safe."""

    backend = "in-process"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._channels: dict[str, set[Subscription]] = {}
        self._entries: dict[str, tuple[bytes, float | None]] = {}
        self._writes = 0
        self._closed = False

    # -- pub/sub ------------------------------------------------------------------------------
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        check_name(channel, "channel")
        payload = encode_message(message)
        with self._lock:
            self._check_open()
            subscribers = list(self._channels.get(channel, ()))
        for sub in subscribers:
            sub._deliver(Message(channel, json.loads(payload)))

    def subscribe(self, *channels: str, max_pending: int = DEFAULT_MAX_PENDING) -> Subscription:
        if not channels:
            raise BadRequest("subscribe to at least one channel")
        names = tuple(dict.fromkeys(check_name(c, "channel") for c in channels))
        sub = Subscription(names, max_pending=max_pending, on_close=self._unsubscribe)
        with self._lock:
            self._check_open()
            for name in names:
                self._channels.setdefault(name, set()).add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for name in sub.channels:
                subs = self._channels.get(name)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._channels[name]

    # -- cache --------------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        check_name(key)
        with self._lock:
            self._check_open()
            entry = self._live(key)
            return None if entry is None else entry[0]

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        check_name(key)
        data = check_value(value)
        millis = ttl_millis(ttl)
        with self._lock:
            self._check_open()
            self._entries[key] = (data, self._expiry(millis))
            self._wrote()

    def delete(self, key: str) -> bool:
        check_name(key)
        with self._lock:
            self._check_open()
            existed = self._live(key) is not None
            self._entries.pop(key, None)
            return existed

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        check_name(key)
        millis = ttl_millis(ttl)
        with self._lock:
            self._check_open()
            entry = self._live(key)
            value, expires = (b"0", self._expiry(millis)) if entry is None else entry
            try:
                total = int(value) + amount
            except ValueError:
                raise BadRequest(f"the value of {key!r} is not an integer") from None
            self._entries[key] = (str(total).encode(), expires)
            self._wrote()
            return total

    # -- lifecycle ----------------------------------------------------------------------------
    def ping(self) -> None:
        with self._lock:
            self._check_open()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            subs = {sub for group in self._channels.values() for sub in group}
            self._entries.clear()
        for sub in subs:
            sub.close()

    def __repr__(self) -> str:
        return f"<InProcessBus {len(self._channels)} channels, {len(self._entries)} keys>"

    # -- helpers (called with the lock held) --------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise DependencyUnavailable("the in-process bus is closed")

    def _expiry(self, millis: int | None) -> float | None:
        return None if millis is None else self._clock() + millis / 1000

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            now = self._clock()
            expired = [k for k, (_, exp) in self._entries.items() if exp is not None and exp <= now]
            for key in expired:
                del self._entries[key]


_SHARED: dict[str, SharedInProcessBus] = {}
_SHARED_LOCK = threading.Lock()


class SharedInProcessBus(InProcessBus):
    """An :class:`InProcessBus` handed out per data dir; :meth:`close` releases one user."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self._key = key
        self._users = 0

    def close(self) -> None:
        with _SHARED_LOCK:
            self._users -= 1
            if self._users > 0:
                return
            if _SHARED.get(self._key) is self:
                del _SHARED[self._key]
        super().close()


def shared_bus(key: str) -> InProcessBus:
    """The in-process bus of ``key`` (a data dir), created on first use."""
    with _SHARED_LOCK:
        bus = _SHARED.get(key)
        if bus is None or bus._closed:
            bus = _SHARED[key] = SharedInProcessBus(key)
        bus._users += 1
        return bus
