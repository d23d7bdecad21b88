#!/usr/bin/env python3
"""Licence policy of the project's dependencies (`just deny` runs it, then pip-audit).

    .venv/bin/python hack/deny.py                  # the installed tree of platform-sdk[all extras]
    .venv/bin/python hack/deny.py --extras ""      # only what the package itself needs
    .venv/bin/python hack/deny.py --listing x.json # a `pip-licenses --format=json` listing

Walks the dependency tree of ``platform-sdk`` as installed in this interpreter's environment
(requirements with their markers and extras, from each distribution's metadata), reads each
distribution's licence (``License-Expression``, else its ``License ::`` classifiers, else the
``License`` field), and checks it against the allow-list below. SPDX expressions are
evaluated: ``A OR B`` needs one allowed side, ``A AND B`` needs both, ``A WITH exc`` is
judged by ``A``. Exits 1 naming every package whose licence is not allowed or not known,
0 when all are allowed.

A package may be waived for named licences only, after review (EXCEPTIONS): the waiver
covers exactly those licence ids, so a licence change in a new release is caught again.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = "platform-sdk"

# The allow-list (SPDX ids). MIT-0 is MIT without its attribution clause; Python-2.0 is the
# SPDX id of the PSF licence; Unicode-DFS-2016 is the older Unicode licence id.
ALLOWED = frozenset(
    {
        "MIT",
        "MIT-0",
        "Apache-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "ISC",
        "MPL-2.0",
        "PSF-2.0",
        "Python-2.0",
        "Unicode-3.0",
        "Unicode-DFS-2016",
    }
)

# Reviewed waivers: package -> (licence ids tolerated for it, why).
EXCEPTIONS: dict[str, tuple[frozenset[str], str]] = {
    "psycopg": (frozenset({"LGPL-3.0-only"}), "LGPL-3.0, used unmodified as a library"),
    "psycopg-binary": (frozenset({"LGPL-3.0-only"}), "LGPL-3.0, used unmodified as a library"),
    "numpy": (
        frozenset({"0BSD", "Zlib", "CC0-1.0"}),
        "bundled permissive parts (0BSD, zlib, CC0) next to BSD-3-Clause",
    ),
    "regex": (frozenset({"CNRI-Python"}), "permissive licence of code taken from CPython"),
    "rust-just": (frozenset({"CC0-1.0"}), "public-domain dedication; a developer tool"),
    "pillow": (frozenset({"MIT-CMU"}), "the permissive HPND-style PIL licence (workbench charts)"),
    "colorcet": (
        frozenset({"CC-BY-4.0"}),
        "colour-map data under attribution, used unmodified by holoviews (workbench charts)",
    ),
}

# Free-form licence names and classifier tails -> SPDX ids (lower-case keys).
ALIASES = {
    "bsd 3-clause license": "BSD-3-Clause",
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "expat": "MIT",
    "mit no attribution": "MIT-0",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    # The classifier does not say which BSD; both allowed variants are the usual ones.
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd license": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "2-clause bsd license": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "isc": "ISC",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "mpl 2.0": "MPL-2.0",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "public domain": "LicenseRef-Public-Domain",
}
SPDX_IDS = {i.lower(): i for i in {*ALLOWED, *(x for ids, _ in EXCEPTIONS.values() for x in ids)}}
# Classifier tails that say nothing about which licence.
NOT_A_LICENCE = {"osi approved", "dfsg approved", "other/proprietary license"}


def normalise(name: str) -> str:
    """One licence name as an SPDX id (unknown names come back unchanged)."""
    key = " ".join(name.strip().split()).lower()
    return SPDX_IDS.get(key) or ALIASES.get(key) or name.strip()


def expression_ids(expression: str) -> list[list[str]]:
    """An SPDX expression as OR-of-ANDs: ``[[a], [b, c]]`` for ``a OR (b AND c)``."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    pos = 0

    def parse_or() -> list[list[str]]:
        nonlocal pos
        result = parse_and()
        while pos < len(tokens) and tokens[pos].upper() == "OR":
            pos += 1
            result = result + parse_and()
        return result

    def parse_and() -> list[list[str]]:
        nonlocal pos
        result = parse_atom()
        while pos < len(tokens) and tokens[pos].upper() == "AND":
            pos += 1
            right = parse_atom()
            result = [a + b for a in result for b in right]
        return result

    def parse_atom() -> list[list[str]]:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("unexpected end")
        token = tokens[pos]
        pos += 1
        if token == "(":  # noqa: S105 -- a parenthesis, not a password
            inner = parse_or()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise ValueError("missing )")
            pos += 1
            return inner
        if pos < len(tokens) and tokens[pos].upper() == "WITH":
            pos += 2  # an exception only adds permissions: judge the licence itself
        return [[normalise(token.removesuffix("+"))]]

    result = parse_or()
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r}")
    return result


def licence_options(licence: str) -> list[list[str]]:
    """Alternatives (any one suffices) of licences that must all be allowed."""
    text = licence.strip()
    if not text or text.upper() in ("UNKNOWN", "NONE"):
        return []
    if re.search(r"\s(AND|OR|WITH)\s|^\(", text):
        try:
            return expression_ids(text)
        except ValueError:
            pass
    # pip-licenses joins several classifiers with "; " (dual licensing): any one will do.
    parts = [p for p in (s.strip() for s in text.split(";")) if p.lower() not in NOT_A_LICENCE]
    return [[normalise(p)] for p in parts]


def verdict(name: str, licence: str) -> str | None:
    """None when ``licence`` is acceptable for package ``name``, else the reason."""
    waived = EXCEPTIONS.get(canonicalize_name(name), (frozenset(), ""))[0]
    options = licence_options(licence)
    if not options:
        return f"licence unknown ({licence!r}): find it and add it to hack/deny.py"
    if any(all(i in ALLOWED or i in waived for i in option) for option in options):
        return None
    bad = sorted({i for option in options for i in option if i not in ALLOWED | waived})
    return f"licence {licence!r} is not allowed ({', '.join(bad)} not in the allow-list)"


def distribution_licence(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    classifiers = [c for c in classifiers if c.lower() not in NOT_A_LICENCE]
    if classifiers:
        return "; ".join(classifiers)
    field = (meta.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= 100:
        return field
    return field.splitlines()[0] if field else ""


def installed_tree(root: str, extras: Iterable[str] | None) -> list[tuple[str, str, str]]:
    """``(name, version, licence)`` of ``root`` and everything it needs, as installed."""
    root_dist = metadata.distribution(root)
    wanted = (
        set(root_dist.metadata.get_all("Provides-Extra") or []) if extras is None else set(extras)
    )
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset(wanted))]
    seen: dict[str, set[str]] = {}
    found: dict[str, metadata.Distribution] = {}
    while todo:
        name, active = todo.pop()
        key = str(canonicalize_name(name))
        if key in seen and active <= seen[key]:
            continue
        seen.setdefault(key, set()).update(active)
        try:
            dist = found.get(key) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed: nothing to check
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            contexts = [{"extra": e} for e in active] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(c) for c in contexts):
                todo.append((req.name, frozenset(req.extras)))
    return sorted(
        (str(d.metadata["Name"]), d.version, distribution_licence(d)) for d in found.values()
    )


def from_listing(path: Path) -> list[tuple[str, str, str]]:
    """Rows of a ``pip-licenses --format=json`` listing (keys Name, Version, License)."""
    rows = json.loads(path.read_text())
    return [(r["Name"], str(r.get("Version", "")), str(r.get("License", ""))) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listing", type=Path, help="check a pip-licenses JSON listing instead")
    parser.add_argument(
        "--extras",
        default=None,
        help="comma-separated extras of platform-sdk to follow (default: all of them)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every package")
    args = parser.parse_args(argv)

    if args.listing:
        packages = from_listing(args.listing)
    else:
        extras = None if args.extras is None else [e for e in args.extras.split(",") if e]
        try:
            packages = installed_tree(ROOT, extras)
        except metadata.PackageNotFoundError:
            print(f"deny: {ROOT} is not installed here (run hack/bootstrap.sh)", file=sys.stderr)
            return 2

    failures = 0
    for name, version, licence in packages:
        reason = verdict(name, licence)
        if reason:
            failures += 1
            print(f"deny: {name} {version}: {reason}", file=sys.stderr)
        elif args.verbose:
            print(f"ok    {name} {version}: {licence}")
    if failures:
        print(f"deny: {failures} of {len(packages)} packages violate the licence policy")
        return 1
    print(f"deny: {len(packages)} packages, every licence allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
