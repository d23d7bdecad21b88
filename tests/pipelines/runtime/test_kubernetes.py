"""The Kubernetes runtime's control logic against a fake cluster (no API server can run here).

The fake records every call and plays back a scripted sequence of pod statuses and log lines;
the clock is fake too, so timeouts and image-pull grace periods are tested without waiting.
Every object the runtime hands the fake is validated against the Kubernetes 1.30 schemas.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from platform_sdk.config import load_settings
from platform_sdk.errors import ConfigError, DependencyUnavailable
from platform_sdk.pipelines.runtime.base import (
    MASK,
    Outcome,
    RunSpec,
    StepIO,
    StepKind,
    StepRuntime,
    StepSpec,
)
from platform_sdk.pipelines.runtime.k8s_client import ApiClientKube, KubeApiError
from platform_sdk.pipelines.runtime.k8s_objects import PodOptions
from platform_sdk.pipelines.runtime.k8s_watch import Timing
from platform_sdk.pipelines.runtime.kubernetes import NETWORK_NOT_ENFORCED, KubernetesRuntime

SECRET = "hunter2-but-longer"


# -- a fake cluster -----------------------------------------------------------------------------
def status(phase: str, **state: Any) -> dict[str, Any]:
    """A pod status: ``main=`` / ``init=`` give container states, the rest pod-level fields."""
    out: dict[str, Any] = {"phase": phase}
    if "main" in state:
        out["containerStatuses"] = [{"name": "step", "state": state.pop("main")}]
    if "init" in state:
        out["initContainerStatuses"] = [{"name": "checkout", "state": state.pop("init")}]
    return out | state


RUNNING = status("Running", main={"running": {}})
SUCCEEDED = status("Succeeded", main={"terminated": {"exitCode": 0, "reason": "Completed"}})


def failed(code: int, reason: str = "Error") -> dict[str, Any]:
    return status("Failed", main={"terminated": {"exitCode": code, "reason": reason}})


class FakeKube:
    """Records calls; ``read_pod`` plays ``statuses`` (the last one repeats)."""

    def __init__(self, statuses: list[dict[str, Any]], logs: list[str] | None = None) -> None:
        self.statuses = list(statuses)
        self.logs = list(logs or [])
        self.calls: list[tuple[str, ...]] = []
        self.created: list[dict[str, Any]] = []
        self.existing: set[tuple[str, str, str]] = set()
        self.fail: dict[str, KubeApiError] = {}

    def _record(self, verb: str, kind: str, ns: str, name: str) -> None:
        self.calls.append((verb, kind, ns, name))
        if verb in self.fail:
            raise self.fail.pop(verb)

    def _create(self, kind: str, ns: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        self._record(f"create_{kind}", kind, ns, name)
        kubernetes_validate.validate(body, "1.30.0", strict=True)
        if (kind, ns, name) in self.existing:
            raise KubeApiError(409, f"{kind} {name} already exists")
        self.existing.add((kind, ns, name))
        self.created.append(body)

    def create_namespace(self, body: dict[str, Any]) -> None:
        self._create("namespace", "", body)

    def delete_namespace(self, name: str) -> None:
        self._record("delete_namespace", "namespace", "", name)
        if ("namespace", "", name) not in self.existing:
            raise KubeApiError(404, "not found")
        self.existing = {e for e in self.existing if e[1] != name and e[2] != name}

    def create_secret(self, namespace: str, body: dict[str, Any]) -> None:
        self._create("secret", namespace, body)

    def delete_secret(self, namespace: str, name: str) -> None:
        self._record("delete_secret", "secret", namespace, name)
        self.existing.discard(("secret", namespace, name))

    def create_network_policy(self, namespace: str, body: dict[str, Any]) -> None:
        self._create("network_policy", namespace, body)

    def create_pod(self, namespace: str, body: dict[str, Any]) -> None:
        self._create("pod", namespace, body)

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        self._record("read_pod", "pod", namespace, name)
        current = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"metadata": {"name": name}, "status": current}

    def stream_logs(
        self, namespace: str, pod: str, *, container: str, follow: bool = True
    ) -> Iterator[str]:
        self._record("stream_logs", container, namespace, pod)
        yield from self.logs

    def delete_pod(self, namespace: str, name: str, *, grace_seconds: int) -> None:
        self._record("delete_pod", str(grace_seconds), namespace, name)

    def verbs(self) -> list[str]:
        return [c[0] for c in self.calls]


class FakeClock:
    """Time passes only when the loop sleeps: one second per poll."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, _seconds: float) -> None:
        self.now += 1.0


def runtime(
    fake: FakeKube, tmp_path: Path, clock: FakeClock | None = None, **timing: Any
) -> KubernetesRuntime:
    clock = clock or FakeClock()
    return KubernetesRuntime(
        fake,
        PodOptions(git_base_url="https://platform.example.com"),
        artifacts_dir=tmp_path / "artifacts",
        git_token=lambda run: "pt_clone-token",
        timing=Timing(poll_interval=0, clock=clock, sleep=clock.sleep, **timing),
    )


def run_spec() -> RunSpec:
    return RunSpec(uuid.uuid4(), 1, "acme/app", Path("/repos/acme/app.git"), "ab" * 20, "main")


def step_spec(**kw: Any) -> StepSpec:
    base: dict[str, Any] = {"step_id": uuid.uuid4(), "name": "test (PY=3.12)", "commands": ("x",)}
    return StepSpec(**(base | kw))


def collect_io() -> tuple[StepIO, list[str]]:
    lines: list[str] = []
    return StepIO(log=lines.append), lines


# -- the tests ----------------------------------------------------------------------------------
def test_it_is_a_step_runtime() -> None:
    rt: StepRuntime = KubernetesRuntime(
        FakeKube([RUNNING]), PodOptions(git_base_url="http://x"), artifacts_dir=Path("/nowhere")
    )
    assert rt.name == "kubernetes"


def test_success_streams_masked_logs_and_cleans_up(tmp_path: Path) -> None:
    fake = FakeKube(
        [status("Pending"), RUNNING, RUNNING, SUCCEEDED],
        logs=["+ x", f"token is {SECRET}", "done"],
    )
    rt = runtime(fake, tmp_path)
    run = run_spec()
    io_, lines = collect_io()
    result = rt.run_step(run, step_spec(secrets={"API_KEY": SECRET}), io_)
    assert result.outcome is Outcome.SUCCESS
    assert result.exit_code == 0
    assert lines == ["+ x", f"token is {MASK}", "done"]
    kinds = [body["kind"] for body in fake.created]
    assert kinds == ["Namespace", "NetworkPolicy", "Secret", "Secret", "Pod"]
    assert SECRET not in json.dumps([b for b in fake.created if b["kind"] != "Secret"])
    step_secret = fake.created[3]["metadata"]["name"]
    assert ("delete_secret", step_secret) in [(c[0], c[3]) for c in fake.calls]
    rt.cleanup(run)
    assert fake.verbs()[-1] == "delete_namespace"


def test_network_none_says_it_is_not_enforced_here(tmp_path: Path) -> None:
    fake = FakeKube([SUCCEEDED], logs=["done"])
    io_, lines = collect_io()
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(network=False), io_)
    assert result.outcome is Outcome.SUCCESS
    assert lines[0] == f"[runtime] {NETWORK_NOT_ENFORCED}"


def test_namespace_is_created_once_per_run_and_deleted_at_cleanup(tmp_path: Path) -> None:
    fake = FakeKube([SUCCEEDED])
    rt = runtime(fake, tmp_path)
    run = run_spec()
    rt.prepare(run)
    rt.prepare(run)
    for _ in range(2):
        assert rt.run_step(run, step_spec(), collect_io()[0]).outcome is Outcome.SUCCESS
    assert fake.verbs().count("create_namespace") == 1
    assert fake.verbs().count("create_pod") == 2
    rt.cleanup(run)
    rt.cleanup(run)  # idempotent: the second delete finds nothing, which is fine
    assert fake.verbs().count("delete_namespace") == 2


def test_a_second_worker_preparing_the_same_run_replaces_the_token(tmp_path: Path) -> None:
    fake = FakeKube([SUCCEEDED])
    run = run_spec()
    runtime(fake, tmp_path).prepare(run)
    runtime(fake, tmp_path).prepare(run)  # namespace exists (409): fine
    verbs = fake.verbs()
    assert verbs.count("create_namespace") == 2
    assert "delete_secret" in verbs  # the stale platform-git Secret made way for a new one


def test_failure_returns_the_exit_code(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING, failed(3)], logs=["boom"])
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), collect_io()[0])
    assert (result.outcome, result.exit_code) == (Outcome.FAILURE, 3)


def test_out_of_memory_says_so(tmp_path: Path) -> None:
    fake = FakeKube([failed(137, "OOMKilled")])
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), collect_io()[0])
    assert (result.outcome, result.exit_code) == (Outcome.FAILURE, 137)
    assert "out of memory" in (result.error or "")


def test_cancellation_deletes_the_pod(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING])
    io_, lines = collect_io()
    original = fake.read_pod

    def read_then_cancel(namespace: str, name: str) -> dict[str, Any]:
        io_.cancelled.set()  # the user cancels while the pod runs
        return original(namespace, name)

    fake.read_pod = read_then_cancel  # type: ignore[method-assign]
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), io_)
    assert result.outcome is Outcome.CANCELLED
    assert next(c for c in fake.calls if c[0] == "delete_pod")[1] == "5"  # grace seconds
    assert any("cancelled" in line for line in lines)


def test_cancelled_before_start_creates_nothing(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING])
    io_, _ = collect_io()
    io_.cancelled.set()
    assert (
        runtime(fake, tmp_path).run_step(run_spec(), step_spec(), io_).outcome is Outcome.CANCELLED
    )
    assert fake.calls == []


def test_our_timeout_deletes_the_pod(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING])
    clock = FakeClock()
    rt = runtime(fake, tmp_path, clock)
    result = rt.run_step(run_spec(), step_spec(timeout_seconds=5), collect_io()[0])
    assert result.outcome is Outcome.TIMEOUT
    assert clock.now == 5
    assert "timeout of 5s" in (result.error or "")
    assert "delete_pod" in fake.verbs()


def test_a_never_scheduled_pod_times_out_with_the_reason(tmp_path: Path) -> None:
    unschedulable = status(
        "Pending",
        conditions=[
            {"type": "PodScheduled", "status": "False", "message": "0/3 nodes: Insufficient cpu"}
        ],
    )
    rt = runtime(FakeKube([unschedulable]), tmp_path)
    result = rt.run_step(run_spec(), step_spec(timeout_seconds=3), collect_io()[0])
    assert result.outcome is Outcome.TIMEOUT
    assert "Insufficient cpu" in (result.error or "")


def test_kubernetes_deadline_maps_to_timeout(tmp_path: Path) -> None:
    deadline = failed(137) | {"reason": "DeadlineExceeded", "message": "Pod was active too long"}
    result = runtime(FakeKube([deadline]), tmp_path).run_step(
        run_spec(), step_spec(), collect_io()[0]
    )
    assert result.outcome is Outcome.TIMEOUT


def test_image_pull_failure_becomes_an_error_after_the_grace(tmp_path: Path) -> None:
    backoff = status(
        "Pending",
        main={"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling "nope:1"'}},
    )
    fake = FakeKube([backoff])
    clock = FakeClock()
    rt = runtime(fake, tmp_path, clock, image_pull_grace=10)
    io_, lines = collect_io()
    result = rt.run_step(run_spec(), step_spec(image="nope:1", timeout_seconds=600), io_)
    assert result.outcome is Outcome.ERROR
    assert "cannot pull image 'nope:1'" in (result.error or "")
    assert 10 < clock.now < 600  # it waited out the grace, not the step's timeout
    assert "delete_pod" in fake.verbs()
    assert lines[-1].endswith(result.error or "")


def test_a_failed_checkout_is_an_error_with_its_logs(tmp_path: Path) -> None:
    bad = status(
        "Failed",
        init={"terminated": {"exitCode": 128, "reason": "Error"}},
        main={"waiting": {"reason": "PodInitializing"}},
    )
    fake = FakeKube([bad], logs=["fatal: repository not found"])
    io_, lines = collect_io()
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), io_)
    assert result.outcome is Outcome.ERROR
    assert "checkout failed" in (result.error or "")
    assert any("repository not found" in line for line in lines)


def test_api_refusal_and_vanished_pods_are_errors(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING])
    fake.fail["create_pod"] = KubeApiError(403, 'pods is forbidden: User "ci" cannot create')
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), collect_io()[0])
    assert result.outcome is Outcome.ERROR
    assert "forbidden" in (result.error or "")
    fake.fail["read_pod"] = KubeApiError(404, "pods not found")
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), collect_io()[0])
    assert result.outcome is Outcome.ERROR
    assert re.fullmatch(r"pod test-py-3-12-\w{8}-1 was deleted", result.error or "")


def test_an_unreachable_cluster_in_prepare_is_dependency_unavailable(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING])
    fake.fail["create_namespace"] = KubeApiError(None, "connection refused")
    with pytest.raises(DependencyUnavailable, match="connection refused"):
        runtime(fake, tmp_path).prepare(run_spec())


def test_a_bad_step_is_an_error_before_anything_is_created(tmp_path: Path) -> None:
    fake = FakeKube([RUNNING])
    build = step_spec(kind=StepKind.IMAGE_BUILD, commands=())
    result = runtime(fake, tmp_path).run_step(run_spec(), build, collect_io()[0])
    assert result.outcome is Outcome.ERROR
    assert "PLATFORM_BUILD_DESTINATION" in (result.error or "")
    assert "create_pod" not in fake.verbs()


def _artifact_logs(nonce_holder: dict[str, str], files: dict[str, bytes]) -> list[str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    nonce = nonce_holder["nonce"]
    return [
        "+ make dist",
        f"::platform-artifacts {nonce} begin::",
        *base64.encodebytes(buf.getvalue()).decode().splitlines(),
        f"::platform-artifacts {nonce} end ok::",
    ]


class NonceFake(FakeKube):
    """Plays back an artifact section with the nonce the runtime put into the pod's script."""

    def __init__(self, files: dict[str, bytes], tail: list[str] | None = None) -> None:
        super().__init__([RUNNING, SUCCEEDED])
        self.files, self.tail = files, tail or []

    def create_pod(self, namespace: str, body: dict[str, Any]) -> None:
        super().create_pod(namespace, body)
        script = body["spec"]["containers"][0]["command"][2]
        nonce = script.split("::platform-artifacts ")[1].split()[0]
        self.logs = _artifact_logs({"nonce": nonce}, self.files) + self.tail


def test_artifacts_come_back_through_the_log_stream(tmp_path: Path) -> None:
    fake = NonceFake({"dist/app.whl": b"wheel", "notes.txt": b"skip"})
    io_, lines = collect_io()
    rt = runtime(fake, tmp_path)
    run = run_spec()
    result = rt.run_step(run, step_spec(artifacts=("dist/*.whl",)), io_)
    assert result.outcome is Outcome.SUCCESS
    assert lines == ["+ make dist"]
    ((name, path),) = result.artifacts
    assert name == "dist/app.whl"
    assert path.read_bytes() == b"wheel"
    rt.cleanup(run)
    assert not path.exists()


def test_a_damaged_artifact_section_is_reported_not_raised(tmp_path: Path) -> None:
    fake = NonceFake({"a.txt": b"x"})
    original = fake.create_pod

    def truncate(namespace: str, body: dict[str, Any]) -> None:
        original(namespace, body)
        fake.logs = fake.logs[:-1]  # the pod died inside the section

    fake.create_pod = truncate  # type: ignore[method-assign]
    io_, lines = collect_io()
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(artifacts=("*.txt",)), io_)
    assert result.outcome is Outcome.SUCCESS  # as on the local runtime: the outcome stands
    assert result.artifacts == ()
    assert any("artifacts not collected" in line and "cut short" in line for line in lines)


def test_logs_are_read_on_a_thread_while_the_loop_polls(tmp_path: Path) -> None:
    release = threading.Event()

    class SlowLogs(FakeKube):
        def stream_logs(self, *a: Any, **kw: Any) -> Iterator[str]:
            yield "first"
            release.wait(10)
            yield "second"

    fake = SlowLogs([RUNNING, RUNNING, RUNNING, SUCCEEDED])
    io_, lines = collect_io()
    original = fake.read_pod

    def read(namespace: str, name: str) -> dict[str, Any]:
        if len(fake.statuses) == 1:
            release.set()  # the pod ends; its last line arrives afterwards
        return original(namespace, name)

    fake.read_pod = read  # type: ignore[method-assign]
    result = runtime(fake, tmp_path).run_step(run_spec(), step_spec(), io_)
    assert result.outcome is Outcome.SUCCESS
    assert lines == ["first", "second"]


# -- configuration ------------------------------------------------------------------------------
def test_missing_kubernetes_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    with pytest.raises(ConfigError, match=r"platform-sdk\[kubernetes\]"):
        ApiClientKube()


def test_missing_or_bad_kubeconfig_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="KUBECONFIG") as missing:
        ApiClientKube(tmp_path / "nope.yaml")
    assert missing.value.variable == "KUBECONFIG"
    garbage = tmp_path / "kubeconfig"
    garbage.write_text("this: [is not a kubeconfig\n")
    with pytest.raises(ConfigError, match="KUBECONFIG"):
        ApiClientKube(garbage)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config, not in a cluster
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="KUBECONFIG"):
        ApiClientKube()


def test_from_settings_needs_a_public_url(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, runtime="kubernetes")
    with pytest.raises(ConfigError, match="PLATFORM_PUBLIC_URL"):
        KubernetesRuntime.from_settings(settings, client=FakeKube([RUNNING]))
    settings = load_settings(data_dir=tmp_path, public_url="https://ci.example.com")
    rt = KubernetesRuntime.from_settings(settings, client=FakeKube([RUNNING]))
    assert rt.options.git_base_url == "https://ci.example.com"
    assert rt.namespace_of(run_spec()).startswith("platform-run-")
