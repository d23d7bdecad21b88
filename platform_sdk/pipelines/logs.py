"""Step logs in the object store: written in chunks while the step runs, one object after.

Layout (keys of the platform's :class:`~platform_sdk.core.blobs.BlobStore`)::

    pipelines/{run_id}/{step_id}/{attempt}/chunk-00000001     while the attempt runs
    pipelines/{run_id}/{step_id}/{attempt}.log                once it ended

:class:`LogWriter` (worker side) buffers lines and writes a chunk every
:data:`FLUSH_INTERVAL` seconds or :data:`CHUNK_BYTES` bytes, then publishes
``pipelines.log.{step_id}`` on the bus so live readers wake at once. When the attempt ends,
:meth:`LogWriter.close` writes the whole log as one object and then deletes the chunks. Lines
have already been masked by the runtime; the writer masks them again (cheap, and the log is
where a leak would stay). A log is capped at :data:`MAX_LOG_BYTES`; what comes after is
dropped with one notice line.

Readers (:func:`read_log`) take the final object when it exists and the chunks otherwise; a
reader racing the finalisation (chunks deleted between listing and reading) retries from the
final object, so every byte is read exactly once in order. Offsets are byte offsets into the
attempt's log, which is what the SSE endpoint and ``run.stream()`` resume from.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable

from platform_sdk.core.blobs import BlobStore
from platform_sdk.core.bus import Bus
from platform_sdk.errors import NotFound
from platform_sdk.pipelines.runtime.base import Masker

__all__ = [
    "CHUNK_BYTES",
    "FLUSH_INTERVAL",
    "MAX_LOG_BYTES",
    "LogWriter",
    "log_channel",
    "log_key",
    "read_log",
]

FLUSH_INTERVAL = 0.25
CHUNK_BYTES = 256 * 1024
MAX_LOG_BYTES = 16 * 1024 * 1024


def log_channel(step_id: uuid.UUID) -> str:
    return f"pipelines.log.{step_id}"


def log_key(run_id: uuid.UUID, step_id: uuid.UUID, attempt: int) -> str:
    return f"pipelines/{run_id}/{step_id}/{attempt}.log"


def _chunk_prefix(run_id: uuid.UUID, step_id: uuid.UUID, attempt: int) -> str:
    return f"pipelines/{run_id}/{step_id}/{attempt}/"


class LogWriter:
    """Collects one attempt's output lines and stores them; thread-safe ``write``."""

    def __init__(
        self,
        blobs: BlobStore,
        bus: Bus | None,
        *,
        run_id: uuid.UUID,
        step_id: uuid.UUID,
        attempt: int,
        secrets: list[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.blobs = blobs
        self.bus = bus
        self.run_id, self.step_id, self.attempt = run_id, step_id, attempt
        self.key = log_key(run_id, step_id, attempt)
        self._prefix = _chunk_prefix(run_id, step_id, attempt)
        self._mask = Masker(list(secrets or []))
        self._clock = clock
        self._lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._written: list[bytes] = []
        self._size = 0
        self._seq = 0
        self._truncated = False
        self._last_flush = clock()
        self._closed = False
        self._stop = threading.Event()
        # output that stops mid-way (``echo start; sleep 600``) still shows within a moment
        self._ticker = threading.Thread(target=self._tick, name="log-flush", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            if self._buffered and self._clock() - self._last_flush >= FLUSH_INTERVAL:
                with contextlib.suppress(Exception):  # the next write or close retries
                    self.flush()

    def write(self, line: str) -> None:
        """Add one line (a newline is appended)."""
        data = (self._mask(line) + "\n").encode("utf-8", errors="replace")
        with self._lock:
            if self._closed or self._truncated:
                return
            if self._size + self._buffered + len(data) > MAX_LOG_BYTES:
                self._truncated = True
                data = f"[log truncated at {MAX_LOG_BYTES} bytes]\n".encode()
            self._buffer.append(data)
            self._buffered += len(data)
            due = self._buffered >= CHUNK_BYTES or self._clock() - self._last_flush >= (
                FLUSH_INTERVAL
            )
        if due:
            self.flush()

    __call__ = write

    def flush(self) -> None:
        """Write what is buffered as the next chunk and wake live readers."""
        with self._lock:
            if not self._buffer:
                self._last_flush = self._clock()
                return
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            self._seq += 1
            seq = self._seq
            self.blobs.put(f"{self._prefix}chunk-{seq:08d}", data)
            self._written.append(data)
            self._size += len(data)
            self._last_flush = self._clock()
        self._notify({"seq": seq, "attempt": self.attempt})

    def close(self) -> str:
        """Store the whole log as one object, drop the chunks; answers the log's key."""
        self._stop.set()
        self._ticker.join()
        self.flush()
        with self._lock:
            if self._closed:
                return self.key
            self._closed = True
            self.blobs.put(self.key, b"".join(self._written))
            for seq in range(1, self._seq + 1):
                self.blobs.delete(f"{self._prefix}chunk-{seq:08d}")
        self._notify({"done": True, "attempt": self.attempt})
        return self.key

    def _notify(self, message: dict[str, object]) -> None:
        if self.bus is None:
            return
        # live readers also poll: a lost wake-up only delays them
        with contextlib.suppress(Exception):
            self.bus.publish(log_channel(self.step_id), message)


def _chunks(blobs: BlobStore, prefix: str) -> list[str]:
    return sorted(k for k in blobs.list(prefix) if k.rsplit("/", 1)[-1].startswith("chunk-"))


def read_log(
    blobs: BlobStore, run_id: uuid.UUID, step_id: uuid.UUID, attempt: int, offset: int = 0
) -> tuple[bytes, bool]:
    """``(bytes from offset, final)`` of one attempt's log; ``final`` once it was closed."""
    key = log_key(run_id, step_id, attempt)
    for _ in range(3):
        if blobs.exists(key):
            data = blobs.get(key)
            return data[offset:], True
        parts = []
        try:
            for chunk_key in _chunks(blobs, _chunk_prefix(run_id, step_id, attempt)):
                parts.append(blobs.get(chunk_key))
        except NotFound:
            continue  # finalised while we read: the whole object exists now
        return b"".join(parts)[offset:], False
    return b"", False
