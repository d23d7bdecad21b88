"""Settings of one platform instance.

Resolution order (mlflow's): explicit argument > environment > ``.env`` file in the working
directory > default. Every value is checked when the settings are built, and a bad one raises
:class:`~platform_sdk.errors.ConfigError` naming the variable, so the process fails at start
rather than on first use.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from platform_sdk.core.rlimits import Limits
from platform_sdk.errors import ConfigError

__all__ = ["LogSettings", "Settings", "load_settings"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")


def _alias(name: str) -> Any:
    return AliasChoices(name, name.lower())


class LogSettings:
    """``PLATFORM_LOG`` parsed: ``LEVEL`` or ``LEVEL:FORMAT`` (``info``, ``debug:json``)."""

    def __init__(self, raw: str) -> None:
        level, _, fmt = raw.strip().lower().partition(":")
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown level {level!r}; use one of {', '.join(LOG_LEVELS)}")
        fmt = fmt or "text"
        if fmt not in LOG_FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(LOG_FORMATS)}")
        self.level = level
        self.format = fmt

    @property
    def level_number(self) -> int:
        return int(logging.getLevelName(self.level.upper()))

    def __str__(self) -> str:
        return f"{self.level}:{self.format}"


class Settings(BaseSettings):
    """Every setting of the platform, with the variable names of ``.env.example``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    data_dir: Path = Field(Path(".platform"), validation_alias=_alias("PLATFORM_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_alias("DATABASE_URL"))
    minio_endpoint: str | None = Field(None, validation_alias=_alias("MINIO_ENDPOINT"))
    minio_access_key: str | None = Field(None, validation_alias=_alias("MINIO_ACCESS_KEY"))
    minio_secret_key: str | None = Field(None, validation_alias=_alias("MINIO_SECRET_KEY"))
    bucket: str = Field("platform", validation_alias=_alias("PLATFORM_BUCKET"))
    valkey_url: str | None = Field(None, validation_alias=_alias("VALKEY_URL"))
    valkey_prefix: str = Field(
        "platform:",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        validation_alias=_alias("PLATFORM_VALKEY_PREFIX"),
    )
    runtime: Literal["local", "kubernetes"] = Field(
        "local", validation_alias=_alias("PLATFORM_RUNTIME")
    )
    local_sandbox: Literal["bubblewrap", "none"] = Field(
        "bubblewrap", validation_alias=_alias("PLATFORM_LOCAL_SANDBOX")
    )
    local_limits: str = Field("", validation_alias=_alias("PLATFORM_LOCAL_LIMITS"))
    kubeconfig: Path | None = Field(None, validation_alias=_alias("KUBECONFIG"))
    listen: str = Field("127.0.0.1:8080", validation_alias=_alias("PLATFORM_LISTEN"))
    log: str = Field("info", validation_alias=_alias("PLATFORM_LOG"))
    master_key: str | None = Field(None, validation_alias=_alias("PLATFORM_MASTER_KEY"))
    master_key_previous: str | None = Field(
        None, validation_alias=_alias("PLATFORM_MASTER_KEY_PREVIOUS")
    )
    max_request_bytes: int = Field(
        16 * 1024 * 1024, gt=0, validation_alias=_alias("PLATFORM_MAX_REQUEST_BYTES")
    )
    session_ttl: int = Field(7 * 24 * 3600, gt=0, validation_alias=_alias("PLATFORM_SESSION_TTL"))
    session_idle: int = Field(12 * 3600, gt=0, validation_alias=_alias("PLATFORM_SESSION_IDLE"))
    git_max_concurrency: int = Field(
        8, ge=0, validation_alias=_alias("PLATFORM_GIT_MAX_CONCURRENCY")
    )
    git_timeout: float = Field(3600.0, gt=0, validation_alias=_alias("PLATFORM_GIT_TIMEOUT"))
    shutdown_timeout: float = Field(
        30.0, ge=0, validation_alias=_alias("PLATFORM_SHUTDOWN_TIMEOUT")
    )
    webhook_allow_private: bool = Field(
        False, validation_alias=_alias("PLATFORM_WEBHOOK_ALLOW_PRIVATE")
    )
    smtp_url: str | None = Field(None, validation_alias=_alias("PLATFORM_SMTP_URL"))
    smtp_from: str = Field("platform@localhost", validation_alias=_alias("PLATFORM_SMTP_FROM"))
    public_url: str | None = Field(None, validation_alias=_alias("PLATFORM_PUBLIC_URL"))
    pipeline_max_parallel: int = Field(
        4, ge=0, validation_alias=_alias("PLATFORM_PIPELINE_MAX_PARALLEL")
    )
    artifact_ttl_days: int = Field(30, gt=0, validation_alias=_alias("PLATFORM_ARTIFACT_TTL_DAYS"))
    kube_namespace_prefix: str = Field(
        "platform-run", validation_alias=_alias("PLATFORM_KUBE_NAMESPACE_PREFIX")
    )
    otlp_listen: str | None = Field(None, validation_alias=_alias("PLATFORM_OTLP_LISTEN"))
    rate_otlp: str = Field("1000/s", validation_alias=_alias("PLATFORM_RATE_OTLP"))
    rate_pipeline_triggers: str = Field(
        "30/min", validation_alias=_alias("PLATFORM_RATE_PIPELINE_TRIGGERS")
    )
    otlp_max_bytes: int = Field(
        32 * 1024 * 1024, gt=0, validation_alias=_alias("PLATFORM_OTLP_MAX_BYTES")
    )
    telemetry_spool_bytes: int = Field(
        1024 * 1024 * 1024, gt=0, validation_alias=_alias("PLATFORM_TELEMETRY_SPOOL_BYTES")
    )
    telemetry_flush_interval: float = Field(
        5.0, gt=0, validation_alias=_alias("PLATFORM_TELEMETRY_FLUSH_INTERVAL")
    )
    retention_logs_days: int | None = Field(
        30, gt=0, validation_alias=_alias("PLATFORM_RETENTION_LOGS_DAYS")
    )
    retention_spans_days: int | None = Field(
        14, gt=0, validation_alias=_alias("PLATFORM_RETENTION_SPANS_DAYS")
    )
    retention_metrics_days: int | None = Field(
        90, gt=0, validation_alias=_alias("PLATFORM_RETENTION_METRICS_DAYS")
    )
    query_max_rows: int = Field(100_000, gt=0, validation_alias=_alias("PLATFORM_QUERY_MAX_ROWS"))
    query_timeout: float = Field(30.0, gt=0, validation_alias=_alias("PLATFORM_QUERY_TIMEOUT"))
    self_telemetry: bool = Field(True, validation_alias=_alias("PLATFORM_SELF_TELEMETRY"))

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Absolute from the start: git runs hooks and subprocesses from other working
        # directories, where a relative data dir would silently point elsewhere.
        return Path(value).expanduser().resolve()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}; use sqlite or postgresql")
        if backend == "postgresql" and url.drivername not in (
            "postgresql",
            "postgresql+psycopg",
        ):
            raise ValueError("PostgreSQL is reached through psycopg 3: use postgresql+psycopg://")
        return value

    @field_validator("minio_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:9000")
        try:
            parts.port  # noqa: B018 -- raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"bad port ({exc})") from None
        return value.rstrip("/")

    @field_validator("valkey_url")
    @classmethod
    def _check_valkey(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "valkey", "valkeys", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("has no host")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError("must be smtp://HOST[:PORT], smtps://… or smtp+starttls://…")
        try:
            parts.port  # noqa: B018 -- raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"bad port ({exc})") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://platform.example.com")
        return value.rstrip("/")

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("rate_otlp", "rate_pipeline_triggers")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        from platform_sdk.core.ratelimit import Rate

        return str(Rate.parse(value))

    @field_validator("otlp_listen")
    @classmethod
    def _check_otlp_listen(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        return cls._check_listen(value)

    @field_validator("local_limits")
    @classmethod
    def _check_local_limits(cls, value: str) -> str:
        Limits.parse(value)
        return value

    @field_validator("log")
    @classmethod
    def _check_log(cls, value: str) -> str:
        return str(LogSettings(value))

    @field_validator("master_key")
    @classmethod
    def _check_master_key(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if len(decode_master_key(value)) != 32:
            raise ValueError("must be 32 bytes, base64 or hex encoded")
        return value

    @field_validator("master_key_previous")
    @classmethod
    def _check_previous_keys(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        for n, part in enumerate((p.strip() for p in value.split(",") if p.strip()), start=1):
            if len(decode_master_key(part)) != 32:
                raise ValueError(f"entry {n} must be 32 bytes, base64 or hex encoded")
        return value

    @field_validator("bucket")
    @classmethod
    def _check_bucket(cls, value: str) -> str:
        ok = 3 <= len(value) <= 63 and all(c.islower() or c.isdigit() or c in "-." for c in value)
        if not ok:
            raise ValueError("must be a valid S3 bucket name (3-63 lowercase letters, digits, -.)")
        return value

    @model_validator(mode="after")
    def _check_minio_keys(self) -> Settings:
        if self.minio_endpoint and not (self.minio_access_key and self.minio_secret_key):
            raise ValueError(
                "MINIO_ENDPOINT is set: MINIO_ACCESS_KEY and MINIO_SECRET_KEY are needed too"
            )
        return self

    # -- derived values -------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        """``DATABASE_URL``, or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'platform.db').resolve()}"

    @property
    def blobs_root(self) -> Path:
        """The local folder that holds objects when no S3 endpoint is set."""
        return self.data_dir / "blobs"

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def base_url(self) -> str:
        """``PLATFORM_PUBLIC_URL``, or ``http://`` + the listen address (links in messages)."""
        return self.public_url or f"http://{self.listen}"

    @property
    def limits(self) -> Limits:
        """``PLATFORM_LOCAL_LIMITS`` parsed."""
        return Limits.parse(self.local_limits)

    @property
    def log_settings(self) -> LogSettings:
        return LogSettings(self.log)

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for ``platform config`` and logs."""
        out = self.model_dump(mode="json")
        for key in ("minio_secret_key", "master_key", "master_key_previous"):
            if out.get(key):
                out[key] = "********"
        if self.database_url:
            out["database_url"] = make_url(self.database_url).render_as_string(hide_password=True)
        if self.smtp_url:
            parts = urlsplit(self.smtp_url)
            if parts.password:
                netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
                out["smtp_url"] = parts._replace(netloc=netloc).geturl()
        return out


def decode_master_key(value: str) -> bytes:
    """The raw bytes of a master key given in hex or (url-safe) base64."""
    text = value.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        return b""


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; a bad value raises ``ConfigError`` naming its variable."""
    explicit = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**explicit)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        variable = _variable_name(field)
        message = err["msg"].removeprefix("Value error, ")
        if variable == "settings" and "MINIO" in message:
            variable = "MINIO_ENDPOINT"
        raise ConfigError(variable, message) from None


def _variable_name(field: str) -> str:
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else []
        if field == name or field in choices:
            return str(choices[0]) if choices else name.upper()
    return field
