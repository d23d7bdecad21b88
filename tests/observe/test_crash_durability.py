"""Kill ``platform serve`` with SIGKILL during sustained OTLP ingest, restart it: every record
that was acknowledged (HTTP 200) is stored — several rounds, counted exactly.

Each log record's body is a unique ``rec-<round>-<batch>-<i>``; the client remembers which
batches were acknowledged. Unacknowledged batches may or may not have been stored (the spool
may have synced them just before the kill), so the test checks *acknowledged ⊆ stored* and
that nothing is stored twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from platform_sdk.config import load_settings
from platform_sdk.core.access import Actor
from platform_sdk.observe.services.query import sql
from platform_sdk.sdk import Platform
from tests.cli.test_serve_process import _wait_until_up
from tests.git.test_serve_process import PLATFORM, _cli
from tests.observe.samples import logs_request
from tests.plugins.s3 import free_port

ROUNDS = 3
BATCH = 200


def _batch(round_: int, n: int) -> bytes:
    request = logs_request(
        BATCH, resource={"service.name": "load", "platform.project": "lena/shop"}
    )
    now = time.time_ns()  # recent: old partitions are deleted by retention at start
    for i, record in enumerate(request.resource_logs[0].scope_logs[0].log_records):
        record.body.string_value = f"rec-{round_}-{n}-{i}"
        record.time_unix_nano = now
    return request.SerializeToString()


def _load(
    url: str, headers: dict[str, str], round_: int, stop: threading.Event, acked: list[int]
) -> None:
    """Post batches until told to stop or the server dies; remember the acknowledged ones."""
    with httpx.Client(timeout=10) as client:
        n = 0
        while not stop.is_set():
            try:
                r = client.post(url, content=_batch(round_, n), headers=headers)
            except httpx.HTTPError:
                return  # the server died mid-request: not acknowledged
            if r.status_code == 200:
                acked.append(n)
            n += 1


def test_acknowledged_records_survive_sigkill(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "DATABASE_URL"))}
    env |= {
        "PLATFORM_DATA_DIR": "data",
        "PLATFORM_LISTEN": f"127.0.0.1:{port}",
        "PLATFORM_TELEMETRY_FLUSH_INTERVAL": "0.2",
        "PLATFORM_PIPELINE_MAX_PARALLEL": "0",
    }
    _cli(tmp_path, env, "init")
    _cli(tmp_path, env, "users", "create", "lena", "--no-password")
    _cli(tmp_path, env, "grant", "developer", "lena")
    token = json.loads(_cli(tmp_path, env, "tokens", "create", "t", "--user", "lena", "--json"))
    _cli(tmp_path, env, "--as", "lena", "projects", "create", "shop")
    headers = {
        "Authorization": f"Bearer {token['token']}",
        "Content-Type": "application/x-protobuf",
    }
    acknowledged: set[str] = set()
    for round_ in range(ROUNDS):
        server = subprocess.Popen(
            [*PLATFORM, "serve"], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
        )
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        stop = threading.Event()
        acked: list[int] = []
        url = f"http://127.0.0.1:{port}/v1/logs"
        threads = [threading.Thread(target=_load, args=(url, headers, round_, stop, acked))]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 20 + 10 * round_:  # some flushed to Parquet, some still spooled
            assert time.monotonic() < deadline, "ingest made no progress"
            stop.wait(0.01)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(30)
        acknowledged |= {f"rec-{round_}-{n}-{i}" for n in acked for i in range(BATCH)}

    # restart once more and shut down cleanly: replay, then the writer's final flush
    server = subprocess.Popen(
        [*PLATFORM, "serve"], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
    )
    _wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) in (
        0,
        -signal.SIGTERM,
    )  # uvicorn re-raises it after a graceful stop

    settings = load_settings(data_dir=tmp_path / "data")
    with Platform(settings) as platform, platform.session() as db:
        admin = platform.actor
        assert isinstance(admin, Actor)
        stored = sql(
            db,
            actor=admin,
            query="select body, count(*) as n from logs group by 1",
            max_rows=1_000_000,
        ).table.to_pylist()
    bodies = {row["body"]: row["n"] for row in stored}
    assert acknowledged, "no batch was acknowledged"
    missing = acknowledged - set(bodies)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:3]}"
    assert max(bodies.values()) == 1, "a record was stored twice"
