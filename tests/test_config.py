"""Settings: resolution order, derived values, and bad values failing with the variable named."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_sdk.config import decode_master_key, load_settings
from platform_sdk.errors import ConfigError


def test_defaults_are_the_embedded_ones() -> None:
    s = load_settings()
    assert s.data_dir == Path(".platform").resolve()
    assert s.data_dir.is_absolute()
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_database_url.endswith("/.platform/platform.db")
    assert s.minio_endpoint is None
    assert s.valkey_url is None
    assert s.runtime == "local"
    assert (s.host, s.port) == ("127.0.0.1", 8080)


def test_argument_beats_environment_beats_dotenv_beats_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Path(".env").write_text("PLATFORM_LISTEN=127.0.0.1:7001\nPLATFORM_BUCKET=from-dotenv\n")
    assert load_settings().listen == "127.0.0.1:7001"
    assert load_settings().bucket == "from-dotenv"
    monkeypatch.setenv("PLATFORM_LISTEN", "127.0.0.1:7002")
    assert load_settings().listen == "127.0.0.1:7002"
    assert load_settings(listen="127.0.0.1:7003").listen == "127.0.0.1:7003"
    assert load_settings(data_dir=tmp_path).data_dir == tmp_path.resolve()
    # an argument of None means "not given", so the lower layers still apply
    assert load_settings(listen=None).listen == "127.0.0.1:7002"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("DATABASE_URL", "not a url", "not a database URL"),
        ("DATABASE_URL", "mysql://u@h/db", "unsupported database"),
        ("DATABASE_URL", "postgresql+psycopg2://u@h/db", "psycopg 3"),
        ("PLATFORM_RUNTIME", "docker", "'local' or 'kubernetes'"),
        ("PLATFORM_LISTEN", "8080", "HOST:PORT"),
        ("PLATFORM_LISTEN", "127.0.0.1:99999", "HOST:PORT"),
        ("MINIO_ENDPOINT", "ftp://x", "http(s) URL"),
        ("MINIO_ENDPOINT", "http://h:notaport", "bad port"),
        ("VALKEY_URL", "http://h:6379", "redis://"),
        ("PLATFORM_VALKEY_PREFIX", "a b*", "should match pattern"),
        ("PLATFORM_LOG", "loud", "unknown level"),
        ("PLATFORM_LOG", "info:xml", "unknown format"),
        ("PLATFORM_MASTER_KEY", "c2hvcnQ=", "32 bytes"),
        ("PLATFORM_BUCKET", "Bad_Bucket", "bucket name"),
        ("PLATFORM_MAX_REQUEST_BYTES", "lots", "integer"),
        ("PLATFORM_MAX_REQUEST_BYTES", "0", "greater than 0"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.variable == variable
    assert str(info.value).startswith(f"{variable}: ")
    assert fragment in str(info.value)


def test_minio_endpoint_needs_its_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIO_ENDPOINT", "http://127.0.0.1:9000")
    with pytest.raises(ConfigError, match="MINIO_ACCESS_KEY and MINIO_SECRET_KEY") as info:
        load_settings()
    assert info.value.variable == "MINIO_ENDPOINT"


def test_master_key_accepts_hex_and_base64() -> None:
    raw = bytes(range(32))
    assert decode_master_key(raw.hex()) == raw
    import base64

    assert decode_master_key(base64.b64encode(raw).decode()) == raw
    assert decode_master_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert load_settings(master_key=raw.hex()).master_key == raw.hex()


def test_redacted_masks_secrets() -> None:
    s = load_settings(
        minio_endpoint="http://127.0.0.1:9000",
        minio_access_key="ak",
        minio_secret_key="very-secret",
        database_url="postgresql+psycopg://u:pw@h/db",
        master_key=bytes(32).hex(),
    )
    shown = s.redacted()
    assert "very-secret" not in str(shown)
    assert "pw@" not in str(shown)
    assert bytes(32).hex() not in str(shown)
    assert shown["minio_access_key"] == "ak"
