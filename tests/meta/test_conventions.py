"""Conventions of DESIGN.md that every capability must keep, checked on the whole package."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import platform_sdk

PACKAGE = Path(platform_sdk.__file__).parent
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_migrations" not in p.parts)


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by concern (limit {MAX_LINES} lines): {long}"


CAPABILITIES = {"git", "identity", "notify", "observe", "pipelines", "projects", "secrets"}
"""The capabilities that own data behind an API: each has services and routes."""


# -- the actor rule ---------------------------------------------------------------------------


def service_modules(package: Path, prefix: str) -> list[str]:
    """The importable names of the service modules under ``package``: a ``service`` module, a
    ``services`` package, and every module inside one."""
    names = []
    for info in pkgutil.walk_packages([str(package)], prefix=prefix):
        parts = info.name.split(".")
        if parts[-1] == "service" or "services" in parts[:-1] or parts[-1] == "services":
            names.append(info.name)
    return names


def _public_functions(module_name: str) -> list[tuple[str, inspect.Signature]]:
    module = importlib.import_module(module_name)
    out = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ != module_name:
            continue  # imported helpers are checked where they are defined
        out.append((f"{module_name}.{name}", inspect.signature(obj)))
    return out


def actor_offenders(modules: list[str]) -> list[str]:
    """Public functions of ``modules`` without a keyword-only ``actor``."""
    return [
        name
        for module in modules
        for name, sig in _public_functions(module)
        if "actor" not in sig.parameters
        or sig.parameters["actor"].kind is not inspect.Parameter.KEYWORD_ONLY
    ]


def test_every_public_service_function_takes_a_keyword_only_actor() -> None:
    modules = service_modules(PACKAGE, "platform_sdk.")
    # the rule is only as good as the discovery: every capability's services are in it
    assert {m.split(".")[1] for m in modules} == CAPABILITIES
    checked = {m.split(".")[1] for m in modules if _public_functions(m)}
    assert checked == CAPABILITIES, "a capability whose services have no public function"
    assert "platform_sdk.identity.services.users" in modules
    assert "platform_sdk.secrets.service" in modules
    missing = actor_offenders(modules)
    assert not missing, f"service functions without a keyword-only `actor`: {missing}"


def test_the_actor_rule_catches_a_planted_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same discovery and check as above, on a package with bad service functions."""
    pkg = tmp_path / "fake_caps"
    for folder in (pkg / "widgets", pkg / "gadgets", pkg / "gadgets" / "services", pkg / "gizmos"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "widgets" / "service.py").write_text(
        "def good(db, *, actor): ...\ndef bad(db, actor): ...\ndef worse(db): ...\n"
        "def _private(db): ...\n"
    )
    (pkg / "gadgets" / "services" / "things.py").write_text(
        "def fine(db, *, actor, name): ...\ndef positional(actor, db): ...\n"
    )
    (pkg / "gizmos" / "helpers.py").write_text("def not_a_service(db): ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = service_modules(pkg, "fake_caps.")
    assert sorted(modules) == [
        "fake_caps.gadgets.services",
        "fake_caps.gadgets.services.things",
        "fake_caps.widgets.service",
    ]
    assert sorted(actor_offenders(modules)) == [
        "fake_caps.gadgets.services.things.positional",
        "fake_caps.widgets.service.bad",
        "fake_caps.widgets.service.worse",
    ]


# -- the thin-routes rule ---------------------------------------------------------------------


def _makes_a_router(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "APIRouter":
                return True
    return False


def route_modules(package: Path) -> list[Path]:
    """Modules that serve HTTP: ``routes.py``, ``*_routes.py``, anything in a ``routes``
    package, and any other module that makes an ``APIRouter``."""
    out = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if (
            path.name == "routes.py"
            or path.stem.endswith("_routes")
            or "routes" in rel.parts[:-1]
            or _makes_a_router(ast.parse(path.read_text()))
        ):
            out.append(path)
    return out


def _is_db_layer(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "sqlalchemy" or "models" in parts


def db_imports(path: Path) -> list[str]:
    """What ``path`` imports of the database layer (sqlalchemy, a ``models`` module), in any
    form: ``import a.models``, ``from a.models import X``, ``from a import models``,
    ``from . import models``, ``from .models import X``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _is_db_layer(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if node.module and _is_db_layer(node.module):
                found.append(f"from {base} import ...")
            else:
                found += [
                    f"from {base} import {a.name}" for a in node.names if _is_db_layer(a.name)
                ]
    return found


def thin_route_offenders(package: Path) -> list[str]:
    """Route and dashboard modules under ``package`` that import the database layer."""
    dashboards = [p for p in sorted(package.rglob("*.py")) if "dashboards" in p.parts]
    return [
        f"{path.relative_to(package)}: {line}"
        for path in sorted(set(route_modules(package)) | set(dashboards))
        for line in db_imports(path)
    ]


def test_routes_and_dashboards_never_touch_the_database_directly() -> None:
    """Routes stay thin: they call services, which own sessions, queries and RBAC."""
    found = {str(p.relative_to(PACKAGE)) for p in route_modules(PACKAGE)}
    # every naming style is discovered, not only routes.py
    assert {
        "git/routes.py",
        "observe/otlp_routes.py",
        "projects/issue_routes.py",
        "identity/routes/users.py",
        "server/health.py",
    } <= found
    assert {Path(f).parts[0] for f in found} >= CAPABILITIES
    offenders = thin_route_offenders(PACKAGE)
    assert not offenders, offenders


def test_the_thin_routes_rule_catches_planted_violations(tmp_path: Path) -> None:
    pkg = tmp_path / "fake_pkg"
    files = {
        "widgets/routes.py": "from sqlalchemy import select\n",
        "widgets/alert_routes.py": "import sqlalchemy.orm\n",
        "widgets/models.py": "from sqlalchemy import Column\n",  # not a route module: fine
        "gadgets/routes/items.py": "from .. import models\n",
        "gadgets/routes/clean.py": "from fake_pkg.gadgets.services import items\n",
        "gadgets/api.py": "from fastapi import APIRouter\nrouter = APIRouter()\n"
        "import fake_pkg.gadgets.models as m\n",
        "dashboards/view.py": "from fake_pkg.widgets.models import Widget\n",
        "services/ok.py": "from sqlalchemy import select\n",  # services may
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    assert thin_route_offenders(pkg) == [
        "dashboards/view.py: from fake_pkg.widgets.models import ...",
        "gadgets/api.py: import fake_pkg.gadgets.models",
        "gadgets/routes/items.py: from .. import models",
        "widgets/alert_routes.py: import sqlalchemy.orm",
        "widgets/routes.py: from sqlalchemy import ...",
    ]
