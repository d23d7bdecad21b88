"""Dashboards: time to first render on 1M log rows and 10k pipeline runs.

Builds an embedded platform in a temporary folder, then

* writes ``--logs`` log rows (default 1,000,000) spread over the last 50 minutes straight into
  the telemetry layout (``telemetry/logs/date=…/hour=HH/part-….parquet``, zstd, via
  :func:`platform_sdk.observe.writer.parquet_bytes` and ``partition_key``), vectorised with
  pyarrow, for one project;
* inserts ``--runs`` pipeline runs (default 10,000) of that project, each with two steps, in
  bulk (``INSERT … VALUES`` batches through SQLAlchemy Core).

Then for each dashboard it times, ``--repeat`` times (median), what a browser session costs
before the first paint: building the viewer as the admin (its first queries: one page of runs,
one page of logs, …) plus rendering it to Bokeh models (``get_root``), and one page turn. The
dashboards page server-side, so none of this grows with the number of rows.

    python benchmarks/dashboards.py [--logs 1000000] [--runs 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from _common import header
from sqlalchemy import insert

import platform_sdk as ps
from platform_sdk.observe.schema import LOGS
from platform_sdk.observe.writer import parquet_bytes, split_by_hour
from platform_sdk.observe.writer import partition_key as key_of

PROJECT = "admin/bench"
BODIES = np.array(
    [
        "request served",
        "cache miss for key",
        "database timeout after 5s",
        "retrying upstream call",
        "user logged in",
        "payment declined",
    ]
)
SEVERITIES = np.array(["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"])
NUMBERS = np.array([5, 9, 9, 9, 13, 17], dtype=np.int32)


def write_logs(p: ps.Platform, rows: int, seed: int = 7) -> int:
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    start_us = int((now - timedelta(minutes=50)).timestamp() * 1e6)
    written = 0
    chunk = 250_000
    for part, lo in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - lo)
        ts = np.sort(rng.integers(start_us, start_us + 49 * 60 * 1_000_000, n))
        kind = rng.integers(0, len(BODIES), n)
        columns: dict[str, Any] = {
            "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "service": pa.array(np.char.add("svc-", (kind % 3).astype(str))),
            "project": pa.array([PROJECT] * n),
            "session_id": pa.array(np.char.add("sess-", rng.integers(0, 500, n).astype(str))),
            "severity": pa.array(SEVERITIES[kind]),
            "severity_number": pa.array(NUMBERS[kind]),
            "body": pa.array(BODIES[kind]),
            "attributes": pa.array(["{}"] * n),
        }
        table = pa.table(
            {f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in LOGS}, schema=LOGS
        )
        for date, hour, rows_of_hour in split_by_hour(table):
            key = key_of("logs", date, hour, f"part-bench-{part}.parquet")
            written += p.blobs.put(key, parquet_bytes(rows_of_hour).to_pybytes())
    return written


def insert_runs(p: ps.Platform, project_id: uuid.UUID, count: int) -> None:
    from platform_sdk.pipelines.models import Pipeline, PipelineStep

    now = datetime.now(UTC)
    statuses = ["success", "success", "success", "failure", "cancelled"]
    with p.session() as db:
        for lo in range(0, count, 2000):
            runs, steps = [], []
            for n in range(lo + 1, min(lo + 2000, count) + 1):
                rid = uuid.uuid4()
                at = now - timedelta(minutes=count - n)
                runs.append(
                    {
                        "id": rid, "project_id": project_id, "number": n, "trigger": "push",
                        "ref": "refs/heads/main", "commit_sha": "0" * 40,
                        "status": statuses[n % 5], "parameters": {}, "definition": {},
                        "triggered_by_id": p.actor.user_id, "started_at": at,
                        "finished_at": at + timedelta(seconds=30), "timeout_seconds": 3600,
                        "created_at": at, "updated_at": at,
                    }
                )  # fmt: skip
                for name in ("build", "test"):
                    steps.append(_step(rid, name, statuses[n % 5], at))
            db.execute(insert(Pipeline), runs)
            db.execute(insert(PipelineStep), steps)


def _step(run_id: uuid.UUID, name: str, status: str, at: datetime) -> dict[str, Any]:
    from platform_sdk.pipelines.models import PipelineStep

    cols = {c.name for c in PipelineStep.__table__.columns}
    row = {
        "id": uuid.uuid4(), "pipeline_id": run_id, "name": name, "status": status,
        "commands": ["true"], "depends_on": [], "attempt": 1, "started_at": at,
        "finished_at": at + timedelta(seconds=15), "exit_code": 0,
        "created_at": at, "updated_at": at,
    }  # fmt: skip
    return {k: v for k, v in row.items() if k in cols}


def median_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    import panel as pn
    from bokeh.document import Document

    header("dashboards: time to first render", {"logs": f"{args.logs:,}", "runs": f"{args.runs:,}"})
    with tempfile.TemporaryDirectory() as tmp:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            p = ps.open(str(Path(tmp) / "data"))
        project = p.projects.create("bench")
        t = time.perf_counter()
        size = write_logs(p, args.logs)
        print(f"   wrote {args.logs:,} log rows ({size / 1e6:.1f} MB Parquet) in "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        t = time.perf_counter()
        insert_runs(p, project.id, args.runs)
        print(f"   inserted {args.runs:,} runs in {time.perf_counter() - t:.1f} s\n")
        assert p.projects.get(PROJECT).pipelines.list().total == args.runs

        def render(name: str, **params: Any) -> Any:
            view = getattr(p.dashboards, name)(**params)
            pn.panel(view).get_root(Document())
            return view

        checks = {
            "observe": {"project": PROJECT},
            "pipelines": {"project": PROJECT},
            "projects": {},
            "admin": {},
        }
        print(f"   {'dashboard':<10} {'first render':>13} {'page turn':>11}  shown")
        for name, params in checks.items():
            first = median_of(lambda n=name, k=params: render(n, **k), args.repeat)
            view = render(name, **params)
            if name == "observe":
                turn = median_of(view.older, args.repeat)
                shown = f"{len(view.logs.value)} log rows (page of 100)"
            elif name == "pipelines":
                turn = median_of(lambda v=view: v.runs.go(v.runs.page + 1), args.repeat)
                shown = f"{len(view.runs.frame)} of {view.runs.total:,} runs"
            else:
                table = view.projects if name == "projects" else view.audit
                turn = median_of(table.refresh, args.repeat)
                shown = "first page of each list"
            print(f"   {name:<10} {first:>11.3f} s {turn:>9.3f} s  {shown}")
        p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
