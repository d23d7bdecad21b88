"""Fixtures of the telemetry tests: an object store on each backend, a spool, a DuckDB reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from platform_sdk.config import Settings
from platform_sdk.core.blobs import BlobStore, LocalBlobStore, open_blobs
from platform_sdk.observe.spool import Spool

BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(params=BACKENDS)
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The object store, on a local folder and on S3 (moto)."""
    if request.param == "s3":
        settings: Settings = request.getfixturevalue("s3_settings")
        return open_blobs(settings)
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def local_blobs(tmp_path: Path) -> BlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool", max_bytes=256 * 1024 * 1024) as opened:
        yield opened


def query(blobs: BlobStore, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` in DuckDB, with ``{root}`` replaced by the store's root URL.

    S3 is read through the store's own fsspec filesystem (DuckDB 2.x has no httpfs offline).
    """
    con = duckdb.connect()
    root = blobs.url_root
    if root.startswith("s3://"):
        con.register_filesystem(blobs.fs)
    elif root.startswith("file://"):
        root = root.removeprefix("file://")
    return con.sql(sql.replace("{root}", root)).fetchall()


def count(blobs: BlobStore, dataset: str = "logs") -> int:
    (row,) = query(
        blobs,
        f"select count(*) from read_parquet('{{root}}/telemetry/{dataset}/**/*.parquet', "  # noqa: S608
        "hive_partitioning=true)",
    )
    return int(row[0])
