"""Telemetry query latency: DuckDB over Parquet (the platform's query path) vs PostgreSQL.

Builds ``--rows`` log rows (default 10,000,000; ``--quick`` 200,000) with pyarrow, vectorised
and seeded: one day in 24 hourly partitions, 50 services (skewed), 10 projects, 1,000 agent
sessions (each active for 1 to 4 hours, ~100 at a time) of 100 users, ~20 records per trace,
a few spans per trace, realistic bodies, severities and JSON attributes. The same rows go

* to a local object store (a temporary folder) in the layout compaction leaves:
  ``telemetry/logs/date=…/hour=HH/part-….parquet``, zstd, row groups of 131,072 rows, files of
  at most 1M rows, rows in time order (``platform_sdk.observe.writer`` helpers);
* to a PostgreSQL table (``--pg-url``; a temporary database, dropped with ``WITH (FORCE)`` at
  the end, also on error, Ctrl-C or SIGTERM) loaded with ``COPY … FROM STDIN (FORMAT csv)``,
  with the usual indexes on ``session_id``, ``trace_id`` and ``timestamp``, then
  ``VACUUM ANALYZE``. Default server settings (parallel workers included).

Then it times three queries, the sides taking turns, each figure the median of ``--repeat``
runs (default 5) after one untimed warm-up, each run with another session or trace id (the
same ids on every side):

* **session** — ``count(*) where session_id = ?`` plus the 100 newest rows of that session;
* **hourly group-by** — the number of records per hour and severity over the whole day;
* **trace** — every row ``where trace_id = ?`` in time order.

Sides (columns):

* ``sql`` — the platform's ad hoc SQL path, one statement per query: :func:`run_sql` (a fresh
  sandboxed DuckDB connection) over :func:`telemetry_relations` (pyarrow datasets of the
  Parquet files, listed per query and filtered to a global reader's scope: every project plus
  the platform's own rows);
* ``helper`` — what the typed helpers (``search_logs``, ``get_trace``) do on that same path:
  the time range of the matches first, projecting only the filtered columns, then whole rows
  of that range only (:mod:`platform_sdk.observe.explore_scan`). The group-by has no helper;
* ``native*`` — a candidate, **not** the current path: the same sandbox, but the view reads the
  files with DuckDB's own Parquet reader (``read_parquet`` of the files, allowed one by one
  with ``allowed_paths`` before external access is switched off). It is only safe for an
  actor who may read every row of those files (a global reader), because a query could also
  read an allowed file directly;
* ``postgres`` — the same questions to the PostgreSQL table.

Goals (issue #6): < 0.3 s, < 1 s, < 0.3 s on local storage, and the group-by >= 5x faster
than PostgreSQL; "platform" in the verdicts is the faster of ``sql`` and ``helper``. The script
checks that every side gives the same answers and exits 0; it asserts nothing about speed.
The header prints the load average: on a shared machine it moves the figures a lot.

    python benchmarks/query.py [--rows 10000000] [--repeat 5] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
from _common import filesystem_of, header, median, ratio, table
from _query_data import (
    DEFAULT_PG,
    PROJECTS,
    START_PG,
    Postgres,
    generate,
    write_parquet,
)

from platform_sdk.core.blobs import LocalBlobStore
from platform_sdk.observe.explore_scan import just_after, matching_span
from platform_sdk.observe.query import Scope, TelemetrySource, run_sql, telemetry_relations

GROUP_BY = (  # time_bucket: DuckDB's date_trunc on TIMESTAMPTZ goes through ICU, ~6x slower
    "SELECT time_bucket(INTERVAL 1 hour, timestamp) AS hour, severity, count(*) AS n "
    "FROM logs GROUP BY ALL"
)
PG_GROUP_BY = (
    "SELECT date_trunc('hour', timestamp) AS hour, severity, count(*) AS n FROM logs GROUP BY 1, 2"
)
SESSION_COUNT = "SELECT count(*) AS n FROM logs WHERE session_id = $s"
SESSION_NEWEST = (
    "SELECT * EXCLUDE (date, hour) FROM logs WHERE session_id = $s "
    "ORDER BY timestamp DESC LIMIT 100"
)
TRACE = "SELECT * EXCLUDE (date, hour) FROM logs WHERE trace_id = $t ORDER BY timestamp"


class Sql:
    """Ad hoc SQL on the platform: one ``run_sql`` over ``telemetry_relations`` per statement,
    in a global reader's scope (every project plus the platform's own rows)."""

    def __init__(self, blobs: LocalBlobStore) -> None:
        self.source = TelemetrySource(blobs, None)
        self.scope = Scope(frozenset(f"bench/p{p}" for p in range(PROJECTS)), unowned=True)

    def views(self, since: Any = None, until: Any = None) -> dict[str, Any]:
        return telemetry_relations(
            self.source, self.scope, since=since, until=until, datasets=("logs",)
        )

    def sql(self, query: str, views: dict[str, Any] | None = None, **params: Any) -> pa.Table:
        return run_sql(query, views or self.views(), params=params or None).table

    def session(self, sid: str) -> tuple[int, int]:
        count = self.sql(SESSION_COUNT, s=sid).column("n")[0].as_py()
        return int(count), self.sql(SESSION_NEWEST, s=sid).num_rows

    def group_by(self) -> tuple[int, int]:
        result = self.sql(GROUP_BY)
        return result.num_rows, sum(int(n or 0) for n in result.column("n").to_pylist())

    def trace(self, tid: str) -> int:
        return self.sql(TRACE, t=tid).num_rows


class Helpers(Sql):
    """What ``search_logs(session=…)`` and ``search_logs(trace=…)``/``get_trace`` do: the
    time range of the matches first (few columns), then whole rows of that range only."""

    def newest(self, condition: str, params: dict[str, Any], newest: int | None) -> int:
        span = matching_span(self.views(), "logs", condition, params, timeout=30, newest=newest)
        if span is None:
            return 0
        query = (
            f"SELECT * EXCLUDE (date, hour) FROM logs WHERE {condition} "  # noqa: S608 - fixed
            "AND timestamp >= $oldest ORDER BY timestamp DESC"
        )
        views = self.views(span[0], just_after(span[1]))
        return self.sql(query, views, oldest=span[0], **params).num_rows

    def session(self, sid: str) -> tuple[int, int]:
        count = self.sql(SESSION_COUNT, s=sid).column("n")[0].as_py()
        return int(count), self.newest("session_id = $s", {"s": sid}, 100)

    def trace(self, tid: str) -> int:
        return self.newest("trace_id = $t", {"t": tid}, None)


class Native(Sql):
    """A candidate, not the current path: the same sandbox (fresh connection, external access
    off, configuration locked) but DuckDB's own Parquet reader over the query's files, allowed
    one by one with ``allowed_paths``. Safe only where the actor may read every row of those
    files (a global reader), as a query may also read an allowed file directly."""

    def sql(self, query: str, views: dict[str, Any] | None = None, **params: Any) -> pa.Table:
        files = self.source._files("logs", None, None)
        labels = ", ".join(
            "'" + p.replace("'", "''") + "'" for p in sorted(self.scope.projects or ())
        )
        con = duckdb.connect(":memory:", config={"memory_limit": "1GB", "threads": 4})
        try:
            con.execute("SET allowed_paths = $p", {"p": files})
            con.execute(
                f"CREATE TEMP VIEW logs AS SELECT * FROM read_parquet({files!r}, "  # noqa: S608
                f"hive_partitioning = true) WHERE project IN ({labels}) OR project IS NULL"
            )
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            result: pa.Table = con.sql(query, params=params or None).to_arrow_table()
            return result
        finally:
            con.close()


class Baseline:
    """The same questions to PostgreSQL."""

    def __init__(self, pg: Postgres) -> None:
        self.pg = pg

    def session(self, sid: str) -> tuple[int, int]:
        (count,) = self.pg.query("SELECT count(*) FROM logs WHERE session_id = %s", sid)[0]
        newest = self.pg.query(
            "SELECT * FROM logs WHERE session_id = %s ORDER BY timestamp DESC LIMIT 100", sid
        )
        return int(count), len(newest)

    def group_by(self) -> tuple[int, int]:
        rows = self.pg.query(PG_GROUP_BY)
        return len(rows), sum(int(r[2]) for r in rows)

    def trace(self, tid: str) -> int:
        return len(self.pg.query("SELECT * FROM logs WHERE trace_id = %s ORDER BY timestamp", tid))


def timed_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="log rows (default 10,000,000)")
    parser.add_argument("--quick", action="store_true", help="200,000 rows, 3 runs")
    parser.add_argument("--repeat", type=int, help="runs per figure, median kept (default 5)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="libpq conninfo of the server")
    parser.add_argument("--no-pg", action="store_true", help="time the platform side only")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    repeat = args.repeat or (3 if args.quick else 5)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    base = Path(tempfile.mkdtemp(prefix="bench-query-", dir=args.dir))
    pg: Postgres | None = None
    try:
        if not args.no_pg:
            try:
                pg = Postgres(args.pg_url)
            except psycopg.OperationalError as exc:
                print(f"postgres: unreachable ({exc}); start it with: {START_PG}")
        header(
            "Telemetry queries: DuckDB over Parquet (run_sql) vs PostgreSQL",
            {
                "duckdb": duckdb.__version__,
                "pyarrow": pa.__version__,
                "postgresql": pg.version() if pg else "not measured",
                "rows": f"{rows:,}",
                "filesystem": filesystem_of(base),
                "load average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            },
        )
        run(base, rows, repeat, args.seed, pg)
    finally:
        if pg is not None:
            pg.close()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def run(base: Path, rows: int, repeat: int, seed: int, pg: Postgres | None) -> None:
    blobs = LocalBlobStore(base / "blobs")
    sessions: list[str] = []
    traces: list[str] = []
    t_gen = t_parquet = t_copy = 0.0
    parquet_size = 0
    pick = np.random.default_rng(seed + 1)
    hours = generate(rows, seed)
    while True:
        seconds, item = timed_call(lambda: next(hours, None))
        if item is None:
            break
        t_gen += seconds
        hour, part = item
        seconds, size = timed_call(partial(write_parquet, blobs, hour, part))
        t_parquet, parquet_size = t_parquet + seconds, parquet_size + size
        if pg is not None:
            t_copy += timed_call(partial(pg.load, part))[0]
        if hour % 5 == 2:  # ids to look up, from several hours
            at = pick.integers(0, part.num_rows, repeat + 1)
            sessions += [str(s) for s in part.column("session_id").take(pa.array(at)).to_pylist()]
            traces += [str(t) for t in part.column("trace_id").take(pa.array(at)).to_pylist()]
    print(f"generated {rows:,} rows in {t_gen:.1f} s")
    print(f"parquet: {parquet_size / 2**20:,.0f} MiB written in {t_parquet:.1f} s")
    if pg is not None:
        t_index = timed_call(pg.index)[0]
        print(
            f"postgres: COPY {t_copy:.1f} s, 3 indexes + VACUUM ANALYZE {t_index:.1f} s, "
            f"{pg.size() / 2**20:,.0f} MiB with indexes"
        )
    print()
    sides: dict[str, Any] = {"sql": Sql(blobs), "helper": Helpers(blobs), "native*": Native(blobs)}
    if pg is not None:
        sides["postgres"] = Baseline(pg)
    cases: list[tuple[str, float, Callable[[Any, int], Any]]] = [
        ("session: count + 100 newest", 0.3, lambda s, i: s.session(sessions[i])),
        ("hourly group-by per level", 1.0, lambda s, _: s.group_by()),
        ("trace lookup", 0.3, lambda s, i: s.trace(traces[i])),
    ]
    out, verdicts = [], []
    for label, goal, case in cases:
        names = [n for n in sides if not (n == "helper" and label.startswith("hourly"))]
        times: dict[str, list[float]] = {name: [] for name in names}
        answers: dict[str, list[Any]] = {name: [] for name in names}
        for i in range(repeat + 1):  # run 0 is the warm-up; the sides take turns
            for name in names:
                seconds, answer = timed_call(partial(case, sides[name], i))
                answers[name].append(answer)
                if i:
                    times[name].append(seconds)
        if any(a != answers["sql"] for a in answers.values()):
            raise SystemExit(f"{label}: the answers differ: {answers}")
        s = {name: median(t) for name, t in times.items()}
        best = min(s["sql"], s.get("helper", s["sql"]))
        row = [label, f"< {goal:g} s"]
        row += [f"{s[n] * 1000:,.0f} ms" if n in s else "-" for n in sides]
        if pg is not None:
            row += [ratio(best, s["postgres"]), ratio(s["native*"], s["postgres"])]
        out.append(row)
        verdicts.append((label, goal, best, s["native*"], s.get("postgres")))
    columns = ["query", "goal", *sides]
    if pg is not None:
        columns += ["platform/pg", "native*/pg"]
    table(columns, out, right_from=1)
    print("\n(median of each; platform = the faster of sql and helper, the current query path;")
    print(" native* = candidate path, see the module docstring; ratio = time / PostgreSQL time)\n")
    for label, goal, best, native, _ in verdicts:
        met = "met" if best < goal else "NOT met"
        print(
            f"{label}: platform {best:.3f} s, goal < {goal:g} s {met} "
            f"(native* {native:.3f} s: {'met' if native < goal else 'NOT met'})"
        )
    if pg is not None:
        _, _, best, native, pg_time = verdicts[1]
        theirs = float(pg_time or 0.0)
        print(
            f"group-by speed-up over PostgreSQL: platform {theirs / best:.1f}x, "
            f"native* {theirs / native:.1f}x (goal >= 5x)"
        )
        print("all sides gave the same answers (counts, rows returned, groups and their sum)")


if __name__ == "__main__":
    sys.exit(main())
