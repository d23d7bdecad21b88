"""The Kubernetes objects of a run, checked against the Kubernetes 1.30 schemas (strict: an
unknown or misspelt field fails) and for the properties the platform promises: secret values
only in the step's Secret, non-root pods without privilege escalation, valid names."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.runtime import k8s_objects as objects
from platform_sdk.pipelines.runtime.base import RunSpec, StepKind, StepSpec
from platform_sdk.pipelines.runtime.k8s_shell import step_script

K8S_VERSION = "1.30.0"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SECRET_VALUE = "s3cr3t-value-that-must-not-leak"
TOKEN = "pt_run-token-must-not-leak"
OPTIONS = objects.PodOptions(git_base_url="https://platform.example.com")


def run_spec(project: str = "acme/todo-app") -> RunSpec:
    return RunSpec(
        run_id=uuid.uuid4(),
        number=7,
        project=project,
        repo_path=Path("/srv/repos/acme/todo-app.git"),
        commit_sha="0123456789abcdef0123456789abcdef01234567",
        ref="refs/heads/main",
    )


def command_step(name: str = "test", **kw: Any) -> StepSpec:
    defaults: dict[str, Any] = {
        "step_id": uuid.uuid4(),
        "name": name,
        "commands": ("pip install -e .", "pytest -q"),
        "image": "python:3.12-slim",
        "env": {"CI": "true", "PY": "3.11"},
    }
    return StepSpec(**{**defaults, **kw})


def build_step(**env: str) -> StepSpec:
    return StepSpec(
        step_id=uuid.uuid4(),
        name="image",
        commands=(),
        kind=StepKind.IMAGE_BUILD,
        env={"PLATFORM_BUILD_DESTINATION": "registry.example.com/acme/app:1", **env},
        secrets={"NPM_TOKEN": SECRET_VALUE},
    )


def validate(obj: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:  # the schema dump is pages long
        pytest.fail(f"{obj['kind']} {obj['metadata']['name']} invalid: {str(exc)[:400]}")


STEPS = {
    "plain": command_step(),
    "secrets": command_step(secrets={"API_KEY": SECRET_VALUE, "DB_PASSWORD": "hunter2-long"}),
    "artifacts": command_step(artifacts=("dist/*.whl", "reports/**/*.xml")),
    "matrix name": command_step("test (PY=3.11, OS=Linux) — ünïcode/ok", attempt=3),
    "no image": command_step(image=None, timeout_seconds=0.5),
    "all at once": command_step(
        "Lint & Type-check!!",
        secrets={"TOKEN": SECRET_VALUE},
        artifacts=("coverage.xml",),
        env={"PLATFORM_CPU_LIMIT": "4", "PLATFORM_MEMORY_REQUEST": "1Gi", "X": "$(HOME) $$"},
    ),
}


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS.keys())
def test_every_command_step_object_validates(step: StepSpec) -> None:
    run = run_spec()
    for obj in (
        objects.step_pod(run, step, OPTIONS, nonce="abc123"),
        objects.secret(run, step),
        objects.namespace(run),
        objects.network_policy(run),
        objects.git_secret(run, TOKEN),
        objects.registry_secret(run, '{"auths": {}}'),
    ):
        validate(obj)


@pytest.mark.parametrize("registry", [False, True])
def test_kaniko_pod_validates_and_reads_its_build_settings(registry: bool) -> None:
    options = objects.PodOptions(git_base_url="https://p.example", with_registry_auth=registry)
    step = build_step(PLATFORM_BUILD_CONTEXT="services/api")
    pod = objects.pod_for(run_spec(), step, options, nonce="n")
    validate(pod)
    container = pod["spec"]["containers"][0]
    assert container["image"] == "gcr.io/kaniko-project/executor:v1.23.2"
    assert container["args"] == [
        "--context=dir:///workspace/services/api",
        "--dockerfile=/workspace/services/api/Dockerfile",
        "--destination=registry.example.com/acme/app:1",
    ]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert ("/kaniko/.docker" in mounts) is registry
    assert ("imagePullSecrets" in pod["spec"]) is registry


def test_kaniko_runs_as_root_without_escalation_and_with_few_capabilities() -> None:
    pod = objects.kaniko_pod(run_spec(), build_step(), OPTIONS)
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc["runAsUser"] == 0
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) <= {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_image_build_needs_a_destination_and_paths_inside_the_workspace() -> None:
    step = build_step()
    no_dest = StepSpec(**{**step.__dict__, "env": {}})
    with pytest.raises(ValidationFailed, match="PLATFORM_BUILD_DESTINATION"):
        objects.kaniko_pod(run_spec(), no_dest, OPTIONS)
    with pytest.raises(ValidationFailed, match="inside the workspace"):
        objects.kaniko_pod(run_spec(), build_step(PLATFORM_BUILD_CONTEXT="../etc"), OPTIONS)


@pytest.mark.parametrize("step", [*STEPS.values(), build_step()], ids=[*STEPS.keys(), "kaniko"])
def test_secret_values_never_appear_in_a_pod(step: StepSpec) -> None:
    options = objects.PodOptions(git_base_url="https://p.example", with_registry_auth=True)
    pod = objects.pod_for(run_spec(), step, options, nonce="n")
    text = json.dumps(pod)
    assert SECRET_VALUE not in text
    assert TOKEN not in text
    for name in step.secrets:
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": objects.secret_name(step), "key": name}
    if step.secrets:
        assert objects.secret(run_spec(), step)["stringData"] == step.secrets


def test_the_clone_token_reaches_only_the_checkout_container_through_the_secret() -> None:
    pod = objects.step_pod(run_spec(), STEPS["plain"], OPTIONS)
    checkout = pod["spec"]["initContainers"][0]
    env = {e["name"]: e for e in checkout["env"]}
    assert env["GIT_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "platform-git",
        "key": "GIT_TOKEN",
    }
    assert env["GIT_CONFIG_VALUE_0"]["value"] == "Authorization: Bearer $(GIT_TOKEN)"
    assert env["PLATFORM_GIT_URL"]["value"] == "https://platform.example.com/acme/todo-app.git"
    assert "GIT_TOKEN" not in json.dumps(pod["spec"]["containers"])
    assert "GIT_TOKEN" not in json.dumps(checkout["command"])
    anonymous = objects.PodOptions(git_base_url="https://p.example", with_git_token=False)
    pod = objects.step_pod(run_spec(), STEPS["plain"], anonymous)
    assert "GIT_TOKEN" not in json.dumps(pod)


def test_command_pod_is_non_root_restricted_and_bounded() -> None:
    step = command_step(timeout_seconds=90.2)
    pod = objects.step_pod(run_spec(), step, OPTIONS)
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 91
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in [*spec["initContainers"], *spec["containers"]]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] == 1000
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
    main = spec["containers"][0]
    assert main["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert main["workingDir"] == "/workspace"
    assert main["command"][:2] == ["/bin/sh", "-c"]
    assert "pytest -q" in main["command"][2]


def test_resources_are_overridable_per_step_and_checked() -> None:
    main = objects.step_pod(run_spec(), STEPS["all at once"], OPTIONS)["spec"]["containers"][0]
    assert main["resources"]["limits"]["cpu"] == "4"
    assert main["resources"]["requests"]["memory"] == "1Gi"
    bad = command_step(env={"PLATFORM_MEMORY_LIMIT": "lots"})
    with pytest.raises(ValidationFailed, match="not a Kubernetes quantity"):
        objects.step_pod(run_spec(), bad, OPTIONS)


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion of command, args and env values (a port of
    ``third_party/forked/golang/expansion``): ``$$`` is ``$``, unknown ``$(X)`` stays."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            close = text.find(")", i + 2) if nxt == "(" else -1
            if nxt == "$":
                out.append("$")
                i += 2
            elif close != -1:
                name = text[i + 2 : close]
                out.append(env.get(name, f"$({name})"))
                i = close + 1
            else:
                out.append("$" + nxt)
                i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def test_commands_and_values_survive_kubernetes_variable_expansion() -> None:
    step = command_step(
        commands=("echo $$ $(date) $(HOME) '$((1+2))'",),
        env={"X": "$(HOME) $$ $", "HOME": "/home/x"},
        artifacts=("out/*",),
    )
    pod = objects.step_pod(run_spec(), step, OPTIONS, nonce="n1")
    main = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert kubelet_expand(env["X"], {"HOME": "/home/x"}) == "$(HOME) $$ $"
    expanded = kubelet_expand(main["command"][2], {"HOME": "/home/x", "X": "x"})
    assert expanded == step_script(step, "n1")
    checkout = {e["name"]: e.get("value") for e in pod["spec"]["initContainers"][0]["env"]}
    header = kubelet_expand(checkout["GIT_CONFIG_VALUE_0"], {"GIT_TOKEN": TOKEN})
    assert header == f"Authorization: Bearer {TOKEN}"


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS.keys())
def test_names_are_dns_labels_and_labels_are_valid(step: StepSpec) -> None:
    run = run_spec("Some.Owner/My_Project.With-A-Very-Long-Name-That-Goes-On-And-On-And-On")
    pod = objects.step_pod(run, step, OPTIONS)
    secret = objects.secret(run, step)
    ns = objects.namespace(run, prefix="Team CI Runs!")
    for name in (pod["metadata"]["name"], secret["metadata"]["name"], ns["metadata"]["name"]):
        assert DNS_LABEL.match(name), name
        assert len(name) <= 63
    for obj in (pod, secret, ns):
        for value in obj["metadata"]["labels"].values():
            assert LABEL_VALUE.match(value), value
            assert len(value) <= 63, value
    assert pod["metadata"]["namespace"] == objects.namespace_name(run)
    assert pod["metadata"]["annotations"]["platform.dev/step-name"] == step.name


def test_attempts_of_one_step_get_different_pods() -> None:
    first = command_step()
    second = StepSpec(**{**first.__dict__, "attempt": 2})
    assert objects.pod_name(first) != objects.pod_name(second)
    assert objects.secret_name(first) != objects.secret_name(second)


def test_bad_environment_names_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="environment variable name"):
        objects.step_pod(run_spec(), command_step(env={"BAD=NAME": "x"}), OPTIONS)
    with pytest.raises(ValidationFailed, match="environment variable name"):
        objects.secret(run_spec(), command_step(secrets={"1 2": "x"}))
