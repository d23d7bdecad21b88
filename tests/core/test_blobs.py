"""The object store behaves the same on a local folder and on S3 (moto)."""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.config import Settings, load_settings
from platform_sdk.core.blobs import BlobStore, LocalBlobStore, open_blobs
from platform_sdk.core.blobs_s3 import S3BlobStore
from platform_sdk.errors import BadRequest, DependencyUnavailable, NotFound

CHUNK = 64 * 1024
BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "s3":
        s3_settings: Settings = request.getfixturevalue("s3_settings")
        return s3_settings
    return load_settings(data_dir=tmp_path, minio_endpoint="")


@pytest.fixture
def store(settings: Settings) -> BlobStore:
    return open_blobs(settings, chunk_size=CHUNK)


class CountingStream(io.RawIOBase):
    """A binary stream of ``size`` bytes that records how much each read asked for."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.requests: list[int] = []
        self.produced = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.requests.append(n)
        if n < 0:
            n = self.remaining
        n = min(n, self.remaining)
        self.remaining -= n
        out = expected_bytes(self.produced + n)[self.produced :]
        self.produced += n
        return out


def expected_bytes(size: int) -> bytes:
    """``size`` bytes of a pattern that does not repeat on chunk boundaries."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def test_factory_picks_the_backend(store: BlobStore, settings: Settings) -> None:
    if settings.minio_endpoint:
        assert isinstance(store, S3BlobStore)
        assert store.url("a/b.txt") == f"s3://{settings.bucket}/a/b.txt"
        assert type(store.fs).__name__ == "S3FileSystem"
    else:
        assert isinstance(store, LocalBlobStore)
        assert settings.blobs_root.is_dir()
        assert store.url("a/b.txt") == (settings.blobs_root.resolve() / "a/b.txt").as_uri()
        assert type(store.fs).__name__ == "LocalFileSystem"


def test_put_and_get_bytes(store: BlobStore) -> None:
    assert store.put("a/b.txt", b"hello") == 5
    assert store.get("a/b.txt") == b"hello"
    with store.open("a/b.txt") as f:
        assert f.read() == b"hello"
    assert store.put("a/b.txt", bytearray(b"bye")) == 3  # replaces
    assert store.get("a/b.txt") == b"bye"
    assert store.put("empty", b"") == 0
    assert store.get("empty") == b""
    assert store.exists("empty")


def test_put_stream_larger_than_a_chunk_is_copied_in_chunks(store: BlobStore) -> None:
    size = 9 * 1024 * 1024 + 123  # over one S3 part too, so S3 does a multipart upload
    stream = CountingStream(size)
    assert store.put("big/blob.bin", stream) == size
    assert len(stream.requests) > 1
    assert all(0 < n <= CHUNK for n in stream.requests)
    assert store.size("big/blob.bin") == size
    assert store.get("big/blob.bin") == expected_bytes(size)
    with store.open("big/blob.bin") as f:
        f.seek(size - 10)
        assert f.read() == expected_bytes(size)[-10:]


def test_put_iterable_of_chunks(store: BlobStore) -> None:
    assert store.put("parts", iter([b"ab", b"", b"cd", b"ef"])) == 6
    assert store.get("parts") == b"abcdef"


def test_put_rejects_text(store: BlobStore) -> None:
    with pytest.raises(TypeError):
        store.put("t", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("t", ["text"])  # type: ignore[list-item]
    assert not store.exists("t")


def test_list_by_prefix(store: BlobStore) -> None:
    for key in ["logs/b/2.txt", "logs/a.txt", "logs/b/1.txt", "logsx/c.txt", "top.txt"]:
        store.put(key, b"x")
    assert list(store.list()) == [
        "logs/a.txt",
        "logs/b/1.txt",
        "logs/b/2.txt",
        "logsx/c.txt",
        "top.txt",
    ]
    assert list(store.list("logs/")) == ["logs/a.txt", "logs/b/1.txt", "logs/b/2.txt"]
    assert list(store.list("logs/b/")) == ["logs/b/1.txt", "logs/b/2.txt"]
    assert list(store.list("logs/b/1")) == ["logs/b/1.txt"]
    assert list(store.list("logs")) == [
        "logs/a.txt",
        "logs/b/1.txt",
        "logs/b/2.txt",
        "logsx/c.txt",
    ]
    assert list(store.list("nothing/")) == []
    assert list(store.list("nothing")) == []


def test_list_of_an_empty_store(store: BlobStore) -> None:
    assert list(store.list()) == []


def test_exists_size_delete(store: BlobStore) -> None:
    assert not store.exists("k/v")
    store.put("k/v", b"12345")
    assert store.exists("k/v")
    assert store.size("k/v") == 5
    assert not store.exists("k")  # a folder of keys is not a key
    assert store.delete("k/v") is True
    assert store.delete("k/v") is False
    assert not store.exists("k/v")
    assert list(store.list()) == []


def test_missing_key_is_not_found(store: BlobStore) -> None:
    store.put("folder/x", b"x")
    for key in ["missing", "folder/missing", "folder"]:
        with pytest.raises(NotFound):
            store.get(key)
        with pytest.raises(NotFound):
            store.open(key)
        with pytest.raises(NotFound):
            store.size(key)


HOSTILE = ["../x", "a/../../x", "/abs", "a//b", "a\\b", "", "a/", "./a", "a\x00b", "a\nb"]


@pytest.mark.parametrize("key", HOSTILE)
def test_hostile_keys_are_rejected(store: BlobStore, key: str) -> None:
    with pytest.raises(BadRequest):
        store.put(key, b"x")
    with pytest.raises(BadRequest):
        store.get(key)
    with pytest.raises(BadRequest):
        store.exists(key)
    with pytest.raises(BadRequest):
        store.delete(key)
    with pytest.raises(BadRequest):
        store.url(key)


def test_hostile_prefixes_are_rejected(store: BlobStore) -> None:
    for prefix in ["../", "/abs", "a//", "a\\b"]:
        with pytest.raises(BadRequest):
            list(store.list(prefix))


def _outside(s3_settings: Settings) -> Any:
    """An S3 client of its own, to change the bucket behind the store's back."""
    import s3fs

    return s3fs.S3FileSystem(
        key="test",
        secret="test",
        client_kwargs={"endpoint_url": s3_settings.minio_endpoint},
        skip_instance_cache=True,
        use_listings_cache=False,
    )


def test_ping_notices_a_removed_folder_or_bucket_and_makes_it_again(
    store: BlobStore, settings: Settings
) -> None:
    store.put("k", b"v")
    assert store.ping() is None
    if settings.minio_endpoint:
        outside = _outside(settings)
        outside.call_s3("delete_object", Bucket=settings.bucket, Key="k")
        outside.call_s3("delete_bucket", Bucket=settings.bucket)
        with pytest.raises(DependencyUnavailable, match="the bucket is gone"):
            store.ping()
        store.ping()  # the next probe creates it again
        assert settings.bucket in {b["Name"] for b in outside.call_s3("list_buckets")["Buckets"]}
    else:
        shutil.rmtree(settings.blobs_root)
        store.ping()
        assert settings.blobs_root.is_dir()
    assert not store.exists("k")
    store.put("k", b"again")
    assert store.get("k") == b"again"


def test_a_failed_put_leaves_the_old_content(store: BlobStore) -> None:
    store.put("doc", b"old")

    def broken() -> Iterator[bytes]:
        yield b"new" * 1000
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        store.put("doc", broken())
    with pytest.raises(RuntimeError):
        store.put("fresh/doc", broken())
    assert store.get("doc") == b"old"
    assert not store.exists("fresh/doc")
    assert list(store.list()) == ["doc"]


def test_local_put_is_atomic_on_disk(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", chunk_size=4)
    store.put("a/doc", b"old content")

    def broken() -> Iterator[bytes]:
        yield b"half of the new"
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        store.put("a/doc", broken())
    with pytest.raises(OSError, match="disk went away"):
        store.put("a/new", broken())
    assert sorted(os.listdir(tmp_path / "blobs" / "a")) == ["doc"]  # no temp file left
    assert (tmp_path / "blobs" / "a" / "doc").read_bytes() == b"old content"


def test_local_store_creates_its_folder_and_prunes_empty_ones(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "blobs"
    store = LocalBlobStore(root)
    assert root.is_dir()
    store.put("x/y/z", b"1")
    store.delete("x/y/z")
    assert os.listdir(root) == []


def test_local_ping_fails_when_the_folder_is_unusable(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs").rmdir()
    (tmp_path / "blobs").write_bytes(b"not a folder")
    with pytest.raises(DependencyUnavailable, match="object store"):
        store.ping()


@pytest.mark.s3
def test_bucket_is_created_when_opened(s3_settings: Settings) -> None:
    outside = _outside(s3_settings)

    def buckets() -> set[str]:
        return {b["Name"] for b in outside.call_s3("list_buckets")["Buckets"]}

    assert s3_settings.bucket not in buckets()
    open_blobs(s3_settings)
    assert s3_settings.bucket in buckets()
    store = open_blobs(s3_settings)  # an existing bucket is fine
    store.ping()
    store.put("k", b"v")
    assert outside.cat_file(f"{s3_settings.bucket}/k") == b"v"


@pytest.mark.timeout(30)
def test_ping_fails_when_the_s3_endpoint_is_down(tmp_path: Path, closed_port: int) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        minio_endpoint=f"http://127.0.0.1:{closed_port}",
        minio_access_key="test",
        minio_secret_key="test",
        bucket="t-" + uuid.uuid4().hex[:12],
    )
    store = open_blobs(settings)  # opening does not fail: /readyz reports it instead
    with pytest.raises(DependencyUnavailable, match="object store") as excinfo:
        store.ping()
    assert settings.minio_endpoint is not None
    assert settings.minio_endpoint in str(excinfo.value)
    with pytest.raises(DependencyUnavailable, match="object store"):
        store.put("k", b"v")


def test_objects_larger_than_one_part_round_trip_and_fail_cleanly(store: BlobStore) -> None:
    """Past one S3 part the upload is multipart; it completes whole or is aborted."""
    from platform_sdk.core.blobs_s3 import S3_PART_SIZE

    size = S3_PART_SIZE + 3 * CHUNK + 17
    assert store.put("big", CountingStream(size)) == size
    assert store.size("big") == size
    assert store.get("big") == expected_bytes(size)

    def broken() -> Iterator[bytes]:
        yield from (b"z" * CHUNK for _ in range(S3_PART_SIZE // CHUNK + 2))
        raise RuntimeError("stream broke after a part")

    with pytest.raises(RuntimeError, match="after a part"):
        store.put("big", broken())
    assert store.get("big") == expected_bytes(size)
