"""Ad hoc SQL over telemetry, sandboxed: DuckDB in-process, one fresh connection per query.

What a query sees is decided before it runs, not by inspecting its text:

1. **Data in, as registered relations only.** Each view (``logs``, ``spans``, ``metrics``) is a
   :mod:`pyarrow.dataset` over the Parquet files of ``telemetry/{dataset}/`` in the object
   store (through fsspec, so S3 works without DuckDB's httpfs) united with the rows still in
   the local spool — so rows are queryable the moment they are acknowledged. The dataset is
   **filtered to the projects the actor may ``observe:read``** *before* it is registered: rows
   of other projects are not in the connection at all, so no SQL can reach them. Rows with no
   project (the platform's own telemetry) are visible only with ``observe:read`` globally.
   Platform tables (``projects``, ``pipelines``, ``audit_log`` …) come in the same way, as
   Arrow tables already restricted to those projects (:mod:`.platform_tables`).
2. **Then the door is locked.** ``enable_external_access = false`` (no file, no URL, no
   ATTACH, no COPY, no extension install) and ``lock_configuration = true`` (the query cannot
   turn it back on). Only a single ``SELECT`` statement is accepted.
3. **Bounded.** The statement runs as ``SELECT * FROM (<query>) LIMIT max_rows + 1`` (the
   extra row tells that the result was truncated) and is interrupted after ``timeout``
   seconds; DuckDB's memory and threads are capped per connection.
4. **Spills stay private.** Each query gets its own spill directory (mode 0700, removed when
   the query ends) as DuckDB's ``temp_directory``. DuckDB lets a locked connection read its
   temp directory, so the default (``.tmp`` under the server's working directory, shared by
   every query) would let one user's SQL read what another user's query spilled.

Partition pruning: the views carry the hive columns ``date`` (``YYYY-MM-DD``) and ``hour``;
filters on them skip whole folders. ``since``/``until`` arguments prune files before DuckDB
sees them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from platform_sdk.core.blobs import BlobStore
from platform_sdk.errors import BadRequest, Unavailable
from platform_sdk.observe.schema import DATASETS, SCHEMAS
from platform_sdk.observe.spool import Spool
from platform_sdk.observe.writer import PREFIX

__all__ = ["QueryResult", "Scope", "TelemetrySource", "run_sql", "telemetry_relations"]

PARTITIONS = pa.schema([("date", pa.string()), ("hour", pa.int32())])  # type: ignore[arg-type]
DEFAULT_MAX_ROWS = 100_000
DEFAULT_TIMEOUT = 30.0
MAX_QUERY_CHARS = 100_000


@dataclass(frozen=True)
class Scope:
    """Which rows an actor may see: project labels (``owner/name``), and whether rows that
    belong to no project (the platform's own) are visible. ``projects=None`` means all."""

    projects: frozenset[str] | None
    unowned: bool = False

    def expression(self) -> ds.Expression | None:
        if self.projects is None:
            valid: ds.Expression = pc.field("project").is_valid()  # type: ignore[assignment]
            return None if self.unowned else valid
        if not self.projects and not self.unowned:
            nothing: ds.Expression = pc.scalar(False)
            return nothing
        keep: ds.Expression = pc.field("project").isin(pa.array(sorted(self.projects), pa.string()))
        if self.unowned:
            keep = keep | pc.field("project").is_null()
        return keep


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    truncated: bool
    elapsed: float

    def to_pandas(self) -> Any:
        return self.table.to_pandas()


def _hour_of(ts: datetime) -> tuple[str, int]:
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.strftime("%Y-%m-%d"), ts.hour


class TelemetrySource:
    """The Parquet files in the object store plus the local spool, as Arrow datasets."""

    def __init__(self, blobs: BlobStore, spool: Spool | None) -> None:
        self.blobs = blobs
        self.spool = spool
        self._fs = blobs.arrow_fs()  # native: see BlobStore.arrow_fs (a Python one deadlocks)
        self._root = blobs.fs._strip_protocol(blobs.url(PREFIX)).rstrip("/")

    def _files(self, dataset: str, since: datetime | None, until: datetime | None) -> list[str]:
        base = f"{self._root}/{dataset}"
        try:
            found = self.blobs.fs.glob(f"{base}/date=*/hour=*/*.parquet")
        except FileNotFoundError:
            return []
        lo = _hour_of(since) if since else None
        hi = _hour_of(until) if until else None
        out = []
        for path in sorted(str(p) for p in found):
            parts = dict(
                seg.split("=", 1) for seg in path[len(base) + 1 :].split("/")[:2] if "=" in seg
            )
            try:
                key = (parts["date"], int(parts["hour"]))
            except (KeyError, ValueError):
                continue
            if (lo and key < lo) or (hi and key > hi):
                continue
            out.append(path)
        return out

    def dataset(
        self,
        name: str,
        scope: Scope,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ds.Dataset:
        base: pa.Schema = SCHEMAS[name]  # type: ignore[index]
        schema = base.append(PARTITIONS.field("date")).append(PARTITIONS.field("hour"))
        parts: list[ds.Dataset] = []
        # the spool first, then the files: a segment flushed in between is read once, from the
        # spool, because its Parquet part (named after the segment) is skipped below
        pending, seen = _unflushed(self.spool, name)
        files = [f for f in self._files(name, since, until) if _segment_of(f) not in seen]
        if files:
            parts.append(
                ds.dataset(
                    files,
                    schema=schema,
                    filesystem=self._fs,
                    format="parquet",
                    partitioning=ds.partitioning(PARTITIONS, flavor="hive"),
                    partition_base_dir=f"{self._root}/{name}",
                )
            )
        if pending is not None and pending.num_rows:
            ts = pending.column("timestamp")
            pending = pending.append_column(
                "date", pc.strftime(ts, format="%Y-%m-%d").cast(pa.string())
            ).append_column("hour", pc.hour(ts).cast(pa.int32()))
            parts.append(ds.dataset(pending.select(schema.names).cast(schema)))
        if not parts:
            parts.append(ds.dataset(schema.empty_table()))
        union = ds.dataset(parts) if len(parts) > 1 else parts[0]
        keep = scope.expression()
        if since is not None:
            since_expr = pc.field("timestamp") >= pa.scalar(since, pa.timestamp("us", tz="UTC"))
            keep = since_expr if keep is None else keep & since_expr
        if until is not None:
            until_expr = pc.field("timestamp") < pa.scalar(until, pa.timestamp("us", tz="UTC"))
            keep = until_expr if keep is None else keep & until_expr
        return union.filter(keep) if keep is not None else union


def _segment_of(path: str) -> str:
    """The segment id in a part file's name (``part-{segment id}.parquet``)."""
    return path.rsplit("/", 1)[-1].removeprefix("part-").removesuffix(".parquet")


def _unflushed(spool: Any, dataset: str) -> tuple[pa.Table | None, set[str]]:
    """Rows still in the spool and the ids of the segments they came from."""
    if spool is None:
        return None, set()
    from platform_sdk.observe.segments import scan, segment_id

    tables, seen = [], set()
    for path in spool.unflushed_files(dataset):
        try:
            found = scan(path)
            sid = segment_id(path)
        except (FileNotFoundError, ValueError):
            continue  # flushed and dropped meanwhile
        seen.add(sid)
        if found.schema is not None and found.rows:
            tables.append(found.table())
    if not tables:
        return None, seen
    return pa.concat_tables(tables, promote_options="default"), seen


def _check(query: str) -> str:
    text = query.strip().rstrip(";").strip()
    if not text:
        raise BadRequest("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise BadRequest(f"SQL syntax error: {exc}") from None
    if len(statements) != 1:
        raise BadRequest(f"send one statement at a time (got {len(statements)})")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise BadRequest(
            f"only SELECT queries are allowed (got {statements[0].type.name}): "
            "telemetry is read-only"
        )
    return text


_HUGE = re.compile(r"\b(?:U?HUGEINT|BIGNUM|VARINT)\b")


def _as_text_where_arrow_cannot_hold(result: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """``result`` with each column holding 128-bit or arbitrary integers cast to VARCHAR.

    Arrow receives ``HUGEINT``/``UHUGEINT`` as decimal128(38), which overflows (the largest
    ``UHUGEINT`` came back as -1), and ``BIGNUM`` as opaque bytes: decimal text is exact.
    """
    huge = [bool(_HUGE.search(str(t))) for t in result.types]
    if not any(huge):
        return result
    quoted = ['"' + c.replace('"', '""') + '"' for c in result.columns]
    return result.project(
        ", ".join(
            f"CAST({q} AS VARCHAR) AS {q}" if h else q for q, h in zip(quoted, huge, strict=True)
        )
    )


def run_sql(
    query: str,
    relations: Mapping[str, ds.Dataset | pa.Table],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout: float = DEFAULT_TIMEOUT,
    memory_limit: str = "1GB",
    threads: int = 4,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> QueryResult:
    """Run one read-only ``SELECT`` over ``relations`` (and nothing else); see the module
    docstring. ``params`` binds ``?`` / ``$name`` placeholders (typed helpers never paste
    values into SQL). Errors in the query are :class:`BadRequest` with DuckDB's message."""
    text = _check(query)
    spill = tempfile.mkdtemp(prefix="platform-sql-")  # 0700: this query's spills only
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "threads": threads,
        "temp_directory": spill,
    }
    con = duckdb.connect(":memory:", config=config)
    timer: threading.Timer | None = None
    try:
        for name, relation in relations.items():
            con.register(name, relation)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            con.interrupt()

        timer = threading.Timer(timeout, interrupt)
        timer.daemon = True
        started = time.monotonic()
        timer.start()
        try:
            result = con.sql(
                # the sandbox, not this string, is the boundary: see the module docstring
                f"SELECT * FROM ({text}\n) LIMIT {int(max_rows) + 1}",  # noqa: S608
                params=params,
            )
            table = _as_text_where_arrow_cannot_hold(result).to_arrow_table()
        except duckdb.InterruptException:
            raise Unavailable(
                f"the query ran longer than {timeout:g} s and was stopped; narrow it "
                "(a time range, a LIMIT, fewer columns)",
                retry_after=1,
            ) from None
        except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
            raise BadRequest(f"query error: {exc}") from None
        except duckdb.PermissionException as exc:
            raise BadRequest(f"not allowed: {exc}") from None
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise Unavailable(
                    f"the query ran longer than {timeout:g} s", retry_after=1
                ) from None
            raise BadRequest(f"query failed: {exc}") from None
        elapsed = time.monotonic() - started
    finally:
        if timer is not None:
            timer.cancel()
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    truncated = table.num_rows > max_rows
    if truncated:
        table = table.slice(0, max_rows)
    return QueryResult(table, truncated, elapsed)


def telemetry_relations(
    source: TelemetrySource,
    scope: Scope,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    datasets: Collection[str] = DATASETS,
) -> dict[str, ds.Dataset]:
    return {name: source.dataset(name, scope, since=since, until=until) for name in datasets}
