"""The writer turns spool segments into hive-partitioned zstd Parquet that DuckDB reads."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from platform_sdk.core.blobs import BlobStore
from platform_sdk.errors import DependencyUnavailable
from platform_sdk.observe.otlp import decode_request
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import TelemetryWriter, flush

from .conftest import count, query
from .samples import logs_request, metrics_request, spans_request
from .tables import START, log_table


def test_flush_writes_hive_partitioned_zstd_parquet(blobs: BlobStore, spool: Spool) -> None:
    spool.append("logs", log_table(90, step_s=60))  # 12:00 … 13:29: two hours
    spool.append("logs", log_table(10, first=90, at=START + timedelta(days=1)))
    urls = flush(spool, blobs, "logs")
    keys = sorted(blobs.list("telemetry/logs/"))
    assert len(urls) == len(keys) == 3
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "telemetry/logs/date=2024-05-01/hour=12",
        "telemetry/logs/date=2024-05-01/hour=13",
        "telemetry/logs/date=2024-05-02/hour=12",
    ]
    assert spool.unflushed_files("logs") == []  # dropped once written
    assert spool.size_bytes == 0
    assert count(blobs) == 100
    per_hour = query(
        blobs,
        "select date, hour, count(*), min(body::int), max(body::int) from read_parquet("
        "'{root}/telemetry/logs/**/*.parquet', hive_partitioning=true) group by all order by all",
    )
    assert [tuple(map(str, r)) for r in per_hour] == [
        ("2024-05-01", "12", "60", "0", "59"),
        ("2024-05-01", "13", "30", "60", "89"),
        ("2024-05-02", "12", "10", "90", "99"),
    ]
    with blobs.open(keys[0]) as f:
        meta = pq.ParquetFile(f).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_decoded_otlp_of_every_signal_lands_in_its_dataset(
    local_blobs: BlobStore, spool: Spool
) -> None:
    for signal, request in (
        ("logs", logs_request(5)),
        ("traces", spans_request(3)),
        ("metrics", metrics_request()),
    ):
        decoded = decode_request(
            signal,  # type: ignore[arg-type]
            request.SerializeToString(),
            "application/x-protobuf",
            None,
            max_bytes=1 << 20,
        )
        spool.append(decoded.dataset, decoded.table)
    written = TelemetryWriter(spool, local_blobs).run_once()
    assert {k: len(v) for k, v in written.items()} == {"logs": 1, "spans": 1, "metrics": 1}
    assert (count(local_blobs, "logs"), count(local_blobs, "spans")) == (5, 3)
    assert count(local_blobs, "metrics") == 5
    (row,) = query(
        local_blobs,
        "select list(bucket_counts) filter (where kind = 'histogram'), "
        "count(distinct series_key) from '{root}/telemetry/metrics/**/*.parquet'",
    )
    assert row == ([[1, 2, 3]], 5)


def test_a_flush_repeated_after_a_crash_overwrites_instead_of_duplicating(
    local_blobs: BlobStore, spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool.append("logs", log_table(20, step_s=300))  # two hours, so two objects

    def crash(path: Path) -> None:
        raise KeyboardInterrupt("killed between the Parquet write and the drop")

    monkeypatch.setattr(spool, "drop", crash)
    with pytest.raises(KeyboardInterrupt):
        flush(spool, local_blobs, "logs")
    first = sorted(local_blobs.list("telemetry/"))
    monkeypatch.undo()
    assert spool.sealed_segments("logs")  # still there: nothing was lost
    again = flush(spool, local_blobs, "logs")
    assert sorted(local_blobs.list("telemetry/")) == first
    assert len(again) == 2
    assert count(local_blobs) == 20


def test_a_failing_object_store_keeps_the_rows_in_the_spool(
    local_blobs: BlobStore, spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool.append("logs", log_table(5))

    def down(key: str, data: object) -> int:
        raise DependencyUnavailable("object store is unavailable")

    monkeypatch.setattr(local_blobs, "put", down)
    writer = TelemetryWriter(spool, local_blobs)
    assert writer.run_once()["logs"] == []
    assert len(spool.sealed_segments("logs")) == 1
    monkeypatch.undo()
    assert len(writer.run_once()["logs"]) == 1
    assert count(local_blobs) == 5


def test_run_forever_flushes_until_stopped_and_once_more_on_stop(
    local_blobs: BlobStore, spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = TelemetryWriter(spool, local_blobs, interval=0.01)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        rounds = asyncio.Event()
        one_round = writer._round

        def round_and_tell() -> None:
            one_round()
            loop.call_soon_threadsafe(rounds.set)

        monkeypatch.setattr(writer, "_round", round_and_tell)
        stop = asyncio.Event()
        spool.append("logs", log_table(3))
        task = asyncio.create_task(writer.run_forever(stop))
        await asyncio.wait_for(rounds.wait(), timeout=30)
        assert count(local_blobs) == 3  # the first round flushed
        spool.append("logs", log_table(4, first=3))
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    asyncio.run(main())
    assert count(local_blobs) == 7
    assert spool.unflushed_files("logs") == []


def test_replayed_segments_are_flushed_by_the_next_writer(
    tmp_path: Path, local_blobs: BlobStore
) -> None:
    with Spool(tmp_path / "s", max_bytes=1 << 26) as first:
        first.append("logs", log_table(6))
    with Spool(tmp_path / "s", max_bytes=1 << 26) as second:
        TelemetryWriter(second, local_blobs).run_once()
        assert second.sealed_segments("logs") == []
    assert count(local_blobs) == 6
