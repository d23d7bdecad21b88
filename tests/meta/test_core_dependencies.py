"""What ``platform init``, ``platform serve`` and the CLI import needs only core dependencies.

A module of an optional feature (the dashboards, the Kubernetes client, the JupyterLab server
extension) is imported behind a guard that says what to install; everything else the entry
points reach must come from ``[project] dependencies``. ``tests/deploy/test_run_command.py``
proves the same for real, in a fresh virtualenv; this test says which import broke it, in
seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import platform_sdk
from tests.meta.core_imports import Distributions, PackageTree, unguarded_external_imports

PACKAGE = Path(platform_sdk.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
ENTRY_MODULES = (
    "platform_sdk",  # `import platform_sdk` (the SDK)
    "platform_sdk.cli.main",  # every verb, `init` and `serve` included
    "platform_sdk.server.app",  # what `serve` runs
)


@pytest.fixture(scope="module")
def dists() -> Distributions:
    return Distributions()


def violations(
    tree: PackageTree, roots: tuple[str, ...], core: set[str], dists: Distributions
) -> dict[str, str]:
    """Unguarded imports of modules outside ``core`` distributions: module -> where + dist."""
    out = {}
    for module, (where, names) in unguarded_external_imports(tree, roots).items():
        dist = dists.of_import(module, names)
        if dist not in core:
            out[module] = f"{where} (from {dist or 'no installed distribution'})"
    return out


def test_entry_points_import_only_core_dependencies_or_guard_them(dists: Distributions) -> None:
    tree = PackageTree(PACKAGE, "platform_sdk")
    core = Distributions.closure(PYPROJECT)
    reached = unguarded_external_imports(tree, ENTRY_MODULES)
    # the walk really follows the package: the server, git, OTLP and the CLI's verbs
    assert {"fastapi", "click", "sqlalchemy", "duckdb", "pyarrow"} <= {
        m.split(".")[0] for m in reached
    }
    bad = violations(tree, ENTRY_MODULES, core, dists)
    assert not bad, (
        "imported by the run command's entry points but not a core dependency — add it to "
        "[project] dependencies, or guard the import (try/except ImportError) and say which "
        f"extra to install: {bad}"
    )


def test_optional_features_are_not_core(dists: Distributions) -> None:
    """The split is real: the dashboards' and the Kubernetes runtime's libraries are extras."""
    core = Distributions.closure(PYPROJECT)
    assert {"panel", "bokeh", "kubernetes", "jupyterlab"}.isdisjoint(core)
    assert {"panel", "bokeh-fastapi", "hvplot"} <= Distributions.closure(PYPROJECT, ["workbench"])


def _plant(root: Path, files: dict[str, str]) -> PackageTree:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return PackageTree(root / "pkg", "pkg")


def test_the_rule_catches_an_unguarded_optional_import_inside_a_function(
    tmp_path: Path, dists: Distributions
) -> None:
    tree = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "from pkg.verbs import show\n",
            "verbs/__init__.py": "",
            "verbs/show.py": "def show():\n    import panel\n    return panel\n",
            "guarded.py": (
                "try:\n    import bokeh\nexcept ImportError:\n    bokeh = None\n"
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    import hvplot\n"
            ),
        },
    )
    roots = ("pkg.cli", "pkg.guarded")
    bad = violations(tree, roots, {"click"}, dists)
    assert set(bad) == {"panel"}
    assert bad["panel"].startswith("pkg.verbs.show:2")
    assert "(from panel)" in bad["panel"]
    # the same import, guarded, passes; and a core one is fine anywhere
    tree = _plant(tmp_path, {"verbs/show.py": "import click\n"})
    assert violations(tree, roots, {"click"}, dists) == {}


def test_namespace_packages_resolve_to_the_distribution_of_the_module(
    dists: Distributions,
) -> None:
    # `opentelemetry` is shared by several distributions: the issue-19 crash was an import of
    # the exporter's encoder, which only opentelemetry-exporter-otlp-proto-common installs
    assert dists.of("opentelemetry.sdk.trace") == "opentelemetry-sdk"
    assert (
        dists.of("opentelemetry.exporter.otlp.proto.common.trace_encoder")
        == "opentelemetry-exporter-otlp-proto-common"
    )


@pytest.mark.parametrize(
    ("package", "extras"),
    [("platform_sdk.dashboards", ["workbench"]), ("platform_sdk.jupyter", ["jupyter"])],
)
def test_each_optional_feature_needs_only_its_extra(
    package: str, extras: list[str], dists: Distributions
) -> None:
    """The Docker image installs `[workbench]`, Binder `[notebooks,app]`: each feature's
    modules must import only the core and their own extra."""
    tree = PackageTree(PACKAGE, "platform_sdk")
    folder = PACKAGE / package.split(".")[1]
    roots = tuple(
        ".".join(("platform_sdk", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for p in sorted(folder.rglob("*.py"))
    )
    bad = violations(tree, roots, Distributions.closure(PYPROJECT, extras), dists)
    assert not bad, f"{package} imports beyond the core and {extras}: {bad}"
