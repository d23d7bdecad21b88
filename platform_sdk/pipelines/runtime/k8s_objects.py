"""The Kubernetes objects of a pipeline run, built as plain dicts (pure functions, no client).

One run gets one namespace; deleting it at the end removes everything the run made there::

    namespace  <prefix>-<run id hex>       labels: managed-by platform, run id, project
    ├── NetworkPolicy  platform-deny-ingress   nothing reaches step pods from outside
    ├── Secret  platform-git               GIT_TOKEN: the run's token for cloning (optional)
    ├── Secret  platform-registry          docker config for kaniko pushes (optional)
    └── per step attempt: Secret <step>-env (the step's secrets) and Pod <step>

Every pod starts with a ``checkout`` init container (``alpine/git``) that clones
``{git base url}/{owner}/{name}.git`` into an emptyDir at ``/workspace``. The token reaches
git through ``GIT_CONFIG_*`` variables whose value Kubernetes expands from the Secret
(``$(GIT_TOKEN)``): it is on no command line and in no pod spec, and the step's own container
never sees it.

Command steps run ``/bin/sh -c <script>`` as uid 1000 with no privilege escalation, all
capabilities dropped and the RuntimeDefault seccomp profile. Image builds run kaniko, which
must be root to unpack base-image layers with their owners (kaniko's documented requirement):
its container runs as uid 0, without privilege escalation, with all capabilities dropped but
CHOWN, DAC_OVERRIDE, FOWNER, SETUID and SETGID. Secret values appear only in the per-step Secret's
``stringData``; pods name them through ``secretKeyRef``. Kubernetes expands ``$(VAR)`` in
commands, args and env values, so every literal ``$`` we emit is escaped as ``$$``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.runtime.base import RunSpec, StepKind, StepSpec
from platform_sdk.pipelines.runtime.k8s_shell import (
    CHECKOUT_SCRIPT,
    DEFAULT_MAX_BYTES,
    WORKSPACE,
    kaniko_args,
    step_script,
)

__all__ = [
    "CHECKOUT_CONTAINER",
    "GIT_SECRET",
    "REGISTRY_SECRET",
    "STEP_CONTAINER",
    "PodOptions",
    "Resources",
    "dns_label",
    "git_secret",
    "kaniko_pod",
    "kube_escape",
    "label_value",
    "namespace",
    "namespace_name",
    "network_policy",
    "pod_for",
    "pod_name",
    "registry_secret",
    "secret",
    "secret_name",
    "step_pod",
]

GIT_SECRET = "platform-git"  # noqa: S105 -- the Secret's name, not a value
REGISTRY_SECRET = "platform-registry"  # noqa: S105 -- the Secret's name
_HOME = "/tmp"  # noqa: S108 -- HOME for uid 1000, which has none in most images
CHECKOUT_CONTAINER = "checkout"
STEP_CONTAINER = "step"
MANAGED_BY = {"app.kubernetes.io/managed-by": "platform"}
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_KANIKO_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]


@dataclass(frozen=True)
class Resources:
    """Requests and limits of a container (Kubernetes quantities)."""

    cpu_request: str = "250m"
    memory_request: str = "256Mi"
    cpu_limit: str = "2"
    memory_limit: str = "2Gi"

    def as_dict(self) -> dict[str, dict[str, str]]:
        for value in (self.cpu_request, self.memory_request, self.cpu_limit, self.memory_limit):
            if not _QUANTITY.match(value):
                raise ValidationFailed(
                    f"{value!r} is not a Kubernetes quantity (e.g. 500m, 1, 2Gi)"
                )
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class PodOptions:
    """Cluster-wide choices of the Kubernetes runtime (images are pinned tags)."""

    git_base_url: str
    """Where pods clone from: ``PLATFORM_PUBLIC_URL``, reachable from inside the cluster."""
    namespace_prefix: str = "platform-run"
    default_image: str = "python:3.12-slim"
    git_image: str = "alpine/git:2.47.1"
    kaniko_image: str = "gcr.io/kaniko-project/executor:v1.23.2"
    resources: Resources = field(default_factory=Resources)
    checkout_resources: Resources = field(
        default_factory=lambda: Resources("50m", "64Mi", "1", "512Mi")
    )
    run_as_user: int = 1000
    with_git_token: bool = True
    """Whether the run has a ``platform-git`` Secret holding ``GIT_TOKEN``."""
    with_registry_auth: bool = False
    """Whether the run has a ``platform-registry`` Secret (pull secret, kaniko push auth)."""
    artifact_max_bytes: int = DEFAULT_MAX_BYTES
    termination_grace_seconds: int = 5


# -- names and labels ------------------------------------------------------------------------
def dns_label(text: str, max_len: int = 63, fallback: str = "x") -> str:
    """``text`` as an RFC 1123 label: lowercase alphanumerics and ``-``, at most ``max_len``."""
    label = re.sub(r"[^a-z0-9]+", "-", text.lower())[:max_len].strip("-")
    return label or fallback


def label_value(text: str) -> str:
    """``text`` as a label value: ``[A-Za-z0-9._-]``, alphanumeric ends, at most 63."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("/", "."))[:63]
    return value.strip("-._")


def namespace_name(run: RunSpec, prefix: str = "platform-run") -> str:
    return f"{dns_label(prefix, 30, 'platform-run')}-{run.run_id.hex}"


def pod_name(step: StepSpec) -> str:
    """Unique per attempt: ``<step name>-<step id>-<attempt>``, at most 63 characters."""
    return f"{dns_label(step.name, 40, 'step')}-{step.step_id.hex[:8]}-{step.attempt}"[:63]


def secret_name(step: StepSpec) -> str:
    return f"{pod_name(step)[:58]}-env"


def kube_escape(text: str) -> str:
    """Escape ``$`` so Kubernetes' ``$(VAR)`` expansion leaves ``text`` as written."""
    return text.replace("$", "$$")


def _run_labels(run: RunSpec) -> dict[str, str]:
    return {
        **MANAGED_BY,
        "platform.dev/run-id": str(run.run_id),
        "platform.dev/project": label_value(run.project),
    }


def _step_meta(run: RunSpec, step: StepSpec, ns: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ns,
        "labels": {
            **_run_labels(run),
            "platform.dev/step-id": str(step.step_id),
            "platform.dev/step": label_value(step.name) or "step",
            "platform.dev/attempt": str(step.attempt),
        },
        "annotations": {"platform.dev/step-name": step.name, "platform.dev/project": run.project},
    }


# -- run-level objects -----------------------------------------------------------------------
def namespace(run: RunSpec, prefix: str = "platform-run") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_name(run, prefix),
            "labels": _run_labels(run),
            "annotations": {"platform.dev/project": run.project, "platform.dev/ref": run.ref},
        },
    }


def network_policy(run: RunSpec, prefix: str = "platform-run") -> dict[str, Any]:
    """No ingress to any pod of the run; egress stays open (package indexes, registries)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "platform-deny-ingress",
            "namespace": namespace_name(run, prefix),
            "labels": _run_labels(run),
        },
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def git_secret(run: RunSpec, token: str, prefix: str = "platform-run") -> dict[str, Any]:
    return _secret(run, namespace_name(run, prefix), GIT_SECRET, "Opaque", {"GIT_TOKEN": token})


def registry_secret(
    run: RunSpec, docker_config: str, prefix: str = "platform-run"
) -> dict[str, Any]:
    """``docker_config`` is a ``~/.docker/config.json`` document with registry ``auths``."""
    ns = namespace_name(run, prefix)
    data = {".dockerconfigjson": docker_config}
    return _secret(run, ns, REGISTRY_SECRET, "kubernetes.io/dockerconfigjson", data)


def secret(run: RunSpec, step: StepSpec, prefix: str = "platform-run") -> dict[str, Any]:
    """The step's secrets, keyed by variable name (the only place their values appear)."""
    _check_env_names(step.secrets)
    obj = _secret(run, namespace_name(run, prefix), secret_name(step), "Opaque", step.secrets)
    obj["metadata"] = _step_meta(run, step, obj["metadata"]["namespace"], secret_name(step))
    return obj


def _secret(run: RunSpec, ns: str, name: str, kind: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns, "labels": _run_labels(run)},
        "type": kind,
        "immutable": True,
        "stringData": dict(data),
    }


# -- pods ------------------------------------------------------------------------------------
def pod_for(run: RunSpec, step: StepSpec, options: PodOptions, nonce: str) -> dict[str, Any]:
    """The pod of one step attempt: a kaniko build or a command pod."""
    if step.kind is StepKind.IMAGE_BUILD:
        return kaniko_pod(run, step, options)
    return step_pod(run, step, options, nonce)


def step_pod(run: RunSpec, step: StepSpec, options: PodOptions, nonce: str = "") -> dict[str, Any]:
    script = step_script(step, nonce, options.artifact_max_bytes)
    container = {
        "name": STEP_CONTAINER,
        "image": step.image or options.default_image,
        "command": ["/bin/sh", "-c", kube_escape(script)],
        "workingDir": WORKSPACE,
        "env": _step_env(step),
        "resources": _resources(step, options.resources),
        "securityContext": _restricted(options.run_as_user),
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
    }
    return _pod(run, step, options, container, non_root=True)


def kaniko_pod(run: RunSpec, step: StepSpec, options: PodOptions) -> dict[str, Any]:
    args = kaniko_args(step)
    mounts: list[dict[str, Any]] = [{"name": "workspace", "mountPath": WORKSPACE}]
    if options.with_registry_auth:
        mounts.append({"name": "registry", "mountPath": "/kaniko/.docker", "readOnly": True})
    container = {
        "name": STEP_CONTAINER,
        "image": options.kaniko_image,
        "args": [kube_escape(a) for a in args],
        "workingDir": WORKSPACE,
        "env": _step_env(step, home=False),
        "resources": _resources(step, options.resources),
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"], "add": list(_KANIKO_CAPS)},
        },
        "volumeMounts": mounts,
    }
    return _pod(run, step, options, container, non_root=False)


def _pod(
    run: RunSpec, step: StepSpec, options: PodOptions, container: dict[str, Any], non_root: bool
) -> dict[str, Any]:
    pod_security: dict[str, Any] = {
        "fsGroup": options.run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if non_root:
        pod_security.update(
            runAsNonRoot=True, runAsUser=options.run_as_user, runAsGroup=options.run_as_user
        )
    volumes: list[dict[str, Any]] = [{"name": "workspace", "emptyDir": {}}]
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": max(1, math.ceil(step.timeout_seconds)),
        "terminationGracePeriodSeconds": options.termination_grace_seconds,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security,
        "initContainers": [_checkout_container(run, options)],
        "containers": [container],
        "volumes": volumes,
    }
    if options.with_registry_auth:
        spec["imagePullSecrets"] = [{"name": REGISTRY_SECRET}]
        if step.kind is StepKind.IMAGE_BUILD:
            item = {"key": ".dockerconfigjson", "path": "config.json"}
            volumes.append(
                {"name": "registry", "secret": {"secretName": REGISTRY_SECRET, "items": [item]}}
            )
    ns = namespace_name(run, options.namespace_prefix)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _step_meta(run, step, ns, pod_name(step)),
        "spec": spec,
    }


def _checkout_container(run: RunSpec, options: PodOptions) -> dict[str, Any]:
    owner, _, name = run.project.partition("/")
    url = f"{options.git_base_url.rstrip('/')}/{owner}/{name}.git"
    env: list[dict[str, Any]] = []
    if options.with_git_token:
        ref = {"secretKeyRef": {"name": GIT_SECRET, "key": "GIT_TOKEN"}}
        env += [
            {"name": "GIT_TOKEN", "valueFrom": ref},
            {"name": "GIT_CONFIG_COUNT", "value": "1"},
            {"name": "GIT_CONFIG_KEY_0", "value": "http.extraHeader"},
            # Kubernetes substitutes the token here; git reads it from its environment.
            {"name": "GIT_CONFIG_VALUE_0", "value": "Authorization: Bearer $(GIT_TOKEN)"},
        ]
    env += [
        {"name": "PLATFORM_GIT_URL", "value": kube_escape(url)},
        {"name": "PLATFORM_COMMIT_SHA", "value": kube_escape(run.commit_sha)},
        {"name": "GIT_TERMINAL_PROMPT", "value": "0"},
        {"name": "HOME", "value": _HOME},
    ]
    return {
        "name": CHECKOUT_CONTAINER,
        "image": options.git_image,
        "command": ["/bin/sh", "-c", kube_escape(CHECKOUT_SCRIPT)],
        "env": env,
        "resources": options.checkout_resources.as_dict(),
        "securityContext": _restricted(options.run_as_user),
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
    }


def _restricted(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _step_env(step: StepSpec, *, home: bool = True) -> list[dict[str, Any]]:
    _check_env_names(step.env)
    _check_env_names(step.secrets)
    env: list[dict[str, Any]] = [
        {"name": k, "value": kube_escape(v)} for k, v in step.env.items() if k not in step.secrets
    ]
    if home and "HOME" not in step.env and "HOME" not in step.secrets:
        env.append({"name": "HOME", "value": _HOME})
    ref = secret_name(step)
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": ref, "key": k}}} for k in step.secrets
    ]
    return env


def _check_env_names(names: dict[str, str]) -> None:
    for name in names:
        if not _ENV_NAME.match(name):
            raise ValidationFailed(f"{name!r} is not a valid environment variable name")


def _resources(step: StepSpec, default: Resources) -> dict[str, dict[str, str]]:
    """The defaults, overridden per step by ``PLATFORM_CPU_REQUEST`` … ``PLATFORM_MEMORY_LIMIT``
    in the step's env."""
    env = step.env
    return Resources(
        cpu_request=env.get("PLATFORM_CPU_REQUEST", default.cpu_request),
        memory_request=env.get("PLATFORM_MEMORY_REQUEST", default.memory_request),
        cpu_limit=env.get("PLATFORM_CPU_LIMIT", default.cpu_limit),
        memory_limit=env.get("PLATFORM_MEMORY_LIMIT", default.memory_limit),
    ).as_dict()
