"""Shell scripts, Dockerfiles and workflows pass their linters and pin what they pull."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy._tools import REPO, run, tool

SCRIPTS = sorted(
    [*(REPO / "hack").glob("*.sh"), REPO / "binder" / "postBuild", REPO / "binder" / "start"]
)
DOCKERFILES = [REPO / "docker" / "Dockerfile", REPO / "docker" / "Dockerfile.agent-runner"]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yaml"))


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_shell_scripts_pass_shellcheck() -> None:
    result = run(tool("shellcheck"), "--severity=style", *map(_rel, SCRIPTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_would_catch_an_unquoted_variable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nset -euo pipefail\nrm -rf $1/tmp\n")
    assert run(tool("shellcheck"), str(bad)).returncode != 0


@pytest.mark.parametrize("script", SCRIPTS, ids=_rel)
def test_scripts_are_strict_and_executable(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert os.access(script, os.X_OK)


def test_the_justfile_shebang_recipe_passes_shellcheck(tmp_path: Path) -> None:
    result = run(tool("just"), "--dry-run", "deploy-local", "v1")
    assert result.returncode == 0, result.stderr
    body = result.stderr[result.stderr.index("#!/usr/bin/env bash") :]
    script = tmp_path / "deploy-local.sh"
    script.write_text(body)
    check = run(tool("shellcheck"), "--shell=bash", str(script))
    assert check.returncode == 0, check.stdout


def test_dockerfiles_pass_hadolint() -> None:
    result = run(tool("hadolint"), *map(_rel, DOCKERFILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    assert run(tool("hadolint"), str(bad)).returncode != 0


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_rel)
def test_base_images_are_pinned_by_exact_tag_or_digest(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    images = re.findall(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", text, re.M)
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I))
    external = [i for i in images if i not in stages]
    assert external
    for image in external:
        exact_tag = re.search(r":\d+\.\d+\.\d+[\w.-]*$", image)
        assert exact_tag or "@sha256:" in image, f"{image} is not pinned"


def test_the_platform_image_is_multi_stage_non_root_and_serves() -> None:
    text = (REPO / "docker" / "Dockerfile").read_text()
    assert re.findall(r"^FROM .* AS (\w+)$", text, re.M) == ["extension", "wheels", "runtime"]
    assert "COPY extensio[n] /src/extension/" in text  # builds with or without extension/
    assert re.search(r"apt-get install .*\bgit\b", text)
    assert re.search(r"apt-get install .*\bbubblewrap\b", text)  # the local runtime's sandbox
    assert re.search(r"^USER 10001", text, re.M)
    assert 'ENTRYPOINT ["tini", "--", "platform"]' in text
    assert 'CMD ["serve"]' in text
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :].count("!platform_sdk/") == 1
    assert "**/.env" in ignored
    assert "extension/node_modules" in ignored


def test_the_agent_runner_pins_claude_code_and_runs_non_root() -> None:
    text = (REPO / "docker" / "Dockerfile.agent-runner").read_text()
    version = re.search(r"^ARG CLAUDE_CODE_VERSION=(\d+\.\d+\.\d+)$", text, re.M)
    assert version, "the Claude Code CLI version must be pinned exactly"
    assert '"@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}"' in text
    assert re.search(r"apt-get install[\s\S]*\bgit\b", text)
    assert re.search(r"^USER 10001", text, re.M)


def test_workflows_pass_actionlint() -> None:
    # shellcheck on PATH lets actionlint check every `run:` script too.
    env = {
        **os.environ,
        "PATH": f"{Path(tool('shellcheck')).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = run(tool("actionlint"), *map(_rel, WORKFLOWS), env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_commit_sha() -> None:
    uses = [
        (wf.name, line.strip())
        for wf in WORKFLOWS
        for line in wf.read_text().splitlines()
        if re.match(r"\s*(-\s+)?uses:", line)
    ]
    assert uses
    unpinned = [u for u in uses if not re.search(r"@[0-9a-f]{40}\s+# v\d", u[1])]
    assert unpinned == []


def _workflow(name: str) -> dict:
    data = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_ci_runs_every_stage_on_push_and_pull_request() -> None:
    ci = _workflow("ci.yaml")
    assert {"push", "pull_request"} <= set(ci["on"])
    jobs = ci["jobs"]
    assert {"lint", "unit", "integration", "notebooks", "extension", "audit", "image"} <= set(jobs)
    assert set(jobs["integration"]["services"]) == {"postgres", "valkey"}
    runs = "\n".join(s.get("run", "") for job in jobs.values() for s in job["steps"])
    for command in ("ruff check", "mypy", "--nbval-lax notebooks", "hack/deny.py", "pip-audit"):
        assert command in runs, command
    assert ci["permissions"] == {"contents": "read"}


def test_release_pushes_sha_and_latest_to_ghcr_with_a_cache() -> None:
    release = _workflow("release.yaml")
    assert release["on"] == {"push": {"branches": ["main"]}}
    (job,) = release["jobs"].values()
    assert job["permissions"]["packages"] == "write"
    steps = {s.get("id", s["uses"].split("@")[0]): s for s in job["steps"] if "uses" in s}
    meta = steps["meta"]["with"]
    assert meta["images"].startswith("ghcr.io/")
    assert "value=${{ github.sha }}" in meta["tags"]
    assert "value=latest" in meta["tags"]
    build = steps["docker/build-push-action"]["with"]
    assert build["push"] is True
    assert build["cache-to"].startswith("type=gha")
    assert build["cache-from"].startswith("type=gha")


def test_dependabot_updates_pip_npm_and_actions_weekly_grouped() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert {"pip", "npm", "github-actions"} <= set(updates)
    assert updates["npm"]["directory"] == "/extension"
    for update in updates.values():
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], update["package-ecosystem"]
