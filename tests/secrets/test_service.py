"""The secret services on both databases: storage, versions, scopes, permissions, audit,
expansion and key rotation."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from platform_sdk.config import load_settings
from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import NotFound, PermissionDenied, ValidationFailed
from platform_sdk.sdk import Platform
from platform_sdk.secrets import service as svc
from platform_sdk.secrets.crypto import DecryptionFailed, Key, UnknownKey
from platform_sdk.secrets.keyring import KEY_FILE
from platform_sdk.secrets.schemas import SecretOut
from platform_sdk.secrets.sdk import SecretManager
from tests.secrets.conftest import Calls, Team

VALUE = "pypi-AgEIcHlwaS5vcmc-s3cr3t"
PAGE = PageParams()


def _set(calls: Calls, actor: Actor, name: str, value: str = VALUE, **kw: object) -> SecretOut:
    return calls(svc.set_secret, actor, name=name, value=value, **kw)


def _audit(calls: Calls, prefix: str = "secret.") -> list[tuple[str, dict[str, object]]]:
    rows = calls.sql(
        "SELECT action, details FROM audit_log WHERE action LIKE :p ORDER BY at", p=prefix + "%"
    )
    return [(a, d if isinstance(d, dict) else json.loads(d)) for a, d in rows]


def test_round_trip_project_and_global(calls: Calls, admin: Actor, team: Team) -> None:
    out = _set(calls, admin, "PYPI_TOKEN", project=team.app, scope="pipeline")
    assert (out.name, out.project, out.scope, out.version, out.versions) == (
        "PYPI_TOKEN",
        "alice/app",
        "pipeline",
        1,
        1,
    )
    assert out.created_by == admin.username
    assert "value" not in SecretOut.model_fields
    assert VALUE not in out.model_dump_json()
    got = calls(svc.resolve, admin, name="PYPI_TOKEN", project=team.app, scope="pipeline")
    assert got == VALUE
    unicode = "päss wörd ✓ \n with newline"
    assert _set(calls, admin, "GLOBAL_ONE", unicode).project is None
    assert calls(svc.resolve, admin, name="GLOBAL_ONE", scope="all") == unicode


def test_database_holds_only_ciphertext(calls: Calls, admin: Actor, team: Team) -> None:
    _set(calls, admin, "PYPI_TOKEN", project=team.app)
    _set(calls, admin, "PYPI_TOKEN", VALUE + "-2", project=team.app)
    rows = calls.sql("SELECT ciphertext, key_id, name FROM secrets")
    assert len(rows) == 2
    for ciphertext, key_id, _ in rows:
        raw = bytes(ciphertext)
        assert VALUE.encode() not in raw
        assert raw[1:9].hex() == key_id
    audit_text = json.dumps(_audit(calls, ""), default=str)
    assert VALUE not in audit_text


def test_versions_increment_and_only_ten_are_kept(calls: Calls, admin: Actor) -> None:
    for n in range(1, 13):
        out = _set(calls, admin, "ROTATING", f"value-{n}")
        assert out.version == n
    assert out.versions == 10
    versions = sorted(v for (v,) in calls.sql("SELECT version FROM secrets"))
    assert versions == list(range(3, 13))
    assert calls(svc.resolve, admin, name="ROTATING", scope="all") == "value-12"
    assert calls(svc.resolve, admin, name="ROTATING", scope="all", version=5) == "value-5"
    with pytest.raises(NotFound, match="at version 1"):
        calls(svc.resolve, admin, name="ROTATING", scope="all", version=1)


def test_delete_is_soft_and_numbering_continues(calls: Calls, admin: Actor, team: Team) -> None:
    _set(calls, admin, "DB_URL", project=team.app)
    _set(calls, admin, "DB_URL", project=team.app)
    calls(svc.delete_secret, admin, name="DB_URL", project=team.app)
    assert all(d is not None for (d,) in calls.sql("SELECT deleted_at FROM secrets"))
    with pytest.raises(NotFound, match="DB_URL is not set for project alice/app"):
        calls(svc.get_secret, admin, name="DB_URL", project=team.app)
    with pytest.raises(NotFound):
        calls(svc.resolve, admin, name="DB_URL", project=team.app, scope="all")
    with pytest.raises(NotFound):
        calls(svc.delete_secret, admin, name="DB_URL", project=team.app)
    assert calls(svc.list_secrets, admin, page=PAGE, project=team.app).total == 0
    again = _set(calls, admin, "DB_URL", "new", project=team.app)
    assert (again.version, again.versions) == (3, 1)
    assert calls(svc.resolve, admin, name="DB_URL", project=team.app, scope="all") == "new"


def test_list_and_get_show_latest_metadata(calls: Calls, admin: Actor, team: Team) -> None:
    for name in ("ZETA", "ALPHA", "MIDDLE"):
        _set(calls, admin, name, project=team.app)
    _set(calls, admin, "ALPHA", "second", project=team.app, scope="deploy")
    _set(calls, admin, "GLOBAL_ONLY")
    page = calls(svc.list_secrets, admin, page=PAGE, project=team.app)
    assert [s.name for s in page.items] == ["ALPHA", "MIDDLE", "ZETA"]
    assert (page.items[0].version, page.items[0].versions, page.items[0].scope) == (2, 2, "deploy")
    assert VALUE not in page.model_dump_json()
    small = calls(svc.list_secrets, admin, page=PageParams(per_page=2), project=team.app)
    assert (len(small.items), small.total, small.next_page) == (2, 3, 2)
    assert [s.name for s in calls(svc.list_secrets, admin, page=PAGE).items] == ["GLOBAL_ONLY"]
    got = calls(svc.get_secret, admin, name="ALPHA", project=str(team.app_id))
    assert (got.version, got.project) == (2, "alice/app")


def test_project_secret_shadows_global_and_falls_back(
    calls: Calls, admin: Actor, team: Team
) -> None:
    _set(calls, admin, "REGISTRY", "global-value")
    _set(calls, admin, "SHARED", "global-shared", scope="pipeline")
    _set(calls, admin, "SHARED", "project-shared", project=team.app, scope="deploy")
    assert calls(svc.resolve, team.ops, name="REGISTRY", project=team.app, scope="agent") == (
        "global-value"
    )
    assert calls(svc.resolve, team.ops, name="SHARED", project=team.app, scope="deploy") == (
        "project-shared"
    )
    # the project's SHARED (deploy only) shadows the global one for every scope
    with pytest.raises(NotFound, match="SHARED is not set for project alice/app"):
        calls(svc.resolve, team.ops, name="SHARED", project=team.app, scope="pipeline")
    assert _audit(calls, "secret.resolve")[0][1]["source"] == "global"


@pytest.mark.parametrize(
    ("stored", "asked", "ok"),
    [
        ("all", "pipeline", True),
        ("all", "deploy", True),
        ("all", "all", True),
        ("pipeline", "pipeline", True),
        ("pipeline", "deploy", False),
        ("pipeline", "agent", False),
        ("pipeline", "all", False),
        ("agent", "agent", True),
    ],
)
def test_scope_filtering(
    calls: Calls, admin: Actor, team: Team, stored: str, asked: str, ok: bool
) -> None:
    _set(calls, admin, "SCOPED", project=team.app, scope=stored)
    if ok:
        assert calls(svc.resolve, admin, name="SCOPED", project=team.app, scope=asked) == VALUE
    else:
        with pytest.raises(NotFound, match=f"scope {asked}"):
            calls(svc.resolve, admin, name="SCOPED", project=team.app, scope=asked)


def test_permissions(calls: Calls, admin: Actor, team: Team) -> None:
    # developer: secret:write but not secret:read
    assert _set(calls, team.dev, "DEV_SET", project=team.app).created_by == "dev"
    assert calls(svc.list_secrets, team.dev, page=PAGE, project=team.app).total == 1
    assert calls(svc.get_secret, team.dev, name="DEV_SET", project=team.app).version == 1
    with pytest.raises(PermissionDenied, match="secret:read"):
        calls(svc.resolve, team.dev, name="DEV_SET", project=team.app, scope="all")
    with pytest.raises(PermissionDenied, match="secret:read"):
        calls(svc.expand, team.dev, text="${{ secrets.DEV_SET }}", project=team.app, scope="all")
    # ops resolves
    assert calls(svc.resolve, team.ops, name="DEV_SET", project=team.app, scope="all") == VALUE
    # viewer sees the project but holds neither secret permission
    with pytest.raises(PermissionDenied):
        calls(svc.list_secrets, team.viewer, page=PAGE, project=team.app)
    with pytest.raises(PermissionDenied):
        calls(svc.get_secret, team.viewer, name="DEV_SET", project=team.app)
    with pytest.raises(PermissionDenied):
        _set(calls, team.viewer, "NOPE", project=team.app)
    # another (private) project is invisible: NotFound, whatever the verb
    _set(calls, admin, "BOBS", project=team.other)
    for fn, kw in (
        (svc.list_secrets, {"page": PAGE}),
        (svc.get_secret, {"name": "BOBS"}),
        (svc.set_secret, {"name": "BOBS", "value": "x"}),
        (svc.delete_secret, {"name": "BOBS"}),
        (svc.resolve, {"name": "BOBS", "scope": "all"}),
    ):
        with pytest.raises(NotFound, match="project bob/other not found"):
            calls(fn, team.ops, project=team.other, **kw)
    # project roles do not reach global secrets
    with pytest.raises(PermissionDenied, match="globally"):
        _set(calls, team.ops, "GLOBAL_NOPE")
    with pytest.raises(PermissionDenied):
        calls(svc.list_secrets, team.dev, page=PAGE)
    with pytest.raises(PermissionDenied):
        calls(svc.rotate_key, team.ops)


def test_bad_input_is_a_validation_error(calls: Calls, admin: Actor) -> None:
    for name in ("lower", "1START", "WITH-DASH", "", "A" * 129):
        with pytest.raises(ValidationFailed, match=r"^name:"):
            _set(calls, admin, name)
    with pytest.raises(ValidationFailed, match=r"^value:"):
        _set(calls, admin, "BIG", "x" * (64 * 1024 + 1))
    with pytest.raises(ValidationFailed, match=r"^value:"):
        _set(calls, admin, "EMPTY", "")
    with pytest.raises(ValidationFailed, match=r"^scope:"):
        _set(calls, admin, "SCOPE", scope="everywhere")
    assert _set(calls, admin, "_OK_9", "x" * (64 * 1024)).version == 1


def test_every_change_and_resolve_is_audited_without_values(
    calls: Calls, admin: Actor, team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _set(calls, team.dev, "AUDITED", project=team.app, scope="pipeline")
    calls(svc.resolve, team.ops, name="AUDITED", project=team.app, scope="pipeline")
    calls(svc.expand, team.ops, text="x=${{ secrets.AUDITED }}", project=team.app, scope="pipeline")
    calls(svc.delete_secret, team.dev, name="AUDITED", project=team.app)
    rows = _audit(calls)
    assert [a for a, _ in rows] == [
        "secret.set",
        "secret.resolve",
        "secret.resolve",
        "secret.delete",
    ]
    assert rows[1][1] == {
        "name": "AUDITED",
        "version": 1,
        "scope": "pipeline",
        "project": "alice/app",
        "source": "project",
    }
    who = calls.sql("SELECT actor_name, project_id FROM audit_log WHERE action LIKE 'secret.%'")
    assert [n for n, _ in who] == ["dev", "ops", "ops", "dev"]
    assert VALUE not in json.dumps(rows)
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert VALUE not in logged


def test_expand(calls: Calls, admin: Actor, team: Team) -> None:
    _set(calls, admin, "USER", "deploy-bot", project=team.app)
    _set(calls, admin, "PASSWORD", "p@ss ${{ secrets.USER }}", project=team.app)
    _set(calls, admin, "REGISTRY", "registry.example.com")
    text = (
        "login ${{ secrets.USER }}:${{secrets.PASSWORD}}@${{   secrets.REGISTRY\t}} "
        "again ${{\n secrets.USER }} not ${ secrets.USER } nor {{ secrets.USER }}"
    )
    out = calls(svc.expand, team.ops, text=text, project=team.app, scope="pipeline")
    assert out == (
        "login deploy-bot:p@ss ${{ secrets.USER }}@registry.example.com "
        "again deploy-bot not ${ secrets.USER } nor {{ secrets.USER }}"
    )
    # one audit row per distinct name
    assert sorted(str(d["name"]) for _, d in _audit(calls, "secret.resolve")) == [
        "PASSWORD",
        "REGISTRY",
        "USER",
    ]


def test_expand_names_missing_secrets(calls: Calls, admin: Actor, team: Team) -> None:
    _set(calls, admin, "PRESENT", project=team.app)
    with pytest.raises(NotFound) as err:
        calls(
            svc.expand,
            team.ops,
            text="${{ secrets.PRESENT }} ${{ secrets.PYPI_TOKEN }}",
            project=team.app,
            scope="pipeline",
        )
    assert (
        err.value.message == "secret PYPI_TOKEN is not set for project alice/app (scope pipeline)"
    )
    with pytest.raises(NotFound, match="secrets A_ONE, B_TWO are not set globally"):
        calls(svc.expand, admin, text="${{ secrets.A_ONE }}${{ secrets.B_TWO }}", scope="agent")
    with pytest.raises(ValidationFailed, match=r"secrets\.lower"):
        calls(svc.expand, admin, text="${{ secrets.lower }}", scope="agent")
    assert _audit(calls, "secret.resolve") == []


def test_expand_without_placeholders_is_unchanged_and_unaudited(calls: Calls, team: Team) -> None:
    before = _audit(calls, "")
    for text in ("", "plain text", "$HOME ${VAR} {{ x }} ${{ env.X }}"):
        assert calls(svc.expand, team.viewer, text=text, project=team.app, scope="deploy") == text
    assert _audit(calls, "") == before


def test_ciphertext_swapped_between_rows_fails_cleanly(
    calls: Calls, admin: Actor, team: Team
) -> None:
    _set(calls, admin, "ROW_A", "value-of-a", project=team.app)
    _set(calls, admin, "ROW_B", "value-of-b", project=team.app)
    calls.execute(
        "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'ROW_A') "
        "WHERE name = 'ROW_B'"
    )
    with pytest.raises(DecryptionFailed) as err:
        calls(svc.resolve, admin, name="ROW_B", project=team.app, scope="all")
    assert "ROW_B version 1" in err.value.message
    assert "value-of" not in err.value.message
    # widening a row's scope in the database breaks it too (the scope is bound in the AAD)
    _set(calls, admin, "NARROW", project=team.app, scope="deploy")
    calls.execute("UPDATE secrets SET scope = 'all' WHERE name = 'NARROW'")
    with pytest.raises(DecryptionFailed):
        calls(svc.resolve, admin, name="NARROW", project=team.app, scope="pipeline")


def test_master_key_from_the_environment(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("PLATFORM_MASTER_KEY", base64.b64encode(key).decode())
    plat = Platform(load_settings(data_dir=tmp_path / "d", database_url=db_url))
    try:
        plat.initialise()
        plat_calls = Calls(plat)
        _set(plat_calls, plat.actor, "FROM_ENV")
        assert plat_calls.sql("SELECT key_id FROM secrets") == [(Key(key).kid,)]
        assert not (tmp_path / "d" / KEY_FILE).exists()
        assert plat_calls(svc.resolve, plat.actor, name="FROM_ENV", scope="all") == VALUE
    finally:
        plat.close()


def test_rotate_key_in_file_mode(
    platform: Platform, calls: Calls, admin: Actor, team: Team
) -> None:
    _set(calls, admin, "ONE", "1", project=team.app)
    _set(calls, admin, "TWO", "2")
    _set(calls, admin, "GONE", "3")
    calls(svc.delete_secret, admin, name="GONE")
    path = platform.settings.data_dir / KEY_FILE
    old = json.loads(path.read_text())["primary"]
    seen: list[tuple[int, int]] = []
    out = calls(svc.rotate_key, admin, progress=lambda d, t: seen.append((d, t)))
    doc = json.loads(path.read_text())
    assert out.mode == "file"
    assert (out.reencrypted, out.by_key, out.damaged) == (3, {old: 3}, [])
    assert out.primary_key_id == doc["primary"] != old
    assert out.retired_key_ids == [old]
    assert list(doc["keys"]) == [out.primary_key_id]  # the old key is gone after commit
    assert seen[-1] == (3, 3)
    assert {k for (k,) in calls.sql("SELECT key_id FROM secrets")} == {out.primary_key_id}
    assert calls(svc.resolve, admin, name="ONE", project=team.app, scope="all") == "1"
    assert calls(svc.resolve, admin, name="TWO", scope="all") == "2"
    assert [a for a, _ in _audit(calls, "secret.rotate")] == ["secret.rotate_key"]


def test_rotate_key_leaves_damaged_rows_and_their_key(
    platform: Platform, calls: Calls, admin: Actor
) -> None:
    _set(calls, admin, "GOOD", "1")
    _set(calls, admin, "BAD", "2")
    calls.execute(
        "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'GOOD') "
        "WHERE name = 'BAD'"
    )
    out = calls(svc.rotate_key, admin)
    assert out.damaged == ["BAD v1 (global)"]
    assert out.retired_key_ids == []
    assert len(json.loads((platform.settings.data_dir / KEY_FILE).read_text())["keys"]) == 2
    assert calls(svc.resolve, admin, name="GOOD", scope="all") == "1"


def test_rotate_key_in_env_mode(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = os.urandom(32).hex(), os.urandom(32).hex()

    def opened(key: str) -> Platform:
        return Platform(load_settings(data_dir=tmp_path / "d", database_url=db_url, master_key=key))

    with opened(old) as first:
        first.initialise()
        _set(Calls(first), first.actor, "KEPT", "kept-value")
        _set(Calls(first), first.actor, "KEPT", "kept-value-2")
    with opened(new) as without_previous, pytest.raises(UnknownKey) as err:
        Calls(without_previous)(svc.resolve, without_previous.actor, name="KEPT", scope="all")
    assert Key(bytes.fromhex(old)).kid in err.value.message
    monkeypatch.setenv("PLATFORM_MASTER_KEY_PREVIOUS", old)
    with opened(new) as rotating:
        c = Calls(rotating)
        assert c(svc.resolve, rotating.actor, name="KEPT", scope="all") == "kept-value-2"
        out = c(svc.rotate_key, rotating.actor)
        assert (out.mode, out.reencrypted) == ("env", 2)
        assert out.primary_key_id == Key(bytes.fromhex(new)).kid
        assert out.retired_key_ids == [Key(bytes.fromhex(old)).kid]
        assert {k for (k,) in c.sql("SELECT key_id FROM secrets")} == {out.primary_key_id}
    monkeypatch.delenv("PLATFORM_MASTER_KEY_PREVIOUS")
    with opened(new) as after:
        assert Calls(after)(svc.resolve, after.actor, name="KEPT", scope="all") == "kept-value-2"
        assert Calls(after)(svc.resolve, after.actor, name="KEPT", scope="all", version=1) == (
            "kept-value"
        )


def test_sdk_managers(platform: Platform, team: Team) -> None:
    glob = SecretManager(platform)
    proj = SecretManager(platform, project=team.app)
    secret = proj.set("TOKEN", VALUE, scope="pipeline")
    assert repr(secret) == "<Secret TOKEN v1 alice/app scope=pipeline>"
    assert VALUE not in repr(secret) + secret._repr_html_() + json.dumps(secret.to_dict())
    glob.set("REGISTRY", "reg.example")
    assert [s.name for s in proj.list()] == ["TOKEN"]
    assert proj.get("TOKEN").version == 1
    assert proj.resolve("TOKEN", scope="pipeline") == VALUE
    assert secret.resolve("pipeline") == VALUE
    assert proj.expand("${{ secrets.REGISTRY }}/${{ secrets.TOKEN }}", "pipeline") == (
        f"reg.example/{VALUE}"
    )
    secret.delete()
    assert proj.list().total == 0
    seen: list[int] = []
    assert glob.rotate_key(progress=lambda done, total: seen.append(done)).reencrypted == 2
    assert seen == [2]
    assert glob.resolve("REGISTRY") == "reg.example"
