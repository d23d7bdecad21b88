"""The telemetry store of one process: the spool, the writer, the query source.

:func:`telemetry_of` answers the :class:`Telemetry` of a runtime (created on first use, closed
with the platform). The spool directory (``{data_dir}/spool``) is locked by one process, so the
spool itself is shared by every platform object of a process that opens the same data dir (a
notebook opening ``ps.open(user=…)`` next to a server): a reference-counted registry hands out
one :class:`~platform_sdk.observe.spool.Spool` per directory and closes it with its last user.
Queries see the Parquet files in the object store plus this process's unflushed spool; rows
still in *another* process's spool show up after its next flush (every
``PLATFORM_TELEMETRY_FLUSH_INTERVAL`` seconds).

When another process owns the spool (``platform serve`` running while a notebook opens the
same data dir), this process reads the spool's segment files without locking them
(:class:`SpoolReader`: complete batches only, a segment dropped meanwhile is skipped) and has
no writer; ingesting here answers 503 naming the process to send telemetry to.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow as pa

from platform_sdk.config import Settings
from platform_sdk.core.runtime import Runtime
from platform_sdk.errors import ConfigError, Unavailable
from platform_sdk.observe.query import TelemetrySource
from platform_sdk.observe.segments import scan
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import TelemetryWriter

__all__ = ["Telemetry", "telemetry_of"]

_REGISTRY: dict[Path, list[Any]] = {}
_REGISTRY_LOCK = threading.Lock()


def _acquire(root: Path, settings: Settings) -> Spool:
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(root)
        if entry is None:
            spool = Spool(root, max_bytes=settings.telemetry_spool_bytes)
            entry = _REGISTRY[root] = [spool, 0]
        entry[1] += 1
        spool = entry[0]
        assert isinstance(spool, Spool)
        return spool


def _release(root: Path) -> None:
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(root)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _REGISTRY[root]
            entry[0].close()


class SpoolReader:
    """Reads another process's spool: the complete batches of its segment files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def unflushed_files(self, dataset: str) -> list[Path]:
        return sorted((self.root / dataset).glob("seg-*.arrow"))

    def read_unflushed(self, dataset: str) -> pa.Table | None:
        tables = []
        for path in sorted((self.root / dataset).glob("seg-*.arrow")):
            try:
                found = scan(path)
            except FileNotFoundError:
                continue  # flushed and dropped meanwhile
            if found.schema is not None and found.rows:
                tables.append(found.table())
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="default")


class Telemetry:
    """Spool, writer and query source of one runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.root = (settings.data_dir / "spool").resolve()
        self._owner: Spool | None
        try:
            self._owner = _acquire(self.root, settings)
        except ConfigError:
            self._owner = None  # another process ingests into this data dir
        self.blobs = runtime.blobs
        reader = self._owner if self._owner is not None else SpoolReader(self.root)
        self.source = TelemetrySource(runtime.blobs, reader)  # type: ignore[arg-type]
        retention = {
            "logs": settings.retention_logs_days,
            "spans": settings.retention_spans_days,
            "metrics": settings.retention_metrics_days,
        }
        self.writer = TelemetryWriter(
            self._owner if self._owner is not None else _ReadOnly(self.root),  # type: ignore[arg-type]
            runtime.blobs,
            interval=settings.telemetry_flush_interval,
            retention_days={k: v for k, v in retention.items() if v is not None},
        )
        self._closed = False

    @property
    def spool(self) -> Spool:
        """The spool to append to; 503 when another process owns it."""
        if self._owner is None:
            raise Unavailable(
                f"the telemetry spool {self.root} belongs to another process (a running "
                "`platform serve`): send telemetry to that server's /v1 endpoints",
                retry_after=5,
            )
        return self._owner

    @property
    def owns_spool(self) -> bool:
        return self._owner is not None

    def flush(self) -> dict[str, list[str]]:
        """Write everything spooled to Parquet now (tests, notebooks, shutdown)."""
        if self._owner is None:
            return {}
        return self.writer.run_once()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._owner is not None:
                _release(self.root)


class _ReadOnly:
    """Stands in for a spool this process does not own: the writer finds nothing to flush."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __getattr__(self, name: str) -> Any:
        raise Unavailable(f"the telemetry spool {self.root} belongs to another process")


def telemetry_of(runtime: Runtime) -> Telemetry:
    return runtime.extension("observe.telemetry", Telemetry)
