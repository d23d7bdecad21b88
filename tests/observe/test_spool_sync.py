"""SyncedFile, the spool's open segment: tickets, one sync per commit, failure and close."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from platform_sdk.errors import Unavailable
from platform_sdk.observe import spool_sync
from platform_sdk.observe.spool_sync import SyncedFile

SCHEMA = pa.schema([("body", pa.int64())])
HEADER = b"header"
UNWRITABLE = r"^segment seg-000000000001\.arrow is no longer writable$"


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fdatasync call, by descriptor (the real sync still runs)."""
    calls: list[int] = []
    real = spool_sync.datasync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(spool_sync, "datasync", counting)
    return calls


@pytest.fixture
def segment(tmp_path: Path) -> Iterator[SyncedFile]:
    path = tmp_path / "seg-000000000001.arrow"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, HEADER)
    f = SyncedFile(path, fd, SCHEMA, len(HEADER))
    yield f
    f.close()


def test_tickets_count_writes_and_size_counts_bytes(segment: SyncedFile) -> None:
    assert segment.batches == 0  # an empty segment: the spool removes it on close
    assert not segment.closed
    assert segment.failed is None
    assert segment.write(b"abc") == 1
    assert segment.write(b"defgh") == 2
    assert segment.batches == 2
    assert segment.size == len(HEADER) + 8 == segment.path.stat().st_size
    assert segment.path.read_bytes() == HEADER + b"abcdefgh"


def test_one_commit_takes_one_sync_and_a_covered_ticket_none(
    segment: SyncedFile, syncs: list[int]
) -> None:
    ticket = segment.write(b"abc")
    segment.commit(ticket)
    assert syncs == [segment.fd]
    assert segment.syncs == 1
    segment.commit(ticket)  # already durable: no second fdatasync
    assert segment.syncs == 1
    assert len(syncs) == 1
    segment.commit(segment.write(b"def"))
    assert segment.syncs == 2
    assert len(syncs) == 2


def test_a_failed_sync_is_503_with_retry_after_1_and_never_retried(
    segment: SyncedFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failed fsync the kernel may have dropped the pages: a later sync would prove
    nothing, so every commit of the file fails from then on. The spool moves to a new
    segment at once, so the client may retry after one second (the Retry-After header)."""
    calls: list[int] = []

    def broken(fd: int) -> None:
        calls.append(fd)
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(spool_sync, "datasync", broken)
    ticket = segment.write(b"abc")
    with pytest.raises(Unavailable) as err:
        segment.commit(ticket)
    assert err.value.status == 503
    assert err.value.retry_after == 1
    assert err.value.headers() == {"Retry-After": "1"}
    assert err.value.message == (
        f"the telemetry spool could not sync {segment.path.name}: [Errno 5] I/O error"
    )
    monkeypatch.undo()
    with pytest.raises(Unavailable, match="could not sync"):
        segment.commit(ticket)
    assert len(calls) == 1
    assert segment.syncs == 1
    with pytest.raises(OSError, match=UNWRITABLE):
        segment.write(b"def")
    segment.close()  # no sync of a failed file either
    assert len(calls) == 1
    assert segment.closed


def test_a_failed_write_leaves_the_file_unwritable_and_truncated(
    segment: SyncedFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment.write(b"abc")

    def disk_full(fd: int, data: bytes) -> None:
        os.write(fd, data[:2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_sync, "write_all", disk_full)
    with pytest.raises(OSError, match="No space left"):
        segment.write(b"defgh")
    monkeypatch.undo()
    assert segment.path.read_bytes() == HEADER + b"abc"  # the torn half is cut off
    assert (segment.batches, segment.size) == (1, len(HEADER) + 3)
    assert isinstance(segment.failed, OSError)
    # the disk may have room again: the file still takes nothing more
    with pytest.raises(OSError, match=UNWRITABLE):
        segment.write(b"ijk")
    assert segment.path.read_bytes() == HEADER + b"abc"


def test_close_syncs_what_is_unsynced_only(segment: SyncedFile, syncs: list[int]) -> None:
    segment.commit(segment.write(b"abc"))
    segment.close()
    assert len(syncs) == 1  # nothing left to sync


def test_close_syncs_an_uncommitted_write(segment: SyncedFile, syncs: list[int]) -> None:
    segment.write(b"abc")
    segment.close()
    assert len(syncs) == 1
    assert segment.syncs == 1


def test_close_is_idempotent_and_a_closed_file_takes_no_writes(
    segment: SyncedFile, tmp_path: Path
) -> None:
    segment.write(b"abc")
    segment.close()
    assert segment.closed
    # the descriptor number is free again; a second close must not close whoever got it
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        segment.close()
        os.write(other, b"still open")
    finally:
        os.close(other)
    with pytest.raises(OSError, match=UNWRITABLE):
        segment.write(b"def")
    assert segment.failed is None
    assert segment.path.read_bytes() == HEADER + b"abc"


def test_close_of_an_empty_file_takes_no_sync(segment: SyncedFile, syncs: list[int]) -> None:
    segment.close()
    assert syncs == []
    assert segment.syncs == 0


def test_a_failed_write_whose_truncation_fails_too_raises_the_write_error(
    segment: SyncedFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool turns the OSError into a 503; anything else here would be a 500."""
    segment.write(b"abc")

    def disk_full(fd: int, data: bytes) -> None:
        os.write(fd, data[:2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def broken_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(spool_sync, "write_all", disk_full)
    monkeypatch.setattr(os, "ftruncate", broken_truncate)
    with pytest.raises(OSError, match="No space left on device") as err:
        segment.write(b"defgh")
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert isinstance(segment.failed, OSError)  # the spool seals it: a reader stops at the tear
    with pytest.raises(OSError, match=UNWRITABLE):
        segment.write(b"ijk")
