"""Schema migrations with Alembic, shipped inside the package.

The scripts live in the top-level ``migrations/`` folder of the repository; the wheel carries
them as ``platform_sdk/_migrations``. Every function here takes an engine, so the CLI, the
server's start-up check and the tests drive the same code.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

from platform_sdk.errors import SchemaOutdated

__all__ = [
    "SchemaState",
    "check_drift",
    "configure_context_kwargs",
    "downgrade",
    "ensure_current",
    "history",
    "migrations_dir",
    "new_revision",
    "schema_state",
    "upgrade",
]

FIX_COMMAND = "platform db upgrade"


def migrations_dir() -> Path:
    """The folder of migration scripts: inside the wheel, or the repository's ``migrations/``."""
    shipped = Path(str(resources.files("platform_sdk"))) / "_migrations"
    if (shipped / "env.py").is_file():
        return shipped
    source = Path(__file__).resolve().parents[2] / "migrations"
    if (source / "env.py").is_file():
        return source
    raise FileNotFoundError("the migration scripts are missing from this installation")


def configure_context_kwargs() -> dict[str, Any]:
    """Options every migration context uses (online, offline and autogenerate)."""
    return {
        "render_as_batch": True,
        "compare_type": True,
        "compare_server_default": True,
        "user_module_prefix": "platform_sdk.core.types.",
    }


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff:  # format new scripts so they pass the project's lint as written
        cfg.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
        for name, args in (("ruff_fix", "check --fix --quiet"), ("ruff_format", "format --quiet")):
            cfg.set_section_option("post_write_hooks", f"{name}.type", "exec")
            cfg.set_section_option("post_write_hooks", f"{name}.executable", ruff)
            cfg.set_section_option(
                "post_write_hooks", f"{name}.options", f"{args} REVISION_SCRIPT_FILENAME"
            )
    return cfg


def _run(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        return fn(cfg, *args, **kwargs)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (default: the newest)."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    """Revert migrations down to ``revision`` (``-1`` one step, ``base`` everything)."""
    _run(engine, command.downgrade, revision)


def _next_rev_id(script: ScriptDirectory) -> str:
    numbers = [int(r.revision) for r in script.walk_revisions() if r.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(engine: Engine, name: str, *, autogenerate: bool = True) -> Path:
    """Write a new migration script (compared against ``engine``'s schema) and return its path."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        raise ValueError("a migration needs a name made of letters or digits")
    cfg = _config(engine)
    rev_id = _next_rev_id(ScriptDirectory.from_config(cfg))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        script = command.revision(cfg, message=name, autogenerate=autogenerate, rev_id=rev_id)
    if script is None or isinstance(script, list):
        raise RuntimeError("alembic wrote no single revision")
    return Path(script.path)


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands relative to the migration scripts."""

    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return set(self.current) == set(self.heads)

    @property
    def is_empty(self) -> bool:
        return not self.current

    def describe(self) -> str:
        cur = ", ".join(self.current) or "empty (no migrations applied)"
        return f"database at {cur}; code expects {', '.join(self.heads)}"


def schema_state(engine: Engine) -> SchemaState:
    script = ScriptDirectory(str(migrations_dir()))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    return SchemaState(current=tuple(current), heads=tuple(script.get_heads()))


def ensure_current(engine: Engine) -> SchemaState:
    """Raise ``SchemaOutdated`` (naming the fix) unless every migration is applied."""
    state = schema_state(engine)
    if not state.is_current:
        fix = "platform init" if state.is_empty else FIX_COMMAND
        raise SchemaOutdated(
            f"the database schema is not current ({state.describe()}): run `{fix}`",
            details={"current": list(state.current), "heads": list(state.heads)},
        )
    return state


def check_drift(engine: Engine, metadata: MetaData) -> list[Any]:
    """Differences between the models (``metadata``) and the migrated schema; empty in sync.

    The database must be at the newest migration, so this reports exactly what a new
    autogenerated migration would contain.
    """
    ensure_current(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts=configure_context_kwargs())
        return list(compare_metadata(ctx, metadata))


def history() -> list[dict[str, str | None]]:
    """The migration scripts, newest first."""
    script = ScriptDirectory(str(migrations_dir()))
    out: list[dict[str, str | None]] = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        out.append(
            {
                "revision": rev.revision,
                "down_revision": down if down is None or isinstance(down, str) else ", ".join(down),
                "message": rev.doc,
            }
        )
    return out
