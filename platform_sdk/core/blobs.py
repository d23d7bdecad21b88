"""The object store: one small interface over fsspec.

Every capability that keeps bytes outside the relational store (git packs, pipeline logs and
artifacts, telemetry Parquet) talks to a :class:`BlobStore`. It has two backends, chosen by
:func:`open_blobs` from the settings:

* **local** (the embedded default): a folder, ``Settings.blobs_root``, read through fsspec's
  ``LocalFileSystem``. A ``put`` writes to a hidden temporary file in the key's own folder,
  fsyncs it and renames it over the key, so readers see the old object or the new one, never
  half of one, and a crashed or failed ``put`` leaves no file behind.
* **S3** (when ``MINIO_ENDPOINT`` is set): MinIO or any S3 service through s3fs. Keys live
  under ``s3://{bucket}/``; the bucket is created when the store is opened. A PUT (or a
  multipart upload's completion) is atomic on S3; a failed ``put`` aborts its upload.

Keys are relative ``/``-separated paths. They are checked before any I/O (no ``..``, no leading
``/``, no backslash, no empty segment, no control character) and a bad one raises
:class:`~platform_sdk.errors.BadRequest`, so no key can escape the store's root.

``put`` takes bytes, a binary stream or an iterable of byte chunks and copies streams in
chunks of ``chunk_size`` bytes, never reading them whole into memory. A missing key raises
:class:`~platform_sdk.errors.NotFound`; an unreachable or refusing object store raises
:class:`~platform_sdk.errors.DependencyUnavailable`, which :meth:`BlobStore.ping` reports to
``/readyz``. Opening never fails because the object store is down: the S3 store creates its
bucket at once or, if the endpoint does not answer, on the next ``ping`` or ``put``. ``fs`` and
``url`` expose the fsspec filesystem and URLs so DuckDB reads the same objects. The API is
synchronous, like the services.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, cast

import pyarrow.fs as pafs
from fsspec.implementations.local import LocalFileSystem

from platform_sdk.errors import BadRequest, Conflict, DependencyUnavailable, NotFound

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from platform_sdk.config import Settings

__all__ = [
    "CHUNK_SIZE",
    "BlobData",
    "BlobStore",
    "LocalBlobStore",
    "check_key",
    "open_blobs",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
"""Bytes read from a stream per write when copying it into the store."""
MAX_KEY_BYTES = 1024
TMP_PREFIX = ".~put."
"""Name prefix of the local backend's temporary files; reserved, never a key segment."""

BlobData = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]


def check_key(key: str, *, what: str = "key") -> str:
    """``key`` if it is a safe relative object key, else :class:`BadRequest`."""
    if not isinstance(key, str) or not key:
        raise BadRequest(f"blob {what} must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise BadRequest(f"blob {what} is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise BadRequest(f"blob {what} {key!r} must be relative (no leading '/')")
    if "\\" in key:
        raise BadRequest(f"blob {what} {key!r} must not contain a backslash")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise BadRequest(f"blob {what} {key!r} must not contain control characters")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise BadRequest(f"blob {what} {key!r} has an empty, '.' or '..' segment")
        if segment.startswith(TMP_PREFIX):
            raise BadRequest(f"blob {what} {key!r} uses the reserved prefix {TMP_PREFIX!r}")
    return key


def _chunks(data: BlobData, chunk_size: int) -> Iterator[bytes]:
    """The bytes of ``data`` as chunks, reading streams ``chunk_size`` bytes at a time."""
    anything: object = data
    if isinstance(anything, str):
        raise TypeError("blob data must be bytes, a binary stream or byte chunks, not str")
    if isinstance(data, bytes | bytearray | memoryview):
        yield data if isinstance(data, bytes) else bytes(data)
        return
    read = getattr(data, "read", None)
    source: Iterable[object] = iter(lambda: read(chunk_size), b"") if callable(read) else data
    for chunk in source:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"blob data must be bytes (binary mode), got {type(chunk).__name__}")
        if chunk:
            yield bytes(chunk)


class BlobStore:
    """Keys to bytes over an fsspec filesystem; see the module docstring."""

    backend = "fsspec"
    """Short name of the backend, for ``/readyz`` and ``platform status``."""
    kind = "object store"
    _unavailable: tuple[type[BaseException], ...] = ()

    def __init__(self, fs: AbstractFileSystem, root: str, *, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._fs = fs
        self._root = root.rstrip("/")
        self.chunk_size = chunk_size
        self.description = f"{self.kind} at {self.url_root}"
        """What error messages call this store: the kind and where it is."""

    def _write(self, path: str, chunks: Iterator[bytes]) -> int:
        raise NotImplementedError

    def ping(self) -> None:
        """Raise :class:`DependencyUnavailable` unless the store answers."""
        raise NotImplementedError

    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec filesystem (for DuckDB's ``register_filesystem`` and the like)."""
        return self._fs

    def arrow_fs(self) -> pafs.FileSystem:
        """A pyarrow filesystem over the same objects, for Arrow datasets that DuckDB scans.

        Backends return Arrow's native filesystem (no Python in its I/O threads). The fsspec
        wrapper used here as the fallback calls back into Python from Arrow's I/O threads,
        which deadlocks when DuckDB starts an Arrow scan while holding the GIL: a query could
        hang a server thread forever, past its own timeout."""
        return pafs.PyFileSystem(pafs.FSSpecHandler(self._fs))  # type: ignore[abstract]

    @property
    def url_root(self) -> str:
        """The fsspec URL of the store's root folder or bucket."""
        return str(self._fs.unstrip_protocol(self._root))

    def url(self, key: str) -> str:
        """The fsspec URL of ``key`` (``file:///…`` or ``s3://bucket/…``)."""
        return str(self._fs.unstrip_protocol(self._path(key)))

    def put(self, key: str, data: BlobData) -> int:
        """Store ``data`` under ``key`` (replacing it) and return the bytes written."""
        path = self._path(key)
        with self._guard(key):
            return self._write(path, _chunks(data, self.chunk_size))

    def open(self, key: str) -> BinaryIO:
        """A binary file open for reading ``key``; :class:`NotFound` when missing."""
        path = self._path(key)
        with self._guard(key, missing=True):
            f = self._fs.open(path, "rb")
        if (getattr(f, "details", None) or {}).get("type", "file") != "file":
            f.close()  # s3fs opens a "folder" of keys: that is no object
            raise NotFound(f"no blob {key!r}")
        return cast("BinaryIO", f)

    def get(self, key: str) -> bytes:
        """The whole object under ``key``; :class:`NotFound` when missing."""
        with self.open(key) as f, self._guard(key, missing=True):
            return f.read()

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with ``prefix`` (recursive, sorted); ``"logs/"`` lists one folder."""
        if prefix:
            check_key(prefix.removesuffix("/"), what="prefix")
        folder = prefix.rpartition("/")[0]
        base = f"{self._root}/{folder}" if folder else self._root
        with self._guard(prefix):
            try:
                paths = self._fs.find(base, withdirs=False)
            except (FileNotFoundError, NotADirectoryError):
                paths = []
        start = len(self._root) + 1
        keys = [p[start:] for p in paths if p.startswith(self._root + "/")]
        temp = f"/{TMP_PREFIX}"
        yield from sorted(k for k in keys if k.startswith(prefix) and temp not in f"/{k}")

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        try:
            self.size(key)
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        """The size in bytes of the object under ``key``; :class:`NotFound` when missing."""
        path = self._path(key)
        with self._guard(key, missing=True):
            info = self._fs.info(path)
        if info.get("type") != "file":
            raise NotFound(f"no blob {key!r}")
        return int(info["size"])

    def delete(self, key: str) -> bool:
        """Remove ``key``; ``False`` when there was nothing to remove."""
        if not self.exists(key):
            return False
        with self._guard(key):
            try:
                self._fs.rm_file(self._path(key))
            except FileNotFoundError:
                return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url_root!r})"

    def _path(self, key: str) -> str:
        return f"{self._root}/{check_key(key)}"

    @contextmanager
    def _guard(self, key: str, *, missing: bool = False) -> Iterator[None]:
        """Map backend errors onto the error tree."""
        try:
            yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            if missing:
                raise NotFound(f"no blob {key!r}") from None
            raise Conflict(f"blob key {key!r} clashes with a folder of keys: {exc}") from None
        except PermissionError as exc:
            raise DependencyUnavailable(f"{self.description} refused access: {exc}") from exc
        except self._unavailable as exc:
            raise DependencyUnavailable(f"{self.description} is unavailable: {exc}") from exc


class LocalBlobStore(BlobStore):
    """Objects as files in a folder (created if missing), written atomically."""

    backend = "local"
    kind = "local object store"

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> None:
        folder = Path(root).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(LocalFileSystem(), folder.as_posix(), chunk_size=chunk_size)

    def _write(self, path: str, chunks: Iterator[bytes]) -> int:
        parent, _, name = path.rpartition("/")
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f"{TMP_PREFIX}{name[:64]}.")
        written = 0
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    written += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        with suppress(OSError):  # make the rename itself durable (POSIX; harmless elsewhere)
            dir_fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return written

    def delete(self, key: str) -> bool:
        removed = super().delete(key)
        if removed:  # prune folders the key leaves empty, as S3 has no folders
            folder = Path(self._path(key)).parent
            root = Path(self._root)
            while folder != root and root in folder.parents:
                try:
                    folder.rmdir()
                except OSError:
                    break
                folder = folder.parent
        return removed

    def arrow_fs(self) -> pafs.FileSystem:
        return pafs.LocalFileSystem()

    def ping(self) -> None:
        try:
            Path(self._root).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DependencyUnavailable(f"{self.description} is unavailable: {exc}") from exc
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise DependencyUnavailable(f"{self.description} is not writable")


def open_blobs(settings: Settings, *, chunk_size: int = CHUNK_SIZE) -> BlobStore:
    """The object store the settings name: S3 when ``MINIO_ENDPOINT`` is set, else a folder."""
    if settings.minio_endpoint:
        from platform_sdk.core.blobs_s3 import S3BlobStore

        return S3BlobStore(
            settings.minio_endpoint,
            settings.bucket,
            key=settings.minio_access_key or "",
            secret=settings.minio_secret_key or "",
            chunk_size=chunk_size,
        )
    return LocalBlobStore(settings.blobs_root, chunk_size=chunk_size)
