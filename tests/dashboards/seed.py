"""A small world for the dashboard tests: a developer's project with a pipeline, issues, a merge
request, logs, an alert rule and a viewer who sees only part of it.

``dev`` owns ``dev/app`` (pipeline ``build`` → ``test``; ``test`` waits for ``gate``, a
:class:`~tests.pipelines.helpers.Gate`, when the run's parameter ``WAIT`` names its port) and
``dev/other``; ``vera`` is a viewer of ``dev/app`` only. Logs are put in the telemetry spool
(queryable at once), a few seconds old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from platform_sdk.core.access import Actor
from platform_sdk.dashboards.serving import acting_as
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.pipelines.schemas import TriggerIn
from platform_sdk.pipelines.services import runs
from platform_sdk.sdk import Platform
from tests.observe.explore_data import rows
from tests.pipelines.helpers import Gate, commit_files, make_project
from tests.plugins.platforms import People

DEFINITION = """\
pipeline:
  on:
    manual: {parameters: {WAIT: {default: ""}}}
  steps:
    - name: build
      commands: ["echo building"]
    - name: test
      depends_on: [build]
      commands:
        - |
          [ -z "$WAIT" ] || until (exec 3<>/dev/tcp/127.0.0.1/$WAIT) 2>/dev/null
          do sleep 0.1; done
        - echo tested
"""


@dataclass
class World:
    platform: Platform
    people: People
    dev: Actor
    vera: Actor
    gate: Gate

    def as_(self, actor: Actor) -> Platform:
        return acting_as(self.platform, actor)

    def trigger(self, wait: bool = False) -> int:
        body = TriggerIn(parameters={"WAIT": str(self.gate.port) if wait else ""})
        with self.platform.session() as db:
            return runs.trigger_run(db, actor=self.dev, project="dev/app", body=body).number


def add_logs(platform: Platform, items: list[tuple[str, str, str]], *, age: float = 30) -> None:
    """Put ``(project, severity, body)`` log records in the spool, newest last, ``age`` s old."""
    now = datetime.now(UTC) - timedelta(seconds=age)
    levels = {"DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17}
    table = rows(
        "logs",
        [
            {
                "timestamp": now + timedelta(milliseconds=i),
                "project": project,
                "severity": sev,
                "severity_number": levels[sev],
                "body": body,
                "session_id": "sess-1" if i % 2 else "sess-2",
            }
            for i, (project, sev, body) in enumerate(items)
        ],
    )
    telemetry_of(platform.runtime).spool.append("logs", table)


def make_world(platform: Platform, people: People, tmp: Path) -> World:
    dev = people.user("dev", roles=("developer",))
    gate = Gate()
    bare = make_project(people, dev, "app", {".platform.yaml": DEFINITION})
    commit_files(bare, {"feature.txt": "new feature\n"}, branch="feature")
    people.project(dev, "other")
    with platform.session() as db:
        from sqlalchemy import select

        from platform_sdk.projects.models import Project

        app_id = db.scalars(select(Project.id).where(Project.name == "app")).one()
    vera = people.user("vera", project_roles={app_id: ("viewer",)})
    as_dev = acting_as(platform, dev)
    app = as_dev.projects.get("dev/app")
    app.issues.create("Login fails", labels=["bug"])
    app.issues.create("Add dark mode", labels=["feature"])
    app.merge_requests.create("feature", "main", title="Add the feature")
    add_logs(
        platform,
        [
            ("dev/app", "INFO", "request served"),
            ("dev/app", "ERROR", "database timeout"),
            ("dev/other", "WARN", "other project warning"),
            ("dev/app", "DEBUG", "cache miss"),
        ],
    )
    return World(platform, people, dev, vera, gate)
