"""Concurrent SQL over many Parquet files never hangs, on the local store and on S3.

DuckDB starts an Arrow dataset scan while holding the GIL; when the dataset's filesystem was
fsspec wrapped in Arrow's ``PyFileSystem``, Arrow's I/O threads needed the GIL to read, and a
query could deadlock for ever (its own timeout cannot interrupt it): the schemathesis run of
the API hung CI that way. The telemetry source now reads through Arrow's native filesystem of
each backend.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pyarrow.fs as pafs

from platform_sdk.core.blobs import BlobStore
from platform_sdk.observe.query import Scope, TelemetrySource, run_sql
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import flush

from .tables import START, log_table

FILES = 40
ROWS = 200
THREADS = 6
QUERIES = 15


def _fill(blobs: BlobStore, spool: Spool) -> None:
    for i in range(FILES):  # one flush per hour: a file per partition
        spool.append("logs", log_table(ROWS, first=i * ROWS, at=START + timedelta(hours=i)))
        flush(spool, blobs, "logs")
    # and rows still in the spool: the view is then a union of files and memory
    spool.append("logs", log_table(ROWS, first=FILES * ROWS, at=START + timedelta(hours=FILES)))


def test_the_telemetry_source_reads_with_no_python_in_arrows_io_threads(
    blobs: BlobStore,
) -> None:
    fs = TelemetrySource(blobs, None)._fs
    assert not isinstance(fs, pafs.PyFileSystem)
    assert type(fs) is (pafs.S3FileSystem if blobs.backend == "s3" else pafs.LocalFileSystem)


def test_concurrent_queries_over_many_files_all_finish(blobs: BlobStore, spool: Spool) -> None:
    _fill(blobs, spool)
    source = TelemetrySource(blobs, spool)
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(QUERIES):
                view = {"logs": source.dataset("logs", Scope(None, unowned=True), since=START)}
                query = "select count(*) as n, min(timestamp) as lo from logs where body <> ''"
                table = run_sql(query, view, timeout=60).table
                results.append(int(table.column("n")[0].as_py()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)  # a bound for a hang, not a speed check: each query takes ms
    hung = [t for t in threads if t.is_alive()]
    assert not hung, f"{len(hung)} query thread(s) never finished: a deadlock"
    assert errors == []
    assert results == [(FILES + 1) * ROWS] * (THREADS * QUERIES)
