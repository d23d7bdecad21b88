"""The scripts the Kubernetes runtime puts in its pods, run for real with this machine's
``sh``, ``find``, ``tar``, ``base64`` and ``git`` (the tools a step image provides), and the
artifact section decoded back into files — including damaged and oversized sections."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from platform_sdk.errors import PayloadTooLarge, ValidationFailed
from platform_sdk.pipelines.runtime.base import StepSpec
from platform_sdk.pipelines.runtime.k8s_shell import (
    CHECKOUT_SCRIPT,
    ArtifactCollector,
    step_script,
)

NONCE = "0f1e2d3c4b5a6978"


def step(commands: tuple[str, ...], artifacts: tuple[str, ...] = ()) -> StepSpec:
    return StepSpec(step_id=uuid.uuid4(), name="s", commands=commands, artifacts=artifacts)


def run_sh(script: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    proc = subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


def collect_lines(
    lines: list[str], patterns: tuple[str, ...], max_bytes: int = 1 << 20
) -> tuple[ArtifactCollector, list[str]]:
    """Feed ``lines`` to a collector; the lines that would be logged."""
    collector = ArtifactCollector(patterns, NONCE, max_bytes)
    logged = [line for line in lines if not collector.feed(line)]
    return collector, logged


def test_commands_are_echoed_and_stop_at_the_first_failure(tmp_path: Path) -> None:
    code, lines = run_sh(step_script(step(("echo one", "false", "echo never"))), tmp_path)
    assert code == 1
    assert lines == ["+ echo one", "one", "+ false"]


def test_artifacts_round_trip_after_a_failing_command(tmp_path: Path) -> None:
    commands = (
        "mkdir -p dist reports/unit/deep .git",
        "printf 'wheel' > dist/app-1.0-py3-none-any.whl",
        "printf '<xml/>' > reports/unit/deep/junit.xml",
        "printf 'top' > top.xml",
        "printf 'no' > dist/notes.txt && printf 'git' > .git/x.xml",
        "cd dist && echo in-dist",  # a cd in the commands does not move the collection
        "exit 3",
    )
    patterns = ("dist/*.whl", "**/*.xml")
    script = step_script(step(commands, patterns), NONCE, 1 << 20, workspace=str(tmp_path))
    code, lines = run_sh(script, tmp_path)
    assert code == 3
    collector, logged = collect_lines(lines, patterns)
    assert "+ exit 3" in logged
    assert not any("platform-artifacts" in line for line in logged)
    out = tmp_path.parent / "out"
    kept = dict(collector.extract(out, lambda _line: None))
    assert sorted(kept) == [
        "dist/app-1.0-py3-none-any.whl",
        "reports/unit/deep/junit.xml",
        "top.xml",
    ]
    assert kept["dist/app-1.0-py3-none-any.whl"].read_text() == "wheel"
    assert kept["reports/unit/deep/junit.xml"].read_text() == "<xml/>"


def test_no_matching_file_is_an_empty_result(tmp_path: Path) -> None:
    script = step_script(step(("true",), ("*.none",)), NONCE, workspace=str(tmp_path))
    code, lines = run_sh(script, tmp_path)
    collector, logged = collect_lines(lines, ("*.none",))
    assert code == 0
    assert logged == ["+ true"]
    assert collector.extract(tmp_path / "out", lambda _line: None) == ()


def test_an_archive_over_the_cap_is_refused_in_the_pod(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(4096))
    script = step_script(step(("true",), ("big.bin",)), NONCE, 1000, workspace=str(tmp_path))
    _code, lines = run_sh(script, tmp_path)
    collector, _ = collect_lines(lines, ("big.bin",), max_bytes=1000)
    with pytest.raises(PayloadTooLarge, match="artifacts exceed"):
        collector.extract(tmp_path / "out", lambda _line: None)


# -- the decoder on its own: sections a step could garble ----------------------------------------
def section(payload: str, state: str = "ok") -> list[str]:
    return [
        f"::platform-artifacts {NONCE} begin::",
        *payload.splitlines(),
        f"::platform-artifacts {NONCE} end {state}::",
    ]


def tgz(members: dict[str, bytes], *, symlink: str | None = None) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return base64.encodebytes(buf.getvalue()).decode()


def test_unsafe_members_are_dropped(tmp_path: Path) -> None:
    payload = tgz(
        {"../evil.txt": b"x", "/abs.txt": b"y", "./ok/a.txt": b"fine"}, symlink="ok/link.txt"
    )
    collector, logged = collect_lines(section(payload), ("**",))
    assert logged == []
    kept = collector.extract(tmp_path / "out", lambda _line: None)
    assert [name for name, _ in kept] == ["ok/a.txt"]
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    ("lines", "error", "match"),
    [
        (section("!!!not base64!!!"), ValidationFailed, "not valid base64"),
        (section(base64.b64encode(b"not a tarball").decode()), ValidationFailed, "damaged"),
        (section("", state="error"), ValidationFailed, "needs sh, find, tar and base64"),
        (section("", state="too-large"), PayloadTooLarge, "exceed"),
        (section(tgz({"a": b"1"}))[:-1], ValidationFailed, "cut short"),
        ([], ValidationFailed, "missing"),
        (section("A" * 4000), PayloadTooLarge, "exceed"),
    ],
    ids=["base64", "not-tar", "no-tools", "too-large", "cut-short", "missing", "overflow"],
)
def test_damaged_sections_give_clear_errors(
    tmp_path: Path, lines: list[str], error: type[Exception], match: str
) -> None:
    collector, logged = collect_lines(lines, ("**",), max_bytes=1000)
    assert logged == []
    with pytest.raises(error, match=match):
        collector.extract(tmp_path / "out", lambda _line: None)


def test_unpacked_size_is_capped_too(tmp_path: Path) -> None:
    payload = tgz({"zeros.bin": bytes(50_000)})  # compresses to well under the cap
    collector, _ = collect_lines(section(payload), ("*.bin",), max_bytes=10_000)
    with pytest.raises(PayloadTooLarge, match="unpacked"):
        collector.extract(tmp_path / "out", lambda _line: None)


def test_lookalike_markers_with_another_nonce_are_ordinary_output() -> None:
    lines = ["::platform-artifacts deadbeef begin::", "hello"]
    _collector, logged = collect_lines(lines, ("**",))
    assert logged == lines


# -- checkout -------------------------------------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@x"}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)
    return out.stdout.decode().strip()


def checkout_script(workspace: Path) -> str:
    return CHECKOUT_SCRIPT.replace("/workspace", str(workspace))


def test_checkout_fetches_a_commit_that_no_branch_has(tmp_path: Path) -> None:
    bare, work = tmp_path / "app.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    work.mkdir()
    git(work, "init", "-q")
    (work / "a.txt").write_text("one\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "one")
    git(work, "push", "-q", str(bare), "HEAD:refs/heads/main")
    (work / "a.txt").write_text("two\n")
    git(work, "commit", "-q", "-am", "two")
    sha = git(work, "rev-parse", "HEAD")
    git(work, "push", "-q", str(bare), "HEAD:refs/pipelines/1")  # not a branch
    ws = tmp_path / "ws"
    ws.mkdir()
    env = {"PLATFORM_GIT_URL": f"file://{bare}", "PLATFORM_COMMIT_SHA": sha}
    code, lines = run_sh(checkout_script(ws), tmp_path, env)
    assert code == 0, lines
    assert (ws / "a.txt").read_text() == "two\n"
    assert lines[-1] == f"checked out {sha}"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield server
    server.shutdown()
    server.server_close()


def test_checkout_sends_the_token_as_a_bearer_header(
    tmp_path: Path, recorder: ThreadingHTTPServer
) -> None:
    """The pod's env after Kubernetes substituted $(GIT_TOKEN): git sends the header."""
    env = {
        "PLATFORM_GIT_URL": f"http://127.0.0.1:{recorder.server_port}/acme/app.git",
        "PLATFORM_COMMIT_SHA": "0" * 40,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": "Authorization: Bearer pt_token123",
    }
    ws = tmp_path / "ws"
    ws.mkdir()
    code, _lines = run_sh(checkout_script(ws), tmp_path, env)
    assert code != 0  # the recorder has no repository
    assert "Bearer pt_token123" in _Recorder.seen
