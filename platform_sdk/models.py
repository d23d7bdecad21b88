"""The registry of every table: importing it fills ``Base.metadata`` with the whole schema.

Tables of one capability reference tables of others by name (identity's role bindings point
at ``projects``, webhooks at ``secrets``, pipelines at ``merge_requests``), so anything that
needs the complete metadata — ``create_all``, Alembic's ``env.py``, schema tests — imports
this module rather than one capability's models.
"""

from __future__ import annotations

from types import ModuleType

import platform_sdk.agents.models as _agents
import platform_sdk.core.audit as _audit
import platform_sdk.deploy.models as _deploy
import platform_sdk.git.models as _git
import platform_sdk.identity.models as _identity
import platform_sdk.notify.models as _notify
import platform_sdk.observe.models as _observe
import platform_sdk.pipelines.models as _pipelines
import platform_sdk.projects.models as _projects
import platform_sdk.secrets.models as _secrets
from platform_sdk.core.db import Base

__all__ = ["ALL_TABLES", "MODEL_MODULES", "Base", "metadata"]

MODEL_MODULES: tuple[ModuleType, ...] = (
    _identity,
    _projects,
    _git,
    _notify,
    _agents,
    _pipelines,
    _deploy,
    _observe,
    _secrets,
    _audit,
)
"""Every module that declares tables, in dependency-friendly order."""

metadata = Base.metadata

ALL_TABLES: tuple[str, ...] = tuple(sorted(metadata.tables))
"""The names of every table of the platform, sorted."""
