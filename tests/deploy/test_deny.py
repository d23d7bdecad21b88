"""`just deny`'s licence policy (hack/deny.py): passes on the project, names offenders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.deploy._tools import REPO, run

DENY = REPO / "hack" / "deny.py"


def _check(tmp_path: Path, rows: list[tuple[str, str]]) -> tuple[int, str]:
    listing = tmp_path / "licenses.json"
    listing.write_text(
        json.dumps([{"Name": n, "Version": "1.0", "License": lic} for n, lic in rows])
    )
    result = run(sys.executable, str(DENY), "--listing", str(listing))
    return result.returncode, result.stdout + result.stderr


def test_the_projects_installed_dependencies_pass() -> None:
    result = run(sys.executable, str(DENY))
    assert result.returncode == 0, result.stderr
    assert "every licence allowed" in result.stdout


def test_a_disallowed_licence_fails_naming_the_package(tmp_path: Path) -> None:
    code, output = _check(
        tmp_path,
        [
            ("requests", "Apache Software License"),
            ("copyleft-lib", "GNU General Public License v3 (GPLv3)"),
            ("attrs", "MIT"),
        ],
    )
    assert code == 1
    assert "copyleft-lib 1.0" in output
    assert "GPL-3.0-only" in output
    assert "requests" not in output.replace("violate", "")
    assert "1 of 3 packages violate" in output


@pytest.mark.parametrize(
    ("licence", "allowed"),
    [
        ("MIT", True),
        ("BSD License", True),
        ("3-Clause BSD License", True),
        ("Apache-2.0 OR BSD-3-Clause", True),
        ("MPL-2.0 AND MIT", True),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("Mozilla Public License 2.0 (MPL 2.0)", True),
        ("ISC License (ISCL)", True),
        ("Python Software Foundation License", True),
        ("Unicode-3.0", True),
        ("Apache Software License; MIT License", True),
        ("GPL-3.0-only OR MIT", True),
        ("MIT AND GPL-2.0-only", False),
        ("(MIT OR Apache-2.0) AND AGPL-3.0-or-later", False),
        ("SSPL-1.0", False),
        ("UNKNOWN", False),
        ("", False),
    ],
)
def test_spdx_expressions_and_classifier_names(tmp_path: Path, licence: str, allowed: bool) -> None:
    code, output = _check(tmp_path, [("some-package", licence)])
    assert (code == 0) is allowed, output
    if not allowed:
        assert "some-package" in output


def test_a_waiver_covers_only_the_licence_it_names(tmp_path: Path) -> None:
    assert _check(tmp_path, [("psycopg", "LGPL-3.0-only")])[0] == 0
    code, output = _check(tmp_path, [("psycopg", "GPL-3.0-only")])
    assert code == 1
    assert "psycopg" in output
    # The same licence on a package without a waiver is refused.
    assert _check(tmp_path, [("other-lib", "LGPL-3.0-only")])[0] == 1
