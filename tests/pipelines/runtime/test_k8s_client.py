"""``ApiClientKube`` — the official ``kubernetes`` client as the runtime drives it — against a
small fake API server over real HTTP: what goes over the wire is exactly the objects the
runtime built (nothing dropped by the client's models), 409/404 and API messages come back as
``KubeApiError``, and the log stream arrives line by line. Also :func:`pod_status`."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from platform_sdk.pipelines.runtime import k8s_objects as objects
from platform_sdk.pipelines.runtime.base import (
    MASK,
    Outcome,
    RunSpec,
    StepIO,
    StepKind,
    StepSpec,
)
from platform_sdk.pipelines.runtime.k8s_client import ApiClientKube, KubeApiError, pod_status
from platform_sdk.pipelines.runtime.k8s_objects import PodOptions
from platform_sdk.pipelines.runtime.k8s_watch import Timing
from platform_sdk.pipelines.runtime.kubernetes import KubernetesRuntime

LOG = "first line\nsecret: p4ssw0rd-value\nunicode: \u00e9\u00e8 \u2713\nno newline at the end"


class FakeApiServer(BaseHTTPRequestHandler):
    """Enough of ``/api/v1`` and ``networking.k8s.io/v1`` for the runtime's calls."""

    objects: dict[str, dict[str, Any]] = {}
    requests: list[tuple[str, str, dict[str, list[str]]]] = []

    def _reply(self, code: int, body: dict[str, Any] | str) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        kind = "text/plain" if isinstance(body, str) else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
        self._reply(code, body | {"reason": reason, "message": message, "code": code})

    def _route(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        self.requests.append((self.command, parts.path, parse_qs(parts.query)))
        return parts.path, parse_qs(parts.query)

    def do_POST(self) -> None:
        path, _query = self._route()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = f"{path}/{body['metadata']['name']}"
        if key in self.objects:
            self._status(
                409, "AlreadyExists", f'{body["kind"]} "{body["metadata"]["name"]}" exists'
            )
            return
        self.objects[key] = body
        self._reply(201, body)

    def do_GET(self) -> None:
        path, _query = self._route()
        if path.endswith("/log"):
            self._reply(200, LOG)
            return
        pod = self.objects.get(path)
        if pod is None:
            self._status(404, "NotFound", f"{path} not found")
            return
        terminated = {"exitCode": 0, "reason": "Completed"}
        state = {"name": "step", "state": {"terminated": terminated}}
        self._reply(200, pod | {"status": {"phase": "Succeeded", "containerStatuses": [state]}})

    def do_DELETE(self) -> None:
        path, _query = self._route()
        if self.objects.pop(path, None) is None:
            self._status(404, "NotFound", f"{path} not found")
            return
        self._reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiClientKube]:
    FakeApiServer.objects, FakeApiServer.requests = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
                ],
                "users": [{"name": "u", "user": {"token": "kube-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    yield ApiClientKube(kubeconfig)
    server.shutdown()
    server.server_close()


def run_spec() -> RunSpec:
    return RunSpec(uuid.uuid4(), 1, "acme/app", Path("/r"), "cd" * 20, "main")


def test_a_step_runs_end_to_end_over_http(api: ApiClientKube, tmp_path: Path) -> None:
    rt = KubernetesRuntime(
        api,
        PodOptions(git_base_url="https://ci.example.com"),
        artifacts_dir=tmp_path / "a",
        git_token=lambda _run: "pt_token",
        timing=Timing(poll_interval=0.01),
    )
    run = run_spec()
    lines: list[str] = []
    step = StepSpec(uuid.uuid4(), "unit tests", ("pytest",), secrets={"PW": "p4ssw0rd-value"})
    result = rt.run_step(run, step, StepIO(log=lines.append))
    assert result.outcome is Outcome.SUCCESS, result.error
    assert lines == [
        "first line",
        f"secret: {MASK}",
        "unicode: \u00e9\u00e8 \u2713",
        "no newline at the end",
    ]
    sent = {k: v for k, v in FakeApiServer.objects.items() if "/pods/" in k}
    (pod,) = sent.values()
    assert pod["spec"]["containers"][0]["command"][2].endswith("pytest\n")
    assert pod["spec"]["initContainers"][0]["image"] == rt.options.git_image
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    creates = [q for method, _p, q in FakeApiServer.requests if method == "POST"]
    assert all(q.get("fieldValidation") == ["Strict"] for q in creates)
    secret_paths = [p for m, p, _q in FakeApiServer.requests if m == "DELETE" and "/secrets/" in p]
    assert len(secret_paths) == 1  # the step's Secret is gone once the step ended
    rt.cleanup(run)
    assert FakeApiServer.requests[-1][0] == "DELETE"
    assert FakeApiServer.requests[-1][1] == f"/api/v1/namespaces/{rt.namespace_of(run)}"


def test_objects_survive_the_clients_models_unchanged(api: ApiClientKube) -> None:
    """The client coerces each body into its model before sending: nothing may get lost."""
    run = run_spec()
    ns = objects.namespace_name(run)
    step = StepSpec(uuid.uuid4(), "s", ("make",), secrets={"K": "v" * 8}, artifacts=("*.txt",))
    image = StepSpec(
        uuid.uuid4(),
        "img",
        (),
        kind=StepKind.IMAGE_BUILD,
        env={"PLATFORM_BUILD_DESTINATION": "r.example/a:1"},
    )
    options = PodOptions(git_base_url="https://ci.example.com", with_registry_auth=True)
    sent = [
        objects.namespace(run),
        objects.network_policy(run),
        objects.git_secret(run, "pt_x"),
        objects.registry_secret(run, "{}"),
        objects.secret(run, step),
        objects.step_pod(run, step, options, nonce="n"),
        objects.kaniko_pod(run, image, options),
    ]
    api.create_namespace(sent[0])
    api.create_network_policy(ns, sent[1])
    for body in sent[2:5]:
        api.create_secret(ns, body)
    for body in sent[5:]:
        api.create_pod(ns, body)
    assert list(FakeApiServer.objects.values()) == sent


def test_conflicts_and_missing_objects_carry_status_and_message(api: ApiClientKube) -> None:
    run = run_spec()
    api.create_namespace(objects.namespace(run))
    with pytest.raises(KubeApiError) as conflict:
        api.create_namespace(objects.namespace(run))
    assert conflict.value.status == 409
    assert "exists" in conflict.value.message
    with pytest.raises(KubeApiError) as missing:
        api.read_pod("nowhere", "nothing")
    assert missing.value.status == 404
    assert "not found" in missing.value.message


def test_an_unreachable_server_is_a_kube_api_error_without_status(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    client = ApiClientKube(kubeconfig)
    with pytest.raises(KubeApiError) as err:
        client.read_pod("ns", "pod")
    assert err.value.status is None


def test_pod_status_reads_what_the_loop_decides_on() -> None:
    pod = {
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "message": "no nodes"}],
            "initContainerStatuses": [
                {
                    "name": "checkout",
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "x"}},
                }
            ],
            "containerStatuses": [
                {"name": "step", "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        }
    }
    status = pod_status(pod)
    assert (status.phase, status.started, status.done) == ("Pending", False, False)
    assert (status.waiting_reason, status.waiting_container) == ("ErrImagePull", "checkout")
    assert status.pending_message == "no nodes"
    assert pod_status({}).phase == "Pending"
