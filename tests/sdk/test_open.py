"""`platform_sdk.open()`: the embedded platform a notebook or script starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

import platform_sdk as ps
from platform_sdk.errors import NotFound, SchemaOutdated


def test_open_initialises_a_new_data_dir_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with ps.open(str(data)) as p:
        assert p.actor.username == "admin"
        assert p.readiness().ok
        assert "Platform" in p._repr_html_()
    first = capsys.readouterr().out
    assert "password" in first
    assert (data / "platform.db").is_file()
    with ps.open(str(data)) as p:
        assert p.actor.username == "admin"
    assert capsys.readouterr().out == ""  # credentials are shown only the first time


def test_open_as_a_named_user(tmp_path: Path) -> None:
    with ps.open(str(tmp_path), user="admin") as p:
        assert p.actor.username == "admin"
    with ps.open(str(tmp_path), user="nobody") as p, pytest.raises(NotFound, match="nobody"):
        _ = p.actor


def test_open_never_migrates_an_explicit_database(tmp_path: Path, empty_db_url: str) -> None:
    with pytest.raises(SchemaOutdated, match="platform init"):
        ps.open(str(tmp_path), database_url=empty_db_url)


def test_open_uses_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path / "env-dir"))
    with ps.open() as p:
        assert p.settings.data_dir == (tmp_path / "env-dir").resolve()
    assert (tmp_path / "env-dir" / "platform.db").is_file()
