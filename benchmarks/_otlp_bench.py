"""The server under test and the measurements of benchmarks/otlp_ingest.py (payloads, a
`platform serve` subprocess, decode/spool/HTTP runs). Not a benchmark itself."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from platform_sdk.config import load_settings
from platform_sdk.core.blobs import LocalBlobStore, open_blobs
from platform_sdk.observe import spool_sync
from platform_sdk.observe.otlp import decode_request
from platform_sdk.observe.segments import scan
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import flush
from platform_sdk.sdk import Platform

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``platform serve`` in a subprocess over a fresh data dir, with a user ``bench``
    (``developer``), its API token and the project ``bench/todo-app`` the payloads name."""

    def __init__(self, folder: Path, cpus: set[int] | None) -> None:
        self.data = folder / "data"
        self.settings = load_settings(data_dir=self.data)
        with Platform(self.settings) as admin:
            admin.initialise()
            admin.users.create("bench", email="bench@example.com")
            admin.bindings.create("bench", "developer")
            token = admin.users.get("bench").tokens.create("otlp bench").token
        with Platform(self.settings, user="bench") as bench:
            bench.projects.create("todo-app")
        self.headers = {"Content-Type": PB, "Authorization": f"Bearer {token}"}
        self.port = _free_port()
        self.acked = 0  # records acknowledged, every request included
        self.retries = 0  # 429/503 answers, each retried after its Retry-After
        self.cpu = 0.0  # server CPU seconds of the last post()
        self._lock = threading.Lock()
        self.log_path = folder / "server.log"
        cli = str(Path(sys.executable).with_name("platform"))
        listen = f"127.0.0.1:{self.port}"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [cli, "--data-dir", str(self.data), "serve", "--listen", listen],
                stdout=log,
                stderr=subprocess.STDOUT,
                # the benchmark measures ingest, not the per-token rate limit
                env={**os.environ, "PLATFORM_LOG": "warning", "PLATFORM_RATE_OTLP": "off"},
            )
        try:
            if cpus:  # before it serves; the threads it starts later inherit the affinity
                os.sched_setaffinity(self.proc.pid, cpus)
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server process (all its threads) so far."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def post(self, payloads: list[tuple[bytes, int]], connections: int) -> float:
        """POST every ``(body, records)`` to ``/v1/logs`` over ``connections`` keep-alive
        connections, each waiting for its answer; the seconds from first send to last ack."""
        parts = [payloads[i::connections] for i in range(connections)]
        errors: list[BaseException] = []

        def work(mine: list[tuple[bytes, int]]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                for body, records in mine:
                    self._send(conn, body, records)
            except BaseException as exc:  # re-raised in the main thread
                errors.append(exc)
            finally:
                conn.close()

        cpu = self.cpu_seconds()
        start = time.perf_counter()
        _run_threads(work, [p for p in parts if p])
        seconds = time.perf_counter() - start
        self.cpu = self.cpu_seconds() - cpu
        if errors:
            raise errors[0]
        return seconds

    def _send(self, conn: http.client.HTTPConnection, body: bytes, records: int) -> None:
        while True:
            conn.request("POST", "/v1/logs", body, self.headers)
            response = conn.getresponse()
            data = response.read()
            if response.status in (429, 503):  # back-pressure: retry as an exporter does
                with self._lock:
                    self.retries += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            if response.status != 200:
                raise RuntimeError(f"POST /v1/logs answered {response.status}: {data[:300]!r}")
            rejected = ExportLogsServiceResponse.FromString(data).partial_success
            if rejected.rejected_log_records:
                raise RuntimeError(f"the server rejected records: {rejected.error_message}")
            with self._lock:
                self.acked += records
            return

    def drain(self, timeout: float = 120.0) -> None:
        """Wait until the server's writer flushed its log spool to Parquet (so its disk
        writes do not weigh on the next side), then ``os.sync()``."""
        deadline = time.monotonic() + timeout
        while any((self.data / "spool" / "logs").glob("seg-*.arrow")):
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not flush its spool")
            time.sleep(0.05)
        os.sync()

    def stop(self) -> int:
        """Stop gracefully (SIGTERM: the writer flushes once more); the log rows stored,
        in the object store's Parquet files plus any left in the spool."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        blobs = open_blobs(self.settings)
        keys = [k for k in blobs.list("telemetry/logs/") if k.endswith(".parquet")]
        rows = sum(pq.read_metadata(blobs.fs.open(blobs.url(k))).num_rows for k in keys)
        left = (self.data / "spool" / "logs").glob("seg-*.arrow")
        return rows + sum(scan(path).rows for path in left)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Bench:
    def __init__(self, base: Path, payloads: list[bytes], threads: int) -> None:
        self.base = base
        self.payloads = payloads
        self.threads = threads
        self.records = 0
        self.tables: list[pa.Table] = []
        self.fsyncs = 0
        self.server_cpu = 0.0
        self.decode_cpu = 0.0

    def fresh(self, name: str) -> Path:
        folder = self.base / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.sync()  # no dirty pages of an earlier side are written back during this one
        return folder

    def decode(self) -> float:
        cpu = time.process_time()
        start = time.perf_counter()
        tables = [
            decode_request("logs", body, PB, None, max_bytes=MAX_BYTES).table
            for body in self.payloads
        ]
        seconds = time.perf_counter() - start
        self.decode_cpu = time.process_time() - cpu
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

    def requests(self) -> list[tuple[bytes, int]]:
        """The payloads with their record counts (after :meth:`decode`)."""
        return list(zip(self.payloads, [t.num_rows for t in self.tables], strict=True))

    def http(self, server: Server, connections: int) -> float:
        seconds = server.post(self.requests(), connections)
        self.server_cpu = server.cpu
        server.drain()  # untimed: the writer's Parquet files do not weigh on the next side
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
