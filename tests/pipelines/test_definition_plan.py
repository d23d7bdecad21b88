"""Using a definition: the events that start a run, the steps it plans, reading it back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from platform_sdk.errors import BadRequest, ValidationFailed
from platform_sdk.pipelines.definition import (
    MAX_STEP_NAME,
    Definition,
    DefinitionError,
    PlannedStep,
    expand_steps,
    lint_file,
    next_schedule_times,
    parse_definition,
    parse_duration,
    secret_names,
    substitute_secrets,
)
from platform_sdk.pipelines.definition_values import glob_match

MAIN = "refs/heads/main"


def defn(text: str) -> Definition:
    return parse_definition(dedent(text))


def with_on(on: str) -> Definition:
    return defn(f"pipeline:\n  on: {on}\n  steps: [{{name: a, commands: [x]}}]\n")


def plan(
    d: Definition,
    event: str = "push",
    ref: str = MAIN,
    *,
    changed_paths: list[str] | None = None,
    parameters: dict[str, str] | None = None,
) -> dict[str, PlannedStep]:
    jobs = expand_steps(d, event=event, ref=ref, changed_paths=changed_paths, parameters=parameters)
    return {s.name: s for s in jobs}


# -- triggers -----------------------------------------------------------------------------


def test_absent_on_means_every_push_and_tag_and_manual() -> None:
    d = defn("pipeline:\n  steps: [{name: a, commands: [x]}]\n")
    assert d.matches("push", ref="refs/heads/feature/x")
    assert d.matches("tag", ref="refs/tags/v1.0")
    assert d.matches("manual", ref=MAIN)
    assert not d.matches("merge_request", ref="refs/heads/feature", action="opened")
    assert not d.matches("schedule", ref=MAIN)


def test_push_branch_globs_do_not_cross_slashes_unless_double_star() -> None:
    d = with_on('{push: {branches: [main, "release/*", "hotfix/**"]}}')
    assert d.matches("push", ref=MAIN)
    assert d.matches("push", ref="refs/heads/release/1")
    assert not d.matches("push", ref="refs/heads/release/1/x")
    assert d.matches("push", ref="refs/heads/hotfix/a/b/c")
    assert not d.matches("push", ref="refs/heads/mainline")
    assert not d.matches("tag", ref="refs/tags/v1")  # on is declared without tag
    assert not d.matches("push", ref="refs/tags/main")  # a tag ref is no branch push


def test_tag_patterns_and_merge_request_actions() -> None:
    d = with_on('{tag: {patterns: ["v*"]}, merge_request: {actions: [opened, updated]}}')
    assert d.matches("tag", ref="refs/tags/v2.1")
    assert not d.matches("tag", ref="refs/tags/nightly")
    assert d.matches("merge_request", ref="refs/heads/feat", action="updated")
    assert not d.matches("merge_request", ref="refs/heads/feat", action="closed")
    assert not d.matches("push", ref=MAIN)


def test_shorthand_and_null_sections_match_anything() -> None:
    d = with_on("[push, merge_request]")
    assert d.matches("push", ref="refs/heads/any/thing")
    assert d.matches("merge_request", ref="refs/heads/x", action="merged")
    assert not d.matches("tag", ref="refs/tags/v1")
    assert with_on("{tag: }").matches("tag", ref="refs/tags/anything")


def test_schedule_events_match_their_branch_and_manual_always_runs() -> None:
    d = with_on('{schedule: [{cron: "0 3 * * *", branch: main}]}')
    assert d.matches("schedule", ref=MAIN)
    assert not d.matches("schedule", ref="refs/heads/dev")
    assert d.matches("manual", ref="refs/heads/dev")


def test_unknown_event_is_a_bad_request() -> None:
    d = with_on("[push]")
    with pytest.raises(BadRequest, match="unknown event 'pull'"):
        d.matches("pull", ref=MAIN)


def test_next_schedule_times_lists_fires_in_the_window() -> None:
    d = with_on(
        '{schedule: [{cron: "0 3 * * *", branch: main}, {cron: "30 */12 * * *", branch: dev}]}'
    )
    start = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    fires = next_schedule_times(d, start, start + timedelta(days=1))
    assert fires == [
        (datetime(2024, 5, 1, 3, 0, tzinfo=UTC), "main"),
        (datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "dev"),
        (datetime(2024, 5, 2, 0, 30, tzinfo=UTC), "dev"),
    ]
    # the window is (after, until]: a fire exactly at `after` is not repeated
    assert next_schedule_times(d, datetime(2024, 5, 1, 3, 0), datetime(2024, 5, 1, 4, 0)) == []


# -- planning -----------------------------------------------------------------------------

PLANNED = """\
pipeline:
  on: {manual: {parameters: {TARGET: {default: staging}, REGION: {}}}}
  env: {GLOBAL: g, SHARED: pipeline}
  steps:
    - name: test
      commands: [pytest]
      env: {SHARED: step, TOKEN: "${{ secrets.PYPI_TOKEN }}", URL: "https://${{ secrets.HOST }}/x"}
      matrix: {PY: ["3.11", "3.12"], OS: [linux, mac]}
    - name: docs
      commands: [make docs]
      when: {path: ["docs/**"]}
    - name: publish
      commands: [make publish]
      depends_on: [test, docs]
      when: {branch: [main], event: [push, tag, manual]}
      timeout: 5m
      retries: 2
"""


def test_matrix_expansion_names_and_env() -> None:
    steps = plan(defn(PLANNED), changed_paths=["src/a.py"])
    assert list(steps) == [
        "test (PY=3.11, OS=linux)",
        "test (PY=3.11, OS=mac)",
        "test (PY=3.12, OS=linux)",
        "test (PY=3.12, OS=mac)",
        "docs",
        "publish",
    ]
    job = steps["test (PY=3.12, OS=mac)"]
    assert job.step == "test"
    assert job.matrix == {"PY": "3.12", "OS": "mac"}
    assert job.env == {
        "GLOBAL": "g",
        "SHARED": "step",
        "TOKEN": "${{ secrets.PYPI_TOKEN }}",
        "URL": "https://${{ secrets.HOST }}/x",
        "PY": "3.12",
        "OS": "mac",
        "TARGET": "staging",
    }
    assert job.secret_refs == {"TOKEN": "PYPI_TOKEN", "URL": "HOST"}


def test_depends_on_a_matrix_step_means_all_its_jobs() -> None:
    publish = plan(defn(PLANNED))["publish"]
    assert publish.depends_on == (
        "test (PY=3.11, OS=linux)",
        "test (PY=3.11, OS=mac)",
        "test (PY=3.12, OS=linux)",
        "test (PY=3.12, OS=mac)",
        "docs",
    )
    assert (publish.timeout_seconds, publish.retries) == (300, 2)


def test_long_matrix_names_are_cut_but_stay_unique() -> None:
    long = ["v" * 80 + str(i) for i in range(3)]
    d = defn(f"pipeline:\n  steps: [{{name: t, commands: [x], matrix: {{X: {long}}}}}]\n")
    names = list(plan(d))
    assert len(set(names)) == 3
    assert all(len(n) <= MAX_STEP_NAME and n.startswith("t (X=vvv") for n in names)


def test_path_filter_skips_but_dependents_still_run() -> None:
    steps = plan(defn(PLANNED), changed_paths=["src/app.py"])
    assert steps["docs"].skip
    assert not steps["publish"].skip
    assert "docs" in steps["publish"].depends_on
    assert not plan(defn(PLANNED), changed_paths=["docs/guide/index.md"])["docs"].skip
    assert not plan(defn(PLANNED), changed_paths=None)["docs"].skip  # unknown: filter holds


def test_branch_and_event_filters() -> None:
    d = defn(PLANNED)
    assert not plan(d, "push", MAIN)["publish"].skip
    assert plan(d, "push", "refs/heads/feature")["publish"].skip
    assert not plan(d, "tag", "refs/tags/v1")["publish"].skip  # branch filters ignore tags
    assert plan(d, "merge_request", "refs/heads/main")["publish"].skip
    assert not plan(d, "manual", MAIN, parameters={"REGION": "eu"})["publish"].skip


def test_parameters_override_defaults_and_required_ones_are_enforced() -> None:
    d = defn(PLANNED)
    env = plan(d, "manual", parameters={"TARGET": "prod", "REGION": "eu"})["docs"].env
    assert (env["TARGET"], env["REGION"]) == ("prod", "eu")
    with pytest.raises(ValidationFailed, match="missing required parameters: REGION"):
        plan(d, "manual")
    with pytest.raises(ValidationFailed, match="may not contain"):
        plan(d, "manual", parameters={"REGION": "${{ secrets.PYPI_TOKEN }}"})
    with pytest.raises(ValidationFailed, match="parameter name 'bad-name'"):
        plan(d, "push", parameters={"bad-name": "x"})


def test_image_build_fields_are_planned() -> None:
    d = defn("""\
        pipeline:
          steps:
            - {name: img, type: image_build, destination: "reg/app:1", context: app}
    """)
    job = plan(d)["img"]
    assert (job.type, job.context, job.dockerfile, job.destination, job.commands) == (
        "image_build",
        "app",
        "Dockerfile",
        "reg/app:1",
        (),
    )


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("src/**", "src/a/b.py", True),
        ("**/*.py", "a.py", True),
        ("src/**/*.py", "src/a.py", True),
        ("*.md", "docs/x.md", False),
        ("a?c", "a/c", False),
        ("v[0-9]*", "v1.2", True),
        ("v[!0-9]*", "v1", False),
        ("[[]x", "[x", True),
    ],
)
def test_glob_semantics(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected


# -- secrets, durations -------------------------------------------------------------------


def test_secret_names_and_substitution() -> None:
    assert secret_names(defn(PLANNED)) == {"PYPI_TOKEN", "HOST"}
    value = "https://${{secrets.HOST}}/x?t=${{ secrets.TOKEN }}"
    assert substitute_secrets(value, {"HOST": "h.io", "TOKEN": "s3"}) == "https://h.io/x?t=s3"
    with pytest.raises(ValidationFailed, match="secret TOKEN is not available"):
        substitute_secrets(value, {"HOST": "h.io"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h30m", 5400), ("1h0m5s", 3605), ("45", 45), (7, 7)],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10 minutes", "1d", "m", "1.5h", "-5s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValidationFailed, match="is not a duration"):
        parse_duration(text)


def test_from_dict_rejects_garbage_clearly() -> None:
    with pytest.raises(ValidationFailed, match="stored pipeline definition is malformed"):
        Definition.from_dict({"version": 1, "steps": "nope"})


def test_lint_file(tmp_path: Path) -> None:
    good = tmp_path / ".platform.yaml"
    good.write_text(PLANNED)
    assert lint_file(good) == defn(PLANNED)
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline:\n  steps: 3\n")
    with pytest.raises(
        DefinitionError, match="^" + re.escape(f"{bad}:2: pipeline.steps: must be a list")
    ):
        lint_file(bad)
    with pytest.raises(BadRequest, match="no such file"):
        lint_file(tmp_path / "missing.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * 300_000)
    with pytest.raises(DefinitionError, match="the limit is 256 KiB"):
        lint_file(huge)
