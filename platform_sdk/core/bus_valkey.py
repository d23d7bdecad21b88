"""The Valkey bus: the bus and cache shared by every process of a deployment.

One redis-py client (a connection pool) serves commands; each subscription takes a dedicated
connection of its own for ``SUBSCRIBE`` and a daemon reader thread that moves messages from the
socket into the subscription's bounded buffer, so a slow consumer never backs up the server's
output buffer and ``get``/``close`` work from any thread. ``subscribe`` returns once Valkey has
confirmed every channel, so a message published afterwards is delivered. When the subscription
connection drops, the reader reconnects (redis-py re-subscribes); messages published while it
was away are lost, as pub/sub promises no more.

Every key and channel is namespaced by ``prefix`` (default ``platform:``) so several platforms,
or test runs, share one server. Values are bytes; ``set`` uses ``PX``; ``incr`` with a TTL runs
``SET key 0 PX ttl NX`` and ``INCRBY`` in one ``MULTI`` so the window starts with the counter.
Connect and socket timeouts are short and retries few, so a server that is down fails fast with
:class:`~platform_sdk.errors.DependencyUnavailable` rather than hanging a request. A message on
a subscribed channel that is not a JSON object (published by another client) is logged and
skipped, never raised into the subscriber.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from platform_sdk.core.bus import (
    DEFAULT_MAX_PENDING,
    DEFAULT_PREFIX,
    Bus,
    Message,
    Subscription,
    check_name,
    check_value,
    encode_message,
    ttl_millis,
)
from platform_sdk.errors import BadRequest, DependencyUnavailable

__all__ = ["ValkeyBus", "ValkeySubscription"]

log = logging.getLogger(__name__)


class ValkeySubscription(Subscription):
    """A subscription fed by a reader thread over its own Valkey connection."""

    def __init__(
        self,
        bus: ValkeyBus,
        channels: tuple[str, ...],
        *,
        max_pending: int,
        poll_interval: float,
    ) -> None:
        super().__init__(channels, max_pending=max_pending, on_close=bus._forget)
        self._bus = bus
        self._pubsub = bus._client.pubsub()
        self._poll = poll_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read, name=f"valkey-sub:{','.join(channels)}"[:64], daemon=True
        )

    def _start(self) -> None:
        """Subscribe, wait until Valkey confirms every channel, then start the reader."""
        names = [self._bus._prefix + c for c in self.channels]
        pending = set(names)
        deadline = time.monotonic() + self._bus.socket_timeout
        with self._bus._guard():
            self._pubsub.subscribe(*names)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise redis.TimeoutError("no confirmation of SUBSCRIBE")
                raw = self._pubsub.get_message(timeout=left)
                if raw is not None and raw["type"] == "subscribe":
                    pending.discard(_text(raw["channel"]))
                elif raw is not None:
                    self._handle(raw)
        self._thread.start()

    def _read(self) -> None:
        backoff = 0.1
        try:
            while not self._stop.is_set():
                try:
                    raw = self._pubsub.get_message(timeout=self._poll)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    log.warning("Valkey subscription %s lost its connection: %s", self, exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                if raw is not None:
                    self._handle(raw)
        except Exception:  # never let a reader thread die silently
            log.exception("Valkey subscription %s stopped", self)
        finally:
            try:
                self._pubsub.close()
            except Exception as exc:  # already broken: nothing more to release
                log.debug("closing %s: %s", self, exc)

    def _handle(self, raw: dict[str, Any]) -> None:
        if raw.get("type") != "message":
            return
        channel = _text(raw["channel"]).removeprefix(self._bus._prefix)
        try:
            data = json.loads(raw["data"])
        except (TypeError, ValueError):
            log.warning("skipped a malformed message on bus channel %r: not JSON", channel)
            return
        if not isinstance(data, dict):
            log.warning("skipped a message on bus channel %r: not a JSON object", channel)
            return
        self._deliver(Message(channel, data))

    def _stop_reader(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self._poll + self._bus.socket_timeout + 1)
        elif not self._thread.is_alive():
            self._pubsub.close()


class ValkeyBus(Bus):
    """Pub/sub and cache on Valkey (or Redis) at ``url``."""

    backend = "valkey"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
        poll_interval: float = 0.2,
        client_name: str | None = None,
    ) -> None:
        self._prefix = prefix
        self.socket_timeout = socket_timeout
        self._poll = poll_interval
        # Retry only connection failures (a stale pooled socket, a restarted server), quickly:
        # a timed-out INCR may have been applied, so it is not retried.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 2, (redis.ConnectionError,))
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            retry=retry,
            health_check_interval=30,
            client_name=client_name,
        )
        kw = self._client.connection_pool.connection_kwargs
        where = kw.get("path") or f"{kw.get('host', '?')}:{kw.get('port', 6379)}"
        self._where = f"{where}/{kw.get('db', 0)}"
        self._subs: set[ValkeySubscription] = set()
        self._lock = threading.Lock()
        self._closed = False

    # -- pub/sub ------------------------------------------------------------------------------
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        check_name(channel, "channel")
        payload = encode_message(message)
        with self._guard():
            self._client.publish(self._prefix + channel, payload)

    def subscribe(self, *channels: str, max_pending: int = DEFAULT_MAX_PENDING) -> Subscription:
        if not channels:
            raise BadRequest("subscribe to at least one channel")
        names = tuple(dict.fromkeys(check_name(c, "channel") for c in channels))
        self._check_open()
        sub = ValkeySubscription(self, names, max_pending=max_pending, poll_interval=self._poll)
        with self._lock:
            self._subs.add(sub)
        try:
            sub._start()
        except BaseException:
            sub.close()
            raise
        return sub

    def _forget(self, sub: Subscription) -> None:
        assert isinstance(sub, ValkeySubscription)
        with self._lock:
            self._subs.discard(sub)
        sub._stop_reader()

    # -- cache --------------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        with self._guard():
            value = self._client.get(self._key(key))
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        name, data, millis = self._key(key), check_value(value), ttl_millis(ttl)
        with self._guard():
            self._client.set(name, data, px=millis)

    def delete(self, key: str) -> bool:
        with self._guard():
            return int(self._client.delete(self._key(key))) > 0

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        name, millis = self._key(key), ttl_millis(ttl)
        with self._guard(key):
            if millis is None:
                return int(self._client.incrby(name, amount))
            pipe = self._client.pipeline(transaction=True)
            pipe.set(name, 0, px=millis, nx=True)
            pipe.incrby(name, amount)
            return int(pipe.execute()[1])

    # -- lifecycle ----------------------------------------------------------------------------
    def ping(self) -> None:
        with self._guard():
            self._client.ping()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        self._client.close()

    def __repr__(self) -> str:
        return f"<ValkeyBus {self._where} prefix={self._prefix!r}>"

    # -- helpers ------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return self._prefix + check_name(key)

    def _check_open(self) -> None:
        if self._closed:
            raise DependencyUnavailable(f"the Valkey bus at {self._where} is closed")

    @contextmanager
    def _guard(self, key: str | None = None) -> Iterator[None]:
        """Map redis-py errors onto the error tree."""
        self._check_open()
        try:
            yield
        except redis.ResponseError as exc:
            if key is not None and "not an integer" in str(exc):
                raise BadRequest(f"the value of {key!r} is not an integer") from None
            raise DependencyUnavailable(f"the Valkey bus at {self._where} failed: {exc}") from exc
        except redis.RedisError as exc:  # connection refused or lost, timeouts, auth
            raise DependencyUnavailable(
                f"the Valkey bus at {self._where} is unreachable: {exc}"
            ) from exc


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
