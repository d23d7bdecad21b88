"""Compaction and retention of the telemetry Parquet tree in the object store.

**Compaction.** The writer adds a small file to the current hour's partition every few
seconds. :func:`compact` merges, in each settled partition (its hour ended ``settle`` seconds
ago or more), the *small* files (fewer rows than ``row_group_rows``) into files whose row
groups hold ``row_group_rows`` rows (131,072 by default, so ≥ 100k; the last group of a file
holds the rest), one new file per ``max_file_rows`` rows. Files are streamed batch by batch
through a local temporary file, so memory stays at about one row group whatever the
partition's size. Only files with the schema of the first small file are merged; others
wait (a schema change between versions).

The replacement is **write, then delete**: the new file is written in full (atomically, by
:meth:`BlobStore.put <platform_sdk.core.blobs.BlobStore.put>`) before its sources are
deleted. A query running in between may count those rows twice; one running after sees each
row once. The new file lists the names of every file it replaces, transitively, in its
Parquet metadata (:data:`COMPACTED_FROM_KEY`); each run first deletes any listed file that
still exists, which finishes a compaction a crash interrupted and also removes a segment's
file that the writer rewrote after a crash (same name) although it was already compacted.

**Retention.** :func:`apply_retention` deletes every object of a dataset in a partition whose
date is more than ``days`` days before today (UTC): with 7 days, on 2024-05-10 the dates
2024-05-03 … 2024-05-10 are kept.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from platform_sdk.core.blobs import BlobStore

__all__ = [
    "COMPACTED_FROM_KEY",
    "MAX_FILE_ROWS",
    "PREFIX",
    "ROW_GROUP_ROWS",
    "CompactionReport",
    "apply_retention",
    "compact",
    "list_partitions",
]

log = logging.getLogger(__name__)

PREFIX: Final = "telemetry"
"""The object-store folder under which each dataset has its hive-partitioned tree."""
ROW_GROUP_ROWS: Final = 128 * 1024
MAX_FILE_ROWS: Final = 8 * ROW_GROUP_ROWS
COMPACTED_FROM_KEY: Final = b"platform.compacted_from"
_PARTITION: Final = re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/([^/]+\.parquet)$")


@dataclass
class CompactionReport:
    """What one :func:`compact` run did."""

    partitions: int = 0
    files_merged: int = 0
    files_written: int = 0
    rows: int = 0
    leftovers_deleted: int = 0


def list_partitions(
    blobs: BlobStore, dataset: str, *, prefix: str = PREFIX
) -> dict[tuple[str, int], list[str]]:
    """``(date, hour) -> [object keys]`` of a dataset's Parquet files."""
    base = f"{prefix}/{dataset}/"
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for key in blobs.list(base):
        match = _PARTITION.match(key[len(base) :])
        if match:
            out[(match.group(1), int(match.group(2)))].append(key)
    return dict(out)


def _footer(blobs: BlobStore, key: str) -> tuple[int, pa.Schema, set[str]]:
    """Rows, schema and the replaced file names recorded in a Parquet file's footer."""
    with blobs.open(key) as f:
        parquet = pq.ParquetFile(f)
        rows, schema = parquet.metadata.num_rows, parquet.schema_arrow
    raw = (schema.metadata or {}).get(COMPACTED_FROM_KEY)
    sources = set(json.loads(raw)) if raw else set()
    return rows, schema.remove_metadata(), sources


def compact(
    blobs: BlobStore,
    dataset: str,
    *,
    prefix: str = PREFIX,
    row_group_rows: int = ROW_GROUP_ROWS,
    max_file_rows: int = MAX_FILE_ROWS,
    settle: float = 600.0,
    now: datetime | None = None,
) -> CompactionReport:
    """Merge the small files of each settled partition (see the module docstring)."""
    if row_group_rows <= 0 or max_file_rows < row_group_rows:
        raise ValueError("need 0 < row_group_rows <= max_file_rows")
    now = now or datetime.now(UTC)
    report = CompactionReport()
    for (date, hour), keys in sorted(list_partitions(blobs, dataset, prefix=prefix).items()):
        hour_end = datetime.fromisoformat(date).replace(tzinfo=UTC) + timedelta(hours=hour + 1)
        if len(keys) < 2 or (now - hour_end).total_seconds() < settle:
            continue
        report.partitions += 1
        _compact_partition(blobs, keys, row_group_rows, max_file_rows, report)
    return report


def _compact_partition(
    blobs: BlobStore,
    keys: list[str],
    row_group_rows: int,
    max_file_rows: int,
    report: CompactionReport,
) -> None:
    folder = keys[0].rpartition("/")[0]
    footers = {key: _footer(blobs, key) for key in keys}
    by_name = {key.rpartition("/")[2]: key for key in keys}
    replaced = set().union(*(sources for _, _, sources in footers.values()))
    for name in replaced & set(by_name):  # finish interrupted replacements first
        blobs.delete(by_name[name])
        footers.pop(by_name[name])
        report.leftovers_deleted += 1
    small = [(k, f) for k, f in sorted(footers.items()) if f[0] < row_group_rows]
    if len(small) < 2:
        return
    schema = small[0][1][1]
    small = [(k, f) for k, f in small if f[1].equals(schema)]
    group: list[tuple[str, Any]] = []
    rows = 0
    for key, footer in small:
        group.append((key, footer))
        rows += footer[0]
        if rows >= max_file_rows:
            _merge(blobs, folder, group, schema, row_group_rows, report)
            group, rows = [], 0
    if len(group) >= 2:
        _merge(blobs, folder, group, schema, row_group_rows, report)


def _merge(
    blobs: BlobStore,
    folder: str,
    group: list[tuple[str, Any]],
    schema: pa.Schema,
    row_group_rows: int,
    report: CompactionReport,
) -> None:
    """Write the files of ``group`` as one, then delete them."""
    names: set[str] = set()
    for key, (_, _, sources) in group:
        names.add(key.rpartition("/")[2])
        names |= sources
    tagged = schema.with_metadata({COMPACTED_FROM_KEY: json.dumps(sorted(names)).encode()})
    total = 0
    with tempfile.TemporaryDirectory(prefix="platform-compact-") as scratch:
        local = Path(scratch) / "merged.parquet"
        with pq.ParquetWriter(local, tagged, compression="zstd") as writer:
            pending: list[pa.RecordBatch] = []
            buffered = 0
            for key, _ in group:
                with blobs.open(key) as f:
                    for batch in pq.ParquetFile(f).iter_batches(batch_size=row_group_rows):
                        pending.append(batch.replace_schema_metadata(None))
                        buffered += batch.num_rows
                        if buffered >= row_group_rows:
                            total += _write_groups(writer, pending, schema, row_group_rows)
                            buffered = sum(b.num_rows for b in pending)
            if pending:
                table = pa.Table.from_batches(pending, schema=schema)
                writer.write_table(table, row_group_size=row_group_rows)
                total += table.num_rows
        key = f"{folder}/part-c{uuid.uuid4().hex}.parquet"
        with local.open("rb") as merged:
            blobs.put(key, merged)
    for old, _ in group:
        blobs.delete(old)
    report.files_merged += len(group)
    report.files_written += 1
    report.rows += total
    log.info("compacted %d files (%d rows) into %s", len(group), total, key)


def _write_groups(
    writer: pq.ParquetWriter, pending: list[pa.RecordBatch], schema: pa.Schema, size: int
) -> int:
    """Write whole row groups of ``size`` rows from ``pending``; keep the rest in it."""
    table = pa.Table.from_batches(pending, schema=schema)
    full = table.num_rows - table.num_rows % size
    writer.write_table(table.slice(0, full), row_group_size=size)
    pending.clear()
    pending.extend(table.slice(full).to_batches())
    return full


def apply_retention(
    blobs: BlobStore,
    dataset: str,
    days: int,
    *,
    prefix: str = PREFIX,
    now: datetime | None = None,
) -> list[str]:
    """Delete a dataset's partitions dated more than ``days`` days ago; the keys deleted."""
    if days < 0:
        raise ValueError("retention days must be >= 0")
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    cutoff = (today - timedelta(days=days)).isoformat()
    deleted = []
    for (date, _), keys in sorted(list_partitions(blobs, dataset, prefix=prefix).items()):
        if date < cutoff:
            for key in keys:
                if blobs.delete(key):
                    deleted.append(key)
    if deleted:
        log.info("retention deleted %d %s objects dated before %s", len(deleted), dataset, cutoff)
    return deleted
