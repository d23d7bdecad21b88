"""Live log tail through the bus: the ingest publishes, :func:`tail` filters for one actor.

**Publishing.** After the ingest path has made a batch of log rows durable it calls
:func:`publish_tail`, which sends them on the bus channel :data:`TAIL_CHANNEL` as messages
``{"rows": [row, …], "projects": [label, …]}`` of at most :data:`MAX_ROWS_PER_MESSAGE` rows
each. A row is a JSON object of the columns in :data:`TAIL_COLUMNS` (``timestamp`` as ISO 8601
text in UTC); ``projects`` lists the project labels present in the message (``null`` for rows
of no project), so a subscriber can drop a message of other projects without looking at its
rows. Turning Arrow rows into JSON costs ~9 µs a row, as much as the ingest itself, so it is
only paid while someone is tailing: each open tail keeps a presence key
(:data:`PRESENCE_KEY`, TTL :data:`PRESENCE_TTL` s, refreshed every
:data:`PRESENCE_REFRESH` s) in the bus cache — shared by all processes on Valkey — and
:func:`publish_tail` returns at once while the key is absent. It also publishes at most
``max_rows_per_call`` rows per batch (the first ones), and reports the rest as ``skipped`` in
the last message: a tail is for eyes, not for exports. Publishing is best effort, as the bus is
(at most once, no history): a bus error is logged, never raised into the ingest.

**Subscribing.** :func:`tail` checks the actor once, as the typed queries do (the projects it
may ``observe:read``; NotFound for a ``project`` it cannot read), subscribes, and returns a
:class:`LogTail`: an iterator of the matching rows as they are published (blocking), with
:meth:`LogTail.poll` for a bounded wait (what an SSE route needs to send keep-alives) and
:meth:`LogTail.close`. Rows published before :func:`tail` returned are not seen. The filters
are those of :func:`~platform_sdk.observe.services.explore.search_logs`: ``level`` a minimum
severity, ``q`` a case-insensitive literal substring of the body.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from platform_sdk.core.access import Actor
from platform_sdk.core.bus import Bus, Message, Subscription
from platform_sdk.errors import PlatformError
from platform_sdk.observe.explore_base import level_floor, row_level, visibility
from platform_sdk.observe.query import Scope

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = [
    "MAX_ROWS_PER_MESSAGE",
    "PRESENCE_KEY",
    "TAIL_CHANNEL",
    "TAIL_COLUMNS",
    "LogTail",
    "publish_tail",
    "tail",
]

log = logging.getLogger(__name__)

TAIL_CHANNEL: Final = "observe.tail.logs"
PRESENCE_KEY: Final = "observe.tail.active"
PRESENCE_TTL: Final = 30.0
PRESENCE_REFRESH: Final = 10.0
MAX_ROWS_PER_MESSAGE: Final = 500
MAX_ROWS_PER_CALL: Final = 5_000
TAIL_COLUMNS: Final = (
    "timestamp",
    "service",
    "project",
    "session_id",
    "user_id",
    "trace_id",
    "span_id",
    "severity",
    "severity_number",
    "body",
    "attributes",
    "event_name",
)


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """``table``'s tail columns as JSON-able dicts, the timestamp as ISO text."""
    names = [c for c in TAIL_COLUMNS if c in table.column_names]
    part = table.select(names)
    if "timestamp" in names:
        ts = part.column("timestamp")
        text = pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")  # %S has the microseconds
        part = part.set_column(names.index("timestamp"), "timestamp", text)
    return part.to_pylist()


def publish_tail(
    bus: Bus,
    table: pa.Table,
    *,
    max_rows: int = MAX_ROWS_PER_MESSAGE,
    max_rows_per_call: int = MAX_ROWS_PER_CALL,
) -> int:
    """Publish ``table``'s log rows for live tails (see the module docstring); the number of
    rows published (0 when nobody tails, or on a bus error, which is logged)."""
    if table.num_rows == 0:
        return 0
    try:
        if bus.get(PRESENCE_KEY) is None:
            return 0
        kept = table.slice(0, max_rows_per_call)
        skipped = table.num_rows - kept.num_rows
        rows = _rows(kept)
        sent = 0
        for start in range(0, len(rows), max_rows):
            chunk = rows[start : start + max_rows]
            labels = {r.get("project") for r in chunk}
            message: dict[str, Any] = {
                "rows": chunk,
                "projects": sorted(p for p in labels if p) + ([None] if None in labels else []),
            }
            if skipped and start + max_rows >= len(rows):
                message["skipped"] = skipped
            bus.publish(TAIL_CHANNEL, message)
            sent += len(chunk)
        return sent
    except PlatformError as exc:
        log.warning("live tail: could not publish %d log rows: %s", table.num_rows, exc)
        return 0


class LogTail(Iterator[dict[str, Any]]):
    """Matching log rows as they are published; see the module docstring."""

    def __init__(
        self,
        bus: Bus,
        scope: Scope,
        *,
        floor: int | None = None,
        q: str | None = None,
    ) -> None:
        self._bus = bus
        self._scope = scope
        self._floor = floor
        self._q = q.lower() if q else None
        self._pending: deque[dict[str, Any]] = deque()
        self._skipped = 0
        self._refreshed = 0.0
        self._refresh()  # announce before subscribing: no batch falls between the two
        self._sub: Subscription = bus.subscribe(TAIL_CHANNEL)

    @property
    def skipped(self) -> int:
        """Rows the publishers left out (beyond their per-batch cap) or the buffer dropped
        (in messages), so far."""
        return self._skipped + self._sub.dropped

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._refreshed >= PRESENCE_REFRESH:
            try:
                self._bus.set(PRESENCE_KEY, b"1", ttl=PRESENCE_TTL)
            except PlatformError as exc:
                log.warning("live tail: could not announce itself: %s", exc)
            self._refreshed = now

    def _visible(self, project: Any) -> bool:
        if project is None:
            return self._scope.unowned
        return self._scope.projects is None or project in self._scope.projects

    def _matches(self, row: dict[str, Any]) -> bool:
        if not self._visible(row.get("project")):
            return False
        level = row_level(row.get("severity_number"), row.get("severity"))
        if self._floor is not None and level < self._floor:
            return False
        if self._q is not None:
            body = row.get("body")
            return isinstance(body, str) and self._q in body.lower()
        return True

    def _take(self, message: Message) -> None:
        data = message.data
        self._skipped += int(data.get("skipped") or 0)
        projects = data.get("projects")
        if isinstance(projects, list) and not any(self._visible(p) for p in projects):
            return
        rows = data.get("rows")
        if isinstance(rows, list):
            self._pending.extend(r for r in rows if isinstance(r, dict) and self._matches(r))

    def _wait(self, timeout: float) -> None:
        """Take messages until some row matches, ``timeout`` passes or the tail is closed."""
        deadline = time.monotonic() + timeout
        while not self._pending and not self._sub.closed:
            self._refresh()
            left = min(deadline - time.monotonic(), PRESENCE_REFRESH)
            if left <= 0:
                return
            message = self._sub.get(left)
            if message is not None:
                self._take(message)

    def poll(self, timeout: float) -> list[dict[str, Any]]:
        """The matching rows that arrive within ``timeout`` seconds: as soon as there are some,
        with every message already waiting; ``[]`` on timeout or once closed."""
        self._wait(timeout)
        while (message := self._sub.get(0)) is not None:
            self._take(message)
        out = list(self._pending)
        self._pending.clear()
        return out

    def __next__(self) -> dict[str, Any]:
        while not self._pending:
            if self._sub.closed:
                raise StopIteration
            self._wait(PRESENCE_REFRESH)
        return self._pending.popleft()

    def close(self) -> None:
        self._sub.close()

    def __enter__(self) -> LogTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tail(
    platform: Platform,
    *,
    actor: Actor,
    project: str | uuid.UUID | None = None,
    level: str | None = None,
    q: str | None = None,
) -> LogTail:
    """Subscribe to live log rows that ``actor`` may read and that match the filters."""
    floor = level_floor(level) if level is not None else None
    with platform.session() as db:
        visible = visibility(db, actor, project=project)
    return LogTail(platform.runtime.bus, visible.scope, floor=floor, q=q)
