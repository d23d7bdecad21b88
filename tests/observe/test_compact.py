"""Compaction merges small Parquet files per partition; retention drops old partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from platform_sdk.core.blobs import BlobStore
from platform_sdk.observe.compact import apply_retention, compact, list_partitions
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import flush

from .conftest import count, query
from .tables import START, log_table

LATER = START + timedelta(days=1)


def small_files(blobs: BlobStore, spool: Spool, files: int, rows: int) -> None:
    """``files`` Parquet files of ``rows`` rows each, all in the 12:00 partition of START."""
    for i in range(files):
        spool.append("logs", log_table(rows, first=i * rows, step_s=0.1))
        flush(spool, blobs, "logs")


def row_groups(blobs: BlobStore, key: str) -> list[int]:
    with blobs.open(key) as f:
        meta = pq.ParquetFile(f).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_compaction_merges_small_files_into_full_row_groups(blobs: BlobStore, spool: Spool) -> None:
    small_files(blobs, spool, files=6, rows=70)
    assert len(list(blobs.list("telemetry/logs/"))) == 6
    report = compact(blobs, "logs", row_group_rows=100, max_file_rows=1000, now=LATER)
    (key,) = blobs.list("telemetry/logs/")
    assert (report.files_merged, report.files_written, report.rows) == (6, 1, 420)
    assert row_groups(blobs, key) == [100, 100, 100, 100, 20]
    assert count(blobs) == 420
    (row,) = query(
        blobs,
        "select count(distinct body), min(body::int), max(body::int) "
        "from read_parquet('{root}/telemetry/logs/**/*.parquet', hive_partitioning=true)",
    )
    assert row == (420, 0, 419)


def test_compaction_splits_large_partitions_and_keeps_big_files(
    local_blobs: BlobStore, spool: Spool
) -> None:
    small_files(local_blobs, spool, files=5, rows=60)
    report = compact(local_blobs, "logs", row_group_rows=100, max_file_rows=100, now=LATER)
    assert report.files_written == 2  # 60+60 and 60+60; the fifth file waits for company
    keys = list(local_blobs.list("telemetry/logs/"))
    assert len(keys) == 3
    assert count(local_blobs) == 300
    again = compact(local_blobs, "logs", row_group_rows=100, max_file_rows=100, now=LATER)
    assert again.files_written == 0  # merged files are not small any more: nothing to do


def test_partitions_of_the_current_hour_are_left_alone(
    local_blobs: BlobStore, spool: Spool
) -> None:
    small_files(local_blobs, spool, files=3, rows=10)
    soon = START + timedelta(minutes=65)  # the 12:00 hour ended five minutes ago
    assert compact(local_blobs, "logs", settle=600, now=soon).partitions == 0
    assert compact(local_blobs, "logs", settle=60, now=soon).files_written == 1


def test_a_file_that_reappears_after_compaction_is_deleted(
    local_blobs: BlobStore, spool: Spool
) -> None:
    """A crash after a flush's write but before its drop: replay writes the file again."""
    small_files(local_blobs, spool, files=2, rows=10)
    source = sorted(local_blobs.list("telemetry/logs/"))[0]
    content = local_blobs.get(source)
    compact(local_blobs, "logs", now=LATER)
    local_blobs.put(source, content)  # the re-flushed segment, same name
    assert count(local_blobs) == 30  # duplicates, for now
    report = compact(local_blobs, "logs", now=LATER)
    assert report.leftovers_deleted == 1
    assert count(local_blobs) == 20


def test_an_interrupted_compaction_is_finished_by_the_next_run(
    local_blobs: BlobStore, spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_files(local_blobs, spool, files=3, rows=10)

    def crash(key: str) -> bool:
        raise KeyboardInterrupt("killed after the merged file was written")

    monkeypatch.setattr(local_blobs, "delete", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(local_blobs, "logs", now=LATER)
    monkeypatch.undo()
    assert len(list(local_blobs.list("telemetry/logs/"))) == 4
    compact(local_blobs, "logs", now=LATER)
    assert len(list(local_blobs.list("telemetry/logs/"))) == 1
    assert count(local_blobs) == 30


def test_retention_deletes_only_partitions_older_than_the_setting(
    blobs: BlobStore, spool: Spool
) -> None:
    today = datetime(2024, 5, 10, 15, tzinfo=UTC)
    for days_ago in (10, 8, 7, 0):
        spool.append("logs", log_table(5, at=today - timedelta(days=days_ago)))
    flush(spool, blobs, "logs")
    deleted = apply_retention(blobs, "logs", 7, now=today)
    assert [k.split("/")[2] for k in deleted] == ["date=2024-04-30", "date=2024-05-02"]
    assert sorted(d for d, _ in list_partitions(blobs, "logs")) == ["2024-05-03", "2024-05-10"]
    assert count(blobs) == 10
    assert apply_retention(blobs, "metrics", 7, now=today) == []
