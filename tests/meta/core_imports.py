"""Which third-party modules a set of entry modules imports without a guard, and from where.

The rule behind ``test_core_dependencies``: every module that ``platform init``, ``platform
serve`` and the CLI verbs import must be importable with only the package's core
dependencies, unless the import is guarded as an optional feature. Imports are read from the
AST — at module level *and* inside functions (a verb imports what it needs when it runs) —
following the package's own modules transitively from the entry modules. An import is
*guarded* when it sits in a ``try`` whose handlers catch ``ImportError`` (or
``ModuleNotFoundError``, ``Exception``, a bare ``except``); imports under ``if TYPE_CHECKING:``
never run. A guarded import of one of the package's own modules is not followed: what it
pulls in is the optional feature.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name
    names: tuple[str, ...]  # for ``from module import a, b``: the names (maybe submodules)
    guarded: bool
    line: int


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(t, ast.Name) and t.id in GUARDS)
        or (isinstance(t, ast.Attribute) and t.attr in GUARDS)
        for t in types
    )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, module: str, *, is_package: bool) -> Iterator[Import]:
    """Every import statement of ``source`` (the module ``module``), resolved to absolute names."""

    def visit(node: ast.AST, guarded: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from visit(child, guarded)
            return
        if isinstance(node, ast.Try | ast.TryStar):
            body_guarded = guarded or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                yield from visit(child, body_guarded)
            for part in (*node.handlers, *node.orelse, *node.finalbody):
                yield from visit(part, guarded)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), guarded, node.lineno)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield Import(target, tuple(a.name for a in node.names), guarded, node.lineno)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, guarded)

    yield from visit(ast.parse(source), False)


class PackageTree:
    """The modules of one package on disk, by dotted name."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name

    def path_of(self, module: str) -> Path | None:
        if module != self.name and not module.startswith(self.name + "."):
            return None
        parts = module.split(".")[1:]
        if not parts:
            init = self.root / "__init__.py"
            return init if init.is_file() else None
        rel = Path(*parts)
        for candidate in (self.root / rel / "__init__.py", self.root / rel.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def is_internal(self, module: str) -> bool:
        return module.split(".")[0] == self.name


def unguarded_external_imports(
    tree: PackageTree, roots: Iterable[str]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Third-party modules reachable from ``roots`` through unguarded imports, each with the
    first ``package.module:line`` found importing it and the names it imported from it."""
    seen: set[str] = set()
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    queue = deque(roots)
    while queue:
        module = queue.popleft()
        if module in seen:
            continue
        seen.add(module)
        path = tree.path_of(module)
        if path is None:
            continue
        # importing a.b.c runs the __init__ of a and a.b first
        parts = module.split(".")
        queue.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        is_package = path.name == "__init__.py"
        for imp in imports_of(path.read_text(), module, is_package=is_package):
            if imp.guarded:
                continue
            if tree.is_internal(imp.module):
                queue.append(imp.module)
                queue.extend(
                    f"{imp.module}.{n}" for n in imp.names if tree.path_of(f"{imp.module}.{n}")
                )
                continue
            top = imp.module.split(".")[0]
            if not top or top in sys.stdlib_module_names or top == "__future__":
                continue
            found.setdefault(imp.module, (f"{module}:{imp.line}", imp.names))
    return found


def _file_index() -> dict[str, str]:
    """Installed file path (relative to site-packages, with /) -> distribution name."""
    index: dict[str, str] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        for file in dist.files or ():
            index.setdefault(file.as_posix(), name)
    return index


class Distributions:
    """Which installed distribution provides a module, and what a distribution requires."""

    def __init__(self) -> None:
        self.files = _file_index()
        self.dirs: dict[str, str] = {}
        for path, dist in self.files.items():
            parent = path.rpartition("/")[0]
            while parent and parent not in self.dirs:
                self.dirs[parent] = dist
                parent = parent.rpartition("/")[0]

    def of_import(self, module: str, names: Iterable[str] = ()) -> str | None:
        """The distribution behind ``from module import names`` (a name may be a submodule of
        a namespace package, as in ``from opentelemetry import trace``)."""
        for name in names:
            dist = self.of(f"{module}.{name}")
            if dist is not None:
                return dist
        return self.of(module)

    def of(self, module: str) -> str | None:
        """The distribution that installs ``module`` (namespace packages resolved by file)."""
        parts = module.split(".")
        while parts:
            base = "/".join(parts)
            for candidate in (f"{base}.py", f"{base}/__init__.py"):
                if candidate in self.files:
                    return self.files[candidate]
            for path, dist in self.files.items():
                if path.startswith(base + ".") and path.endswith((".so", ".pyd")):
                    return dist
            if base in self.dirs and len(parts) > 1:
                return self.dirs[base]
            parts.pop()
        return None

    @staticmethod
    def closure(pyproject: Path, extras: Iterable[str] = ()) -> set[str]:
        """What the project of ``pyproject`` requires (with ``extras``), transitively: its own
        requirements from the file (the source of truth, even before a reinstall), theirs
        from the installed distributions' metadata."""
        project = tomllib.loads(pyproject.read_text())["project"]
        own = canonicalize_name(project["name"])
        lines = list(project.get("dependencies", []))
        todo_extras, done_extras = list(extras), set()
        while todo_extras:
            extra = todo_extras.pop()
            if extra in done_extras:
                continue
            done_extras.add(extra)
            for line in project.get("optional-dependencies", {}).get(extra, []):
                req = Requirement(line)
                if canonicalize_name(req.name) == own:
                    todo_extras.extend(req.extras)
                else:
                    lines.append(line)
        out: set[str] = set()
        todo: deque[tuple[str, frozenset[str]]] = deque()
        for line in lines:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append((req.name, frozenset(req.extras)))
        done: set[tuple[str, frozenset[str]]] = set()
        while todo:
            dist, wanted = todo.popleft()
            key = (canonicalize_name(dist), wanted)
            if key in done:
                continue
            done.add(key)
            out.add(key[0])
            try:
                requires = metadata.requires(dist) or []
            except metadata.PackageNotFoundError:
                continue
            for line in requires:
                req = Requirement(line)
                if req.marker is not None and not any(
                    _marker_holds(req.marker, extra) for extra in ("", *wanted)
                ):
                    continue
                todo.append((req.name, frozenset(req.extras)))
        return out


def _marker_holds(marker: Marker, extra: str) -> bool:
    return marker.evaluate({"extra": extra})
