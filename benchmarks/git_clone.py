"""Clone and push throughput of git over the platform's smart HTTP versus plain ``git clone file://``.

Generates a repository (``--commits`` commits, each rewriting one of 50 files with
``--kib`` KiB of incompressible content: ~30 MB packed by default) with
``git fast-import``, starts ``GitHttp`` over ``create_app`` as a *separate* server process
(uvicorn, embedded SQLite data dir), pushes the repository through it once, then clones it
``--runs`` times through the platform and ``--runs`` times from the same bare repository over
``file://`` (both ``--bare``, so only the transport is measured). Prints medians, the
throughput ratio (plain time / platform time; the goal is >= 0.9) and the server's peak RSS
(``VmHWM`` of the server process — git's own processes are children and not included).

    python benchmarks/git_clone.py [--commits 3000] [--kib 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LANG": "C.UTF-8",
}

SERVER = """
import sys, uvicorn
from platform_sdk.config import load_settings
from platform_sdk.git.http import GitHttp
from platform_sdk.server.app import create_app
app = GitHttp(create_app(settings=load_settings(data_dir=sys.argv[1])))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=ENV, input=stdin, check=True, capture_output=True)


def generate(path: Path, commits: int, kib: int) -> None:
    """A non-bare repository built by fast-import: ``commits`` commits on main."""
    git("init", "-q", "--initial-branch=main", str(path))
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet"], cwd=path, env=ENV, stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    for i in range(commits):
        blob = os.urandom(kib * 1024 // 2).hex().encode()  # hex text: compresses ~2x, like code
        msg = f"commit {i}".encode()
        out = [
            b"commit refs/heads/main\n",
            f"committer Bench <b@example.test> {1_600_000_000 + i} +0000\n".encode(),
            f"data {len(msg)}\n".encode() + msg + b"\n",
        ]
        out.append(f"M 644 inline src/file{i % 50}.txt\ndata {len(blob)}\n".encode())
        out.append(blob + b"\n")
        proc.stdin.write(b"".join(out))
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("fast-import failed")
    git("repack", "-adq", cwd=path)


def setup_platform(data_dir: Path) -> str:
    """Initialise a data dir with user ``bench``, a token and an empty project ``bench/repo``."""
    from sqlalchemy import select

    from platform_sdk.config import load_settings
    from platform_sdk.git.repos import init_bare, repo_path
    from platform_sdk.identity.authn import TOKEN_PREFIX, hash_token, new_token
    from platform_sdk.identity.models import ApiToken, Role, User, UserRole
    from platform_sdk.projects.models import Project
    from platform_sdk.sdk import Platform

    plat = Platform(load_settings(data_dir=data_dir))
    plat.initialise()
    raw = new_token(TOKEN_PREFIX)
    with plat.session() as db:
        user = User(username="bench")
        db.add(user)
        db.flush()
        role = db.scalars(select(Role).where(Role.name == "developer")).one()
        db.add(UserRole(user_id=user.id, role_id=role.id))
        db.add(Project(owner_id=user.id, name="repo"))
        db.add(
            ApiToken(user_id=user.id, name="bench", prefix=raw[5:13], token_hash=hash_token(raw))
        )
    init_bare(repo_path(plat.settings, "bench", "repo"))
    plat.close()
    return raw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def timed(fn: Callable[..., object], *args: str, **kwargs: object) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--kib", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="git-bench-"))
    server = None
    try:
        t0 = time.perf_counter()
        src = tmp / "src"
        generate(src, opts.commits, opts.kib)
        size = sum(f.stat().st_size for f in (src / ".git" / "objects").rglob("*") if f.is_file())
        print(
            f"generated {opts.commits} commits, {size / 1e6:.1f} MB packed "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        data_dir = tmp / "data"
        token = setup_platform(data_dir)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(port)])
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.1)
        url = f"http://bench:{token}@127.0.0.1:{port}/bench/repo.git"
        push = timed(git, "push", "-q", url, "main", cwd=src)
        bare = data_dir / "repos" / "bench" / "repo.git"
        plain_push_target = tmp / "plain-push.git"
        git("init", "-q", "--bare", str(plain_push_target))
        plain_push = timed(git, "push", "-q", f"file://{plain_push_target}", "main", cwd=src)

        platform_times, plain_times = [], []
        for i in range(opts.runs):
            platform_times.append(timed(git, "clone", "-q", "--bare", url, str(tmp / f"h{i}")))
            plain_times.append(
                timed(git, "clone", "-q", "--bare", f"file://{bare}", str(tmp / f"f{i}"))
            )
            shutil.rmtree(tmp / f"h{i}")
            shutil.rmtree(tmp / f"f{i}")
        hwm = vm_hwm_kib(server.pid)
        clone_p, clone_f = statistics.median(platform_times), statistics.median(plain_times)
        rows = [
            ("push", push, plain_push),
            ("clone (median)", clone_p, clone_f),
        ]
        print(f"{'operation':<16}{'platform s':>12}{'file:// s':>12}{'ratio':>8}{'MB/s':>9}")
        for name, plat_s, file_s in rows:
            print(
                f"{name:<16}{plat_s:>12.2f}{file_s:>12.2f}{file_s / plat_s:>8.2f}"
                f"{size / 1e6 / plat_s:>9.1f}"
            )
        print(f"server peak RSS (VmHWM): {hwm / 1024:.1f} MiB")
        print(f"clone throughput ratio: {clone_f / clone_p:.2f} (goal >= 0.9)")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
