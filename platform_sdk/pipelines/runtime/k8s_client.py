"""The few Kubernetes API calls the runtime makes, behind a small Protocol.

:class:`KubeClient` is what :class:`~platform_sdk.pipelines.runtime.kubernetes.KubernetesRuntime`
needs from a cluster; tests hand it a fake, production :class:`ApiClientKube`, which wraps the
official ``kubernetes`` package (the ``kubernetes`` extra, imported only when this runtime is
chosen). Objects go in and come out as plain JSON dicts (camelCase keys, as in YAML manifests),
so the runtime never depends on the client's model classes. Every API failure becomes a
:class:`KubeApiError` carrying the HTTP status (``None`` when the server was not reached) and
the API server's own message.

:func:`pod_status` reduces a pod to what the runtime decides on (:class:`PodStatus`).
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from platform_sdk.core.extras import install_hint
from platform_sdk.errors import ConfigError
from platform_sdk.pipelines.runtime.k8s_objects import CHECKOUT_CONTAINER, STEP_CONTAINER

__all__ = ["ApiClientKube", "KubeApiError", "KubeClient", "PodStatus", "pod_status"]

_TIMEOUT = 30.0


class KubeApiError(Exception):
    """The API server refused a call, or could not be reached (``status`` None)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KubeClient(Protocol):
    """The cluster as the runtime uses it. Create calls raise ``KubeApiError(409)`` when the
    object exists; delete calls raise ``KubeApiError(404)`` when it is gone."""

    def create_namespace(self, body: dict[str, Any]) -> None: ...

    def delete_namespace(self, name: str) -> None: ...

    def create_secret(self, namespace: str, body: dict[str, Any]) -> None: ...

    def delete_secret(self, namespace: str, name: str) -> None: ...

    def create_network_policy(self, namespace: str, body: dict[str, Any]) -> None: ...

    def create_pod(self, namespace: str, body: dict[str, Any]) -> None: ...

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]: ...

    def stream_logs(
        self, namespace: str, pod: str, *, container: str, follow: bool = True
    ) -> Iterator[str]:
        """The container's output line by line (no newline); with ``follow`` until it ends."""
        ...

    def delete_pod(self, namespace: str, name: str, *, grace_seconds: int) -> None: ...


@dataclass(frozen=True)
class PodStatus:
    phase: str
    """``Pending``, ``Running``, ``Succeeded``, ``Failed`` or ``Unknown``."""
    reason: str | None = None
    """Pod-level reason: ``DeadlineExceeded``, ``Evicted`` …"""
    message: str | None = None
    started: bool = False
    """The step container has run (its logs can be read)."""
    exit_code: int | None = None
    exit_reason: str | None = None
    """Why the step container ended: ``Completed``, ``Error``, ``OOMKilled`` …"""
    checkout_exit_code: int | None = None
    """Set when the checkout init container failed."""
    waiting_reason: str | None = None
    """A container stuck before start: ``ImagePullBackOff``, ``CreateContainerConfigError`` …"""
    waiting_message: str | None = None
    waiting_container: str | None = None
    pending_message: str | None = None
    """Why the pod is not scheduled yet (``0/3 nodes are available: …``)."""

    @property
    def done(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def pod_status(pod: dict[str, Any]) -> PodStatus:
    """The decision-relevant part of a pod as the API returns it (JSON, camelCase)."""
    status = pod.get("status") or {}
    init = _container(status.get("initContainerStatuses"), CHECKOUT_CONTAINER)
    main = _container(status.get("containerStatuses"), STEP_CONTAINER)
    main_state = main.get("state") or {}
    terminated = main_state.get("terminated") or {}
    init_terminated = (init.get("state") or {}).get("terminated") or {}
    checkout_failed = init_terminated.get("exitCode") not in (None, 0)
    waiting: dict[str, Any] = {}
    waiting_container = None
    for candidate in (init, main):
        state = (candidate.get("state") or {}).get("waiting") or {}
        if state.get("reason") not in (None, "PodInitializing", "ContainerCreating"):
            waiting, waiting_container = state, candidate.get("name")
            break
    pending = next(
        (
            c.get("message")
            for c in status.get("conditions") or []
            if c.get("type") == "PodScheduled" and c.get("status") == "False"
        ),
        None,
    )
    return PodStatus(
        phase=str(status.get("phase") or "Pending"),
        reason=status.get("reason"),
        message=status.get("message"),
        started=bool(main_state.get("running") or terminated),
        exit_code=terminated.get("exitCode"),
        exit_reason=terminated.get("reason"),
        checkout_exit_code=init_terminated.get("exitCode") if checkout_failed else None,
        waiting_reason=waiting.get("reason"),
        waiting_message=waiting.get("message"),
        waiting_container=waiting_container,
        pending_message=pending,
    )


def _container(statuses: list[dict[str, Any]] | None, name: str) -> dict[str, Any]:
    return next((s for s in statuses or [] if s.get("name") == name), {})


class ApiClientKube:
    """:class:`KubeClient` over the official client: ``KUBECONFIG`` (or the given file), the
    in-cluster service account when running in a pod, else ``~/.kube/config``."""

    def __init__(self, kubeconfig: Path | None = None) -> None:
        try:
            from kubernetes import client, config
            from kubernetes.client.exceptions import ApiException
        except ImportError:
            raise ConfigError(
                "PLATFORM_RUNTIME",
                "the kubernetes runtime needs the `kubernetes` package: "
                + install_hint("kubernetes"),
            ) from None
        self._api_exception: type[Exception] = ApiException
        try:
            if kubeconfig is not None:
                if not Path(kubeconfig).is_file():
                    raise ConfigError("KUBECONFIG", f"{kubeconfig} is not a file")
                api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                api = client.ApiClient(configuration)
            else:
                api = config.new_client_from_config()  # type: ignore[no-untyped-call]
        except ConfigError:
            raise
        except Exception as exc:  # ConfigException, YAML and file errors alike
            raise ConfigError(
                "KUBECONFIG",
                f"no usable Kubernetes configuration ({exc}); set KUBECONFIG to a kubeconfig "
                "file or run the platform inside the cluster",
            ) from None
        self._api = api
        self._core = client.CoreV1Api(api)
        self._net = client.NetworkingV1Api(api)

    def _open(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` for its raw HTTP response: the client's response models are bypassed
        (they reject fields newer servers add and partial objects), API errors translated."""
        kwargs.setdefault("_request_timeout", _TIMEOUT)
        try:
            return fn(*args, _preload_content=False, **kwargs)
        except self._api_exception as exc:
            status = getattr(exc, "status", None)
            raise KubeApiError(status or None, f"{what}: {_api_message(exc)}") from None
        except Exception as exc:  # urllib3 connection errors, timeouts, a body the model refused
            raise KubeApiError(None, f"{what}: {type(exc).__name__}: {exc}") from None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call ``fn``; the response body as JSON."""
        response = self._open(what, fn, *args, **kwargs)
        try:
            data = response.data
        except Exception as exc:
            raise KubeApiError(None, f"{what}: {type(exc).__name__}: {exc}") from None
        finally:
            response.release_conn()
        try:
            out = json.loads(data) if data else {}
        except ValueError:
            raise KubeApiError(None, f"{what}: the API server answered no JSON") from None
        return out if isinstance(out, dict) else {}

    def create_namespace(self, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        self._call(
            f"create namespace {name}",
            self._core.create_namespace,
            body=body,
            field_validation="Strict",
        )

    def delete_namespace(self, name: str) -> None:
        self._call(
            f"delete namespace {name}",
            self._core.delete_namespace,
            name,
            propagation_policy="Background",
        )

    def create_secret(self, namespace: str, body: dict[str, Any]) -> None:
        what = f"create secret {body['metadata']['name']}"
        self._call(
            what, self._core.create_namespaced_secret, namespace, body, field_validation="Strict"
        )

    def delete_secret(self, namespace: str, name: str) -> None:
        self._call(f"delete secret {name}", self._core.delete_namespaced_secret, name, namespace)

    def create_network_policy(self, namespace: str, body: dict[str, Any]) -> None:
        what = f"create network policy {body['metadata']['name']}"
        create = self._net.create_namespaced_network_policy
        self._call(what, create, namespace, body, field_validation="Strict")

    def create_pod(self, namespace: str, body: dict[str, Any]) -> None:
        what = f"create pod {body['metadata']['name']}"
        self._call(
            what, self._core.create_namespaced_pod, namespace, body, field_validation="Strict"
        )

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call(f"read pod {name}", self._core.read_namespaced_pod, name, namespace)

    def delete_pod(self, namespace: str, name: str, *, grace_seconds: int) -> None:
        self._call(
            f"delete pod {name}",
            self._core.delete_namespaced_pod,
            name,
            namespace,
            grace_period_seconds=grace_seconds,
        )

    def stream_logs(
        self, namespace: str, pod: str, *, container: str, follow: bool = True
    ) -> Iterator[str]:
        response = self._open(
            f"read logs of pod {pod}",
            self._core.read_namespaced_pod_log,
            pod,
            namespace,
            container=container,
            follow=follow,
            _request_timeout=(_TIMEOUT, 24 * 3600.0),
        )
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        try:
            for chunk in response.stream(64 * 1024):
                pending += decoder.decode(chunk)
                *lines, pending = pending.split("\n")
                for line in lines:
                    yield line.removesuffix("\r")
            pending += decoder.decode(b"", final=True)
            if pending:
                yield pending.removesuffix("\r")
        except KubeApiError:
            raise
        except Exception as exc:  # the connection broke mid-stream
            raise KubeApiError(None, f"log stream of pod {pod} broke: {exc}") from None
        finally:
            response.release_conn()


def _api_message(exc: Any) -> str:
    """The API server's ``Status.message``, else the HTTP reason."""
    try:
        body = json.loads(exc.body or "")
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except (TypeError, ValueError):
        pass
    return f"{exc.status} {exc.reason}".strip()
