"""``platform secrets …`` as an operator runs it."""

from __future__ import annotations

import json
import re
from typing import Any

from click.testing import CliRunner, Result

from platform_sdk.core.access import Actor
from platform_sdk.sdk import Platform
from platform_sdk.secrets import service as svc
from platform_sdk.secrets.cli import secrets
from platform_sdk.secrets.keyring import KEY_FILE
from tests.plugins.platforms import People
from tests.secrets.conftest import Calls

VALUE = "cli-value-that-must-not-print"


def run(
    platform: Platform, *args: str, input: str | None = None, user: str | None = None
) -> Result:
    obj: dict[str, Any] = {"settings": platform.settings, "as_user": user}
    return CliRunner().invoke(secrets, list(args), obj=obj, input=input, catch_exceptions=False)


def test_set_from_stdin_list_rm(
    platform: Platform, people: People, admin: Actor, calls: Calls
) -> None:
    people.project(admin, "app")
    r = run(
        platform,
        "set",
        "API_KEY",
        "--project",
        "admin/app",
        "--scope",
        "agent",
        "--json",
        input=VALUE + "\n",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["name"], out["project"], out["scope"], out["version"]) == (
        "API_KEY",
        "admin/app",
        "agent",
        1,
    )
    assert calls(svc.resolve, admin, name="API_KEY", project="admin/app", scope="agent") == VALUE
    r = run(platform, "set", "API_KEY", "-p", "admin/app", "--value-stdin", input=VALUE + "2")
    assert r.exit_code == 0, r.output
    assert re.search(r"^version +2$", r.stdout, re.M)
    assert calls(svc.resolve, admin, name="API_KEY", project="admin/app", scope="all") == (
        VALUE + "2"
    )
    r = run(platform, "set", "GLOBAL_ONE", input=VALUE)
    assert r.exit_code == 0, r.output

    r = run(platform, "list", "--project", "admin/app", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [(x["name"], x["version"], x["versions"]) for x in rows] == [("API_KEY", 2, 2)]
    assert all("value" not in x for x in rows)
    r = run(platform, "list")
    assert "GLOBAL_ONE" in r.stdout
    assert "API_KEY" not in r.stdout

    r = run(platform, "rm", "API_KEY", "--project", "admin/app")
    assert (r.exit_code, r.stdout.strip()) == (0, "deleted API_KEY (project admin/app)")
    assert json.loads(run(platform, "list", "-p", "admin/app", "--json").stdout) == []
    r = run(platform, "rm", "API_KEY", "--project", "admin/app")
    assert r.exit_code == 1
    assert "error[not_found]: secret API_KEY is not set for project admin/app" in r.stderr


def test_value_option_warns_and_errors_are_reported(platform: Platform, admin: Actor) -> None:
    r = run(platform, "set", "FROM_ARG", "--value", VALUE)
    assert r.exit_code == 0
    assert "shell history" in r.stderr
    assert VALUE not in r.stdout + r.stderr
    r = run(platform, "set", "lower", input=VALUE)
    assert r.exit_code == 1
    assert r.stderr.startswith("error[validation_failed]: name:")
    r = run(platform, "set", "X", "--value", "a", "--value-stdin")
    assert r.exit_code == 2


def test_rotate_key(platform: Platform, admin: Actor, people: People, calls: Calls) -> None:
    for name in ("ONE", "TWO"):
        assert run(platform, "set", name, input=VALUE).exit_code == 0
    path = platform.settings.data_dir / KEY_FILE
    old = json.loads(path.read_text())["primary"]
    r = run(platform, "rotate-key")
    assert r.exit_code == 0, r.output
    assert re.search(r"^reencrypted +2$", r.stdout, re.M)
    new = json.loads(path.read_text())
    assert new["primary"] != old
    assert list(new["keys"]) == [new["primary"]]
    assert {k for (k,) in calls.sql("SELECT key_id FROM secrets")} == {new["primary"]}
    r = run(platform, "rotate-key", "--json")
    assert json.loads(r.stdout)["reencrypted"] == 2
    assert calls(svc.resolve, admin, name="TWO", scope="all") == VALUE
    people.user("plain")
    r = run(platform, "rotate-key", user="plain")
    assert r.exit_code == 1
    assert "error[permission_denied]" in r.stderr
    assert VALUE not in r.output
