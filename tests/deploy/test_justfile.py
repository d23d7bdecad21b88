"""The Justfile parses, has the verbs the README promises, and names only files that exist."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

from tests.deploy._tools import REPO, run, tool

VERBS = {
    "run",
    "watch",
    "fmt",
    "lint",
    "deny",
    "check",
    "test",
    "test-unit",
    "build",
    "ci",
    "cluster-up",
    "cluster-down",
    "docker",
    "deploy-local",
    "mutate",
}


def _summary() -> set[str]:
    result = run(tool("just"), "--summary")
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_justfile_parses_and_has_every_verb() -> None:
    assert _summary() >= VERBS
    listing = run(tool("just"), "--list")
    assert listing.returncode == 0, listing.stderr
    assert "docker TAG=" in listing.stdout
    assert "deploy-local TAG=" in listing.stdout


def test_every_file_the_justfile_names_exists() -> None:
    text = (REPO / "Justfile").read_text()
    paths = set(re.findall(r"(?:hack|docker|deploy|\.ci)/[\w./-]*\w", text))
    assert {"hack/kind-up.sh", "hack/kind-down.sh", "hack/deny.py", "deploy/dev"} <= paths
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert missing == []


def test_the_docker_and_cluster_verbs_run_the_scripts() -> None:
    commands = {
        ("docker", "v7"): "docker build -f docker/Dockerfile -t platform:'v7' .",
        ("cluster-up",): "hack/kind-up.sh",
        ("cluster-down",): "hack/kind-down.sh",
        ("deny",): "hack/deny.py",
    }
    for args, expected in commands.items():
        result = run(tool("just"), "--dry-run", *args)
        assert result.returncode == 0, result.stderr
        assert expected in result.stderr, (args, result.stderr)
    deploy = run(tool("just"), "--dry-run", "deploy-local", "v7").stderr
    for step in ("docker build", "kind load docker-image", "kubectl apply -k", "rollout status"):
        assert step in deploy, step


def test_deploy_local_applies_deploy_dev_with_the_tag_and_image_id(tmp_path: Path) -> None:
    script = run(tool("just"), "--dry-run", "deploy-local", "v7").stderr
    overlay = script.split("<<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    overlay = overlay.replace("$tag", "v7").replace("${image_id#sha256:}", "0f1e2d")
    # The same layout as in the checkout: <root>/.kube/deploy-local next to <root>/deploy.
    (tmp_path / "deploy").symlink_to(REPO / "deploy")
    target = tmp_path / ".kube" / "deploy-local"
    target.mkdir(parents=True)
    (target / "kustomization.yaml").write_text(overlay)
    result = run(tool("kubectl"), "kustomize", str(target))
    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["platform.dev/image-id"] == "0f1e2d"
    images = {
        c["image"] for c in [*template["spec"]["initContainers"], *template["spec"]["containers"]]
    }
    assert images == {"platform:v7"}
    assert {o["kind"] for o in objects} >= {"Service", "Secret", "ConfigMap"}  # all of deploy/dev


def test_every_just_verb_in_the_readme_exists() -> None:
    readme = (REPO / "README.md").read_text()
    develop = readme[readme.index("## Develop") :]
    develop = develop[: develop.find("\n## ", 3)] if "\n## " in develop[3:] else develop
    named = set(re.findall(r"(?:^|`)just ([a-z][\w-]*)", develop, re.M))
    assert {"cluster-up", "deploy-local", "cluster-down"} <= named
    assert named - _summary() == set()


def _critical_modules() -> dict[str, dict[str, list[str]]]:
    with (REPO / "hack" / "mutation.toml").open("rb") as f:
        return tomllib.load(f)["modules"]


def test_mutate_lists_every_critical_module_with_tests_that_exist() -> None:
    modules = _critical_modules()
    for area in ("identity/rbac.py", "secrets/crypto.py", "observe/spool.py", "notify/ssrf.py"):
        assert f"platform_sdk/{area}" in modules, area
    named = [path for path, entry in modules.items() for path in [path, *entry["tests"]]]
    assert sorted(p for p in named if not (REPO / p).is_file()) == []
    listing = run(tool("just"), "mutate")
    assert listing.returncode == 0, listing.stderr
    for path, entry in modules.items():
        assert f"{path} " in listing.stdout, path
        assert " ".join(entry["tests"]) in listing.stdout, path
    as_json = run(tool("just"), "mutate", "--json")
    assert json.loads(as_json.stdout) == sorted(modules)


def test_mutate_refuses_a_module_that_is_not_listed() -> None:
    result = run(tool("just"), "mutate", "platform_sdk/sdk.py")
    assert result.returncode != 0
    assert "platform_sdk/sdk.py is not in mutation.toml" in result.stderr
    assert "platform_sdk/notify/ssrf.py" in result.stderr


def test_the_mutation_workflow_runs_every_module_weekly_with_the_services() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "mutation.yaml").read_text())
    assert "schedule" in workflow[True]  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["mutate"]
    assert set(job["services"]) == {"postgres", "valkey"}
    assert job["strategy"]["matrix"]["module"] == "${{ fromJSON(needs.modules.outputs.modules) }}"
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'hack/mutate.py "$MODULE"' in runs
    assert "--fail-under 90" in runs
    listing = "\n".join(s.get("run", "") for s in workflow["jobs"]["modules"]["steps"])
    assert "hack/mutate.py --json" in listing
