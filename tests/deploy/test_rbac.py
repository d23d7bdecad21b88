"""The platform's ServiceAccount gets what the Kubernetes runtime and the deployer need, no more."""

from __future__ import annotations

from typing import Any

from platform_sdk.pipelines.runtime.k8s_client import KubeClient
from platform_sdk.pipelines.runtime.k8s_objects import MANAGED_BY
from tests.deploy._tools import one

Rules = set[tuple[str, str, str]]


def _rules(role: dict[str, Any]) -> Rules:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_no_rule_uses_a_wildcard(base: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for objects in (base, dev):
        for role in (o for o in objects if o["kind"] in ("Role", "ClusterRole")):
            assert not [r for r in _rules(role) if "*" in r], role["metadata"]["name"]


# Each call of the runtime's KubeClient protocol and the permission it needs.
RUNTIME_CALLS = {
    "create_namespace": ("", "namespaces", "create"),
    "delete_namespace": ("", "namespaces", "delete"),
    "create_network_policy": ("networking.k8s.io", "networkpolicies", "create"),
    "create_secret": ("", "secrets", "create"),
    "delete_secret": ("", "secrets", "delete"),
    "create_pod": ("", "pods", "create"),
    "read_pod": ("", "pods", "get"),
    "delete_pod": ("", "pods", "delete"),
    "stream_logs": ("", "pods/log", "get"),
}


def test_the_runtime_role_grants_exactly_what_the_runtime_calls(
    base: list[dict[str, Any]],
) -> None:
    calls = {
        name
        for name, value in vars(KubeClient).items()
        if callable(value) and not name.startswith("_")
    }
    assert calls == set(RUNTIME_CALLS), "a new KubeClient call: give it a rule in rbac-runtime"
    assert _rules(one(base, "ClusterRole", "platform-runtime")) == set(RUNTIME_CALLS.values())


def test_the_runtime_can_never_read_secrets_or_exec(base: list[dict[str, Any]]) -> None:
    rules = _rules(one(base, "ClusterRole", "platform-runtime"))
    assert not {("", "secrets", v) for v in ("get", "list", "watch")} & rules
    assert not {r for _, r, _ in rules} & {"pods/exec", "pods/attach", "nodes", "roles"}


def test_runtime_writes_are_confined_to_namespaces_the_platform_labels(
    base: list[dict[str, Any]],
) -> None:
    account = one(base, "ServiceAccount", "platform")
    username = f"system:serviceaccount:{account['metadata']['namespace']}:platform"
    policy = one(base, "ValidatingAdmissionPolicy", "platform-runtime-scope")
    assert "namespace" not in policy["metadata"]  # cluster-scoped
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == f'request.userInfo.username == "{username}"'
    guarded = {
        (group, resource)
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
        if {"CREATE", "DELETE"} <= set(rule["operations"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    # Every kind the runtime may write is guarded.
    writes = {(g, r) for g, r, v in _rules(one(base, "ClusterRole", "platform-runtime"))}
    assert {(g, r) for g, r in writes if r != "pods/log"} <= guarded
    assert policy["spec"]["failurePolicy"] == "Fail"
    # The label the policy demands is the one the runtime puts on its namespaces.
    ((key, value),) = MANAGED_BY.items()
    for validation in policy["spec"]["validations"]:
        assert f'"{key}"' in validation["expression"]
        assert f'] == "{value}"' in validation["expression"]
    binding = one(base, "ValidatingAdmissionPolicyBinding", "platform-runtime-scope")
    assert binding["spec"]["policyName"] == "platform-runtime-scope"
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_the_runtime_role_is_bound_to_the_servers_service_account(
    base: list[dict[str, Any]],
) -> None:
    pod = one(base, "Deployment")["spec"]["template"]["spec"]
    account = one(base, "ServiceAccount", pod["serviceAccountName"])
    binding = one(base, "ClusterRoleBinding", "platform-runtime")
    assert binding["roleRef"]["name"] == "platform-runtime"
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]


def test_the_deployer_is_bound_per_namespace_never_cluster_wide(
    base: list[dict[str, Any]], dev: list[dict[str, Any]]
) -> None:
    rules = _rules(one(base, "ClusterRole", "platform-deployer"))
    for verb in ("get", "create", "patch", "delete"):
        assert ("apps", "deployments", verb) in rules
    assert not {r for _, r, _ in rules} & {"roles", "rolebindings", "clusterroles", "nodes"}
    assert not {g for g, _, _ in rules} & {"rbac.authorization.k8s.io", "apiextensions.k8s.io"}
    for objects in (base, dev):
        cluster_bound = {o["roleRef"]["name"] for o in objects if o["kind"] == "ClusterRoleBinding"}
        assert "platform-deployer" not in cluster_bound
    binding = one(dev, "RoleBinding", "platform-deployer")
    assert binding["metadata"]["namespace"] == "platform-apps"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "platform-deployer",
    }
    one(dev, "Namespace", "platform-apps")
