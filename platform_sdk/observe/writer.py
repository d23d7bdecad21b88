"""The spool to Parquet in the object store: hive-partitioned, zstd, flushed every few seconds.

:func:`flush` turns every sealed spool segment of a dataset into Parquet objects::

    telemetry/{dataset}/date=YYYY-MM-DD/hour=HH/part-{segment id}.parquet

one per (date, hour) of the rows' ``timestamp`` (UTC) that the segment holds, and only then
drops the segment. The objects go through :meth:`BlobStore.put
<platform_sdk.core.blobs.BlobStore.put>`, which is atomic on both backends (a fsynced
temporary file renamed over the key on a folder, one PUT or a completed multipart upload on
S3), so a reader or a crash never sees half a Parquet file. (Writing with ``fs.open(path,
"wb")`` instead would expose partial files on the local backend.)

**Never loss, never duplicates.** A segment is dropped only after all its objects are
written. A crash in between leaves the segment in the spool; replay flushes it again, and as
the object names derive from the segment's id (stored in the segment itself, unique across
restarts), the second flush overwrites the same objects instead of adding rows. Should
compaction have merged such an object away in between, the compactor deletes the rewritten
copy on its next run (:mod:`.compact` records the objects each compacted file replaces).

:class:`TelemetryWriter` is the background task the server spawns: every ``interval``
seconds it seals the active segments and flushes them; every ``maintenance_interval`` it
compacts and applies retention; on stop it flushes once more. Errors of one round (the
object store is down) are logged and retried on the next; the spool keeps the rows and
answers back-pressure when it fills up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from platform_sdk.core.blobs import BlobStore
from platform_sdk.errors import PlatformError
from platform_sdk.observe.compact import PREFIX, ROW_GROUP_ROWS, apply_retention, compact
from platform_sdk.observe.schema import DATASETS
from platform_sdk.observe.segments import segment_id
from platform_sdk.observe.spool import Spool

__all__ = [
    "COMPRESSION",
    "PREFIX",
    "TelemetryWriter",
    "flush",
    "parquet_bytes",
    "partition_key",
    "split_by_hour",
]

log = logging.getLogger(__name__)

COMPRESSION: Final = "zstd"


def partition_key(dataset: str, date: str, hour: int, name: str, *, prefix: str = PREFIX) -> str:
    """The object key of a Parquet file in a dataset's (date, hour) partition."""
    return f"{prefix}/{dataset}/date={date}/hour={hour:02d}/{name}"


def split_by_hour(table: pa.Table) -> Iterator[tuple[str, int, pa.Table]]:
    """``(date, hour, rows)`` for each UTC hour the rows' ``timestamp`` falls in.

    Works on whole hours since the epoch (integer division of the microseconds), and when
    all rows share one hour, the common case, touches no row at all beyond a min/max.
    """
    if table.num_rows == 0:
        return
    micros = table.column("timestamp").cast(pa.int64())
    bounds: Any = pc.min_max(micros).as_py()  # timestamps: never null, never before 1970
    first, last = int(bounds["min"]) // _HOUR_US, int(bounds["max"]) // _HOUR_US
    if first == last:
        yield (*_date_hour(first), table)
        return
    hours = pc.divide(micros, pa.scalar(_HOUR_US, pa.int64()))  # integer division
    for hour in sorted(int(str(h)) for h in pc.unique(hours).to_pylist()):
        yield (*_date_hour(hour), table.filter(pc.equal(hours, pa.scalar(hour, pa.int64()))))


_HOUR_US: Final = 3600 * 1_000_000


def _date_hour(hours_since_epoch: int) -> tuple[str, int]:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hours_since_epoch)
    return moment.date().isoformat(), moment.hour


def parquet_bytes(table: pa.Table, *, row_group_rows: int = ROW_GROUP_ROWS) -> pa.Buffer:
    """``table`` as a zstd Parquet file in memory (without schema metadata)."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        table.replace_schema_metadata(None),
        sink,
        compression=COMPRESSION,
        row_group_size=row_group_rows,
    )
    return sink.getvalue()


def flush(spool: Spool, blobs: BlobStore, dataset: str, *, seal: bool = True) -> list[str]:
    """Write the sealed segments of ``dataset`` to Parquet, then drop them; the URLs written.

    With ``seal`` (the default) the active segment is sealed first, so every row appended
    before the call is flushed. A failing object store raises (DependencyUnavailable) after
    the segments already written were dropped; the rest stay in the spool for the next call.
    """
    if seal:
        spool.seal_active(dataset)
    written: list[str] = []
    for path in spool.sealed_segments(dataset):
        try:
            written.extend(flush_segment(spool, blobs, dataset, path))
        except FileNotFoundError:
            continue  # flushed and dropped by another writer meanwhile
    return written


def flush_segment(spool: Spool, blobs: BlobStore, dataset: str, path: Path) -> list[str]:
    """Write one sealed segment to Parquet and drop it; the URLs written."""
    table = spool.read_segment(path)
    name = f"part-{segment_id(path)}.parquet"
    written = []
    for date, hour, rows in split_by_hour(table):
        key = partition_key(dataset, date, hour, name)
        blobs.put(key, pa.BufferReader(parquet_bytes(rows)))
        written.append(blobs.url(key))
    spool.drop(path)
    log.debug("flushed %s (%d rows) to %d objects", path.name, table.num_rows, len(written))
    return written


_SPOOL_LOCKS: dict[int, threading.Lock] = {}
_SPOOL_LOCKS_GUARD = threading.Lock()


def _spool_lock(spool: Spool) -> threading.Lock:
    with _SPOOL_LOCKS_GUARD:
        return _SPOOL_LOCKS.setdefault(id(spool), threading.Lock())


class TelemetryWriter:
    """Flushes the spool to the object store in the background; see the module docstring.

    ``retention_days`` maps a dataset to the days its partitions are kept (absent: forever).
    ``settle`` is how long after an hour ends its partition is left alone by compaction, so
    the writer's own files of the current hour are not merged over and over.
    """

    def __init__(
        self,
        spool: Spool,
        blobs: BlobStore,
        *,
        interval: float = 5.0,
        maintenance_interval: float = 600.0,
        retention_days: Mapping[str, int] | None = None,
        settle: float = 600.0,
        datasets: Iterable[str] = DATASETS,
    ) -> None:
        if interval <= 0 or maintenance_interval <= 0:
            raise ValueError("interval and maintenance_interval must be positive")
        self.spool = spool
        self.blobs = blobs
        self.interval = interval
        self.maintenance_interval = maintenance_interval
        self.retention_days = dict(retention_days or {})
        self.settle = settle
        self.datasets = tuple(datasets)
        # one round at a time per spool, whoever calls (several platform objects of one process
        # share a spool; each has its own writer)
        self._lock = _spool_lock(spool)
        self._next_maintenance = 0.0

    def run_once(self) -> dict[str, list[str]]:
        """Seal and flush every dataset; the URLs written, per dataset.

        A dataset whose flush fails is logged and left in the spool for the next round.
        """
        out: dict[str, list[str]] = {}
        with self._lock:
            for dataset in self.datasets:
                try:
                    out[dataset] = flush(self.spool, self.blobs, dataset)
                except PlatformError as exc:
                    log.warning("telemetry flush of %s failed, will retry: %s", dataset, exc)
                    out[dataset] = []
        return out

    def maintain(self, now: datetime | None = None) -> None:
        """Compact settled partitions and delete expired ones, for every dataset."""
        now = now or datetime.now(UTC)
        with self._lock:
            for dataset in self.datasets:
                try:
                    compact(self.blobs, dataset, settle=self.settle, now=now)
                    days = self.retention_days.get(dataset)
                    if days is not None:
                        apply_retention(self.blobs, dataset, days, now=now)
                except PlatformError as exc:
                    log.warning("telemetry maintenance of %s failed: %s", dataset, exc)

    def _round(self) -> None:
        self.run_once()
        if time.monotonic() >= self._next_maintenance:
            self.maintain()
            self._next_maintenance = time.monotonic() + self.maintenance_interval

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Flush every ``interval`` seconds until ``stop`` is set, then flush once more.

        The work runs in a worker thread, so the event loop keeps serving requests. The first
        round flushes what replay recovered and runs maintenance at once.
        """
        while not stop.is_set():
            try:
                await asyncio.to_thread(self._round)
            except Exception:
                log.exception("telemetry writer round failed; retrying next interval")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                continue
        try:
            await asyncio.to_thread(self.run_once)
        except Exception:
            log.exception("final telemetry flush failed; the spool keeps the rows for replay")
