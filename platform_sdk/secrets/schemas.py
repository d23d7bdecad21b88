"""Pydantic schemas of secrets: metadata out, values only ever in.

:class:`SecretOut` has no value field at all — lists, metadata and the answer to a write carry
names, scopes and versions only, so no serialisation path can leak a value. The value comes in
through :class:`SecretSet` as a ``SecretStr`` (``writeOnly`` in the OpenAPI document, masked in
any ``repr`` or log line) and leaves only through the audited ``resolve`` service.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from platform_sdk.secrets.models import SecretScope

__all__ = [
    "KEEP_VERSIONS",
    "MAX_VALUE_BYTES",
    "NAME_PATTERN",
    "NAME_RULE",
    "RotationOut",
    "SecretName",
    "SecretOut",
    "SecretSet",
    "valid_name",
]

NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"
NAME_RULE = "must be 1-128 upper-case letters, digits or _, not starting with a digit"
MAX_VALUE_BYTES = 64 * 1024
KEEP_VERSIONS = 10
"""Versions kept per secret; older rows are deleted when a new version is set."""

_NAME_RE = re.compile(NAME_PATTERN)


def valid_name(value: str) -> bool:
    return bool(_NAME_RE.fullmatch(value))


def _name(value: str) -> str:
    if not valid_name(value):
        raise ValueError(NAME_RULE)
    return value


SecretName = Annotated[str, AfterValidator(_name)]


class SecretOut(BaseModel):
    """What is known about a secret without its value (the latest live version)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    project: str | None = Field(description="owner/name, or null for a global secret")
    scope: SecretScope
    version: int
    versions: int = Field(description="how many versions are kept (at most 10)")
    created_by: str | None
    created_at: datetime


class SecretSet(BaseModel):
    """The body of ``PUT /api/secrets/{name}``: a new version's value and scope."""

    model_config = ConfigDict(extra="forbid")

    value: Annotated[SecretStr, Field(min_length=1, max_length=MAX_VALUE_BYTES)]
    scope: SecretScope = SecretScope.ALL


class RotationOut(BaseModel):
    """What ``rotate-key`` did.

    ``retired_key_ids`` are keys no row uses any more: removed from the key file (file mode),
    or safe to remove from ``PLATFORM_MASTER_KEY_PREVIOUS`` (env mode).
    """

    mode: Literal["env", "file"]
    primary_key_id: str
    reencrypted: int
    by_key: dict[str, int] = Field(description="rows per key id before the rotation")
    retired_key_ids: list[str]
    damaged: list[str] = Field(
        default_factory=list,
        description="rows that failed authentication and were left under their old key",
    )
