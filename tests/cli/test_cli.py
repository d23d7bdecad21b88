"""The `platform` command as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from platform_sdk.__about__ import __version__
from platform_sdk.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_verb_has_help() -> None:
    for args in (
        [],
        ["init"],
        ["serve"],
        ["status"],
        ["config"],
        ["version"],
        ["db"],
        ["db", "upgrade"],
        ["db", "revert"],
        ["db", "new"],
        ["db", "check"],
        ["db", "current"],
        ["db", "history"],
    ):
        code, out, _ = run(*args, "--help")
        assert code == 0, args
        assert "Usage: " in out


def test_version_text_and_json() -> None:
    assert run("version")[1].split() == ["version", __version__]
    assert json.loads(run("version", "--json")[1]) == {"version": __version__}


def test_init_prints_credentials_once(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out, _ = run("--data-dir", data, "init", "--json")
    assert code == 0
    first = json.loads(out)
    assert first["initialised"] is True
    assert first["admin_username"] == "admin"
    assert len(first["admin_password"]) >= 20
    assert (tmp_path / "data" / "platform.db").is_file()

    code, out, err = run("--data-dir", data, "init")
    assert code == 1
    assert "already initialised" in err
    assert first["admin_password"] not in out + err

    code, out, _ = run("--data-dir", data, "init", "--if-needed")
    assert code == 0
    assert "already initialised" in out
    assert first["admin_password"] not in out


def test_status_on_embedded_defaults(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run("--data-dir", data, "init")[0] == 0
    code, out, _ = run("--data-dir", data, "status", "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["status"] == "ready"
    assert body["components"]["object_store"]["backend"] == "local"
    assert body["components"]["bus"]["backend"] == "in-process"
    assert body["sandbox"] == "bubblewrap"
    assert body["components"]["sandbox"]["detail"].startswith("bubblewrap 0.")


def test_status_names_the_component_that_is_down(tmp_path: Path, closed_port: int) -> None:
    env = {"DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/x"}
    code, out, _ = run("--data-dir", str(tmp_path), "status", "--json", env=env)
    assert code == 1
    assert json.loads(out)["failing"] == ["database"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "oracle://x"}, "DATABASE_URL"),
        ({"PLATFORM_RUNTIME": "nomad"}, "PLATFORM_RUNTIME"),
        ({"PLATFORM_LISTEN": "everywhere"}, "PLATFORM_LISTEN"),
        ({"VALKEY_URL": "valkey"}, "VALKEY_URL"),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    code, out, err = run("--data-dir", str(tmp_path), "config", env=env)
    assert code == 2
    assert err.startswith(f"error[config_invalid]: {variable}: ")
    assert out == ""


def test_config_masks_secrets(tmp_path: Path) -> None:
    env = {
        "MINIO_ENDPOINT": "http://127.0.0.1:9000",
        "MINIO_ACCESS_KEY": "ak",
        "MINIO_SECRET_KEY": "hunter2-very-secret",
    }
    code, out, _ = run("--data-dir", str(tmp_path), "config", "--json", env=env)
    assert code == 0
    assert "hunter2" not in out
    assert json.loads(out)["minio_endpoint"] == "http://127.0.0.1:9000"


def test_db_verbs_round_trip(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert run(*data, "db", "upgrade")[0] == 0
    current = json.loads(run(*data, "db", "current", "--json")[1])
    assert current["up_to_date"] is True
    code, out, _ = run(*data, "db", "check")
    assert code == 0
    assert "agree" in out
    assert run(*data, "db", "revert", "base")[0] == 0
    assert json.loads(run(*data, "db", "current", "--json")[1])["current"] == []
    code, _, err = run(*data, "db", "check")
    assert code == 1
    assert "platform init" in err
    assert run(*data, "db", "upgrade")[0] == 0
    history = json.loads(run(*data, "db", "history", "--json")[1])
    assert history[-1]["revision"] == "0001"


def test_serve_refuses_an_uninitialised_data_dir(tmp_path: Path) -> None:
    code, _, err = run("--data-dir", str(tmp_path), "serve")
    assert code == 1
    assert "schema_outdated" in err
    assert "platform init" in err
