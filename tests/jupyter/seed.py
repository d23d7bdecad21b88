"""A seeded platform for the sidebar's tests.

``alice`` owns ``alice/app`` (a finished pipeline run whose ``build`` step echoes
:data:`LOG_LINE`; a run's ``test`` step waits until the 127.0.0.1 port its parameter
``GATE`` names accepts connections, a :class:`~tests.pipelines.helpers.Gate`; an open merge
request; a firing log alert) and ``alice/docs`` (nothing in it);
``bob`` owns ``bob/secret`` and may not read alice's projects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from platform_sdk.core.access import Actor
from platform_sdk.git.repos import repo_path
from platform_sdk.identity.models import Role, UserRole
from platform_sdk.observe.alert_sdk import AlertRuleManager
from platform_sdk.sdk import Platform
from tests.observe.alertkit import ingest, log_rows
from tests.pipelines.helpers import commit_files, make_project
from tests.plugins.platforms import People

LOG_LINE = "hello from the sidebar"

# ``test`` waits for the Gate whose port is the run's parameter GATE, when one is given.
DEFINITION = f"""\
pipeline:
  on:
    manual: {{parameters: {{GATE: {{default: ""}}}}}}
  steps:
    - name: build
      commands: ["echo {LOG_LINE}"]
    - name: test
      depends_on: [build]
      commands:
        - |
          [ -z "$GATE" ] || until (exec 3<>/dev/tcp/127.0.0.1/$GATE) 2>/dev/null
          do sleep 0.1; done
        - echo tested
"""


@dataclass
class Seeded:
    platform: Platform
    alice: Actor
    bob: Actor
    app: str = "alice/app"
    docs: str = "alice/docs"
    secret: str = "bob/secret"

    def config(self, user: str) -> dict[str, str]:
        """``PlatformConfig`` traits for a Jupyter server acting as ``user``."""
        settings = self.platform.settings
        return {
            "data_dir": str(settings.data_dir),
            "database_url": settings.database_url or "",
            "user": user,
        }


def bind(platform: Platform, actor: Actor, project_id: uuid.UUID, role: str) -> None:
    """Give ``actor`` ``role`` on one project (``people.user`` binds only at creation)."""
    with platform.session() as db:
        role_id = db.scalars(select(Role.id).where(Role.name == role)).one()
        db.add(UserRole(user_id=actor.user_id, role_id=role_id, project_id=project_id))


def seed(platform: Platform, people: People) -> Seeded:
    alice = people.user("alice")
    bob = people.user("bob")
    make_project(people, alice, "app", {".platform.yaml": DEFINITION})
    for project_id in (
        platform.projects.get("alice/app").id,
        people.project(alice, "docs"),
    ):
        bind(platform, alice, project_id, "developer")
    bind(platform, bob, people.project(bob, "secret"), "developer")
    bare = repo_path(platform.settings, "alice", "app")
    commit_files(bare, {"feature.txt": "new\n"}, branch="feature")
    with Platform(platform.settings, user="alice") as as_alice:
        project = as_alice.projects.get("alice/app")
        assert project.pipelines.trigger("main").wait(timeout=60).succeeded
        project.merge_requests.create("feature", "main", title="Add the feature")
    # a recent error (on the real clock: a served platform's evaluator keeps it firing)
    now = datetime.now(UTC)
    ingest(platform, "logs", [row | {"timestamp": now} for row in log_rows([(0, "ERROR", "boom")])])
    alerts = AlertRuleManager(platform)
    alerts.create("errors", project="alice/app", kind="log", level="error", for_=0)
    assert alerts.evaluate(now=now + timedelta(seconds=1)) == 1
    return Seeded(platform, alice, bob)
