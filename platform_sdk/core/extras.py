"""Optional features and the extras that install them.

The core dependencies serve the REST API, git, OTLP and the CLI. Heavier features come with
an extra: ``workbench`` (the Panel dashboards, charts and notebook widgets), ``jupyter`` (the
JupyterLab sidebar), ``kubernetes`` (the Kubernetes runtime). A feature imports its libraries
behind a guard and, when they are missing, raises :func:`missing_extra`'s error, which names
the feature and the install command — never a bare ``ModuleNotFoundError`` traceback::

    try:
        from platform_sdk.dashboards.serving import serve_standalone
    except ImportError as exc:
        raise missing_extra("workbench", "the dashboards", exc) from None

``tests/meta/test_core_dependencies.py`` checks that every other import reached from the
entry points is a core dependency.
"""

from __future__ import annotations

from platform_sdk.errors import ConfigError

__all__ = ["install_hint", "missing_extra"]


def install_hint(extra: str) -> str:
    """The command that installs ``extra`` into the running environment."""
    return f"pip install 'platform-sdk[{extra}]'"


def missing_extra(extra: str, feature: str, exc: ImportError) -> ConfigError:
    """The error for ``feature`` used without its ``extra`` installed (``exc`` says which
    module was missing)."""
    missing = f" ({exc.name} is not installed)" if exc.name else ""
    return ConfigError(
        f"extra {extra!r}", f"{feature} need the {extra!r} extra{missing}: {install_hint(extra)}"
    )
