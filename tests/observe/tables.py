"""Small telemetry tables for the spool, writer and compaction tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from platform_sdk.observe.schema import LOGS

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def log_table(count: int, *, first: int = 0, at: datetime = START, step_s: float = 1.0) -> pa.Table:
    """``count`` log rows whose ``body`` is their number, from ``first`` on."""
    return pa.Table.from_pylist(
        [
            {
                "timestamp": at + timedelta(seconds=i * step_s),
                "service": "svc",
                "project": "todo-app",
                "body": str(first + i),
                "attributes": "{}",
            }
            for i in range(count)
        ],
        schema=LOGS,
    )


def bodies(table: pa.Table | None) -> list[int]:
    """The sorted row numbers in ``table``."""
    return sorted(int(str(b)) for b in table.column("body").to_pylist()) if table else []
