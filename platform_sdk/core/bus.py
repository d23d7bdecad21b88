"""The bus: publish/subscribe and a small cache (get/set with TTL, delete, atomic counters).

Events published after commit, live log tails, cache entries and rate-limit counters all go
through one :class:`Bus`. :func:`open_bus` picks the implementation from the settings:

* :class:`~platform_sdk.core.bus_memory.InProcessBus` (the embedded default, no ``VALKEY_URL``):
  dictionaries and queues guarded by locks, for one process;
* :class:`~platform_sdk.core.bus_valkey.ValkeyBus` (``VALKEY_URL`` set): redis-py against Valkey
  (or Redis), shared by every process of a deployment.

Both honour the same contract, which the tests run against each:

* ``publish(channel, message)`` sends a JSON object to every current subscriber of that
  channel; delivery is at most once and there is no history (a subscriber sees what is
  published after ``subscribe`` returns). Messages round-trip through JSON on both
  implementations, so a tuple arrives as a list on either.
* ``subscribe(*channels)`` returns a :class:`Subscription`: a bounded buffer read with
  ``get(timeout)`` or by iterating, closed with ``close()`` (or ``with``), usable from any
  thread. A subscriber that falls behind never blocks publishers: when its buffer is full the
  oldest message is dropped and counted in ``dropped``.
* ``get``/``set``/``delete`` store bytes, ``set`` with an optional TTL in seconds;
  ``incr(key, amount, ttl)`` is an atomic counter whose TTL starts when the counter is created
  (a fixed rate-limit window).
* ``ping()`` raises :class:`~platform_sdk.errors.DependencyUnavailable` naming the bus when it
  does not answer (what ``/readyz`` reports); so does any call once the bus is closed, or while
  Valkey is down. A bad argument (a message that is not a JSON object, a TTL that is not
  positive, ``incr`` on a value that is not an integer) raises
  :class:`~platform_sdk.errors.BadRequest`.
"""

from __future__ import annotations

import json
import math
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.errors import BadRequest

if TYPE_CHECKING:
    from platform_sdk.config import Settings

__all__ = [
    "DEFAULT_MAX_PENDING",
    "DEFAULT_PREFIX",
    "Bus",
    "Message",
    "Subscription",
    "open_bus",
]

DEFAULT_PREFIX = "platform:"
"""Namespace of the platform's keys and channels on a shared Valkey."""
DEFAULT_MAX_PENDING = 1000
"""Messages a subscription buffers before it drops the oldest."""


@dataclass(frozen=True)
class Message:
    """One published message as a subscriber receives it."""

    channel: str
    data: dict[str, Any]


class Subscription:
    """Messages of some channels in a bounded buffer that drops its oldest when full.

    Implementations feed it through :meth:`_deliver` (from the publisher's thread or a reader
    thread); consumers read it with :meth:`get` or by iterating, from any thread. After
    :meth:`close` nothing more is delivered and :meth:`get` answers ``None`` at once.
    """

    def __init__(
        self,
        channels: tuple[str, ...],
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.channels = channels
        self.max_pending = max_pending
        self._queue: deque[Message] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._dropped = 0
        self._on_close = on_close

    @property
    def dropped(self) -> int:
        """How many messages were dropped because the buffer was full."""
        return self._dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def _deliver(self, message: Message) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._queue) >= self.max_pending:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(message)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Message | None:
        """The next message; ``None`` after ``timeout`` seconds (``None``: wait until closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._closed, timeout)
            if self._closed or not self._queue:
                return None
            return self._queue.popleft()

    def close(self) -> None:
        """Stop delivery and release the subscription (idempotent, from any thread)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        if self._on_close is not None:
            self._on_close(self)

    def __iter__(self) -> Iterator[Message]:
        """Messages as they arrive, until the subscription is closed."""
        while (message := self.get()) is not None:
            yield message

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._queue)} pending"
        return f"<{type(self).__name__} {', '.join(self.channels)}: {state}>"


class Bus(ABC):
    """Publish/subscribe plus a key-value cache with TTLs; see the module docstring."""

    backend: ClassVar[str]
    """Short name of the implementation, for ``/readyz`` and ``platform status``."""

    @abstractmethod
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send a JSON object to the channel's current subscribers."""

    @abstractmethod
    def subscribe(self, *channels: str, max_pending: int = DEFAULT_MAX_PENDING) -> Subscription:
        """Receive what is published on ``channels`` from now on."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or ``None`` when missing or expired."""

    @abstractmethod
    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, expiring after ``ttl`` seconds when given."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; whether it was there."""

    @abstractmethod
    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to the counter (0 when missing) and return it; ``ttl`` on creation."""

    @abstractmethod
    def ping(self) -> None:
        """Raise ``DependencyUnavailable`` unless the bus answers."""

    @abstractmethod
    def close(self) -> None:
        """Close every subscription and release connections (idempotent)."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- argument checks shared by the implementations ----------------------------------------
def encode_message(message: dict[str, Any]) -> str:
    """The JSON text of a message; :class:`BadRequest` unless it is a JSON object."""
    if not isinstance(message, dict):
        raise BadRequest(f"a bus message must be a dict, not {type(message).__name__}")
    try:
        return json.dumps(message, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"a bus message must be JSON-serialisable: {exc}") from None


def check_name(name: str, what: str = "key") -> str:
    if not isinstance(name, str) or not name:
        raise BadRequest(f"a bus {what} must be a non-empty string")
    return name


def check_value(value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise BadRequest(f"a cached value must be bytes, not {type(value).__name__}")
    return bytes(value)


def ttl_millis(ttl: float | None) -> int | None:
    """``ttl`` seconds as whole milliseconds (rounded up); :class:`BadRequest` unless positive."""
    if ttl is None:
        return None
    if not (isinstance(ttl, int | float) and math.isfinite(ttl) and ttl > 0):
        raise BadRequest(f"a TTL must be a positive number of seconds, not {ttl!r}")
    return max(1, math.ceil(ttl * 1000))


def open_bus(settings: Settings) -> Bus:
    """Valkey when ``VALKEY_URL`` is set (keys and channels under ``PLATFORM_VALKEY_PREFIX``,
    so installations can share one server), else the in-process bus.

    Opening does not contact Valkey; ``ping()`` (``/readyz``) says whether it answers. The
    in-process bus is shared by every platform object of this process on the same data dir
    (a notebook's server and its ``ps.open(user=…)`` objects see each other's events, claims
    and rate limits, as processes sharing a Valkey do); it closes with its last user.
    """
    if settings.valkey_url:
        from platform_sdk.core.bus_valkey import ValkeyBus

        return ValkeyBus(settings.valkey_url, prefix=settings.valkey_prefix)
    from platform_sdk.core.bus_memory import shared_bus

    return shared_bus(str(settings.data_dir))
