"""Glob matching for branch, tag, path and artifact patterns: the semantics, and linear cost.

A pattern comes from whoever can push; a backtracking matcher let ``*a*a*a…X`` against a long
branch name freeze the server. The matcher counts its steps, so the bound is asserted as work
done rather than as time.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_sdk.pipelines.definition import DefinitionError, parse_definition
from platform_sdk.pipelines.definition_fields import MAX_GLOBS
from platform_sdk.pipelines.glob import MAX_GLOB_LENGTH, Glob, compile_glob, glob_match
from platform_sdk.pipelines.runtime.local_artifacts import collect

# -- the reference: the regex translation, fine on inputs this small -------------------------

_TOKENS = {
    "a": "a",
    "b": "b",
    ".": r"\.",
    "/": "/",
    "?": "[^/]",
    "*": "[^/]*",
    "**": ".*",
    "**/": "(?:.*/)?",
    "[ab]": "[ab]",
    "[a-c]": "[a-c]",
    "[!a]": "[^/a]",
    "[^b/]": "[^/b/]",
    "[/]": "[/]",
}


def _reference(tokens: list[str], value: str) -> bool:
    # ``*`` next to ``*`` would merge into ``**``; the generator never emits that (see below).
    return re.fullmatch("".join(_TOKENS[t] for t in tokens), value, re.DOTALL) is not None


def _no_adjacent_stars(tokens: list[str]) -> bool:
    """Token lists whose text reads back as the same tokens: ``*`` beside ``*`` would merge
    into ``**``, and ``**`` before ``/`` is the text of the ``**/`` token (zero or more
    directories), not ``**`` then a required ``/``."""
    text = "".join(tokens)
    return all(
        not (a.endswith("*") and b.startswith("*")) and not (a == "**" and b.startswith("/"))
        for a, b in itertools.pairwise(tokens)
    ) and bool(text)


patterns = st.lists(st.sampled_from(sorted(_TOKENS)), min_size=1, max_size=7).filter(
    _no_adjacent_stars
)
values = st.text(alphabet="ab/.c", max_size=10)


@settings(max_examples=600, deadline=None)
@given(tokens=patterns, value=values)
def test_matches_exactly_what_the_reference_matches(tokens: list[str], value: str) -> None:
    assert glob_match("".join(tokens), value) is _reference(tokens, value)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("release/*", "release/1", True),
        ("release/*", "release/1/x", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/a/b/c.py", True),
        ("**/*.xml", "report.xml", True),
        ("**/b", "xb", False),
        ("[]]x", "]x", True),
        ("[!]]x", "ax", True),
        ("[!]]x", "]x", False),
        ("v[!0-9]*", "v/1", False),
        ("main", "main", True),
        ("main", "mainx", False),
    ],
)
def test_glob_semantics(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected


# -- cost: linear in the value for any pattern ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("*a" * 40 + "X", "a" * 2000),  # the exponential case for a backtracking regex
        ("**a" * 40 + "X", "a" * 2000),
        ("**/a" * 40 + "X", "a/" * 1000),
        ("*?" * 60 + "X", "b" * 2000),
        ("[a-z]*" * 40 + "X", "q" * 2000),
    ],
)
def test_adversarial_patterns_cost_at_most_value_times_pattern_steps(
    pattern: str, value: str
) -> None:
    glob = compile_glob(pattern)
    matched, steps = glob.match_counting(value)
    assert matched is False
    assert steps <= (len(value) + 1) * glob.size


def test_a_push_with_an_adversarial_branch_pattern_is_matched_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The push that froze the server, through the trigger path: every step is counted.
    pattern = "*a" * 30 + "X"
    d = parse_definition(
        f'pipeline:\n  on: {{push: {{branches: ["{pattern}"]}}}}\n'
        "  steps: [{name: a, commands: [x]}]\n"
    )
    counted: list[int] = []
    real = Glob.match_counting

    def counting(self: Glob, value: str) -> tuple[bool, int]:
        matched, steps = real(self, value)
        counted.append(steps)
        return matched, steps

    monkeypatch.setattr(Glob, "match_counting", counting)
    branch = "a" * 5000
    assert not d.matches("push", ref=f"refs/heads/{branch}")
    assert len(counted) == 1
    assert counted[0] <= (len(branch) + 1) * compile_glob(pattern).size


# -- bounds ------------------------------------------------------------------------------------


def _lint(text: str) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(dedent(text))
    return [(e["key"], e["message"]) for e in info.value.details["errors"]]


def test_a_glob_longer_than_the_limit_is_a_lint_error() -> None:
    long = "a" * (MAX_GLOB_LENGTH + 1)
    text = (
        f"pipeline:\n  on: {{push: {{branches: ['{long}']}}}}\n"
        "  steps: [{name: a, commands: [x]}]\n"
    )
    assert _lint(text) == [
        (
            "pipeline.on.push.branches[0]",
            f"glob {long[:40]!r}… is {MAX_GLOB_LENGTH + 1} characters; "
            f"the limit is {MAX_GLOB_LENGTH}",
        )
    ]


def test_more_globs_than_the_limit_is_a_lint_error() -> None:
    many = ", ".join(f"b{i}" for i in range(MAX_GLOBS + 1))
    errors = _lint(
        f"pipeline:\n  steps:\n    - {{name: a, commands: [x], when: {{branch: [{many}]}}}}\n"
    )
    assert errors == [
        ("pipeline.steps[0].when.branch", f"has {MAX_GLOBS + 1} globs; the limit is {MAX_GLOBS}")
    ]


# -- artifacts use the same matcher --------------------------------------------------------


def test_artifact_patterns_match_by_segment(tmp_path: Path) -> None:
    for name in ("dist/a.whl", "dist/sub/b.whl", "report.xml", "logs/x/report.xml", "c.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = collect(tmp_path, ["dist/*.whl", "**/*.xml", "[!a-b].txt"], lambda _: None)
    assert [name for name, _ in found] == ["c.txt", "dist/a.whl", "logs/x/report.xml", "report.xml"]
