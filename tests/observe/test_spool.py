"""The write-ahead spool: durable appends, replay after a crash, back-pressure, concurrency."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from platform_sdk.errors import ConfigError, RateLimited, Unavailable
from platform_sdk.observe import segments, spool_sync
from platform_sdk.observe.schema import SPANS
from platform_sdk.observe.spool import Spool

from .tables import bodies, log_table

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def open_spool(root: Path, *, max_bytes: int = 64 * MB, **kwargs: Any) -> Spool:
    return Spool(root, max_bytes=max_bytes, **kwargs)


def test_appended_rows_survive_close_and_reopen(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        for i in range(3):
            spool.append("logs", log_table(10, first=10 * i))
        assert bodies(spool.read_unflushed("logs")) == list(range(30))  # queryable at once
        (active,) = spool.unflushed_files("logs")
        assert active.name == "seg-000000000001.arrow"
        assert spool.sealed_segments("logs") == []
    with open_spool(tmp_path) as again:
        assert (again.recovered.segments, again.recovered.rows) == (1, 30)
        (sealed,) = again.sealed_segments("logs")
        assert bodies(again.read_segment(sealed)) == list(range(30))
        again.append("logs", log_table(1, first=30))
        assert again.unflushed_files("logs")[-1].name == "seg-000000000002.arrow"
        assert bodies(again.read_unflushed("logs")) == list(range(31))


CRASHING_WRITER = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from typing import Any
from platform_sdk.observe.spool import Spool
from tests.observe.tables import log_table
spool = Spool(Path({root!r}), max_bytes=1 << 30)
for i in range({batches}):
    spool.append("logs", log_table(7, first=7 * i))
    print(i, flush=True)  # acknowledged
os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_after(root: Path, batches: int) -> int:
    """Append ``batches`` batches in a child process that then dies by SIGKILL; acked count."""
    code = CRASHING_WRITER.format(repo=str(REPO), root=str(root), batches=batches)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == -9, proc.stderr
    return len(proc.stdout.split())


def test_every_acknowledged_row_survives_sigkill(tmp_path: Path) -> None:
    acked = crash_after(tmp_path, 12)
    with open_spool(tmp_path) as spool:
        assert spool.recovered.rows == 7 * acked == 84
        assert bodies(spool.read_unflushed("logs")) == list(range(84))


def test_a_torn_last_write_is_truncated_and_earlier_batches_kept(tmp_path: Path) -> None:
    crash_after(tmp_path, 3)
    (segment,) = (tmp_path / "logs").glob("seg-*.arrow")
    whole = segment.stat().st_size
    with open(segment, "r+b") as f:
        f.truncate(whole - 40)  # cut into the middle of the last batch
    with open_spool(tmp_path) as spool:
        report = spool.recovered
        assert report.rows == 14
        assert 0 < report.truncated_bytes < whole
        assert segment.stat().st_size == whole - 40 - report.truncated_bytes
        assert bodies(spool.read_segment(segment)) == list(range(14))
        spool.append("logs", log_table(7, first=100))  # later appends land after, intact
    with open_spool(tmp_path) as spool:
        assert bodies(spool.read_unflushed("logs")) == [*range(14), *range(100, 107)]


def test_garbage_or_zeros_after_the_last_batch_are_cut_off(tmp_path: Path) -> None:
    crash_after(tmp_path, 2)
    (segment,) = (tmp_path / "logs").glob("seg-*.arrow")
    with open(segment, "ab") as f:
        f.write(b"\0" * 4096 + b"\xff" * 100)
    with open_spool(tmp_path) as spool:
        assert spool.recovered.rows == 14
        assert spool.recovered.truncated_bytes == 4196


def test_a_segment_without_a_complete_batch_is_removed(tmp_path: Path) -> None:
    crash_after(tmp_path, 1)
    (segment,) = (tmp_path / "logs").glob("seg-*.arrow")
    with open(segment, "r+b") as f:
        f.truncate(100)  # inside the first batch, or even the schema
    with open_spool(tmp_path) as spool:
        assert spool.recovered.removed == (segment,)
        assert not segment.exists()
        assert spool.read_unflushed("logs") is None


def test_a_second_process_cannot_open_the_same_spool(tmp_path: Path) -> None:
    with open_spool(tmp_path), pytest.raises(ConfigError, match="in use by another process"):
        open_spool(tmp_path)
    open_spool(tmp_path).close()  # released on close


def test_a_full_spool_answers_429_with_retry_after(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=64 * 1024, retry_after=7) as spool:

        def fill() -> None:
            for i in range(1000):
                spool.append("logs", log_table(50, first=50 * i))

        with pytest.raises(RateLimited) as err:
            fill()
        assert err.value.status == 429
        assert err.value.retry_after == 7
        assert err.value.headers() == {"Retry-After": "7"}
        accepted = bodies(spool.read_unflushed("logs"))
        assert accepted == list(range(len(accepted)))  # the refused batch left no trace
        for path in (spool.seal_active("logs"), *spool.sealed_segments("logs")):
            if path is not None:
                spool.drop(path)  # as the writer does once the rows are in Parquet
        assert spool.size_bytes == 0
        spool.append("logs", log_table(1))


def test_concurrent_appends_from_8_threads_lose_nothing(tmp_path: Path) -> None:
    per_thread, rows = 60, 5
    with open_spool(tmp_path, segment_bytes=32 * 1024) as spool:  # many rotations meanwhile
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(per_thread):
                    spool.append("logs", log_table(rows, first=(n * per_thread + i) * rows))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(spool.sealed_segments("logs")) > 1
        expected = list(range(8 * per_thread * rows))
        assert bodies(spool.read_unflushed("logs")) == expected
    with open_spool(tmp_path) as spool:
        assert bodies(spool.read_unflushed("logs")) == expected


def test_a_new_schema_starts_a_new_segment(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append("logs", log_table(2))
        extended = log_table(2, first=2).append_column("extra", pa.array(["x", "y"]))
        spool.append("logs", extended)
        sealed = spool.sealed_segments("logs")
        assert len(sealed) == 1
        assert "extra" in spool.read_unflushed("logs").column_names  # type: ignore[union-attr]


def test_a_failed_write_is_503_and_leaves_no_half_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path) as spool:
        spool.append("logs", log_table(3))

        def disk_full(fd: int, data: bytes) -> None:
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(spool_sync, "write_all", disk_full)
        with pytest.raises(Unavailable) as err:
            spool.append("logs", log_table(3, first=3))
        assert err.value.status == 503
        monkeypatch.undo()
        spool.append("logs", log_table(3, first=6))
        assert bodies(spool.read_unflushed("logs")) == [0, 1, 2, 6, 7, 8]
    with open_spool(tmp_path) as spool:
        assert spool.recovered.truncated_bytes == 0
        assert bodies(spool.read_unflushed("logs")) == [0, 1, 2, 6, 7, 8]


def test_a_failed_sync_is_503_and_the_next_append_uses_a_new_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_spool(tmp_path) as spool:

        def broken(fd: int) -> None:
            raise OSError(errno.EIO, "I/O error")

        monkeypatch.setattr(spool_sync, "datasync", broken)
        with pytest.raises(Unavailable, match="could not sync"):
            spool.append("logs", log_table(1))
        monkeypatch.undo()
        spool.append("logs", log_table(1, first=1))
        assert len(spool.unflushed_files("logs")) == 2


def test_datasets_are_separate_and_checked(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append("spans", SPANS.empty_table())  # nothing to write
        assert spool.unflushed_files("spans") == []
        spool.append("logs", log_table(1))
        assert spool.unflushed_files("metrics") == []
        with pytest.raises(ValueError, match="unknown telemetry dataset"):
            spool.append("traces", log_table(1))
        with pytest.raises(ValueError, match="active segment"):
            spool.drop(spool.unflushed_files("logs")[0])
    with pytest.raises(Unavailable, match="closed"):
        spool.append("logs", log_table(1))


def test_appends_waiting_for_a_sync_share_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: while one fdatasync runs, all later writes are covered by one more."""
    writers, all_written = 8, threading.Event()
    writes: list[int] = []
    syncs: list[int] = []
    real_write, real_sync = segments.write_all, spool_sync.datasync

    def counting_write(fd: int, data: bytes) -> None:
        real_write(fd, data)
        writes.append(fd)
        if len(writes) == writers:
            all_written.set()

    def slow_first_sync(fd: int) -> None:
        syncs.append(fd)
        if len(syncs) == 1:  # the first sync lasts until every thread has written
            assert all_written.wait(timeout=60)
        real_sync(fd)

    with open_spool(tmp_path) as spool:
        monkeypatch.setattr(spool_sync, "write_all", counting_write)
        monkeypatch.setattr(spool_sync, "datasync", slow_first_sync)
        threads = [
            threading.Thread(target=spool.append, args=("logs", log_table(1, first=n)))
            for n in range(writers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(writes) == writers
        assert len(syncs) <= 2  # not one per append
        assert bodies(spool.read_unflushed("logs")) == list(range(writers))


def test_a_write_landing_during_a_sync_is_not_acknowledged_by_that_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first sync was asked for before the second write existed: it cannot cover it. The
    second append returns only after a sync that started after its write."""
    started = [threading.Event(), threading.Event()]
    release = [threading.Event(), threading.Event()]
    real_sync = spool_sync.datasync

    def gated_sync(fd: int) -> None:
        n = sum(e.is_set() for e in started)
        assert n < 2, "a third sync for two appends"
        started[n].set()
        assert release[n].wait(timeout=60)
        real_sync(fd)

    with open_spool(tmp_path) as spool:
        monkeypatch.setattr(spool_sync, "datasync", gated_sync)
        try:
            first = threading.Thread(target=spool.append, args=("logs", log_table(1)))
            first.start()
            assert started[0].wait(timeout=60)
            second_done = threading.Event()

            def second_append() -> None:
                spool.append("logs", log_table(1, first=1))
                second_done.set()

            second = threading.Thread(target=second_append)
            second.start()
            # the second write is in the file while the first sync is still running
            deadline = time.monotonic() + 60
            while bodies(spool.read_unflushed("logs")) != [0, 1]:
                assert time.monotonic() < deadline, "the second write never reached the file"
                time.sleep(0.01)
            release[0].set()
            first.join(60)
            assert not first.is_alive()
            # the second append now either leads a sync of its own or (wrongly) returns at once
            while not started[1].is_set() and not second_done.is_set():
                assert time.monotonic() < deadline, "the second append neither synced nor returned"
                time.sleep(0.01)
            assert not second_done.is_set(), "acknowledged by a sync that began before its write"
            assert started[1].is_set()
            release[1].set()
            second.join(60)
            assert second_done.is_set()
        finally:  # a failing assertion must not leave the appenders blocked
            for gate in release:
                gate.set()
