"""Column types that mean the same on SQLite and PostgreSQL.

- :class:`UTCDateTime` — timezone-aware timestamps: ``timestamptz`` on PostgreSQL, ISO text on
  SQLite; naive datetimes are refused on the way in and every value comes back aware, in UTC.
- :data:`JSONType` — ``JSONB`` on PostgreSQL, JSON text on SQLite.
- :class:`StringList` — ``text[]`` on PostgreSQL, a JSON array on SQLite; always ``list[str]``.
- :func:`status_enum` — a ``VARCHAR`` with a ``CHECK`` constraint over the enum's values (no
  native PostgreSQL enum type, so adding a value is an ordinary batch migration everywhere).
- UUIDs use SQLAlchemy's portable ``Uuid`` (native ``uuid`` on PostgreSQL, ``CHAR(32)`` on SQLite).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Enum, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["JSONType", "StringList", "UTCDateTime", "status_enum", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of datetime the store accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, normalised to UTC on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store only accepts aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite keeps text; store naive UTC so values sort and compare as strings.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONType(TypeDecorator[Any]):
    """A JSON document: ``JSONB`` on PostgreSQL (indexable, compact), JSON text on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class StringList(TypeDecorator[list[str]]):
    """A list of strings: a native array on PostgreSQL, a JSON array on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Text()))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("StringList columns take a list of strings")
        return list(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        return None if value is None else [str(v) for v in value]


def status_enum(enum_cls: type[enum.Enum], name: str | None = None) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK constraint listing the values."""
    return Enum(
        enum_cls,
        name=name or f"ck_{enum_cls.__name__.lower()}",
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(str(m.value)) for m in enum_cls) + 8,
        values_callable=lambda cls: [str(m.value) for m in cls],
    )
