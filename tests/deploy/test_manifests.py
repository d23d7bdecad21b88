"""deploy/base and deploy/dev render, validate against the Kubernetes schemas and run safely."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from platform_sdk.cli.main import main as cli
from platform_sdk.config import Settings, load_settings
from platform_sdk.server.health import router as health_router
from tests.deploy._tools import K8S_VERSION, REPO, env_of, one, pod_containers

SECRET_ENV = ("DATABASE_URL", "PLATFORM_MASTER_KEY", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY")
DEV_CREDENTIALS = ("platform-dev-password", "platform-dev-secret", "00112233445566778899aabbcc")


def _validate(objects: list[dict[str, Any]]) -> list[str]:
    errors = []
    for obj in objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{label}: {exc.message} at {list(exc.path)}")
    return errors


@pytest.mark.parametrize("overlay", ["base", "dev"])
def test_every_rendered_object_validates_strictly(
    overlay: str, request: pytest.FixtureRequest
) -> None:
    objects = request.getfixturevalue(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ServiceAccount", "PersistentVolumeClaim"} <= kinds
    assert "ConfigMap" in kinds
    assert _validate(objects) == []


def test_validation_would_catch_a_misspelt_field(base: list[dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(one(base, "Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert _validate([broken]) != []


def test_base_has_no_credentials_only_secret_references(base: list[dict[str, Any]]) -> None:
    assert [o["metadata"]["name"] for o in base if o["kind"] == "Secret"] == []
    config = one(base, "ConfigMap")["data"]
    assert not [k for k in config if re.search(r"PASSWORD|SECRET|TOKEN|_KEY|DATABASE_URL", k)]
    for container in pod_containers(one(base, "Deployment")):
        env = env_of(container)
        for name in SECRET_ENV:
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "platform-secrets", name
        assert not [
            e for e in env.values() if "value" in e and re.search(r"PASS|SECRET|KEY", e["name"])
        ]
    text = "\n".join(p.read_text() for p in (REPO / "deploy" / "base").glob("*.yaml"))
    assert not [c for c in DEV_CREDENTIALS if c in text]


def test_the_deployment_probes_the_routes_the_server_has(base: list[dict[str, Any]]) -> None:
    routes = {getattr(r, "path", None) for r in health_router.routes}
    (server,) = one(base, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz"} <= routes
    # The probed port is the one the server listens on.
    listen = one(base, "ConfigMap")["data"]["PLATFORM_LISTEN"]
    assert server["ports"][0]["containerPort"] == int(listen.rpartition(":")[2])
    assert listen.startswith("0.0.0.0:")


def test_the_containers_run_platform_verbs_that_exist(base: list[dict[str, Any]]) -> None:
    spec = one(base, "Deployment")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    (server,) = spec["containers"]
    assert init["args"] == ["init", "--if-needed"]
    assert server["args"] == ["serve"]
    assert {"init", "serve"} <= set(cli.commands)


def test_every_container_is_bounded_non_root_and_read_only(base: list[dict[str, Any]]) -> None:
    deployment = one(base, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in pod_containers(deployment):
        limits, requests = container["resources"]["limits"], container["resources"]["requests"]
        assert {"cpu", "memory"} <= set(requests)
        assert {"cpu", "memory"} <= set(limits)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/var/lib/platform"} <= mounts  # the writable places
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "platform-data"
    one(base, "PersistentVolumeClaim", "platform-data")
    # One writer of a ReadWriteOnce volume: never two pods during a rollout.
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_configmap_keys_are_real_settings(
    base: list[dict[str, Any]], dev: list[dict[str, Any]]
) -> None:
    names = {
        choice
        for field in Settings.model_fields.values()
        for choice in getattr(field.validation_alias, "choices", [])
        if isinstance(choice, str) and choice.isupper()
    }
    for objects in (base, dev):
        assert set(one(objects, "ConfigMap")["data"]) - names == set()


def test_the_dev_overlay_uses_the_local_image_and_nodeport(dev: list[dict[str, Any]]) -> None:
    for container in pod_containers(one(dev, "Deployment")):
        assert container["image"] == "platform:dev"
        assert container["imagePullPolicy"] == "Never"  # what `kind load` put on the node
    service = one(dev, "Service", "platform")
    assert service["spec"]["type"] == "NodePort"
    assert [p["nodePort"] for p in service["spec"]["ports"]] == [30080]
    kind = yaml.safe_load((REPO / "hack" / "kind-config.yaml").read_text())
    mappings = {m["containerPort"]: m["hostPort"] for m in kind["nodes"][0]["extraPortMappings"]}
    assert mappings[30080] == 8080


def test_the_dev_settings_load_as_the_platform_would_read_them(dev: list[dict[str, Any]]) -> None:
    config = one(dev, "ConfigMap")["data"]
    secret = one(dev, "Secret")
    (server,) = one(dev, "Deployment")["spec"]["template"]["spec"]["containers"]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in server["env"] if "valueFrom" in e}
    assert refs == {secret["metadata"]["name"]}  # the generated, hashed name
    values = {**config, **secret.get("stringData", {})}
    if "data" in secret:
        import base64

        values.update({k: base64.b64decode(v).decode() for k, v in secret["data"].items()})
    settings = load_settings(
        **{k.lower(): v for k, v in values.items() if k != "PLATFORM_DATA_DIR"}
    )
    assert settings.runtime == "kubernetes"
    assert settings.database_url
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.minio_endpoint
    assert settings.valkey_url
    assert settings.master_key


def _secret_values(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    import base64

    secret = next(
        o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith(name)
    )
    values = dict(secret.get("stringData", {}))
    values.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
    return values


def test_dev_credentials_match_the_infrastructure(
    dev: list[dict[str, Any]], infra: list[dict[str, Any]]
) -> None:
    platform = _secret_values(dev, "platform-secrets")
    db = urlsplit(platform["DATABASE_URL"])
    cnpg = one(infra, "Cluster", "platform-db")
    app = _secret_values(infra, cnpg["spec"]["bootstrap"]["initdb"]["secret"]["name"])
    assert (db.username, db.password) == (app["username"], app["password"])
    assert db.hostname == "platform-db-rw.platform-infra.svc"  # CloudNativePG's -rw service
    assert db.path == "/" + cnpg["spec"]["bootstrap"]["initdb"]["database"]
    minio = _secret_values(infra, "minio-credentials")
    assert platform["MINIO_ACCESS_KEY"] == minio["MINIO_ROOT_USER"]
    assert platform["MINIO_SECRET_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert urlsplit(platform["VALKEY_URL"]).hostname == "valkey.platform-infra.svc"
    endpoint = urlsplit(one(dev, "ConfigMap")["data"]["MINIO_ENDPOINT"])
    assert (endpoint.hostname, endpoint.port) == ("minio.platform-infra.svc", 9000)


@pytest.mark.parametrize("overlay", ["base", "dev"])
def test_the_kubernetes_runtime_starts_from_the_rendered_settings(
    overlay: str, request: pytest.FixtureRequest
) -> None:
    from platform_sdk.pipelines.runtime.kubernetes import KubernetesRuntime

    objects = request.getfixturevalue(overlay)
    config = one(objects, "ConfigMap")["data"]
    if overlay == "dev":
        secrets = _secret_values(objects, "platform-secrets")
    else:  # base only references the Secret: stand-in values
        secrets = {
            "DATABASE_URL": "postgresql+psycopg://u:p@db:5432/platform",
            "PLATFORM_MASTER_KEY": "ab" * 32,
        }
    settings = load_settings(
        **{k.lower(): v for k, v in {**config, **secrets}.items() if k != "PLATFORM_DATA_DIR"}
    )
    assert settings.runtime == "kubernetes"
    runtime = KubernetesRuntime.from_settings(settings, client=object())  # type: ignore[arg-type]
    # Step pods clone from the public URL: it must name the platform's Service in-cluster.
    service = one(objects, "Service", "platform")
    url = urlsplit(runtime.options.git_base_url)
    assert url.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert url.port == service["spec"]["ports"][0]["port"]
