"""The S3 backend of the object store (MinIO in production, moto in tests), through s3fs.

See :mod:`platform_sdk.core.blobs` for the contract. Objects up to one part are written with a
single PUT; larger ones with a multipart upload that is aborted, not completed, when the
source fails, so a failed ``put`` never leaves a partial object.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs
from fsspec.exceptions import FSTimeoutError

from platform_sdk.core.blobs import CHUNK_SIZE, BlobStore
from platform_sdk.errors import DependencyUnavailable

if TYPE_CHECKING:
    pass

__all__ = ["S3BlobStore"]

log = logging.getLogger(__name__)

S3_PART_SIZE = 8 * 1024 * 1024
"""Multipart part size of S3 uploads (S3's minimum is 5 MiB): what an upload buffers."""


class S3BlobStore(BlobStore):
    """Objects in an S3 bucket (MinIO in production, moto in tests) through s3fs."""

    backend = "s3"
    kind = "S3 object store"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        key: str,
        secret: str,
        chunk_size: int = CHUNK_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        import s3fs  # imported here: aiobotocore is slow to import and the local store needs none

        def make(attempts: int, connect: float) -> Any:
            retries = {"max_attempts": attempts, "mode": "standard"}
            return s3fs.S3FileSystem(
                key=key,
                secret=secret,
                client_kwargs={"endpoint_url": endpoint},  # no region_name: MinIO and moto
                config_kwargs={
                    "connect_timeout": connect,
                    "read_timeout": read_timeout,
                    "retries": retries,
                },
                skip_instance_cache=True,  # an instance per store: no sharing across endpoints
                use_listings_cache=False,  # other processes write too: never trust a stale listing
            )

        super().__init__(make(3, connect_timeout), bucket, chunk_size=chunk_size)
        # Probes (ping, bucket creation) must fail fast: no retries, a short connect timeout.
        self._probe = make(1, min(connect_timeout, 2.0))
        self.endpoint = endpoint
        self.bucket = bucket
        self._credentials = (key, secret)
        self._timeouts = (connect_timeout, read_timeout)
        self.description = f"{self.kind} at {endpoint} (bucket {bucket!r})"
        self._bucket_ready = threading.Event()
        self._lock = threading.Lock()
        boto = importlib.import_module("botocore.exceptions")  # untyped: no stubs
        self._unavailable = (boto.BotoCoreError, boto.ClientError, FSTimeoutError, TimeoutError)
        self._unavailable += (ConnectionError,)
        try:
            self._ensure_bucket()
        except DependencyUnavailable as exc:
            log.warning("%s; will create the bucket when it answers", exc)

    def _ensure_bucket(self) -> None:
        """Create the bucket unless it exists; :class:`DependencyUnavailable` if unreachable."""
        if self._bucket_ready.is_set():
            return
        with self._lock, self._guard(self.bucket):
            if self._bucket_ready.is_set():
                return
            try:  # s3fs turns BucketAlreadyOwnedByYou / BucketAlreadyExists into FileExistsError
                self._probe.call_s3("create_bucket", Bucket=self.bucket)
                log.info("created bucket %r at %s", self.bucket, self.endpoint)
            except FileExistsError:
                pass
            self._bucket_ready.set()

    def arrow_fs(self) -> pafs.FileSystem:
        """Arrow's own S3 client over the same bucket: see :meth:`BlobStore.arrow_fs`."""
        url = urlsplit(self.endpoint)
        key, secret = self._credentials
        connect, read = self._timeouts
        return pafs.S3FileSystem(
            access_key=key or None,
            secret_key=secret or None,
            endpoint_override=url.netloc,
            scheme="http" if url.scheme == "http" else "https",
            region="us-east-1",  # MinIO and moto ignore it; Arrow needs one to sign
            connect_timeout=connect,
            request_timeout=read,
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
        )

    def ping(self) -> None:
        self._ensure_bucket()
        with self._guard(self.bucket):
            try:
                self._probe.call_s3("head_bucket", Bucket=self.bucket)
            except FileNotFoundError:
                self._bucket_ready.clear()
                raise DependencyUnavailable(f"{self.description}: the bucket is gone") from None

    def _write(self, path: str, chunks: Iterator[bytes]) -> int:
        self._ensure_bucket()
        # Objects up to one part go up in a single PUT; only larger ones pay for a multipart
        # upload (initiate, parts, complete), which s3fs would otherwise start at one part.
        head: list[bytes] = []
        size = 0
        for chunk in chunks:
            head.append(chunk)
            size += len(chunk)
            if size > S3_PART_SIZE:
                break
        else:
            self._fs.pipe_file(path, b"".join(head))
            return size
        f: Any = self._fs.open(path, "wb", block_size=max(S3_PART_SIZE, self.chunk_size))
        written = 0
        try:
            for chunk in itertools.chain(head, chunks):
                f.write(chunk)
                written += len(chunk)
            f.close()  # uploads the last part and commits: the object appears whole, or not at all
        except BaseException:
            # Closing would commit what was written so far: abort the upload instead.
            with suppress(Exception):
                f.discard()
            f.closed = True
            raise
        return written
