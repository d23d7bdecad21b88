"""Alembic environment of the platform (run through ``platform db …``).

Batch mode is on for every backend so SQLite can alter tables (Alembic copies the table);
types and server defaults are compared so ``platform db check`` catches every drift.
The connection comes from ``platform_sdk.core.migrate`` via ``config.attributes``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from platform_sdk.core.migrate import configure_context_kwargs
from platform_sdk.models import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, **configure_context_kwargs())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        **configure_context_kwargs(),
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    conn = config.attributes.get("connection")
    if conn is None:
        raise RuntimeError("run migrations through `platform db …`, which supplies a connection")
    run(conn)
