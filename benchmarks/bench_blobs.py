"""Object store throughput: the platform's BlobStore against raw I/O, measured in the same run.

Two workloads, each written (``put``) then read back (``get``):

* small objects: ``--small`` objects of 4 KiB (default 1000), reported in ops/s;
* large objects: ``--large`` objects of 8 MiB (default 20), reported in MiB/s.

Backends and their baselines:

* **local**: ``open_blobs`` over a temporary folder (``LocalBlobStore``: temp file, fsync,
  ``os.replace``, fsync of the folder) against plain ``open()/write()/os.replace`` into a
  folder, and against the same plain code with both fsyncs, so the table separates what
  durability costs from what the abstraction costs. Reads: ``store.get`` against
  ``open(path, "rb").read()``.
* **s3**: ``open_blobs`` pointed at moto's S3 server (started here on a free loopback port, in
  this process, as the tests do) against a plain ``s3fs.S3FileSystem`` on the same endpoint:
  ``pipe_file`` (put from bytes) and ``cat_file``. moto runs in this process and shares its
  GIL, so absolute S3 figures are low; the ratio is what carries over to MinIO.

Each figure is the median of ``--repeat`` runs (default 3 locally; 1 on S3, where one run of
1000 small objects through moto already takes about 40 s). Within a run the sides take turns
in blocks of a tenth of the objects, and every run writes fresh keys. The ratio is platform
time over baseline time (above 1.00x the platform is slower). Nothing is asserted: the script
prints and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import filesystem_of, header, median, rate, ratio, table

from platform_sdk.config import load_settings
from platform_sdk.core.blobs import BlobStore, open_blobs

KIB = 1024
MIB = 1024 * KIB
MOTO_CREDENTIAL = "bench"  # moto accepts any access key and secret
SMALL_SIZE = 4 * KIB
LARGE_SIZE = 8 * MIB
BLOCKS = 10
"""Blocks a workload is cut into, so that the sides take turns within one round."""


@dataclass(frozen=True)
class Workload:
    name: str
    count: int
    size: int
    unit: str  # "ops/s" or "MiB/s"

    def describe(self) -> str:
        if self.size >= MIB:
            return f"{self.count} x {self.size // MIB} MiB"
        return f"{self.count} x {self.size // KIB} KiB"

    def figure(self, seconds: float) -> str:
        if self.unit == "ops/s":
            return f"{rate(self.count, seconds)} ops/s"
        return f"{rate(self.count * self.size / MIB, seconds)} MiB/s"


@dataclass
class Side:
    """One way of storing objects: put/get over a fresh namespace per run, then cleanup."""

    label: str
    get_label: str | None  # None: no get row (the reads are another baseline's)
    prepare: Callable[[str], None]  # run id -> make the namespace ready (untimed)
    put: Callable[[str, str, bytes], None]  # run id, name, data
    get: Callable[[str, str], bytes]  # run id, name
    cleanup: Callable[[str], None]  # run id -> remove what the run wrote (untimed)
    settle: Callable[[], None] = lambda: None  # after each timed block (untimed)


def payloads(workload: Workload) -> list[bytes]:
    """Distinct random objects (large ones share one buffer: distinct content adds nothing)."""
    if workload.size >= MIB:
        blob = os.urandom(workload.size)
        return [blob] * workload.count
    pool = os.urandom(workload.size * workload.count)
    return [pool[i * workload.size : (i + 1) * workload.size] for i in range(workload.count)]


def run_round(
    sides: list[Side], run: int, workload: Workload, data: list[bytes]
) -> dict[str, tuple[float, float]]:
    """Seconds each side takes to put every object, then to get every object back (checked).

    The objects go in ``BLOCKS`` blocks, and the sides take turns block by block (the first
    side rotating), so a drift of the machine or the server during the round (moto's memory,
    the page cache) weighs on every side alike. After each block the side's ``settle`` runs,
    untimed: the local sides call ``os.sync()``, so one side's dirty pages are never written
    back during (and charged to) another side's fsync.
    """
    names = [f"{workload.name}/{i:05d}" for i in range(workload.count)]
    size = max(1, -(-workload.count // BLOCKS))
    blocks = [range(i, min(i + size, workload.count)) for i in range(0, workload.count, size)]
    ns = {side.label: f"r{run}-{uuid.uuid4().hex[:8]}" for side in sides}
    put_s = dict.fromkeys(ns, 0.0)
    get_s = dict.fromkeys(ns, 0.0)
    got = dict.fromkeys(ns, 0)

    def turns(b: int) -> list[Side]:
        k = (run + b) % len(sides)
        return sides[k:] + sides[:k]

    try:
        for side in sides:
            side.prepare(ns[side.label])
        for b, block in enumerate(blocks):
            for side in turns(b):
                where, start = ns[side.label], time.perf_counter()
                for i in block:
                    side.put(where, names[i], data[i])
                put_s[side.label] += time.perf_counter() - start
                side.settle()
        for b, block in enumerate(blocks):
            for side in turns(b):
                where, start, n = ns[side.label], time.perf_counter(), 0
                for i in block:
                    n += len(side.get(where, names[i]))
                get_s[side.label] += time.perf_counter() - start
                got[side.label] += n
        for side in sides:
            if got[side.label] != workload.count * workload.size:
                raise RuntimeError(f"{side.label}: read {got[side.label]} bytes back")
            if side.get(ns[side.label], names[-1]) != data[-1]:
                raise RuntimeError(f"{side.label}: read back different bytes")
    finally:
        for side in sides:
            side.cleanup(ns[side.label])
    return {label: (put_s[label], get_s[label]) for label in ns}


def compare(
    backend: str,
    platform: Side,
    baselines: list[Side],
    workloads: list[Workload],
    repeat: int,
) -> list[list[str]]:
    """Rows of the table for one backend: each workload and op against each baseline."""
    rows: list[list[str]] = []
    sides = [platform, *baselines]
    for workload in workloads:
        data = payloads(workload)
        times: dict[str, list[tuple[float, float]]] = {s.label: [] for s in sides}
        for r in range(repeat):
            for label, pair in run_round(sides, r, workload, data).items():
                times[label].append(pair)
        for op, idx in (("put", 0), ("get", 1)):
            mine = median([t[idx] for t in times[platform.label]])
            for base in baselines:
                label = base.label if op == "put" else base.get_label
                if label is None:
                    continue
                theirs = median([t[idx] for t in times[base.label]])
                row = [backend, workload.describe(), op, workload.figure(mine), label]
                rows.append([*row, workload.figure(theirs), ratio(mine, theirs)])
    return rows


# -- local --------------------------------------------------------------------------------------
def store_side(label: str, store: BlobStore, settle: Callable[[], None] = lambda: None) -> Side:
    def prepare(run: str) -> None:
        pass

    def cleanup(run: str) -> None:  # one bulk delete (on S3), not a request per key
        store.fs.rm(store.url(run), recursive=True)

    def put(run: str, name: str, data: bytes) -> None:
        store.put(f"{run}/{name}", data)

    def get(run: str, name: str) -> bytes:
        return store.get(f"{run}/{name}")

    return Side(label, label, prepare, put, get, cleanup, settle)


def raw_local_side(root: Path, *, fsync: bool) -> Side:
    def prepare(run: str) -> None:
        for sub in ("small", "large"):
            (root / run / sub).mkdir(parents=True, exist_ok=True)

    def put(run: str, name: str, data: bytes) -> None:
        path = root / run / name
        tmp = path.with_name(f".tmp.{path.name}")
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def get(run: str, name: str) -> bytes:
        with open(root / run / name, "rb") as f:
            return f.read()

    if fsync:
        label, get_label = "open/write/fsync/os.replace/fsync dir", None
    else:
        label, get_label = "open/write/os.replace", "open().read()"

    def cleanup(run: str) -> None:
        shutil.rmtree(root / run)

    return Side(label, get_label, prepare, put, get, cleanup, os.sync)


def bench_local(workloads: list[Workload], repeat: int, base_dir: str | None) -> list[list[str]]:
    with tempfile.TemporaryDirectory(prefix="platform-bench-blobs-", dir=base_dir) as tmp:
        root = Path(tmp)
        print(f"local folder: {root} on {filesystem_of(root)}")
        settings = load_settings(data_dir=root / "platform", minio_endpoint="")
        store = open_blobs(settings)
        assert store.backend == "local", store
        raw_root = root / "raw"
        baselines = [raw_local_side(raw_root, fsync=False), raw_local_side(raw_root, fsync=True)]
        platform = store_side("BlobStore", store, os.sync)
        return compare("local", platform, baselines, workloads, repeat)


# -- S3 (moto) --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_s3_side(fs: Any, bucket: str) -> Side:
    def cleanup(run: str) -> None:
        fs.rm(f"{bucket}/{run}", recursive=True)

    return Side(
        label="s3fs pipe_file",
        get_label="s3fs cat_file",
        prepare=lambda run: None,
        put=lambda run, name, data: fs.pipe_file(f"{bucket}/{run}/{name}", data),
        get=lambda run, name: fs.cat_file(f"{bucket}/{run}/{name}"),
        cleanup=cleanup,
    )


def bench_s3(workloads: list[Workload], repeat: int, base_dir: str | None) -> list[list[str]]:
    try:
        import s3fs
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        print(f"skipping S3 rows: {exc} (install the test extra: pip install -e '.[test]')")
        return []
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"moto S3 server: {endpoint} (in this process)")
    try:
        with tempfile.TemporaryDirectory(prefix="platform-bench-s3-", dir=base_dir) as tmp:
            settings = load_settings(
                data_dir=tmp,
                minio_endpoint=endpoint,
                minio_access_key=MOTO_CREDENTIAL,
                minio_secret_key=MOTO_CREDENTIAL,
                bucket="bench-platform",
            )
            store = open_blobs(settings)
            assert store.backend == "s3", store
            fs = s3fs.S3FileSystem(
                key=MOTO_CREDENTIAL,
                secret=MOTO_CREDENTIAL,
                client_kwargs={"endpoint_url": endpoint},
                skip_instance_cache=True,
            )
            fs.mkdir("bench-raw")
            # Warm both clients up (connections, bucket checks) before anything is timed.
            store.put("warm/up", b"x")
            store.get("warm/up")
            store.delete("warm/up")
            fs.pipe_file("bench-raw/warm", b"x")
            fs.cat_file("bench-raw/warm")
            fs.rm_file("bench-raw/warm")
            return compare(
                "s3",
                store_side("BlobStore", store),
                [raw_s3_side(fs, "bench-raw")],
                workloads,
                repeat,
            )
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 small, 4 large, 1 run")
    parser.add_argument("--small", type=int, help="number of 4 KiB objects (default 1000)")
    parser.add_argument("--large", type=int, help="number of 8 MiB objects (default 20)")
    parser.add_argument(
        "--repeat", type=int, help="runs per figure, median kept (default: 3 local, 1 s3)"
    )
    parser.add_argument(
        "--backend", choices=["local", "s3", "all"], default="all", help="default: all"
    )
    parser.add_argument("--dir", help="parent of the local temporary folder (default: $TMPDIR)")
    args = parser.parse_args(argv)
    small = args.small or (200 if args.quick else 1000)
    large = args.large or (4 if args.quick else 20)
    local_repeat = args.repeat or (1 if args.quick else 3)
    s3_repeat = args.repeat or 1
    workloads = [
        Workload("small", small, SMALL_SIZE, "ops/s"),
        Workload("large", large, LARGE_SIZE, "MiB/s"),
    ]

    import fsspec

    runs = f"local {local_repeat}, s3 {s3_repeat} (median)"
    extra = {"fsspec": fsspec.__version__, "runs per figure": runs}
    try:
        import moto
        import s3fs

        extra.update(s3fs=s3fs.__version__, moto=moto.__version__)
    except ImportError:
        pass
    header("bench_blobs: BlobStore put/get vs raw I/O", extra)

    rows: list[list[str]] = []
    if args.backend in ("local", "all"):
        start = time.perf_counter()
        rows += bench_local(workloads, local_repeat, args.dir)
        print(f"  local done in {time.perf_counter() - start:.1f} s")
    if args.backend in ("s3", "all"):
        start = time.perf_counter()
        rows += bench_s3(workloads, s3_repeat, args.dir)
        print(f"  s3 done in {time.perf_counter() - start:.1f} s")
    print()
    columns = ["backend", "objects", "op", "platform", "baseline", "baseline rate", "ratio"]
    table(columns, rows)
    print("\nratio = platform time / baseline time (above 1.00x the platform is slower)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
