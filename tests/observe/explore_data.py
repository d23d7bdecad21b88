"""A small telemetry world for the typed-helper tests: two projects, a reader of one of them.

``World`` holds the platform, the owner of projects ``olga/alpha`` and ``olga/beta``, a viewer
of alpha only (``rita``) and the global admin, plus helpers that put rows into the spool
(``add``) and flush the spool to Parquet (``flush``), so each test covers both paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.observe.schema import SCHEMAS
from platform_sdk.observe.telemetry import telemetry_of
from platform_sdk.sdk import Platform
from tests.plugins.platforms import People

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
A = "olga/alpha"
B = "olga/beta"
TRACE = "5b8efff798038103d269b633813fc60c"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rows(dataset: str, items: list[dict[str, Any]]) -> pa.Table:
    """A table of ``dataset`` with the given columns (others null; attributes ``{}``)."""
    schema = SCHEMAS[dataset]  # type: ignore[index]
    defaults: dict[str, Any] = {"service": "api", "project": A}
    if "attributes" in schema.names:
        defaults["attributes"] = "{}"
    if dataset == "metrics":
        defaults["labels"] = "{}"
    return pa.Table.from_pylist([{**defaults, **item} for item in items], schema=schema)


@dataclass
class World:
    platform: Platform
    owner: Actor
    reader: Actor
    admin: Actor
    alpha: uuid.UUID
    beta: uuid.UUID

    def add(self, dataset: str, items: list[dict[str, Any]]) -> None:
        telemetry_of(self.platform.runtime).spool.append(dataset, rows(dataset, items))

    def flush(self) -> None:
        telemetry_of(self.platform.runtime).flush()

    @contextmanager
    def db(self) -> Iterator[Session]:
        with self.platform.session() as db:
            yield db


def make_world(platform: Platform, people: People) -> World:
    owner = people.user("olga")
    alpha = people.project(owner, "alpha")
    beta = people.project(owner, "beta")
    reader = people.user("rita", project_roles={alpha: ("viewer",)})
    return World(platform, owner, reader, platform.actor, alpha, beta)
