"""The local runtime's sandbox, tried for real: a step on a platform's data dir (SQLite database,
master key file, two projects' repositories, a telemetry spool) tries to read what is not its
own, to see the server's processes, to reach a loopback listener, to exceed its limits; and
what happens without bubblewrap, or with ``PLATFORM_LOCAL_SANDBOX=none``.

The runtime is made as the server makes it (:func:`platform_sdk.pipelines.worker.make_runtime`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import pytest

from platform_sdk.config import load_settings
from platform_sdk.core.access import Actor
from platform_sdk.core.rlimits import Limits
from platform_sdk.core.sandbox import HOME, INSTALL_HINT, UID, WORKSPACE, Layout, Sandbox
from platform_sdk.errors import ConfigError
from platform_sdk.git.repos import repo_path
from platform_sdk.pipelines.runtime.base import Outcome, RunSpec, StepResult
from platform_sdk.pipelines.runtime.local import LocalRuntime
from platform_sdk.pipelines.schemas import TriggerIn
from platform_sdk.pipelines.services import runs, steps
from platform_sdk.pipelines.worker import PipelineWorker, make_runtime
from platform_sdk.sdk import Platform
from platform_sdk.secrets.keyring import KEY_FILE
from tests.pipelines.helpers import make_project, wait_for
from tests.pipelines.runtime.local_fixtures import DEADLINE, Log, step
from tests.plugins.platforms import People

PIPELINE = "pipeline:\n  steps:\n    - name: s\n      commands: ['true']\n"


@dataclass(frozen=True)
class Site:
    platform: Platform
    alice: Actor
    run: RunSpec
    """A run of alice/app: the step's own project."""
    paths: dict[str, Path]
    """What no step may read: the other project's repository, the key file, the database…"""


def _open(data: Path, **settings: str) -> Platform:
    return Platform(load_settings(data_dir=data, **settings))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("site") / "data"
    platform = _open(data)
    platform.initialise()
    people = People(platform)
    alice = people.user("alice", roles=("developer",))
    bob = people.user("bob", roles=("developer",))
    mine = make_project(people, alice, "app", {".platform.yaml": PIPELINE, "README.md": "mine"})
    make_project(people, bob, "private", {"SECRET.txt": "bob's secret"})
    platform.secrets.set("GLOBAL_TOKEN", "not-for-steps")
    spool = data / "spool"
    spool.mkdir(exist_ok=True)
    (spool / "batch.jsonl").write_text("telemetry of every project\n")
    paths = {
        "another project's repository": repo_path(platform.settings, "bob", "private"),
        "the master key file": data / KEY_FILE,
        "the database": data / "platform.db",
        "the spool": spool,
        "the data dir": data,
    }
    for name, path in paths.items():
        assert path.exists(), f"{name} ({path}) was not made"
    sha = _head(mine)
    run = RunSpec(uuid.uuid4(), 1, "alice/app", mine, sha, "refs/heads/main")
    yield Site(platform, alice, run, paths)
    platform.close()


def _head(bare: Path) -> str:
    return (bare / "refs" / "heads" / "main").read_text().strip()


def _runtime(platform: Platform) -> LocalRuntime:
    runtime = make_runtime(platform, f"w-{uuid.uuid4().hex[:6]}")
    assert isinstance(runtime, LocalRuntime)
    runtime.kill_grace = 0.5
    return runtime


def _step(
    runtime: LocalRuntime, run: RunSpec, *commands: str, **kw: object
) -> tuple[StepResult, Log]:
    log = Log()
    fresh = RunSpec(uuid.uuid4(), run.number, run.project, run.repo_path, run.commit_sha, run.ref)
    try:
        result = runtime.run_step(fresh, step(*commands, **kw), log.io)  # type: ignore[arg-type]
    finally:
        runtime.cleanup(fresh)
    return result, log


# -- what a step sees ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "what",
    [
        "another project's repository",
        "the master key file",
        "the database",
        "the spool",
        "the data dir",
    ],
)
def test_a_step_cannot_read_the_platforms_files(site: Site, what: str) -> None:
    path = site.paths[what]
    result, log = _step(
        _runtime(site.platform),
        site.run,
        f"ls -la {path} || echo 'cannot list'",
        f"cat {path} {path}/* {path}/*/* 2>&1 | head -c 200 || true",
        f"test -e {path} && echo VISIBLE || echo HIDDEN",
        "cat README.md",
    )
    assert result.outcome is Outcome.SUCCESS, log.text
    assert "HIDDEN" in log.lines
    assert "cannot list" in log.lines
    assert "bob's secret" not in log.text
    assert "telemetry of every project" not in log.text
    assert log.lines[-1] == "mine"  # its own checkout is there


def test_a_step_sees_only_its_own_processes_as_an_unprivileged_user(site: Site) -> None:
    result, log = _step(
        _runtime(site.platform),
        site.run,
        "id -u; id -un",
        "ps -e -o pid=,comm= > /tmp/ps.txt; sort -n /tmp/ps.txt",  # no pipe: no forked bash
        f"kill -0 {os.getpid()} 2>/dev/null && echo 'server reachable' || echo 'no server'",
        "touch /usr/x 2>/dev/null || echo 'system read-only'",
        "touch /x 2>/dev/null || echo 'root read-only'",
        "pwd; echo $HOME; touch built && echo 'workspace writable'",
    )
    assert result.outcome is Outcome.SUCCESS, log.text
    out = [line for line in log.lines if not line.startswith("+ ")]
    assert out[:2] == [str(UID), "sandbox"]
    procs = [line.split() for line in out[2:] if line.split()[0].isdigit()]
    assert [name for _, name in procs] == ["bwrap", "bash", "ps"]
    assert all(int(pid) < 10 for pid, _ in procs)  # a PID namespace of its own
    assert "no server" in out
    assert "system read-only" in out
    assert "root read-only" in out
    assert out[-3:] == [WORKSPACE, HOME, "workspace writable"]


def test_the_environment_is_the_whitelist_only(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_MASTER_KEY", "worker-only-master-key")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:worker-only-pw@db/platform")
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(site.paths["the data dir"]))
    monkeypatch.setenv("MINIO_SECRET_KEY", "worker-only-s3")
    result, log = _step(
        _runtime(site.platform),
        site.run,
        "env -0 | tr '\\0' '\\n' | cut -d= -f1 | sort",
        env={"PLATFORM_PROJECT": "alice/app", "GREETING": "hi"},
        secrets={"TOKEN": "the-step-secret"},
    )
    assert result.outcome is Outcome.SUCCESS, log.text
    names = [line for line in log.lines if not line.startswith("+ ")]
    whitelist = {"PATH", "HOME", "TMPDIR", "LANG", "PLATFORM_PROJECT", "GREETING", "TOKEN"}
    assert set(names) - {"PWD", "SHLVL", "_"} == whitelist  # bash adds those three


# -- network -------------------------------------------------------------------------------------


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


CONNECT = "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"


def test_network_is_on_by_default_and_off_for_network_none(site: Site, listener: Listener) -> None:
    runtime = _runtime(site.platform)
    result, log = _step(runtime, site.run, CONNECT.format(port=listener.port))
    assert result.outcome is Outcome.SUCCESS, log.text
    assert log.lines[-1] == "connected"
    assert listener.accepted == 1

    result, log = _step(runtime, site.run, CONNECT.format(port=listener.port), network=False)
    assert result.outcome is Outcome.FAILURE
    assert "Connection refused" in log.text
    assert "connected" not in log.lines
    assert listener.accepted == 1


def test_network_none_in_the_definition_reaches_the_step(site: Site, listener: Listener) -> None:
    """``network: none`` in ``.platform.yaml`` goes through planning and the worker."""
    people = People(site.platform)
    dev = people.user(f"dev{uuid.uuid4().hex[:6]}", roles=("developer",))
    connect = CONNECT.format(port=listener.port)
    definition = (
        "pipeline:\n  steps:\n"
        f"    - name: online\n      commands: ['{connect}']\n"
        f"    - name: offline\n      network: none\n      commands: ['{connect}']\n"
    )
    make_project(people, dev, "net", {".platform.yaml": definition})
    project = f"{dev.username}/net"
    with site.platform.session() as db:
        number = runs.trigger_run(db, actor=dev, project=project, body=TriggerIn()).number
        run_id = runs.get_run(db, actor=dev, project=project, number=number).id
    worker = PipelineWorker(site.platform, worker_id=f"w-{uuid.uuid4().hex[:6]}", max_parallel=1)
    try:
        worker.drive(run_id, timeout=60)
    finally:
        worker.shutdown()
    run = wait_for(site.platform, dev, project, number)
    status = {s.name: s.status for s in run.steps}
    assert status == {"online": "success", "offline": "failure"}
    with site.platform.session() as db:
        offline = steps.step_log(db, actor=dev, project=project, number=number, step="offline")
    assert "Connection refused" in offline.text
    assert listener.accepted == 1


# -- limits --------------------------------------------------------------------------------------


def test_rlimits_apply_to_the_step_and_cannot_be_raised(tmp_path: Path, site: Site) -> None:
    limits = "cpu=1h,as=4G,nofile=64,nproc=500,fsize=1M"
    with _open(tmp_path / "data", local_limits=limits) as platform:
        result, log = _step(
            _runtime(platform),
            site.run,
            "ulimit -t; ulimit -v; ulimit -n; ulimit -u; ulimit -f; ulimit -c",
            "ulimit -n 128 2>/dev/null || echo 'cannot raise'",
            'head -c 2000000 /dev/zero > big || echo "write stopped: $?"',
            "stat -c %s big",
        )
    assert result.outcome is Outcome.SUCCESS, log.text
    out = [line for line in log.lines if not line.startswith("+ ")]
    assert out[:6] == ["3600", str(4 << 20), "64", "500", "1024", "0"]
    assert "cannot raise" in out
    assert any(line.startswith("write stopped: ") for line in out)  # SIGXFSZ
    assert out[-1] == str(1 << 20)


def test_bad_limits_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"PLATFORM_LOCAL_LIMITS.*nofile='many'"):
        load_settings(local_limits="nofile=many")
    with pytest.raises(ConfigError, match=r"PLATFORM_LOCAL_LIMITS.*'stack=1'.*cpu, as"):
        load_settings(local_limits="stack=1")
    assert load_settings(local_limits="as=unlimited").limits.address_space is None


# -- without bubblewrap --------------------------------------------------------------------------


def test_without_bubblewrap_steps_are_refused_naming_the_package(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    runtime = _runtime(site.platform)
    result, log = _step(runtime, site.run, "touch ran")
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert INSTALL_HINT in result.error
    assert "PLATFORM_LOCAL_SANDBOX=none" in result.error
    assert any(INSTALL_HINT in line for line in log.lines)
    assert list(runtime.root.glob("*/workspace")) == []  # refused before any checkout
    ready = site.platform.readiness()
    assert ready.failing == ["sandbox"]
    assert INSTALL_HINT in ready.to_dict()["components"]["sandbox"]["detail"]  # type: ignore[index]


def test_sandbox_none_runs_steps_unsandboxed(tmp_path: Path, site: Site) -> None:
    with _open(site.paths["the data dir"], local_sandbox="none") as platform:
        runtime = _runtime(platform)
        key = site.paths["the master key file"]
        result, log = _step(runtime, site.run, "id -u", f"test -r {key} && echo 'key readable'")
        ready = platform.readiness()
    assert result.outcome is Outcome.SUCCESS, log.text
    assert log.lines[1] == str(os.getuid())
    assert log.lines[-1] == "key readable"  # what the setting trades away
    sandbox = ready.to_dict()["components"]["sandbox"]  # type: ignore[index]
    assert sandbox["ok"] is True
    assert sandbox["detail"] == "none (PLATFORM_LOCAL_SANDBOX=none)"


def test_readiness_names_the_bubblewrap_version(site: Site) -> None:
    ready = site.platform.readiness()
    assert ready.ok
    sandbox = ready.to_dict()["components"]["sandbox"]  # type: ignore[index]
    assert sandbox["backend"] == "bubblewrap"
    assert sandbox["detail"].startswith("bubblewrap 0.")
    assert site.platform.describe()["sandbox"] == "bubblewrap"


def test_hidden_paths_under_a_shown_system_dir_stay_hidden(tmp_path: Path, site: Site) -> None:
    """A data dir installed under /etc or /usr: ``hide`` covers it inside the sandbox."""
    runtime = LocalRuntime(
        tmp_path / "runs",
        sandbox=Sandbox("bubblewrap", hide=[Path("/etc/hosts"), Path("/usr/share")]),
    )
    result, log = _step(
        runtime, site.run, "wc -c < /etc/hosts", "ls /usr/share | wc -l", "ls /usr/bin | wc -l"
    )
    assert result.outcome is Outcome.SUCCESS, log.text
    out = [line for line in log.lines if not line.startswith("+ ")]
    assert out[:2] == ["0", "0"]
    assert int(out[2]) > 10


def test_limits_hold_without_prlimit_too(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where util-linux ``prlimit`` is missing the limits are set in the child before exec."""
    import platform_sdk.core.sandbox as sandbox_module

    real = sandbox_module.shutil.which
    monkeypatch.setattr(
        sandbox_module.shutil,
        "which",
        lambda name, **kw: None if name == "prlimit" else real(name, **kw),
    )
    runtime = LocalRuntime(tmp_path / "runs", sandbox=Sandbox(limits=Limits(open_files=77)))
    launch = runtime.sandbox.launch(["true"], Layout(tmp_path), {})
    launch.close()
    assert launch.preexec_fn is not None
    assert "prlimit" not in " ".join(launch.argv)
    result, log = _step(runtime, site.run, "ulimit -n")
    assert result.outcome is Outcome.SUCCESS, log.text
    assert log.lines[-1] == "77"


def test_limits_above_the_workers_own_are_capped_not_fatal(tmp_path: Path) -> None:
    """A worker whose own hard limit is lower than the configured one still starts steps (at
    its limit): prlimit would refuse to raise it. Tried in a child process, whose lowered hard
    limit cannot leak into the tests that follow."""
    code = dedent(
        """
        import resource, subprocess, sys
        from pathlib import Path
        from platform_sdk.core.rlimits import Limits
        from platform_sdk.core.sandbox import Layout, Sandbox
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
        launch = Sandbox(limits=Limits(open_files=100_000)).launch(
            ["bash", "-c", "ulimit -n"], Layout(Path(sys.argv[1])), {"PATH": "/usr/bin:/bin"}
        )
        out = subprocess.run(launch.argv, env=launch.env, pass_fds=launch.pass_fds,
                             capture_output=True, text=True)
        print(out.returncode, out.stdout.strip(), out.stderr.strip())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        check=False,
    )
    assert proc.stdout.split() == ["0", "512"], proc.stdout + proc.stderr
