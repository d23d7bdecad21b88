"""The Kubernetes step runtime: one namespace per run, one pod per step attempt.

The modules behind it, each one concern::

    kubernetes.py   this file: the run's lifecycle — prepare, run_step, cleanup
    k8s_objects.py  the API objects as plain dicts (pure): namespace, policy, secrets, pods
    k8s_shell.py    what the pods' shells run (checkout, step script) and the artifact section
    k8s_watch.py    the control loop of one attempt: logs, cancel, timeout, outcome
    k8s_client.py   the KubeClient Protocol and ApiClientKube over the official client

:meth:`KubernetesRuntime.prepare` creates the run's namespace, a deny-ingress NetworkPolicy,
the ``platform-git`` Secret with the run's clone token and, if configured, the
``platform-registry`` Secret (pull secret, kaniko push credentials). Creating what already
exists is fine, so a second worker preparing the same run does no harm.
:meth:`~KubernetesRuntime.run_step` creates the step's Secret and Pod and hands them to
:class:`~.k8s_watch.PodWatch`; it never raises — whatever goes wrong is an ERROR result with
a message. The step's Secret is deleted when the step ends; artifacts decoded from the log
stream are written under ``artifacts_dir/<run>/<step>-<attempt>``.
:meth:`~KubernetesRuntime.cleanup` deletes the namespace (Kubernetes removes everything in
it) and the run's local artifact files.

Differences from the local runtime, by design: each pod checks out the commit afresh, so a
later step does not see files an earlier step wrote (use artifacts); image builds keep no
artifacts.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from platform_sdk.config import Settings
from platform_sdk.errors import (
    ConfigError,
    DependencyUnavailable,
    PlatformError,
    ValidationFailed,
)
from platform_sdk.pipelines.runtime import k8s_objects as objects
from platform_sdk.pipelines.runtime.base import (
    Outcome,
    RunSpec,
    StepIO,
    StepKind,
    StepResult,
    StepSpec,
)
from platform_sdk.pipelines.runtime.k8s_client import ApiClientKube, KubeApiError, KubeClient
from platform_sdk.pipelines.runtime.k8s_shell import ArtifactCollector
from platform_sdk.pipelines.runtime.k8s_watch import PodWatch, Timing, ignore_missing
from platform_sdk.pipelines.runtime.local_artifacts import check_patterns
from platform_sdk.pipelines.runtime.local_procs import NOTICE

__all__ = ["NETWORK_NOT_ENFORCED", "KubernetesRuntime"]

NETWORK_NOT_ENFORCED = (
    "network: none is not enforced on the kubernetes runtime: the step's pod checks the commit "
    "out over the network, and its namespace denies ingress only"
)


class KubernetesRuntime:
    """:class:`~platform_sdk.pipelines.runtime.base.StepRuntime` running each step as a pod."""

    name = "kubernetes"

    def __init__(
        self,
        client: KubeClient,
        options: objects.PodOptions,
        *,
        artifacts_dir: Path,
        git_token: Callable[[RunSpec], str] | None = None,
        registry_auth: str | None = None,
        timing: Timing | None = None,
    ) -> None:
        """``git_token(run)`` mints the read-only token pods clone with (None: anonymous
        clone); ``registry_auth`` is a docker ``config.json`` for pulls and kaniko pushes."""
        self.client = client
        self.options = replace(
            options,
            with_git_token=git_token is not None,
            with_registry_auth=registry_auth is not None,
        )
        self.artifacts_dir = artifacts_dir
        self._git_token = git_token
        self._registry_auth = registry_auth
        self.timing = timing or Timing()
        self._prepared: set[uuid.UUID] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        git_token: Callable[[RunSpec], str] | None = None,
        registry_auth: str | None = None,
        client: KubeClient | None = None,
    ) -> KubernetesRuntime:
        """The runtime for ``PLATFORM_RUNTIME=kubernetes``: cluster from ``KUBECONFIG`` (or
        in-cluster), pods clone from ``PLATFORM_PUBLIC_URL``."""
        if not settings.public_url:
            raise ConfigError(
                "PLATFORM_PUBLIC_URL",
                "the kubernetes runtime clones the code inside pods: set it to the platform's "
                "URL as the cluster reaches it",
            )
        options = objects.PodOptions(
            git_base_url=settings.public_url,
            namespace_prefix=settings.kube_namespace_prefix,
        )
        return cls(
            client if client is not None else ApiClientKube(settings.kubeconfig),
            options,
            artifacts_dir=settings.data_dir / "runtime" / "kubernetes",
            git_token=git_token,
            registry_auth=registry_auth,
        )

    def namespace_of(self, run: RunSpec) -> str:
        return objects.namespace_name(run, self.options.namespace_prefix)

    # -- StepRuntime -------------------------------------------------------------------------
    def prepare(self, run: RunSpec) -> None:
        with self._lock:
            if run.run_id in self._prepared:
                return
            prefix = self.options.namespace_prefix
            ns = self.namespace_of(run)
            try:
                _create(lambda: self.client.create_namespace(objects.namespace(run, prefix)))
                policy = objects.network_policy(run, prefix)
                _create(lambda: self.client.create_network_policy(ns, policy))
                if self._git_token is not None:
                    body = objects.git_secret(run, self._git_token(run), prefix)
                    self._replace_secret(ns, body)
                if self._registry_auth is not None:
                    body = objects.registry_secret(run, self._registry_auth, prefix)
                    self._replace_secret(ns, body)
            except KubeApiError as exc:
                raise DependencyUnavailable(f"Kubernetes: {exc.message}") from None
            self._prepared.add(run.run_id)

    def run_step(self, run: RunSpec, step: StepSpec, io: StepIO) -> StepResult:
        """Run one attempt as a pod; never raises (a problem is an ERROR with a message)."""
        if io.cancelled.is_set():
            return StepResult(Outcome.CANCELLED, error="cancelled before it started")
        try:
            check_patterns(step.artifacts)
            if step.timeout_seconds <= 0:
                raise ValidationFailed(f"step timeout must be positive, not {step.timeout_seconds}")
            self.prepare(run)
            nonce = secrets.token_hex(8)
            pod = objects.pod_for(run, step, self.options, nonce)
            secret = objects.secret(run, step, self.options.namespace_prefix)
        except PlatformError as exc:
            result = StepResult(Outcome.ERROR, error=exc.message)
        else:
            result = self._run(run, step, io, pod, secret, nonce)
        if result.outcome is Outcome.ERROR and result.error:
            io.log(f"{NOTICE}{result.error}")
        return result

    def _run(
        self,
        run: RunSpec,
        step: StepSpec,
        io: StepIO,
        pod: dict[str, Any],
        secret: dict[str, Any],
        nonce: str,
    ) -> StepResult:
        ns, name = self.namespace_of(run), pod["metadata"]["name"]
        collector = None
        if step.artifacts and step.kind is StepKind.COMMAND:
            collector = ArtifactCollector(step.artifacts, nonce, self.options.artifact_max_bytes)
        elif step.artifacts:
            io.log(f"{NOTICE}image_build steps keep no artifacts on the kubernetes runtime")
        if not step.network:
            io.log(f"{NOTICE}{NETWORK_NOT_ENFORCED}")
        try:
            try:
                if step.secrets:
                    self.client.create_secret(ns, secret)
                self.client.create_pod(ns, pod)
            except KubeApiError as exc:
                return StepResult(
                    Outcome.ERROR, error=f"Kubernetes refused the step: {exc.message}"
                )
            watch = PodWatch(
                self.client,
                self.options,
                self.timing,
                namespace=ns,
                pod=name,
                step=step,
                io=io,
                collector=collector,
            )
            result = watch.run()
        finally:
            if step.secrets:
                self._delete_step_secret(ns, secret["metadata"]["name"], io)
        if collector is None or result.outcome not in (Outcome.SUCCESS, Outcome.FAILURE):
            return result
        dest = self.artifacts_dir / run.run_id.hex / f"{step.step_id.hex}-{step.attempt}"
        shutil.rmtree(dest, ignore_errors=True)
        try:
            kept = collector.extract(dest, lambda line: io.log(NOTICE + line))
        except PlatformError as exc:  # the step's outcome stands, as on the local runtime
            io.log(f"{NOTICE}artifacts not collected: {exc.message}")
            return result
        return replace(result, artifacts=kept)

    def cleanup(self, run: RunSpec) -> None:
        with self._lock:
            self._prepared.discard(run.run_id)
        try:
            ignore_missing(lambda: self.client.delete_namespace(self.namespace_of(run)))
        except KubeApiError as exc:
            raise DependencyUnavailable(f"Kubernetes: {exc.message}") from None
        finally:
            shutil.rmtree(self.artifacts_dir / run.run_id.hex, ignore_errors=True)

    def _replace_secret(self, ns: str, body: dict[str, Any]) -> None:
        """Secrets are immutable: a stale one (an earlier worker's token) is deleted first."""
        try:
            self.client.create_secret(ns, body)
        except KubeApiError as exc:
            if exc.status != 409:
                raise
            name = str(body["metadata"]["name"])
            ignore_missing(lambda: self.client.delete_secret(ns, name))
            self.client.create_secret(ns, body)

    def _delete_step_secret(self, ns: str, name: str, io: StepIO) -> None:
        """The step's secrets leave the cluster as soon as the step ends."""
        try:
            ignore_missing(lambda: self.client.delete_secret(ns, name))
        except KubeApiError as exc:
            io.log(f"{NOTICE}could not delete secret {name} (removed at cleanup): {exc.message}")


def _create(call: Callable[[], None]) -> None:
    """Run a create call; an object that already exists is fine."""
    try:
        call()
    except KubeApiError as exc:
        if exc.status != 409:
            raise
