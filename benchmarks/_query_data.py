"""Data for benchmarks/query.py: realistic log rows as hive-partitioned Parquet, and the same
rows in PostgreSQL (COPY, the usual indexes). Not a benchmark itself."""

from __future__ import annotations

import binascii
import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from platform_sdk.core.blobs import LocalBlobStore
from platform_sdk.observe.compact import MAX_FILE_ROWS
from platform_sdk.observe.schema import LOGS
from platform_sdk.observe.writer import parquet_bytes, partition_key

DEFAULT_PG = os.environ.get("PLATFORM_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres")
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
DAY = np.datetime64("2024-05-01T00:00:00", "us")
HOUR_US = 3_600_000_000
SERVICES, PROJECTS, SESSIONS, USERS, ROWS_PER_TRACE, SPANS_PER_TRACE = 50, 10, 1000, 100, 20, 4
LEVELS = [("DEBUG", 5, 0.20), ("INFO", 9, 0.65), ("WARN", 13, 0.10), ("ERROR", 17, 0.045),
          ("FATAL", 21, 0.005)]  # fmt: skip
TEMPLATES = [
    "GET /api/items/{} 200",
    "POST /api/orders/{} 201",
    "cache miss for key user:{}",
    "tool call read_file finished in {} ms",
    "git push to refs/heads/agent-{} accepted",
    "pipeline step test passed in {} ms",
    "retrying request after {} ms",
    "connection reset by peer (attempt {})",
    "query took {} ms",
    "processed batch of {} records",
    "token usage: {} input tokens",
    "deploy revision {} applied",
]
ATTRIBUTES = [
    '{"http.method": "GET", "http.status_code": 200}',
    '{"http.method": "POST", "http.status_code": 201}',
    '{"db.system": "postgresql", "db.operation": "SELECT"}',
    '{"tool": "read_file", "ok": true}',
    '{"error.type": "TimeoutError", "retry": 2}',
]
PG_COLUMNS = [
    ("timestamp", "timestamptz NOT NULL"),
    ("service", "text"),
    ("project", "text"),
    ("session_id", "text"),
    ("user_id", "text"),
    ("trace_id", "text"),
    ("span_id", "text"),
    ("severity", "text"),
    ("severity_number", "integer"),
    ("body", "text"),
    ("attributes", "text"),
]


def ints(values: Any) -> Any:
    """A numpy integer array as an Arrow int64 array (indices for ``take``)."""
    return pa.array(values, pa.int64())


def hex_ids(rng: np.random.Generator, count: int, nbytes: int) -> Any:
    """``count`` random ids of ``nbytes`` bytes as lowercase hex strings."""
    raw = binascii.hexlify(rng.bytes(count * nbytes))
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(2 * nbytes), count, [None, pa.py_buffer(raw)]
    )
    return fixed.cast(pa.binary()).cast(pa.string())


def generate(rows: int, seed: int) -> Iterator[tuple[int, pa.Table]]:
    """``(hour, rows of that hour in time order)`` for the 24 hours of the day."""
    rng = np.random.default_rng(seed)
    sessions = hex_ids(rng, SESSIONS, 16)
    session_start = rng.integers(0, 24, SESSIONS)
    session_end = np.minimum(session_start + rng.integers(1, 5, SESSIONS), 24)
    session_user = pa.array([f"user-{u:03d}" for u in rng.integers(0, USERS, SESSIONS)])
    session_project = pa.array([f"bench/p{p}" for p in rng.integers(0, PROJECTS, SESSIONS)])
    weights = 1.0 / np.arange(1, SERVICES + 1)
    services = pa.array([f"svc-{i:02d}" for i in range(SERVICES)])
    level_p = np.array([p for *_, p in LEVELS])
    severities = pa.array([name for name, *_ in LEVELS])
    numbers = pa.array([n for _, n, _ in LEVELS], pa.int32())
    templates: Any = pa.array(TEMPLATES)
    attributes: Any = pa.array(ATTRIBUTES)
    for hour in range(24):
        n = rows // 24 + (1 if hour < rows % 24 else 0)
        active = np.flatnonzero((session_start <= hour) & (hour < session_end))
        if active.size == 0:
            active = np.arange(SESSIONS)
        traces = max(1, n // ROWS_PER_TRACE)
        t_session = rng.choice(active, traces)
        t_service = rng.choice(SERVICES, traces, p=weights / weights.sum())
        t_start = rng.integers(0, HOUR_US - 2_000_000, traces)
        row_trace = rng.integers(0, traces, n)
        micros = t_start[row_trace] + rng.integers(0, 2_000_000, n)
        order = np.argsort(micros, kind="stable")
        row_trace, micros = row_trace[order], micros[order]
        row_session = ints(t_session[row_trace])
        level = ints(rng.choice(len(LEVELS), n, p=level_p))
        body = pc.binary_join_element_wise(
            templates.take(ints(rng.integers(0, len(TEMPLATES), n))),
            ints(rng.integers(1, 100_000, n)).cast(pa.string()),
            " #",
        )
        span = row_trace * SPANS_PER_TRACE + rng.integers(0, SPANS_PER_TRACE, n)
        columns: dict[str, Any] = {
            "timestamp": pa.array(DAY + np.timedelta64(hour * HOUR_US, "us") + micros).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "service": services.take(ints(t_service[row_trace])),
            "project": session_project.take(row_session),
            "session_id": sessions.take(row_session),
            "user_id": session_user.take(row_session),
            "trace_id": hex_ids(rng, traces, 16).take(ints(row_trace)),
            "span_id": hex_ids(rng, traces * SPANS_PER_TRACE, 8).take(ints(span)),
            "severity": severities.take(level),
            "severity_number": numbers.take(level),
            "body": body,
            "attributes": attributes.take(ints(rng.integers(0, len(ATTRIBUTES), n))),
            "scope": pa.array(["app"] * n),
        }
        yield hour, pa.table({f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in LOGS})


def write_parquet(blobs: LocalBlobStore, hour: int, rows: pa.Table) -> int:
    written = 0
    for i, start in enumerate(range(0, rows.num_rows, MAX_FILE_ROWS)):
        key = partition_key("logs", "2024-05-01", hour, f"part-{hour:02d}-{i}.parquet")
        written += blobs.put(key, parquet_bytes(rows.slice(start, MAX_FILE_ROWS)).to_pybytes())
    return written


class Postgres:
    """A temporary database with the ``logs`` table; dropped by :meth:`close`."""

    def __init__(self, conninfo: str) -> None:
        self.admin = psycopg.connect(conninfo, autocommit=True)
        self.name = f"bench_query_{uuid.uuid4().hex[:12]}"
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        self.conn = psycopg.connect(f"{conninfo} dbname={self.name}", autocommit=True)
        self.conn.execute("SET TimeZone = 'UTC'")
        cols = ", ".join(f'"{name}" {kind}' for name, kind in PG_COLUMNS)
        self.conn.execute(f"CREATE UNLOGGED TABLE logs ({cols})")

    def version(self) -> str:
        return str(self.admin.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]

    def load(self, rows: pa.Table) -> None:
        buffer = io.BytesIO()
        names = [name for name, _ in PG_COLUMNS]
        pacsv.write_csv(rows.select(names), buffer, pacsv.WriteOptions(include_header=False))
        with self.conn.cursor() as cur, cur.copy("COPY logs FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getbuffer())

    def index(self) -> None:
        self.conn.execute("SET maintenance_work_mem = '1GB'")
        for column in ("session_id", "trace_id", "timestamp"):
            self.conn.execute(f'CREATE INDEX ON logs ("{column}")')
        self.conn.execute("VACUUM ANALYZE logs")

    def size(self) -> int:
        row = self.conn.execute("SELECT pg_total_relation_size('logs')").fetchone()
        return int(row[0]) if row else 0

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.conn.close()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


# -- the three queries, on each side ----------------------------------------------------------
