"""The local runtime with real processes: checkout, commands, environment, logs, stopping.

Steps run sandboxed (bubblewrap), as in production; the tests of the environment and of
stopping also run with ``PLATFORM_LOCAL_SANDBOX=none``, whose process handling differs. Steps
use small timeouts (1 s) and a short kill grace (0.5 s); waits for a condition have generous
deadlines instead of sleeps.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from platform_sdk.core.sandbox import HOME, SandboxMode
from platform_sdk.errors import BadRequest
from platform_sdk.pipelines.runtime.base import (
    MASK,
    Outcome,
    RunSpec,
    StepResult,
    StepRuntime,
)
from platform_sdk.pipelines.runtime.local import LocalRuntime
from platform_sdk.pipelines.runtime.local_procs import DRAIN_SECONDS
from tests.pipelines.runtime.local_fixtures import (
    DEADLINE,
    TIMEOUTS,
    Log,
    Repo,
    assert_none_running,
    execute,
    git,
    in_thread,
    lines_written,
    make_repo,
    make_runtime,
    marker,
    run_of,
    running,
    step,
    wait_running,
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return make_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture
def runtime(tmp_path: Path) -> LocalRuntime:
    return make_runtime(tmp_path)


@pytest.fixture(params=["bubblewrap", "none"])
def any_runtime(tmp_path: Path, request: pytest.FixtureRequest) -> LocalRuntime:
    """The runtime with and without the sandbox."""
    mode: SandboxMode = request.param
    return make_runtime(tmp_path, mode)


@pytest.fixture
def run(repo: Repo) -> RunSpec:
    return run_of(repo)


# -- prepare / cleanup ---------------------------------------------------------------------------


def test_it_is_the_local_step_runtime(runtime: LocalRuntime) -> None:
    as_protocol: StepRuntime = runtime  # mypy checks the Protocol here
    assert as_protocol.name == "local"


def test_prepare_checks_out_the_older_commit(
    runtime: LocalRuntime, run: RunSpec, repo: Repo
) -> None:
    runtime.prepare(run)
    ws = runtime.dirs(run).workspace
    assert ws == runtime.root / str(run.run_id) / "workspace"
    assert (ws / "README.md").read_text() == "one\n"
    assert (ws / "src" / "app.py").read_text() == "print('hi')\n"
    assert not (ws / "new.txt").exists()
    assert git(ws, "rev-parse", "HEAD") == repo.old


def test_prepare_is_idempotent_across_threads(runtime: LocalRuntime, run: RunSpec) -> None:
    errors: list[BaseException] = []

    def prepare() -> None:
        try:
            runtime.prepare(run)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert not errors
    built = runtime.dirs(run).workspace / "built.txt"
    built.write_text("from step one")
    runtime.prepare(run)  # a no-op: what an earlier step made survives
    assert built.read_text() == "from step one"


@pytest.mark.parametrize(
    ("sha", "message"),
    [
        ("0" * 40, "not our ref"),
        ("main", "not a full lowercase hex commit id"),
        ("", "not a full lowercase hex commit id"),
    ],
)
def test_a_bad_sha_gives_a_clear_error(
    runtime: LocalRuntime, run: RunSpec, sha: str, message: str
) -> None:
    bad = RunSpec(run.run_id, 1, run.project, run.repo_path, sha, run.ref)
    with pytest.raises(BadRequest, match=message) as info:
        runtime.prepare(bad)
    assert "cannot check out" in info.value.message
    assert not runtime.dirs(bad).run.exists()
    log = Log()
    result = execute(runtime, bad, step("echo never"), log)
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert message in result.error
    assert "never" not in log.text


def test_a_missing_repository_gives_a_clear_error(
    runtime: LocalRuntime, run: RunSpec, tmp_path: Path
) -> None:
    gone = RunSpec(run.run_id, 1, run.project, tmp_path / "nope.git", run.commit_sha, run.ref)
    with pytest.raises(BadRequest, match="no git repository at"):
        runtime.prepare(gone)


def test_cleanup_removes_everything_even_read_only_files(
    runtime: LocalRuntime, run: RunSpec
) -> None:
    result = execute(
        runtime, run, step("mkdir -p locked/deep && echo x > locked/deep/f", "chmod -R a-w locked")
    )
    assert result.outcome is Outcome.SUCCESS
    run_dir = runtime.dirs(run).run
    assert not (run_dir / "workspace" / "locked" / "deep").stat().st_mode & stat.S_IWUSR
    runtime.cleanup(run)
    assert not run_dir.exists()
    runtime.cleanup(run)  # idempotent
    assert list(runtime.root.iterdir()) == []


def test_keep_workspaces_keeps_them(tmp_path: Path, run: RunSpec) -> None:
    rt = LocalRuntime(tmp_path / "runs", keep_workspaces=True)
    rt.prepare(run)
    rt.cleanup(run)
    assert (rt.dirs(run).workspace / "README.md").is_file()


# -- commands, environment, logs --------------------------------------------------------------


def test_commands_run_in_order_in_the_workspace_with_a_clean_env(
    any_runtime: LocalRuntime, run: RunSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = any_runtime
    monkeypatch.setenv("PLATFORM_MASTER_KEY", "worker-only-value")
    log = Log()
    spec = step(
        "echo first",
        'echo "readme=$(cat README.md) greeting=$GREETING ci=$CI_COMMIT_SHA"',
        'cd src && echo "in $(basename "$PWD")"',
        'echo "still in $(basename "$PWD")"',
        'echo "home=$HOME tmp=$TMPDIR lang=$LANG key=${PLATFORM_MASTER_KEY:-unset}"',
        env={"GREETING": "hello world", "CI_COMMIT_SHA": run.commit_sha},
    )
    result = execute(runtime, run, spec, log)
    assert result == StepResult(Outcome.SUCCESS, exit_code=0)
    dirs = runtime.dirs(run)
    home, tmp = (HOME, "/tmp") if runtime.sandbox.isolated else (dirs.home, dirs.tmp)
    assert log.lines == [
        "+ echo first",
        "first",
        "+ " + spec.commands[1],
        f"readme=one greeting=hello world ci={run.commit_sha}",
        "+ " + spec.commands[2],
        "in src",
        "+ " + spec.commands[3],
        "still in src",
        "+ " + spec.commands[4],
        f"home={home} tmp={tmp} lang=C.UTF-8 key=unset",
    ]


def test_a_failing_command_stops_the_step_with_its_exit_code(
    runtime: LocalRuntime, run: RunSpec
) -> None:
    log = Log()
    result = execute(runtime, run, step("echo before >&2", "exit 3", "echo never"), log)
    assert result.outcome is Outcome.FAILURE
    assert result.exit_code == 3
    assert log.lines == ["+ echo before >&2", "before", "+ exit 3"]


def test_a_failure_inside_a_pipeline_fails_the_step(runtime: LocalRuntime, run: RunSpec) -> None:
    result = execute(runtime, run, step("false | cat", "echo never"))
    assert (result.outcome, result.exit_code) == (Outcome.FAILURE, 1)


def test_secrets_reach_the_process_but_never_the_log(runtime: LocalRuntime, run: RunSpec) -> None:
    log = Log()
    spec = step(
        'test "$TOKEN" = s3cr3t-token',
        'echo "before ${TOKEN} after"',
        'echo "x${LONG}y"',
        "printf 'no newline at the end %s' \"$TOKEN\"",
        secrets={"TOKEN": "s3cr3t-token", "LONG": "pre-s3cr3t-token-post"},
    )
    result = execute(runtime, run, spec, log)
    assert result.outcome is Outcome.SUCCESS
    assert "s3cr3t" not in log.text
    assert f"before {MASK} after" in log.lines
    assert f"x{MASK}y" in log.lines  # the longer secret masked whole, not as pre-***-post
    assert log.lines[-1] == f"no newline at the end {MASK}"


def test_long_lines_are_cut_without_losing_output(runtime: LocalRuntime, run: RunSpec) -> None:
    log = Log()
    spec = step("head -c 200000 /dev/zero | tr '\\0' x; echo; echo end")
    result = execute(runtime, run, spec, log)
    assert result.outcome is Outcome.SUCCESS
    pieces = log.lines[1:-1]
    assert all(0 < len(p) <= 64 * 1024 for p in pieces)
    assert "".join(pieces) == "x" * 200000
    assert log.lines[-1] == "end"


def test_log_lines_arrive_while_the_step_runs(runtime: LocalRuntime, run: RunSpec) -> None:
    runtime.prepare(run)
    gate = runtime.dirs(run).workspace / "gate"
    log = Log()
    spec = step(
        "echo ready",
        "while [ ! -e gate ]; do sleep 0.05; done",
        "echo released",
        timeout_seconds=120,
    )
    thread, out = in_thread(lambda: execute(runtime, run, spec, log))
    log.wait_for("ready")
    assert thread.is_alive()
    assert "released" not in log.lines
    gate.touch()
    thread.join(DEADLINE)
    assert out[0].outcome is Outcome.SUCCESS
    assert log.lines[-1] == "released"


def test_a_step_that_cannot_start_is_an_error(runtime: LocalRuntime, run: RunSpec) -> None:
    result = execute(runtime, run, step("true", env={"BAD": "a\0b"}))
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert "'BAD'" in result.error


# -- stopping ------------------------------------------------------------------------------------


def test_a_timeout_kills_the_whole_process_group(any_runtime: LocalRuntime, run: RunSpec) -> None:
    marks = bg, stubborn, fg = marker(), marker(), marker()
    ws = any_runtime.dirs(run).workspace
    flags = (ws / "bg.up", ws / "stubborn.up", ws / "fg.up")
    # Each process says it started before the timeout stops it; on a loaded machine a short
    # timeout can win that race, so it doubles until they got that far.
    for timeout in TIMEOUTS:
        log = Log()
        spec = step(
            f"sleep {bg} & echo up > bg.up",
            f"bash -c 'trap \"\" TERM; echo up > stubborn.up; while :; do sleep 0.1; done'"
            f" {stubborn} &",
            f"bash -c 'echo up > fg.up; exec sleep {fg}'",
            timeout_seconds=timeout,
        )
        result = execute(any_runtime, run, spec, log)
        assert result.outcome is Outcome.TIMEOUT
        assert result.exit_code is None
        assert result.error == f"timed out after {timeout} s"
        assert any(f"timed out after {timeout} s" in line for line in log.lines)
        assert_none_running(*marks)
        if lines_written(*flags):
            break
        for f in flags:
            f.unlink(missing_ok=True)
    else:
        pytest.fail(f"the step's processes never started within {TIMEOUTS[-1]} s")


def test_cancel_from_another_thread_stops_the_step(any_runtime: LocalRuntime, run: RunSpec) -> None:
    bg = marker()
    log = Log()
    spec = step(f"sleep {bg} &", "echo started", "sleep 1000")
    thread, out = in_thread(lambda: execute(any_runtime, run, spec, log))
    log.wait_for("started")
    wait_running(bg)
    log.io.cancelled.set()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert out[0].outcome is Outcome.CANCELLED
    assert_none_running(bg)


def test_a_cancelled_step_does_not_start(runtime: LocalRuntime, run: RunSpec) -> None:
    log = Log()
    log.io.cancelled.set()
    result = execute(runtime, run, step("touch ran"), log)
    assert result.outcome is Outcome.CANCELLED
    assert not (runtime.dirs(run).workspace / "ran").exists()


def test_background_children_holding_stdout_do_not_hang_the_step(
    tmp_path: Path, run: RunSpec
) -> None:
    """Without a sandbox a ``setsid`` daemon escapes the group: the runtime cannot kill it, only
    stop reading its output."""
    runtime = make_runtime(tmp_path, "none")
    bg, escaped = marker(), marker()
    log = Log()
    spec = step(
        f"sleep {bg} &",
        f"setsid sh -c 'exec sleep {escaped}' &",
        f"while ! pgrep -f {escaped} >/dev/null; do sleep 0.05; done",
        "echo main done",
    )
    thread, out = in_thread(lambda: execute(runtime, run, spec, log))
    thread.join(DEADLINE + DRAIN_SECONDS)
    for pid in wait_running(escaped):
        os.kill(pid, 9)
    assert not thread.is_alive(), "run_step hung on the inherited stdout"
    assert out[0].outcome is Outcome.SUCCESS
    assert log.lines[-1] == "main done"
    assert_none_running(bg, escaped)


def test_in_the_sandbox_nothing_outlives_the_step(runtime: LocalRuntime, run: RunSpec) -> None:
    """A ``setsid`` daemon and a double fork stay in the step's PID namespace, which ends with
    the step: no process of it is left on the host, and the step does not wait for them."""
    bg, escaped, daemon = marker(), marker(), marker()
    log = Log()
    spec = step(
        f"sleep {bg} &",
        f"setsid sh -c 'exec sleep {escaped}' &",
        f"( ( exec sleep {daemon} ) & ) ",
        f"until pgrep -f {daemon} && pgrep -f {escaped}; do sleep 0.05; done >/dev/null",
        "echo main done",
    )
    result = execute(runtime, run, spec, log)
    assert result.outcome is Outcome.SUCCESS
    assert log.lines[-1] == "main done"
    assert running(bg) == running(escaped) == running(daemon) == []
