"""OTLP log ingest through HTTP and without: decode, durable spool, against raw pyarrow.

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
* **HTTP** — the same payloads ``POST``ed to ``/v1/logs`` of a running ``platform serve`` (a
  subprocess over a fresh data dir, embedded defaults, pinned to one core with
  ``--server-cpus``; the client threads are pinned to the other cores) from ``--connections``
  keep-alive connections (default 8). Each request is acknowledged only once its rows are
  fsynced in the spool, so records/s here is *durable* records/s: HTTP parsing, the Bearer
  token, the project check, decoding and the spool append, with the server's background
  writer turning the spool into Parquet every few seconds as it does in production. The
  server's CPU time over the same wall time (from ``/proc``) gives records per server
  CPU-second. A 429/503 would be retried after its ``Retry-After`` (and counted).
* **HTTP, 1 record/request** — ``--small-requests`` requests of one record: the fixed cost of
  a request, which a batch of N records shares N ways.

The figures are records/s, the median of ``--repeat`` runs (default 3). The ratio column is
platform time / baseline time (above 1.00x the platform is slower): decode + spool over
decode alone shows what durability adds to decoding, HTTP over decode + spool what the request
around it adds. After the table, a summary per batch size: HTTP records/s against the goal
(``--goal``, 100,000 records/s on one core), the two baselines (decode only; raw Parquet, the
ceiling), and the gap to decode-only split into durability and the request's own cost, in µs
per record. Spool, object store and the server's data dir live in a temporary folder under
``--dir`` (default: the system temp dir), whose filesystem the header names, because fsync
costs depend on it. The script checks the row counts read back — for HTTP, after a graceful
stop of the server, every acknowledged record must be in the Parquet files (or left in its
spool) — and exits 0; it asserts nothing about speed. ``--no-http`` skips the server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from _common import filesystem_of, header, median, rate, ratio, table
from _otlp_bench import Bench, Server, payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40,000 records, 1 run")
    parser.add_argument("--records", type=int, help="log records per run (default 200,000)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, help="runs per figure, median kept (default 3)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--no-http", action="store_true", help="skip the server and HTTP rows")
    parser.add_argument("--connections", type=int, default=8, help="HTTP client connections")
    parser.add_argument(
        "--server-cpus",
        default="0" if (os.cpu_count() or 1) > 1 else "none",
        help="CPUs to pin the server to, e.g. 0 or 0,1; 'none' pins nothing (default: 0 "
        "when there are 2 CPUs or more; the benchmark's own threads get the others)",
    )
    parser.add_argument(
        "--small-requests", type=int, help="1-record requests (default 2,000; --quick 500)"
    )
    parser.add_argument("--goal", type=float, default=100_000, help="records/s on one core")
    args = parser.parse_args(argv)
    records = args.records or (40_000 if args.quick else 200_000)
    repeat = args.repeat or (1 if args.quick else 3)
    small = args.small_requests or (500 if args.quick else 2000)
    server_cpus = _cpus(args.server_cpus)
    if server_cpus and not args.no_http:
        others = os.sched_getaffinity(0) - server_cpus
        if others:
            os.sched_setaffinity(0, others)  # this process's threads inherit it
    base = Path(tempfile.mkdtemp(prefix="bench-otlp-", dir=args.dir))
    pinned = (
        "HTTP skipped"
        if args.no_http
        else f"server pinned to CPU {_cpu_list(server_cpus)}, client on CPU "
        f"{_cpu_list(os.sched_getaffinity(0))}"
        if server_cpus
        else "server not pinned, sharing the CPUs with the client"
    )
    header(
        "OTLP log ingest: HTTP, decode + durable spool, vs raw pyarrow",
        {
            "pyarrow": pa.__version__,
            "records": f"{records:,}",
            "threads": str(args.threads),
            "connections": "-" if args.no_http else str(args.connections),
            "pinning": pinned,
            "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "filesystem": filesystem_of(base),
        },
    )
    rows: list[list[str]] = []
    figures: dict[int, dict[str, float]] = {}
    server: Server | None = None
    try:
        if not args.no_http:
            server = Server(base / "server", server_cpus)
        for size in args.batches:
            found, figures[size] = measure(
                base, records, size, args.threads, repeat, server, args.connections
            )
            rows += found
        fixed = None
        if server is not None:
            fixed = measure_small(server, small, args.connections, repeat)
            rows.append(
                [
                    "1/request",
                    f"HTTP, {args.connections} connections, 1 record per request",
                    f"{rate(small, fixed)} req/s",
                    "",
                    "",
                ]
            )
        table(["batch", "what", "records/s", "vs", "ratio"], rows, right_from=2)
        if server is not None:
            stored = server.stop()
            if stored != server.acked:
                raise RuntimeError(f"{server.acked} records acknowledged, {stored} stored")
            print(f"\nall {server.acked:,} acknowledged records stored", end="")
            print(f" ({server.retries} requests retried after 429/503)")
            summarise(figures, fixed and fixed / small, args.goal, args.connections, pinned)
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _cpus(text: str) -> set[int] | None:
    if text.strip().lower() == "none" or not hasattr(os, "sched_setaffinity"):
        return None
    wanted = {int(c) for c in text.split(",") if c.strip()}
    usable = os.sched_getaffinity(0)
    if not wanted <= usable or wanted == usable:
        return None  # nothing would be left for the client: do not pin
    return wanted


def _cpu_list(cpus: set[int] | None) -> str:
    return ",".join(str(c) for c in sorted(cpus or ()))


def measure_small(server: Server, count: int, connections: int, repeat: int) -> float:
    """Median seconds to send ``count`` 1-record requests: the fixed cost of a request."""
    requests = [(payload(i, 1), 1) for i in range(count)]
    server.post(requests[: connections * 4], connections)  # warm-up
    runs = []
    for _ in range(repeat):
        runs.append(server.post(requests, connections))
        server.drain()
    return median(runs)


def summarise(
    figures: dict[int, dict[str, float]],
    fixed: float | None,
    goal: float,
    connections: int,
    pinned: str,
) -> None:
    """What the table means for the goal, and where the gap to decode-only goes."""
    print(f"\n== Through HTTP, acknowledged = durable: goal >= {goal:,.0f} records/s on one core")
    print(f"   ({pinned}; {connections} connections)")
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus:
        print(
            f"   the machine was busy (load average {load:.1f} on {cpus} CPUs): other processes"
            "\n   took turns on the cores, so wall-time figures vary; the per-CPU-second ones less"
        )
    for size, f in figures.items():
        n = f["records"]
        us = {k: f[k] / n * 1e6 for k in ("decode", "spoolN", "http", "parquet")}  # per record
        got, per_cpu = n / f["http"], n / f["cpu"]
        print(f"\n{size:,} records per request:")
        print(
            f"   HTTP {rate(n, f['http'])} records/s: goal "
            f"{'MET' if got >= goal else 'NOT met'} ({got / goal:.2f}x the goal); the server "
            f"used {f['cpu'] / f['http']:.2f} cores: {rate(n, f['cpu'])} records per CPU-second "
            f"({'MET' if per_cpu >= goal else 'NOT met'}, {per_cpu / goal:.2f}x)"
        )
        print(
            f"   baselines: decode only {rate(n, f['decode'])}/s (HTTP takes "
            f"{ratio(f['http'], f['decode'])} its time), raw Parquet write "
            f"{rate(n, f['parquet'])}/s, the ceiling ({ratio(f['http'], f['parquet'])})"
        )
        print(
            f"   gap to decode only: {us['http'] - us['decode']:+.2f} µs/record = durability "
            f"{us['spoolN'] - us['decode']:+.2f} (decode + spool, N threads, minus decode) "
            f"+ the request {us['http'] - us['spoolN']:+.2f} (HTTP minus decode + spool)"
        )
        if fixed is not None:
            print(
                f"   a request's fixed cost, from 1-record requests: {fixed * 1e6:.0f} µs of "
                f"wall time per request = {fixed * 1e6 / size:.2f} µs/record at this size"
            )
        print(
            f"   per CPU-second, which a busy machine disturbs less than wall time: decode only "
            f"{rate(n, f['decode_cpu'])}, the server {rate(n, f['cpu'])} "
            f"({ratio(f['cpu'], f['decode_cpu'])} decode's CPU per record)"
        )
        if n / f["decode_cpu"] < goal:
            print(
                f"   decoding alone does {rate(n, f['decode_cpu'])} records per CPU-second, "
                "below the goal: the goal on one core needs a faster decoder first"
            )
    print(
        "\nThe request adds to decoding: reading the body (uvicorn, httptools), the Bearer token"
        "\n(SHA-256 and a database read per request), the observe:write check of the project"
        "\nnamed in the resource (a few queries), rewriting the project column to owner/name,"
        "\nthe hop to the thread pool and back, and the answer. Durability adds the spool append:"
        "\nArrow IPC serialisation and an fdatasync shared by concurrent appends (group commit)."
        "\nOn the embedded SQLite store a request also opens two database connections (no pool)"
        "\nand holds SQLite's write lock while it checks projects (ended before the fsync, so"
        "\nconcurrent appends share one). The server's writer turns the spool into Parquet"
        "\nin the background, on the same core, while the requests come in."
    )


def measure(
    base: Path,
    records: int,
    size: int,
    threads: int,
    repeat: int,
    server: Server | None = None,
    connections: int = 8,
) -> tuple[list[list[str]], dict[str, float]]:
    """The table rows of one batch size, and the median seconds of each side."""
    payloads = [payload(i, min(size, records - i)) for i in range(0, records, size)]
    bench = Bench(base, payloads, threads)
    bench.decode()  # warm-up, untimed: first-call costs and the decoded tables for baselines
    if server is not None:  # warm-up of the server's first-call costs, untimed
        server.post(bench.requests()[:connections], connections)
        server.drain()
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
    if server is not None:
        sides["http"] = lambda: bench.http(server, connections)
    runs: dict[str, list[float]] = {name: [] for name in sides}
    fsyncs: list[int] = []
    cpu: dict[str, list[float]] = {"decode_cpu": [], "cpu": []}
    for _ in range(repeat):  # the sides take turns within each run
        for name, side in sides.items():
            runs[name].append(side())
            if name == "appendN":
                fsyncs.append(bench.fsyncs)
            if name == "decode":
                cpu["decode_cpu"].append(bench.decode_cpu)
            if name == "http":
                cpu["cpu"].append(bench.server_cpu)
    s = {k: median(v) for k, v in runs.items()}
    s.update({k: median(v) for k, v in cpu.items() if v})
    n, label = bench.records, f"{size:,}/batch"

    def row(what: str, key: str, vs: str = "", base_key: str = "") -> list[str]:
        against = ratio(s[key], s[base_key]) if base_key else ""
        return [label, what, f"{rate(n, s[key])}/s", vs, against]

    found = [
        row("decode only (no storage)", "decode"),
        row("  per CPU-second of this process", "decode_cpu"),
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
    if server is not None:
        found += [
            row(f"HTTP POST /v1/logs, {connections} connections", "http", "decode only", "decode"),
            [label, "  the same", "", "decode + spool, N", ratio(s["http"], s["spoolN"])],
            [label, "  the same", "", "raw Parquet", ratio(s["http"], s["parquet"])],
            row("  per CPU-second of the server", "cpu", "decode only", "decode_cpu"),
        ]
    return found, {**s, "records": float(n)}


if __name__ == "__main__":
    raise SystemExit(main())
