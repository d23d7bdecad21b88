#!/usr/bin/env python3
"""Mutation testing of one critical module with the tests that cover it (mutmut 3).

    hack/mutate.py                          # list the critical modules (hack/mutation.toml)
    hack/mutate.py --json                   # the same as a JSON list (the workflow's matrix)
    hack/mutate.py platform_sdk/notify/ssrf.py [--fail-under 90] [--max-children 2]

The module and its test files come from hack/mutation.toml. The run happens in a scratch copy
of the checkout (--workdir, default $TMPDIR/platform-mutation/<module>), never in the work
tree: mutmut writes its mutated copy there (mutants/), and a setup.cfg with its settings, so
nothing in the checkout changes and two modules can be mutated at once. The score is
killed / (all mutants - skipped); timeouts count as killed, as in mutmut's own badge. Every
surviving mutant is printed as a diff; `cd WORKDIR && mutmut show NAME` shows one again.

PLATFORM_REQUIRE_SERVICES defaults to 1 here: a test that skipped because PostgreSQL or Redis
was down would make every mutant it should kill look like a survivor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "hack" / "mutation.toml"
DEFAULT_MARKERS = "not postgres"
KILLED = {"killed", "timeout", "caught by type check"}


def load_modules() -> dict[str, dict[str, object]]:
    with MAPPING.open("rb") as f:
        modules: dict[str, dict[str, object]] = tomllib.load(f)["modules"]
    for path, entry in modules.items():
        missing = [p for p in [path, *entry["tests"]] if not (ROOT / p).is_file()]  # type: ignore[misc]
        if missing:
            sys.exit(f"mutate: {MAPPING.name}: {path}: no such file: {', '.join(missing)}")
    return modules


def tracked_files() -> list[str]:
    """The checkout's files: git's list when this is a git checkout, else every file."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        return [p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "node_modules"}
        return [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
        ]


def prepare(workdir: Path, module: str, tests: list[str], markers: str, keyword: str) -> None:
    """A fresh copy of the checkout in ``workdir`` with mutmut's settings for ``module``."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    top: set[str] = set()
    for rel in tracked_files():
        if rel.startswith(("notebooks/", "extension/", "binder/")):
            continue
        target = workdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
        top.add(rel.split("/", 1)[0])
    if (workdir / "setup.cfg").exists():
        sys.exit("mutate: the project has a setup.cfg; mutmut's settings would collide with it")
    # mutmut copies source_paths, tests/ and pyproject.toml into mutants/ and runs the tests
    # there; everything else the tests read (migrations/, hack/, deploy/, …) goes in also_copy.
    also = sorted(t for t in top if t not in {"platform_sdk", "tests"})
    pytest_args = ["-p", "no:cacheprovider"]
    if markers:
        pytest_args += ["-m", markers]
    if keyword:
        pytest_args += ["-k", keyword]
    lines = [
        "[mutmut]",
        "source_paths = platform_sdk",
        f"only_mutate = {module}",
        "pytest_add_cli_args_test_selection =",
        *[f"    {t}" for t in tests],
        "pytest_add_cli_args =",
        *[f"    {a}" for a in pytest_args],
        "also_copy =",
        *[f"    {a}" for a in also],
        "",
    ]
    (workdir / "setup.cfg").write_text("\n".join(lines))


def mutmut(workdir: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "mutmut", *args], cwd=workdir, text=True, **kw
    )


def results(workdir: Path) -> dict[str, str]:
    out = mutmut(workdir, "results", "--all", "true", capture_output=True, check=True).stdout
    found = re.findall(r"^\s*(\S+): (.+)$", out, flags=re.MULTILINE)
    return {name: status.strip() for name, status in found}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("module", nargs="?", help="a path listed in hack/mutation.toml")
    parser.add_argument("--json", action="store_true", help="list the modules as JSON")
    parser.add_argument("--workdir", type=Path, help="scratch copy (default: under $TMPDIR)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutants")
    parser.add_argument(
        "--fail-under", type=float, default=0.0, help="exit 1 below this score (percent)"
    )
    opts = parser.parse_args()
    modules = load_modules()

    if opts.json:
        print(json.dumps(sorted(modules)))
        return 0
    if not opts.module:
        print("Critical modules (hack/mutation.toml); run one with: just mutate PATH")
        for path, entry in modules.items():
            print(f"  {path:45} {' '.join(entry['tests'])}")  # type: ignore[arg-type]
        return 0
    module = opts.module.removeprefix("./")
    if module not in modules:
        print(f"mutate: {module} is not in {MAPPING.name}; listed are:", file=sys.stderr)
        for path in modules:
            print(f"  {path}", file=sys.stderr)
        return 2
    try:
        import mutmut as _  # noqa: F401
    except ImportError:
        print("mutate: mutmut is not installed: hack/bootstrap.sh dev", file=sys.stderr)
        return 2

    entry = modules[module]
    tests: list[str] = list(entry["tests"])  # type: ignore[call-overload]
    markers = str(entry.get("markers", DEFAULT_MARKERS))
    keyword = str(entry.get("k", ""))
    slug = module.removesuffix(".py").replace("/", ".")
    workdir = opts.workdir or Path(tempfile.gettempdir()) / "platform-mutation" / slug
    workdir = workdir.resolve()
    prepare(workdir, module, tests, markers, keyword)
    os.environ.setdefault("PLATFORM_REQUIRE_SERVICES", "1")
    print(f"mutate: {module} against {' '.join(tests)} (-m {markers!r}) in {workdir}", flush=True)
    run = mutmut(workdir, "run", "--max-children", str(opts.max_children))
    if run.returncode != 0:
        print(f"mutate: mutmut run failed (exit {run.returncode})", file=sys.stderr)
        return run.returncode

    status = results(workdir)
    tested = {n: s for n, s in status.items() if s != "skipped"}
    killed = [n for n, s in tested.items() if s in KILLED]
    alive = sorted(n for n in tested if n not in killed)
    for name in alive:
        diff = mutmut(workdir, "show", name, capture_output=True, check=True).stdout
        changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in "+++---"]
        print(f"\n{name}: {tested[name]}")
        print("\n".join(f"    {ln}" for ln in changed))
    score = 100.0 * len(killed) / len(tested) if tested else 0.0
    print(f"\nmutate: {module}: {len(killed)}/{len(tested)} mutants killed ({score:.1f}%)")
    if score < opts.fail_under:
        print(f"mutate: below --fail-under {opts.fail_under:g}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
