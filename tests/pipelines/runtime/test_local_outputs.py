"""The local runtime's output handling: long lines and secrets, artifacts, image builds."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from platform_sdk.pipelines.runtime.base import MASK, Outcome, RunSpec, StepKind, StepResult
from platform_sdk.pipelines.runtime.local import NO_ENGINE, SANDBOXED_BUILD, LocalRuntime
from platform_sdk.pipelines.runtime.local_artifacts import collect
from platform_sdk.pipelines.runtime.local_output import LineSplitter
from tests.pipelines.runtime.local_fixtures import (
    Log,
    Repo,
    execute,
    make_repo,
    make_runtime,
    run_of,
    step,
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return make_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture
def runtime(tmp_path: Path) -> LocalRuntime:
    return make_runtime(tmp_path)


@pytest.fixture
def run(repo: Repo) -> RunSpec:
    return run_of(repo)


# -- long lines ------------------------------------------------------------------------------


def test_a_secret_straddling_a_cut_is_masked_whole() -> None:
    splitter = LineSplitter({"S": "SECRET"}, limit=10)
    lines = splitter.feed(b"abcdefgh") + splitter.feed(b"SECRETxyz\nshort\n") + splitter.flush()
    assert lines == ["abcdefgh", f"{MASK}xyz", "short"]
    splitter = LineSplitter({}, limit=4)
    assert splitter.feed("aé€b\n".encode()) == ["aé", "€b"]  # never mid-character


# -- artifacts -----------------------------------------------------------------------------------


def test_artifacts_are_collected_with_globs_inside_the_workspace_only(
    runtime: LocalRuntime, run: RunSpec, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.xml"
    outside.write_text("secret")
    log = Log()
    spec = step(
        "mkdir -p out/a/b && echo 1 > out/a/b/r.xml && echo 2 > top.xml && echo 3 > out/x.txt",
        f"ln -s {outside} out/evil.xml && ln -s ../top.xml out/inner.xml",
        "ln -s .. out/loop && mkdir out/dir.xml",
        "exit 1",  # artifacts are kept for failed steps too
        artifacts=("**/*.xml", "out/*.txt", "./top.xml", "nothing/**"),
    )
    result = execute(runtime, run, spec, log)
    assert result.outcome is Outcome.FAILURE
    names = [name for name, _ in result.artifacts]
    assert names == ["out/a/b/r.xml", "out/inner.xml", "out/x.txt", "top.xml"]
    files = dict(result.artifacts)
    assert files["out/a/b/r.xml"].read_text() == "1\n"
    assert files["out/inner.xml"].read_text() == "2\n"
    assert any("'out/evil.xml' skipped" in line for line in log.lines)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("../x", "escapes the workspace"), ("a/../../b", "escapes"), ("/etc/passwd", "absolute")],
)
def test_escaping_artifact_patterns_are_refused(
    runtime: LocalRuntime, run: RunSpec, pattern: str, message: str
) -> None:
    log = Log()
    result = execute(runtime, run, step("touch ran", artifacts=(pattern,)), log)
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert message in result.error
    assert pattern in result.error
    assert not (runtime.dirs(run).workspace / "ran").exists()


def test_artifacts_are_capped(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.log").write_text(str(i))
    notes: list[str] = []
    found = collect(tmp_path, ["*.log"], notes.append, limit=3)
    assert len(found) == 3
    assert notes == ["artifacts capped at 3 files: the rest of the matches are not kept"]


# -- image builds --------------------------------------------------------------------------------
# A container engine runs outside the sandbox only (its socket would hand the step the host):
# the engine tests run with PLATFORM_LOCAL_SANDBOX=none.

BUILD_ENV = {
    "PLATFORM_BUILD_CONTEXT": "src",
    "PLATFORM_BUILD_DESTINATION": "registry.local/app:1, registry.local/app:latest",
}


def test_image_build_in_the_sandbox_fails_clearly(runtime: LocalRuntime, run: RunSpec) -> None:
    log = Log()
    result = execute(runtime, run, step(kind=StepKind.IMAGE_BUILD, env=BUILD_ENV), log)
    assert result == StepResult(Outcome.FAILURE, error=SANDBOXED_BUILD)
    assert f"[runtime] {SANDBOXED_BUILD}" in log.lines
    assert "kubernetes runtime" in SANDBOXED_BUILD


def test_image_build_without_an_engine_fails_clearly(run: RunSpec, tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, "none")
    log = Log()
    env = {**BUILD_ENV, "PATH": str(tmp_path)}
    result = execute(runtime, run, step(kind=StepKind.IMAGE_BUILD, env=env), log)
    assert result == StepResult(Outcome.FAILURE, error=NO_ENGINE)
    assert any(NO_ENGINE in line for line in log.lines)


def test_image_build_uses_a_local_engine(run: RunSpec, tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, "none")
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "engine: $*"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    log = Log()
    env = {**BUILD_ENV, "PATH": f"{fake.parent}:/usr/bin:/bin"}
    result = execute(runtime, run, step(kind=StepKind.IMAGE_BUILD, env=env), log)
    assert result.outcome is Outcome.SUCCESS
    assert [line for line in log.lines if line.startswith("engine:")] == [
        "engine: build -f src/Dockerfile -t registry.local/app:1 -t registry.local/app:latest src",
        "engine: push registry.local/app:1",
        "engine: push registry.local/app:latest",
    ]


def test_image_build_without_a_destination_is_an_error(runtime: LocalRuntime, run: RunSpec) -> None:
    result = execute(runtime, run, step(kind=StepKind.IMAGE_BUILD))
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert "PLATFORM_BUILD_DESTINATION" in result.error
