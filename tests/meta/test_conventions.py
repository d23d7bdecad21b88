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


def _service_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="platform_sdk."):
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


def test_every_public_service_function_takes_a_keyword_only_actor() -> None:
    missing = [
        name
        for module in _service_modules()
        for name, sig in _public_functions(module)
        if "actor" not in sig.parameters
        or sig.parameters["actor"].kind is not inspect.Parameter.KEYWORD_ONLY
    ]
    assert not missing, f"service functions without a keyword-only `actor`: {missing}"


def test_the_actor_rule_would_catch_a_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule above is vacuous until services exist; prove it bites on a bad module."""
    pkg = tmp_path / "fake_caps"
    (pkg / "widgets").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "widgets" / "__init__.py").write_text("")
    (pkg / "widgets" / "service.py").write_text(
        "def good(db, *, actor): ...\ndef bad(db, actor): ...\ndef worse(db): ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    names = {
        n
        for n, sig in _public_functions("fake_caps.widgets.service")
        if "actor" not in sig.parameters
        or sig.parameters["actor"].kind is not inspect.Parameter.KEYWORD_ONLY
    }
    assert names == {"fake_caps.widgets.service.bad", "fake_caps.widgets.service.worse"}


def test_routes_and_dashboards_never_touch_the_database_directly() -> None:
    """Routes stay thin: they call services, which own sessions, queries and RBAC."""
    offenders = []
    for path in _modules():
        if path.name != "routes.py" and "dashboards" not in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and (node.module.startswith("sqlalchemy") or node.module.endswith(".models"))
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}: from {node.module}")
    assert not offenders, offenders
