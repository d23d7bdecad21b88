"""deploy/dev-infra (what hack/kind-up.sh installs) and the kind cluster's port mappings."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import yaml

from tests.deploy._tools import K8S_VERSION, REPO, one, pod_containers


def test_built_in_objects_validate_and_the_cnpg_cluster_is_one_instance(
    infra: list[dict[str, Any]],
) -> None:
    builtin = [o for o in infra if o["apiVersion"] != "postgresql.cnpg.io/v1"]
    for obj in builtin:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    cluster = one(infra, "Cluster", "platform-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] == 1
    assert cluster["metadata"]["namespace"] == "platform-infra"
    deployments = {o["metadata"]["name"] for o in infra if o["kind"] == "Deployment"}
    assert deployments == {"valkey", "minio", "otel-collector"}
    job = one(infra, "Job", "minio-bucket")
    (mc,) = job["spec"]["template"]["spec"]["containers"]
    assert "mc mb --ignore-existing local/platform" in " ".join(mc["args"])


def test_infra_images_are_pinned_and_pods_run_as_non_root(infra: list[dict[str, Any]]) -> None:
    workloads = [o for o in infra if o["kind"] in ("Deployment", "Job")]
    for workload in workloads:
        assert workload["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        for container in pod_containers(workload):
            image = container["image"]
            assert re.search(r":[\w.-]*\d[\w.-]*$", image), f"{image} has no exact tag"
            assert not image.endswith(":latest"), image
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_nodeports_match_the_kind_host_port_mappings(
    infra: list[dict[str, Any]], dev: list[dict[str, Any]]
) -> None:
    kind = yaml.safe_load((REPO / "hack" / "kind-config.yaml").read_text())
    assert [n["role"] for n in kind["nodes"]] == ["control-plane"]
    mappings = {m["containerPort"]: m["hostPort"] for m in kind["nodes"][0]["extraPortMappings"]}
    node_ports = {
        p["nodePort"]: p["port"]
        for o in [*infra, *dev]
        if o["kind"] == "Service" and o["spec"].get("type") == "NodePort"
        for p in o["spec"]["ports"]
    }
    # Every NodePort reaches the host on its service's usual port, and nothing else is mapped.
    assert mappings == node_ports
    assert set(mappings.values()) == {8080, 5432, 6379, 9000, 9001}
    assert all(m["listenAddress"] == "127.0.0.1" for m in kind["nodes"][0]["extraPortMappings"])


def test_the_collector_exports_to_the_platform_otlp_endpoint(infra: list[dict[str, Any]]) -> None:
    config = yaml.safe_load(one(infra, "ConfigMap", "otel-collector-config")["data"]["config.yaml"])
    exporter = config["exporters"]["otlphttp/platform"]
    # otlphttp appends /v1/traces, /v1/logs and /v1/metrics to this base URL.
    assert exporter["endpoint"] == "http://platform.platform.svc:8080"
    for pipeline in ("traces", "logs", "metrics"):
        assert config["service"]["pipelines"][pipeline]["exporters"] == ["otlphttp/platform"]


def test_kind_up_prints_the_settings_the_platform_reads() -> None:
    script = (REPO / "hack" / "kind-up.sh").read_text()
    printed = script.split("<<SETTINGS", 1)[1]
    settings = set(re.findall(r"^(?:# )?([A-Z_]+)=", printed, re.M))
    assert {
        "DATABASE_URL",
        "VALKEY_URL",
        "MINIO_ENDPOINT",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "PLATFORM_BUCKET",
        "PLATFORM_RUNTIME",
        "KUBECONFIG",
        "PLATFORM_LISTEN",
        "PLATFORM_PUBLIC_URL",
    } <= settings
    env_example = (REPO / ".env.example").read_text()
    assert all(f"# {name}:" in env_example for name in settings)
    # Its own kubeconfig file, the operator from its helm chart, the infra from dev-infra.
    assert '--kubeconfig "$KUBECONFIG_FILE"' in script
    assert "helm upgrade --install cnpg cnpg/cloudnative-pg" in script
    assert "kubectl apply -k deploy/dev-infra" in script
    assert (REPO / "deploy" / "dev-infra" / "helm" / "cnpg-values.yaml").is_file()
