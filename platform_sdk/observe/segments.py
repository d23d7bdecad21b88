"""Spool segment files: Arrow IPC streams written message by message, read tolerantly.

A segment is an Arrow IPC *stream* file: one schema message, then record batch messages, no
end-of-stream marker. The spool writes each message itself (``Schema.serialize()``,
``RecordBatch.serialize()``) with ``os.write`` on a raw descriptor, so it knows the exact byte
offset where every complete batch ends; that offset is what a failed write or a crash
recovery truncates back to. Any Arrow reader (``pyarrow.ipc.open_stream``, DuckDB through
pyarrow) reads the file as it is.

The schema message carries the segment's id (a random UUID) in its metadata under
:data:`SEGMENT_ID_KEY`. The Parquet writer names its output after it, so flushing a segment
twice (a crash between the Parquet write and the segment's deletion) overwrites the same
objects instead of duplicating rows; the id is unique across restarts and spool folders,
unlike the segment's sequence number.

:func:`scan` is the tolerant reader. It reads messages until the first one that is incomplete
(a write torn by a crash, or the segment being appended to right now), does not decode, or
is not a record batch, and reports the offset where the good prefix ends. It never raises
on damage: damage only shortens the prefix.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = [
    "SEGMENT_ID_KEY",
    "Scan",
    "fsync_dir",
    "header",
    "payload",
    "read_segment",
    "scan",
    "segment_id",
    "write_all",
]

SEGMENT_ID_KEY: Final = b"platform.spool.segment"
_DAMAGE: Final = (OSError, pa.ArrowException, ValueError)


@dataclass
class Scan:
    """What :func:`scan` found in a segment file."""

    schema: pa.Schema | None
    """The schema message (with the id metadata), ``None`` if even that is incomplete."""
    batches: list[pa.RecordBatch] = field(default_factory=list)
    good_bytes: int = 0
    """Where the last complete, decodable message ends."""
    file_bytes: int = 0
    batch_count: int = 0
    rows: int = 0

    @property
    def torn(self) -> bool:
        """Whether bytes follow the good prefix (a torn or unfinished write)."""
        return self.good_bytes < self.file_bytes

    def table(self) -> pa.Table:
        """The complete batches as one table, without the segment metadata."""
        if self.schema is None:
            raise ValueError("the segment has no schema")
        schema = self.schema.remove_metadata()
        if not self.batches:
            return schema.empty_table()
        return pa.Table.from_batches([b.replace_schema_metadata(None) for b in self.batches])


def scan(path: Path, *, decode: bool = True) -> Scan:
    """Read the good prefix of a segment (see the module docstring); never raises on damage.

    With ``decode=False`` the batches are still checked but not kept.
    FileNotFoundError if the file does not exist.
    """
    with pa.OSFile(str(path), "rb") as f:
        result = Scan(schema=None, file_bytes=f.size())
        reader = ipc.MessageReader.open_stream(f)
        try:
            message = reader.read_next_message()
            if message.type != "schema":
                return result
            result.schema = ipc.read_schema(message)
        except (StopIteration, *_DAMAGE):
            return result
        result.good_bytes = f.tell()
        while True:
            try:
                message = reader.read_next_message()
                if message.type != "record batch":
                    break
                batch = ipc.read_record_batch(message, result.schema)
                batch.validate()
            except (StopIteration, *_DAMAGE):
                break
            if decode:
                result.batches.append(batch)
            result.batch_count += 1
            result.rows += batch.num_rows
            result.good_bytes = f.tell()
    return result


def read_segment(path: Path) -> pa.Table:
    """The complete batches of a segment as one table (a torn tail is left out)."""
    found = scan(path)
    if found.schema is None:
        raise ValueError(f"spool segment {path} has no complete schema message")
    return found.table()


def segment_id(path: Path) -> str:
    """The segment's unique id, from its schema message (its file stem if it has none)."""
    with pa.OSFile(str(path), "rb") as f:
        try:
            schema = ipc.read_schema(ipc.MessageReader.open_stream(f).read_next_message())
        except (StopIteration, *_DAMAGE):
            return path.stem
    value = (schema.metadata or {}).get(SEGMENT_ID_KEY)
    return value.decode() if value else path.stem


def header(schema: pa.Schema) -> tuple[bytes, str]:
    """The schema message of a new segment, and the new segment id it carries."""
    sid = uuid.uuid4().hex
    tagged = schema.with_metadata({SEGMENT_ID_KEY: sid.encode()})
    return tagged.serialize().to_pybytes(), sid


def payload(table: pa.Table) -> bytes:
    """The record batch messages of ``table``, ready to append to a segment."""
    return b"".join(memoryview(batch.serialize()) for batch in table.to_batches())


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(folder: Path) -> None:
    """Make a file's creation or removal in ``folder`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
