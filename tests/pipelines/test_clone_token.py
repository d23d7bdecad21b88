"""The clone credential of Kubernetes pods: read-only, bounded to the run's project."""

from __future__ import annotations

import pytest

from platform_sdk.core.access import Actor
from platform_sdk.errors import ConfigError
from platform_sdk.git.repos import repo_path
from platform_sdk.identity.authn import authenticate
from platform_sdk.pipelines.clone_token import clone_token_minter
from platform_sdk.pipelines.runtime.base import RunSpec
from platform_sdk.pipelines.schemas import TriggerIn
from platform_sdk.pipelines.services import runs
from platform_sdk.pipelines.worker import make_runtime
from platform_sdk.sdk import Platform
from tests.pipelines.helpers import make_project
from tests.plugins.platforms import People


def test_the_clone_token_reads_one_project_only(platform: Platform, people: People) -> None:
    dev: Actor = people.user("dev", roles=("developer",))
    make_project(
        people,
        dev,
        "app",
        {".platform.yaml": "pipeline:\n  steps:\n    - name: a\n      commands: [x]\n"},
    )
    with platform.session() as db:
        out = runs.trigger_run(db, actor=dev, project="dev/app", body=TriggerIn())
    spec = RunSpec(
        run_id=out.id,
        number=out.number,
        project="dev/app",
        repo_path=repo_path(platform.settings, "dev", "app"),
        commit_sha=out.commit_sha,
        ref=out.ref,
    )
    mint = clone_token_minter(platform)
    token = mint(spec)
    assert mint(spec) == token  # one token per run
    with platform.session() as db:
        actor = authenticate(db, token)
    assert actor.username == "dev"
    assert actor.scopes == frozenset({"project:read"})
    assert actor.project_id == out.project_id


def test_the_kubernetes_runtime_needs_its_settings(platform: Platform) -> None:
    from platform_sdk.config import load_settings

    kube = Platform(
        load_settings(
            data_dir=platform.settings.data_dir,
            runtime="kubernetes",
            database_url=platform.settings.resolved_database_url,
        )
    )
    try:
        with pytest.raises(ConfigError, match="PLATFORM_PUBLIC_URL"):
            make_runtime(kube, "w1")
    finally:
        kube.close()
