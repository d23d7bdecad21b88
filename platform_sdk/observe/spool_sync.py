"""One open spool segment with group commit: many writers, one ``fdatasync`` for all of them.

:class:`SyncedFile` is the active segment of a dataset. Its owner (:class:`~.spool.Spool`)
serialises :meth:`SyncedFile.write` under its own lock; :meth:`SyncedFile.commit` runs
outside it and returns once the caller's write is on stable storage:

* every write gets a ticket, the count of writes so far;
* ``synced`` is the highest ticket known durable; a committer whose ticket is above it and
  who finds no sync in flight becomes the **leader**: it reads the current write count,
  releases the condition, calls ``fdatasync`` (file data and the size, which is all a
  reader needs), and on return marks everything up to that count durable and wakes the
  others;
* committers that find a sync in flight wait; when it finishes, their ticket is either
  covered (they return without a sync of their own) or one of them leads the next one.

So while one sync runs, all writes that land meanwhile share the next sync. A failed sync
marks the file ``failed``: the caller and every waiter whose write it did not cover get
:class:`~platform_sdk.errors.Unavailable`, and the spool seals the segment (after a failed
``fsync`` the kernel may have dropped the dirty pages, so a retry proves nothing). A failed
write truncates the file back to its last complete batch before the error propagates.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import suppress
from pathlib import Path

import pyarrow as pa

from platform_sdk.errors import Unavailable
from platform_sdk.observe.segments import write_all

__all__ = ["SyncedFile", "datasync"]

datasync = getattr(os, "fdatasync", os.fsync)
"""``fdatasync`` where the OS has it (Linux), else ``fsync``."""


class SyncedFile:
    """An append-only segment file open for writing; see the module docstring."""

    def __init__(self, path: Path, fd: int, schema: pa.Schema, size: int) -> None:
        self.path = path
        self.fd = fd
        self.schema = schema
        self.size = size
        """Bytes of complete messages written (the header included)."""
        self.created = time.monotonic()
        self.batches = 0
        """Writes (record batch payloads) so far: the last ticket given out."""
        self.synced = 0
        self.syncing = False
        self.failed: BaseException | None = None
        self.closed = False
        self.syncs = 0
        """How many ``fdatasync`` calls this file took (for tests and benchmarks)."""
        self._cond = threading.Condition()

    def write(self, data: bytes) -> int:
        """Append ``data`` (the caller holds the spool's lock); return its commit ticket."""
        if self.failed is not None or self.closed:
            raise OSError(f"segment {self.path.name} is no longer writable")
        try:
            write_all(self.fd, data)
        except OSError as exc:
            self.failed = exc
            # Never leave half a batch before later ones; if even this fails, a reader stops at
            # the torn batch, and the spool seals the segment anyway.
            with suppress(OSError):
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(data)
        self.batches += 1
        return self.batches

    def commit(self, ticket: int) -> None:
        """Return once write ``ticket`` is durable; Unavailable if it cannot be made so."""
        with self._cond:
            while self.synced < ticket:
                if self.failed is not None:
                    raise Unavailable(
                        f"the telemetry spool could not sync {self.path.name}: {self.failed}",
                        retry_after=1,
                    )
                if self.syncing:
                    self._cond.wait()
                    continue
                self._sync_locked()

    def _sync_locked(self) -> None:
        """Lead one sync (the condition is held on entry and on return)."""
        self.syncing = True
        target = self.batches
        error: BaseException | None = None
        self._cond.release()
        try:
            datasync(self.fd)
        except OSError as exc:
            error = exc
        finally:
            self._cond.acquire()
            self.syncing = False
        self.syncs += 1
        if error is not None:
            self.failed = error
        else:
            self.synced = max(self.synced, target)
        self._cond.notify_all()

    def close(self) -> None:
        """Sync what is written, wake every waiter, close the descriptor (idempotent)."""
        with self._cond:
            while self.syncing:
                self._cond.wait()
            if self.closed:
                return
            if self.failed is None and self.synced < self.batches:
                self._sync_locked()
            self.closed = True
            os.close(self.fd)
            self._cond.notify_all()
