"""The write-ahead spool: telemetry rows are durable on local disk before ingest answers 200.

Layout: ``{root}/{dataset}/seg-{seq:012d}.arrow``, one folder per dataset (``logs``, ``spans``,
``metrics``), each a sequence of Arrow IPC stream segments (:mod:`.segments`). Per dataset,
the highest-numbered segment this process opened is *active* (appended to); every other one
is *sealed* (closed, waiting for :mod:`.writer` to turn it into Parquet and :meth:`Spool.drop`
it).

**The ack rule.** :meth:`Spool.append` writes the rows, then ``fdatasync``\\ s the segment,
before it returns (a new segment's creation is also made durable by an ``fsync`` of its
folder). A route answers 200 only after ``append`` returned, so an acknowledged row survives
``SIGKILL`` and power loss. **Group commit**: writes are serialised per dataset by a lock,
but the sync is not done under it. An appender that finds no sync in flight becomes the
leader and syncs everything written so far; appenders that wrote meanwhile wait for the next
sync and return without one of their own. Under concurrency one ``fdatasync`` acknowledges
many requests (see ``benchmarks/otlp_ingest.py`` for figures).

**Failures.** A write error (a full disk) truncates the segment back to its last complete
batch and seals it, so a half-written batch never sits in front of later ones; a sync error
marks the segment failed and seals it. Either way ``append`` raises
:class:`~platform_sdk.errors.Unavailable` (503) and nothing is acknowledged that is not
durable. When the spool holds more than ``max_bytes`` (the writer falls behind, or the object
store is down), ``append`` raises :class:`~platform_sdk.errors.RateLimited` (429) with
``retry_after``: back-pressure to the clients, whose OTLP exporters retry. The check is made
before a write, so the spool overshoots ``max_bytes`` by at most the requests in flight.

**Rotation.** The active segment is sealed when it passes ``segment_bytes`` or
``segment_age`` seconds (checked at the next append), when an append brings another schema,
and by :meth:`Spool.seal_active` (the writer seals every flush interval).

**Replay.** Opening a spool (:meth:`Spool.replay`, run by the constructor) scans every segment
left by an earlier process: a torn last write is truncated away (the rows before it were
acknowledged and are kept, the torn batch never was), a segment without a complete batch is
deleted, and all others become sealed, to be flushed. A lock file (``{root}/.lock``, ``flock``)
keeps a second process off the same spool.

**Reading unflushed rows.** :meth:`Spool.unflushed_files` lists sealed and active segments
and :meth:`Spool.read_unflushed` reads them, so queries see rows the moment they are
acknowledged. A reader may also see rows of an append still in flight (written, not yet
synced) and, racing a flush, miss or double-count one segment's rows for that moment.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final

import pyarrow as pa

from platform_sdk.errors import ConfigError, RateLimited, Unavailable
from platform_sdk.observe.schema import DATASETS
from platform_sdk.observe.segments import fsync_dir, header, payload, read_segment, scan, write_all
from platform_sdk.observe.spool_sync import SyncedFile

__all__ = ["SEGMENT_AGE", "SEGMENT_BYTES", "ReplayReport", "Spool", "read_segment"]

log = logging.getLogger(__name__)

SEGMENT_BYTES: Final = 32 * 1024 * 1024
SEGMENT_AGE: Final = 60.0
_NAME: Final = re.compile(r"^seg-(\d{12})\.arrow$")


@dataclass(frozen=True)
class ReplayReport:
    """What :meth:`Spool.replay` found: segments kept, their rows, what it repaired."""

    segments: int = 0
    rows: int = 0
    truncated_bytes: int = 0
    removed: tuple[Path, ...] = ()


class _Lane:
    """The spool of one dataset: its folder, active segment and sealed segments."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.active: SyncedFile | None = None
        self.sealed: dict[Path, int] = {}  # path -> bytes, in sequence order
        self.next_seq = 1


class Spool:
    """Durable append-only buffer of telemetry rows; see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        segment_bytes: int = SEGMENT_BYTES,
        segment_age: float = SEGMENT_AGE,
        retry_after: int = 2,
        datasets: Iterable[str] = DATASETS,
    ) -> None:
        if max_bytes <= 0 or segment_bytes <= 0:
            raise ValueError("max_bytes and segment_bytes must be positive")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.segment_age = segment_age
        self.retry_after = retry_after
        self.root.mkdir(parents=True, exist_ok=True)
        self._lockfile = _lock(self.root)
        self._lanes = {name: _Lane(self.root / name) for name in datasets}
        self._bytes = 0
        self._bytes_lock = threading.Lock()
        self._closed = False
        self.recovered = self.replay()
        """The :class:`ReplayReport` of opening this spool."""

    # -- appending ---------------------------------------------------------------------------

    def append(self, dataset: str, table: pa.Table) -> None:
        """Write ``table``'s rows durably; return only once they survive a crash.

        RateLimited when the spool is full; Unavailable when it is closed or the disk fails.
        """
        lane = self._lane(dataset)
        if table.num_rows == 0:
            return
        if self._closed:
            raise Unavailable("the telemetry spool is closed", retry_after=self.retry_after)
        if self._bytes >= self.max_bytes:
            raise RateLimited(
                f"the telemetry spool is full ({self._bytes} of {self.max_bytes} bytes "
                "waiting for the object store); retry later",
                retry_after=self.retry_after,
            )
        data = payload(table)  # serialise outside the lock
        with lane.lock:
            if self._closed:  # closed while this append serialised its rows
                raise Unavailable("the telemetry spool is closed", retry_after=self.retry_after)
            segment = self._writable(lane, table.schema)
            try:
                ticket = segment.write(data)
            except OSError as exc:
                self._seal(lane)
                raise Unavailable(
                    f"the telemetry spool cannot write: {exc}", retry_after=self.retry_after
                ) from exc
            self._add_bytes(len(data))
        segment.commit(ticket)

    def _writable(self, lane: _Lane, schema: pa.Schema) -> SyncedFile:
        segment = lane.active
        if segment is not None and (
            segment.failed
            or segment.size >= self.segment_bytes
            or time.monotonic() - segment.created > self.segment_age
            or not segment.schema.equals(schema)
        ):
            self._seal(lane)
            segment = None
        if segment is None:
            segment = self._open_segment(lane, schema)
        return segment

    def _open_segment(self, lane: _Lane, schema: pa.Schema) -> SyncedFile:
        lane.folder.mkdir(parents=True, exist_ok=True)
        path = lane.folder / f"seg-{lane.next_seq:012d}.arrow"
        lane.next_seq += 1
        data, _ = header(schema)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o644)
            try:
                write_all(fd, data)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
            fsync_dir(lane.folder)
        except OSError as exc:
            raise Unavailable(
                f"the telemetry spool cannot create a segment: {exc}", retry_after=self.retry_after
            ) from exc
        self._add_bytes(len(data))
        lane.active = SyncedFile(path, fd, schema, len(data))
        return lane.active

    # -- sealing, listing, dropping ----------------------------------------------------------

    def seal_active(self, dataset: str, *, min_age: float = 0.0) -> Path | None:
        """Seal the active segment if it holds rows and is ``min_age`` seconds old."""
        lane = self._lane(dataset)
        with lane.lock:
            segment = lane.active
            if segment is None or segment.batches == 0:
                return None
            if time.monotonic() - segment.created < min_age:
                return None
            return self._seal(lane)

    def _seal(self, lane: _Lane) -> Path | None:
        segment, lane.active = lane.active, None
        if segment is None:
            return None
        segment.close()
        if segment.batches == 0:
            self._add_bytes(-segment.size)
            segment.path.unlink(missing_ok=True)
            return None
        lane.sealed[segment.path] = segment.size
        return segment.path

    def sealed_segments(self, dataset: str) -> list[Path]:
        """Closed segments waiting to be flushed, oldest first."""
        lane = self._lane(dataset)
        with lane.lock:
            return list(lane.sealed)

    def unflushed_files(self, dataset: str) -> list[Path]:
        """Every segment whose rows are not in Parquet yet: sealed ones, then the active one."""
        lane = self._lane(dataset)
        with lane.lock:
            paths = list(lane.sealed)
            if lane.active is not None and lane.active.batches:
                paths.append(lane.active.path)
            return paths

    def read_unflushed(self, dataset: str) -> pa.Table | None:
        """The rows of :meth:`unflushed_files` as one table (``None`` when there are none)."""
        tables = []
        for path in self.unflushed_files(dataset):
            try:
                tables.append(read_segment(path))
            except FileNotFoundError:
                continue  # flushed and dropped meanwhile
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="default")

    read_segment = staticmethod(read_segment)

    def drop(self, path: Path) -> None:
        """Delete a sealed segment whose rows are safely in the object store."""
        path = Path(path)
        lane = self._lane(path.parent.name)
        with lane.lock:
            if lane.active is not None and lane.active.path == path:
                raise ValueError(f"{path} is the active segment; seal it before dropping it")
            size = lane.sealed.pop(path, None)
            path.unlink(missing_ok=True)
        if size is not None:
            self._add_bytes(-size)

    # -- recovery and life cycle -------------------------------------------------------------

    def replay(self) -> ReplayReport:
        """Recover the segments on disk (see the module docstring); safe to call again."""
        kept = rows = truncated = 0
        removed: list[Path] = []
        for lane in self._lanes.values():
            with lane.lock:
                if not lane.folder.is_dir():
                    continue
                for seq, path in sorted(_segments(lane.folder)):
                    lane.next_seq = max(lane.next_seq, seq + 1)
                    if path in lane.sealed or (lane.active and lane.active.path == path):
                        continue
                    found = scan(path, decode=False)
                    if found.batch_count == 0:
                        path.unlink()
                        removed.append(path)
                        log.warning("removed spool segment %s: no complete batch", path)
                        continue
                    if found.torn:
                        _truncate(path, found.good_bytes)
                        truncated += found.file_bytes - found.good_bytes
                        log.warning(
                            "truncated a torn write of %d bytes off spool segment %s",
                            found.file_bytes - found.good_bytes,
                            path,
                        )
                    lane.sealed[path] = found.good_bytes
                    self._add_bytes(found.good_bytes)
                    kept += 1
                    rows += found.rows
        if removed:
            for lane in self._lanes.values():
                fsync_dir(lane.folder)
        return ReplayReport(kept, rows, truncated, tuple(removed))

    @property
    def size_bytes(self) -> int:
        """Bytes held by all segments (what ``max_bytes`` limits)."""
        return self._bytes

    def close(self) -> None:
        """Seal every active segment and release the spool (appends then raise Unavailable)."""
        if self._closed:
            return
        self._closed = True
        for lane in self._lanes.values():
            with lane.lock:
                self._seal(lane)
        self._lockfile.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spool({str(self.root)!r}, {self._bytes} bytes)"

    def _lane(self, dataset: str) -> _Lane:
        try:
            return self._lanes[dataset]
        except KeyError:
            raise ValueError(
                f"unknown telemetry dataset {dataset!r}; expected one of {sorted(self._lanes)}"
            ) from None

    def _add_bytes(self, delta: int) -> None:
        with self._bytes_lock:
            self._bytes += delta


def _segments(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match and entry.is_file():
            out.append((int(match.group(1)), entry))
    return out


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())


def _lock(root: Path) -> IO[bytes]:
    """An exclusive ``flock`` on ``{root}/.lock`` for as long as the file stays open."""
    handle = open(root / ".lock", "a+b")  # noqa: SIM115 (held open for the spool's lifetime)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, one process per data folder by convention
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(
            "PLATFORM_DATA_DIR", f"the telemetry spool {root} is in use by another process"
        ) from None
    return handle
