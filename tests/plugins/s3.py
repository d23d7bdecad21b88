"""An S3 endpoint for tests: moto's server on a free loopback port, one bucket per test.

No MinIO server can be installed here, so moto's ``ThreadedMotoServer`` plays it; it speaks
the S3 protocol s3fs uses. The server is started once per session; every test gets settings of
its own with a unique bucket, so tests never see each other's objects. Tests that use these
fixtures carry ``@pytest.mark.s3``.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_sdk.config import Settings, load_settings


def free_port() -> int:
    """A TCP port nothing listens on right now (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: it stays bound (never
    listening), so no other process can start listening on it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of moto's S3 server, running for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # binds port 0: the kernel picks a port no one else can take meanwhile
    _, port = server.get_host_and_port()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(tmp_path: Path, s3_server: str) -> Settings:
    """Settings pointing the object store at moto, with a bucket no other test uses."""
    return load_settings(
        data_dir=tmp_path,
        minio_endpoint=s3_server,
        minio_access_key="test",
        minio_secret_key="test",
        bucket="t-" + uuid.uuid4().hex[:12],
    )
