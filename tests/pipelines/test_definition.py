"""Parsing and validating ``.platform.yaml``: the model it gives, and every problem it names."""

from __future__ import annotations

import json
from textwrap import dedent, indent
from typing import Any

import pytest

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.definition import (
    Definition,
    DefinitionError,
    Schedule,
    StepDef,
    Triggers,
    When,
    expand_steps,
    parse_definition,
)
from platform_sdk.pipelines.definition_steps import MAX_JOBS, MAX_STEPS

FULL = """\
pipeline:
  on:
    push: {branches: ["main", "release/*"]}
    merge_request: {actions: [opened, updated]}
    tag: {patterns: ["v*"]}
    schedule: [{cron: "0 3 * * *", branch: main}]
    manual: {parameters: {TARGET: {default: staging}}}
  env: {KEY: value, N: 3.10}
  timeout: 2h
  steps:
    - name: test
      image: python:3.12
      commands: ["pip install -e .", "pytest -q"]
      env: {TOKEN: "${{ secrets.PYPI_TOKEN }}"}
      depends_on: []
      when: {branch: ["main"], event: [push, tag], path: ["src/**"]}
      matrix: {PY: ["3.11", "3.12"]}
      timeout: 10m
      retries: 1
      allow_failure: false
      artifacts: ["dist/*.whl"]
    - name: image
      type: image_build
      destination: registry.local/app:latest
      dockerfile: docker/Dockerfile
      depends_on: test
"""


def problems(text: str | bytes) -> list[dict[str, Any]]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(dedent(text) if isinstance(text, str) else text)
    errors: list[dict[str, Any]] = info.value.details["errors"]
    assert info.value.message.count("\n") == len(errors) - 1
    return errors


def one(text: str | bytes) -> tuple[int, str, str]:
    errors = problems(text)
    assert len(errors) == 1, errors
    return errors[0]["line"], errors[0]["key"], errors[0]["message"]


def steps(body: str) -> str:
    """A pipeline whose steps list is ``body`` (lines start at line 3)."""
    return "pipeline:\n  steps:\n" + indent(dedent(body), "    ")


def test_full_file_parses_into_the_model() -> None:
    defn = parse_definition(FULL)
    assert defn.timeout_seconds == 7200
    assert defn.env == {"KEY": "value", "N": "3.10"}  # source text, not the float 3.1
    assert defn.triggers == Triggers(
        push=True,
        push_branches=("main", "release/*"),
        tag=True,
        tag_patterns=("v*",),
        merge_request=True,
        merge_request_actions=("opened", "updated"),
        schedules=(Schedule("0 3 * * *", "main"),),
        manual_parameters={"TARGET": "staging"},
    )
    assert defn.steps[0] == StepDef(
        name="test",
        image="python:3.12",
        commands=("pip install -e .", "pytest -q"),
        env={"TOKEN": "${{ secrets.PYPI_TOKEN }}"},
        when=When(branch=("main",), event=("push", "tag"), path=("src/**",)),
        matrix={"PY": ("3.11", "3.12")},
        timeout_seconds=600,
        retries=1,
        artifacts=("dist/*.whl",),
    )
    image = defn.step("image")
    assert (image.type, image.destination, image.context) == (
        "image_build",
        "registry.local/app:latest",
        ".",
    )
    assert (image.dockerfile, image.depends_on, image.commands) == (
        "docker/Dockerfile",
        ("test",),
        (),
    )


def test_defaults_of_a_minimal_file() -> None:
    defn = parse_definition(b"pipeline:\n  steps:\n    - {name: a, commands: [make]}\n")
    assert defn.triggers == Triggers()  # every push and tag
    assert defn.timeout_seconds == 3600
    step = defn.steps[0]
    assert (step.type, step.retries, step.allow_failure, step.timeout_seconds) == (
        "command",
        0,
        False,
        None,
    )


def test_to_dict_round_trips_through_json() -> None:
    defn = parse_definition(FULL)
    stored = json.loads(json.dumps(defn.to_dict()))
    assert Definition.from_dict(stored) == defn


def test_timeout_that_is_not_a_duration_names_file_line_and_key() -> None:
    text = steps("""\
        - name: a
          commands: [x]
        - name: b
          commands: [y]
          timeout: 10 minutes
    """)
    with pytest.raises(ValidationFailed) as info:
        parse_definition(text)
    assert info.value.message == (
        '.platform.yaml:7: pipeline.steps[1].timeout: "10 minutes" is not a duration '
        "(use 30s, 10m, 1h30m)"
    )


def test_yaml_syntax_error_is_a_located_problem() -> None:
    line, key, message = one("pipeline:\n  steps: [\n    {name: a\n")
    assert line == 4
    assert key == ""
    assert message.startswith("YAML syntax error: ")


def test_unknown_key_suggests_the_close_one() -> None:
    assert one(steps("- {name: a, commands: [x], imgae: py}\n")) == (
        3,
        "pipeline.steps[0].imgae",
        "unknown key (did you mean 'image'?)",
    )
    assert [(e["line"], e["key"], e["message"]) for e in problems("pipeline:\n  stepz: []\n")] == [
        (2, "pipeline.stepz", "unknown key (did you mean 'steps'?)"),
        (2, "pipeline", "missing required key 'steps'"),
    ]


def test_duplicate_mapping_keys_are_rejected() -> None:
    line, key, message = one("pipeline:\n  steps:\n    - {name: a, commands: [x]}\n  steps: []\n")
    assert (line, key, message) == (4, "pipeline.steps", "duplicate key (first at line 2)")


def test_wrong_types() -> None:
    errors = problems(
        steps("""\
        - name: a
          commands: "make"
          retries: "two"
          allow_failure: maybe
          env: [A]
    """)
    )
    assert [(e["line"], e["key"]) for e in errors] == [
        (5, "pipeline.steps[0].retries"),
        (6, "pipeline.steps[0].allow_failure"),
        (7, "pipeline.steps[0].env"),
    ]
    assert errors[0]["message"] == 'must be a whole number, not "two"'


def test_missing_and_empty_steps() -> None:
    assert one("pipeline:\n  env: {A: b}\n") == (2, "pipeline", "missing required key 'steps'")
    assert one("pipeline:\n  steps: []\n")[2] == "must list at least one step"
    assert one("")[2].startswith("file is empty")
    assert one(steps("- {name: a}\n"))[2] == "missing required key 'commands'"
    assert one(steps("- {name: a, commands: []}\n"))[2] == "must list at least one command"


def test_duplicate_step_names() -> None:
    text = steps(
        "- {name: a, commands: [x]}\n- {name: b, commands: [x]}\n- {name: a, commands: [y]}\n"
    )
    assert one(text) == (5, "pipeline.steps[2].name", "duplicate step name 'a' (first at line 3)")


@pytest.mark.parametrize("name", ["-lead", "has space", "x" * 64, "ünï"])
def test_step_names_must_follow_the_rule(name: str) -> None:
    line, key, message = one(steps(f'- {{name: "{name}", commands: [x]}}\n'))
    assert (line, key) == (3, "pipeline.steps[0].name")
    assert "must be 1-63 letters" in message


def test_unknown_dependency_and_cycles_are_named() -> None:
    text = steps("""\
        - name: build
          commands: [x]
          depends_on: [test]
        - name: test
          commands: [x]
          depends_on: [build, lint]
        - name: self
          commands: [x]
          depends_on: [self]
        - name: pkg
          commands: [x]
          depends_on: [biuld]
    """)
    errors = problems(text)
    assert [(e["line"], e["message"]) for e in errors] == [
        (5, "dependency cycle: build -> test -> build"),
        (8, "unknown step 'lint' (expected one of: build, test, self, pkg)"),
        (11, "dependency cycle: self -> self"),
        (14, "unknown step 'biuld' (did you mean 'build'?)"),
    ]


def test_bad_cron_and_schedule_entries() -> None:
    text = """\
        pipeline:
          on:
            schedule:
              - {cron: "61 * * * *", branch: main}
              - {cron: "0 3 * *", branch: main}
              - {cron: "0 3 * * *"}
          steps: [{name: a, commands: [x]}]
    """
    errors = problems(text)
    assert [(e["line"], e["key"]) for e in errors] == [
        (4, "pipeline.on.schedule[0].cron"),
        (5, "pipeline.on.schedule[1].cron"),
        (6, "pipeline.on.schedule[2]"),
    ]
    assert "Bad minute" in errors[0]["message"]
    assert "must have 5 fields" in errors[1]["message"]
    assert errors[2]["message"] == "missing required key 'branch'"


def test_durations_out_of_range() -> None:
    text = "pipeline:\n  timeout: 25h\n  steps:\n    - {name: a, commands: [x], timeout: 0s}\n"
    assert [(e["line"], e["message"]) for e in problems(text)] == [
        (2, '"25h" is longer than the limit of 24h'),
        (4, '"0s" must be longer than 0s'),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [("-1", "must be between 0 and 10"), ("11", "must be between 0 and 10"), ("true", "number")],
)
def test_retries_are_bounded(value: str, message: str) -> None:
    line, key, text = one(steps(f"- {{name: a, commands: [x], retries: {value}}}\n"))
    assert (line, key) == (3, "pipeline.steps[0].retries")
    assert message in text


def test_network_none_is_kept_through_the_model_and_the_plan() -> None:
    defn = parse_definition(
        steps("- {name: offline, commands: [x], network: none}\n- {name: online, commands: [x]}\n")
    )
    assert [s.network for s in defn.steps] == ["none", "default"]
    again = Definition.from_dict(json.loads(json.dumps(defn.to_dict())))
    assert again == defn
    planned = expand_steps(defn, event="push", ref="refs/heads/main")
    assert {p.name: p.network for p in planned} == {"offline": "none", "online": "default"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("host", "unknown network 'host' (expected one of: default, none)"),
        ("off", "must be a string, not bool off"),
        ("nnone", "unknown network 'nnone' (did you mean 'none'?)"),
        ("null", "must be a string"),
        ("[none]", "must be a string"),
    ],
)
def test_network_values_are_checked(value: str, message: str) -> None:
    line, key, text = one(steps(f"- {{name: a, commands: [x], network: {value}}}\n"))
    assert (line, key) == (3, "pipeline.steps[0].network")
    assert message in text


def test_bad_globs_and_artifact_paths() -> None:
    text = steps("""\
        - name: a
          commands: [x]
          when: {branch: "[main", path: []}
          artifacts: ["/etc/passwd", "../up", "ok/*.whl"]
    """)
    assert [(e["line"], e["key"], e["message"]) for e in problems(text)] == [
        (5, "pipeline.steps[0].when.branch", "glob '[main' has an unclosed '['"),
        (
            5,
            "pipeline.steps[0].when.path",
            "must not be empty (leave the key out to match anything)",
        ),
        (6, "pipeline.steps[0].artifacts[0]", "'/etc/passwd' must be relative to the workspace"),
        (6, "pipeline.steps[0].artifacts[1]", "'../up' must not leave the workspace (no '..')"),
    ]


def test_unknown_when_event() -> None:
    text = steps("- {name: a, commands: [x], when: {event: [push, pull_request, tagg]}}\n")
    assert [(e["key"], e["message"]) for e in problems(text)] == [
        (
            "pipeline.steps[0].when.event[1]",
            "unknown value 'pull_request' (did you mean 'merge_request'?)",
        ),
        ("pipeline.steps[0].when.event[2]", "unknown value 'tagg' (did you mean 'tag'?)"),
    ]


def test_matrix_rules() -> None:
    text = steps("""\
        - name: a
          commands: [x]
          matrix: {PY: [], OS: {linux: 1}, V: [[1]], W: [x, x]}
        - name: big
          commands: [x]
          matrix: {A: [1, 2, 3, 4, 5], B: [1, 2, 3, 4], C: [1, 2, 3, 4]}
    """)
    assert [(e["line"], e["key"], e["message"]) for e in problems(text)] == [
        (5, "pipeline.steps[0].matrix.PY", "must be a non-empty list of values"),
        (5, "pipeline.steps[0].matrix.OS", "must be a non-empty list of values, not a mapping"),
        (5, "pipeline.steps[0].matrix.V[0]", "must be a string, number or boolean, not a list"),
        (5, "pipeline.steps[0].matrix.W[1]", "duplicate value 'x'"),
        (8, "pipeline.steps[1].matrix", "expands to 80 jobs; the limit is 64"),
    ]


def test_a_definition_is_bounded_after_expansion() -> None:
    """Thousands of steps, or steps whose matrices multiply into thousands of jobs, would each
    lint fine and then create that many step rows and processes from one push."""
    many = "pipeline:\n  steps:\n" + "".join(
        f"    - {{name: s{i}, commands: [x]}}\n" for i in range(MAX_STEPS + 1)
    )
    assert [(e["key"], e["message"]) for e in problems(many)] == [
        ("pipeline.steps", f"lists {MAX_STEPS + 1} steps; the limit is {MAX_STEPS}")
    ]
    wide = "pipeline:\n  steps:\n" + "".join(
        f"    - {{name: m{i}, commands: [x], matrix: {{A: [1, 2, 3, 4, 5, 6, 7, 8], "
        "B: [1, 2, 3, 4, 5, 6, 7, 8]}}\n"
        for i in range(8)
    )  # 8 steps of 64 jobs each: every matrix within its own limit
    assert [(e["key"], e["message"]) for e in problems(wide)] == [
        (
            "pipeline.steps",
            f"expand to 512 jobs (matrices included); the limit per run is {MAX_JOBS}",
        )
    ]
    at_limit = "pipeline:\n  steps:\n" + "".join(
        f"    - {{name: s{i}, commands: [x]}}\n" for i in range(MAX_STEPS)
    )
    assert len(parse_definition(at_limit).steps) == MAX_STEPS


def test_env_values_and_secret_references() -> None:
    text = """\
        pipeline:
          env:
            GOOD: "${{ secrets.API_KEY }}"
            NESTED: {a: 1}
            1BAD: x
            LOWER: "${{ secrets.api_key }}"
            OTHER: "${{ github.token }}"
            TWO: "${{ secrets.A }}:${{ secrets.B }}"
          steps:
            - {name: a, commands: ["echo ${{ secrets.API_KEY }}"]}
    """
    errors = problems(text)
    assert [(e["line"], e["key"]) for e in errors] == [
        (4, "pipeline.env.NESTED"),
        (5, "pipeline.env.1BAD"),
        (6, "pipeline.env.LOWER"),
        (7, "pipeline.env.OTHER"),
        (8, "pipeline.env.TWO"),
        (10, "pipeline.steps[0].commands[0]"),
    ]
    assert "secret name 'api_key' must be 1-128 upper-case" in errors[2]["message"]
    assert "pass secrets through env" in errors[5]["message"]


def test_image_build_rules() -> None:
    text = steps("""\
        - name: build
          type: image_build
          context: ../outside
        - name: plain
          commands: [x]
          destination: reg/app:1
        - name: odd
          type: shell
          commands: [x]
    """)
    assert [(e["line"], e["key"], e["message"]) for e in problems(text)] == [
        (3, "pipeline.steps[0]", "missing required key 'destination' (the image to push)"),
        (5, "pipeline.steps[0].context", "'../outside' must not leave the workspace (no '..')"),
        (8, "pipeline.steps[1].destination", "is only allowed with type: image_build"),
        (
            10,
            "pipeline.steps[2].type",
            "unknown step type 'shell' (expected one of: command, image_build)",
        ),
    ]


def test_many_problems_are_reported_at_once_in_line_order() -> None:
    text = """\
        pipeline:
          on: {push: {branch: main}}
          timeout: forever
          steps:
            - name: a
              commands: [x]
              retries: 99
            - name: a b
              commands: [x]
    """
    with pytest.raises(DefinitionError) as info:
        parse_definition(dedent(text), filename="ci/.platform.yaml")
    lines = info.value.message.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "ci/.platform.yaml:2",
        "ci/.platform.yaml:3",
        "ci/.platform.yaml:7",
        "ci/.platform.yaml:8",
    ]
    assert info.value.details["errors"][0] == {
        "file": "ci/.platform.yaml",
        "line": 2,
        "key": "pipeline.on.push.branch",
        "message": "unknown key (did you mean 'branches'?)",
    }


def test_aliases_are_refused_so_a_yaml_bomb_cannot_expand() -> None:
    bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    # refused while composing, at the first alias (line 2): no node after it is ever built, so
    # nothing can walk the 9**9 expansion (no wall-clock bound needed to show it)
    line, _, message = one(bomb)
    assert (line, message) == (2, "YAML aliases (*name) are not allowed here")


def test_huge_and_deeply_nested_files_are_refused() -> None:
    line, _, message = one("# filler\n" * 30_000)
    assert (line, message) == (1, "file is 270000 bytes; the limit is 256 KiB")
    assert one("[" * 5000 + "]" * 5000)[2] == "nesting is deeper than 32 levels"
    assert one("pipeline: !!python/object:os.system {}\n")[2].startswith("YAML tag")


def test_non_utf8_bytes_are_a_clear_problem() -> None:
    assert one(b"pipeline:\n  steps: \xff\n") == (2, "", "file is not UTF-8 text (byte 19)")
