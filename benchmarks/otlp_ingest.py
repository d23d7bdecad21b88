"""OTLP log ingest without HTTP: decode + durable spool append, against raw pyarrow baselines.

``--records`` log records (default 200,000; ``--quick`` 40,000) are encoded once as OTLP
protobuf requests of ``--batches`` records each (default 1,000 and 10,000), like the ones the
OpenTelemetry SDK's exporters send: a resource with service, project and session, per record a
time, severity, trace and span ids, a body and three attributes. Then, per batch size:

* **decode** — ``decode_request`` of every payload: protobuf parse + Arrow rows, no storage.
* **decode + spool, 1 thread** — decode, then ``Spool.append``, which returns only once the rows
  are fsynced: what a request costs before the route may answer 200.
* **decode + spool, N threads** — the same from ``--threads`` threads (default 8) sharing one
  spool: group commit lets one ``fdatasync`` acknowledge several appends.
* baseline **raw IPC** — the already decoded tables written with ``pyarrow.ipc`` stream writer
  to one file, no fsync: the floor of the spool's own write path.
* baseline **raw IPC + fsync each** — the same with a flush and ``fdatasync`` after every
  batch (durability without group commit), single thread.
* baseline **raw IPC + fsync, N threads** — N threads, a lock held across write *and* fsync
  (the naive durable spool): what group commit is compared with.
* **flush to Parquet** — ``writer.flush`` of all spooled rows to a local object store (zstd,
  hive layout), against a raw ``pyarrow.parquet.write_table`` of the same rows (the ceiling).

The figures are records/s, the median of ``--repeat`` runs (default 3). The ratio column is
platform time / baseline time (above 1.00x the platform is slower): decode + spool over
decode alone shows what durability adds to decoding. Spool and object store live in a
temporary folder under ``--dir`` (default: the system temp dir), whose filesystem the header
names, because fsync costs depend on it. The script checks the row counts read back and
exits 0; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from _common import filesystem_of, header, median, rate, ratio, table
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from platform_sdk.core.blobs import LocalBlobStore
from platform_sdk.observe import spool_sync
from platform_sdk.observe.otlp import decode_request
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import flush

PB = "application/x-protobuf"
MAX_BYTES = 64 * 1024 * 1024


def payload(first: int, count: int) -> bytes:
    """One OTLP protobuf logs request of ``count`` records."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    for key, value in (
        ("service.name", "checkout"),
        ("platform.project", "todo-app"),
        ("platform.session", "sess-42"),
    ):
        rl.resource.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    sl = rl.scope_logs.add()
    sl.scope.name = "app.logger"
    t0 = time.time_ns()
    for i in range(first, first + count):
        record = sl.log_records.add(
            time_unix_nano=t0 + i,
            severity_number=9,
            severity_text="INFO",
            trace_id=i.to_bytes(16, "big"),
            span_id=(i + 1).to_bytes(8, "big"),
        )
        record.body.string_value = f"GET /items/{i % 977} answered 200 in {i % 89} ms"
        record.attributes.extend(
            [
                KeyValue(key="http.method", value=AnyValue(string_value="GET")),
                KeyValue(key="http.status_code", value=AnyValue(int_value=200)),
                KeyValue(key="net.peer.ip", value=AnyValue(string_value=f"10.0.{i % 256}.7")),
            ]
        )
    return request.SerializeToString()


class Bench:
    def __init__(self, base: Path, payloads: list[bytes], threads: int) -> None:
        self.base = base
        self.payloads = payloads
        self.threads = threads
        self.records = 0
        self.tables: list[pa.Table] = []
        self.fsyncs = 0

    def fresh(self, name: str) -> Path:
        folder = self.base / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.sync()  # no dirty pages of an earlier side are written back during this one
        return folder

    def decode(self) -> float:
        start = time.perf_counter()
        tables = [
            decode_request("logs", body, PB, None, max_bytes=MAX_BYTES).table
            for body in self.payloads
        ]
        seconds = time.perf_counter() - start
        self.tables = tables
        self.records = sum(t.num_rows for t in tables)
        return seconds

    def _spool_run(self, threads: int, *, decode: bool = True) -> tuple[float, Spool]:
        spool = Spool(self.fresh("spool"), max_bytes=1 << 40)
        items: list[Any] = self.payloads if decode else self.tables
        parts = [items[i::threads] for i in range(threads)]

        def work(mine: list[Any]) -> None:
            for item in mine:
                if decode:
                    item = decode_request("logs", item, PB, None, max_bytes=MAX_BYTES).table
                spool.append("logs", item)

        real = spool_sync.datasync
        calls = [0]

        def counting(fd: int) -> None:
            calls[0] += 1
            real(fd)

        spool_sync.datasync = counting  # count the spool's fdatasync calls
        try:
            start = time.perf_counter()
            _run_threads(work, parts)
            seconds = time.perf_counter() - start
        finally:
            spool_sync.datasync = real
        self.fsyncs = calls[0]
        return seconds, spool

    def spool(self, threads: int, *, decode: bool = True) -> float:
        seconds, spool = self._spool_run(threads, decode=decode)
        table_ = spool.read_unflushed("logs")
        spool.close()
        if table_ is None or table_.num_rows != self.records:
            raise RuntimeError("the spool lost rows")
        return seconds

    def raw_ipc(self, *, sync: bool, threads: int = 1) -> float:
        path = self.fresh("raw") / "raw.arrow"
        lock = threading.Lock()
        with open(path, "wb") as f, ipc.new_stream(f, self.tables[0].schema) as writer:

            def work(mine: list[pa.Table]) -> None:
                for t in mine:
                    with lock:
                        writer.write_table(t)
                        if sync:
                            f.flush()
                            os.fdatasync(f.fileno())

            start = time.perf_counter()
            _run_threads(work, [self.tables[i::threads] for i in range(threads)])
            seconds = time.perf_counter() - start
        with ipc.open_stream(pa.OSFile(str(path), "rb")) as reader:
            if reader.read_all().num_rows != self.records:
                raise RuntimeError("raw IPC lost rows")
        return seconds

    def flush(self) -> float:
        _, spool = self._spool_run(1)
        blobs = LocalBlobStore(self.fresh("blobs"))
        start = time.perf_counter()
        flush(spool, blobs, "logs")
        seconds = time.perf_counter() - start
        spool.close()
        rows = sum(pq.read_metadata(blobs.fs.open(blobs.url(k))).num_rows for k in blobs.list(""))
        if rows != self.records:
            raise RuntimeError(f"Parquet holds {rows} of {self.records} rows")
        return seconds

    def raw_parquet(self) -> float:
        path = self.fresh("rawpq") / "raw.parquet"
        whole = pa.concat_tables(self.tables)
        start = time.perf_counter()
        pq.write_table(whole, path, compression="zstd")
        return time.perf_counter() - start


def _run_threads(work: Callable[[list], None], parts: list[list]) -> None:  # type: ignore[type-arg]
    if len(parts) == 1:
        work(parts[0])
        return
    threads = [threading.Thread(target=work, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40,000 records, 1 run")
    parser.add_argument("--records", type=int, help="log records per run (default 200,000)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, help="runs per figure, median kept (default 3)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    records = args.records or (40_000 if args.quick else 200_000)
    repeat = args.repeat or (1 if args.quick else 3)
    base = Path(tempfile.mkdtemp(prefix="bench-otlp-", dir=args.dir))
    header(
        "OTLP log ingest: decode + durable spool vs raw pyarrow",
        {
            "pyarrow": pa.__version__,
            "records": f"{records:,}",
            "threads": str(args.threads),
            "filesystem": filesystem_of(base),
        },
    )
    rows: list[list[str]] = []
    try:
        for size in args.batches:
            rows += measure(base, records, size, args.threads, repeat)
        table(["batch", "what", "records/s", "vs", "ratio"], rows, right_from=2)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def measure(base: Path, records: int, size: int, threads: int, repeat: int) -> list[list[str]]:
    """The table rows of one batch size."""
    payloads = [payload(i, min(size, records - i)) for i in range(0, records, size)]
    bench = Bench(base, payloads, threads)
    bench.decode()  # warm-up, untimed: first-call costs and the decoded tables for baselines
    sides: dict[str, Callable[[], float]] = {
        "decode": bench.decode,
        "append1": lambda: bench.spool(1, decode=False),
        "appendN": lambda: bench.spool(threads, decode=False),
        "spool1": lambda: bench.spool(1),
        "spoolN": lambda: bench.spool(threads),
        "ipc": lambda: bench.raw_ipc(sync=False),
        "ipc_sync": lambda: bench.raw_ipc(sync=True),
        "ipc_syncN": lambda: bench.raw_ipc(sync=True, threads=threads),
        "flush": bench.flush,
        "parquet": bench.raw_parquet,
    }
    runs: dict[str, list[float]] = {name: [] for name in sides}
    fsyncs: list[int] = []
    for _ in range(repeat):  # the sides take turns within each run
        for name, side in sides.items():
            runs[name].append(side())
            if name == "appendN":
                fsyncs.append(bench.fsyncs)
    s = {k: median(v) for k, v in runs.items()}
    n, label = bench.records, f"{size:,}/batch"

    def row(what: str, key: str, vs: str = "", base_key: str = "") -> list[str]:
        against = ratio(s[key], s[base_key]) if base_key else ""
        return [label, what, f"{rate(n, s[key])}/s", vs, against]

    return [
        row("decode only (no storage)", "decode"),
        row("decode + spool append, 1 thread", "spool1", "decode only", "decode"),
        row(f"decode + spool append, {threads} threads", "spoolN", "decode only", "decode"),
        row("spool append only, 1 thread", "append1", "raw IPC+fsync", "ipc_sync"),
        row(f"spool append only, {threads} threads", "appendN", "raw, N, lock", "ipc_syncN"),
        [label, f"  fdatasyncs for {len(payloads)} appends", f"{median(fsyncs):.0f}", "", ""],
        row("  raw IPC write, no fsync", "ipc"),
        row("  raw IPC + fdatasync each (raw IPC+fsync)", "ipc_sync"),
        row(f"  raw IPC + fdatasync, {threads} threads, lock (raw, N, lock)", "ipc_syncN"),
        row("flush spool -> Parquet (local store)", "flush", "raw Parquet", "parquet"),
        row("  raw pq.write_table zstd (raw Parquet)", "parquet"),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
