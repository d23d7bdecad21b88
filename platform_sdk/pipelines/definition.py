"""The ``.platform.yaml`` pipeline definition: parse, validate, match triggers, plan a run.

The format::

    pipeline:
      on:                      # absent: every branch push and every tag push
        push: {branches: ["main", "release/*"]}
        merge_request: {actions: [opened, updated]}
        tag: {patterns: ["v*"]}
        schedule: [{cron: "0 3 * * *", branch: main}]
        manual: {parameters: {TARGET: {default: staging}}}
      env: {KEY: value}
      timeout: 1h               # the whole run (default 1h, at most 24h)
      steps:
        - name: test
          image: python:3.12
          commands: ["pip install -e .", "pytest -q"]
          env: {TOKEN: "${{ secrets.PYPI_TOKEN }}"}
          depends_on: []        # a DAG over step names
          when: {branch: ["main"], event: [push, tag], path: ["src/**"]}
          matrix: {PY: ["3.11", "3.12"]}
          timeout: 10m
          retries: 1            # 0-10
          allow_failure: false
          artifacts: ["dist/*.whl"]
          type: command         # or image_build, with context, dockerfile, destination
          network: none         # no network at all (default: the runtime's network)

This module is the public face; the work is split by concern:

- ``definition_yaml.py`` loads the YAML into nodes that know their line (no aliases, bounded
  size and depth) and collects problems into one :class:`DefinitionError`;
- ``definition_parse.py`` / ``definition_steps.py`` / ``definition_fields.py`` check the
  tree and build the model; ``definition_values.py`` holds durations, globs and secret refs;
- ``definition_model.py`` is the model (:class:`Definition`, :class:`StepDef`, JSON
  round-trip); ``triggers.py`` decides which events start a run and which steps a ``when``
  keeps — it documents the rules (manual runs are always allowed);
- ``definition_plan.py`` expands a definition into the :class:`PlannedStep` jobs of a run.

Every problem is reported with file, line and key path, all problems at once, e.g.
``.platform.yaml:7: pipeline.steps[1].timeout: "10 minutes" is not a duration (use 30s, 10m,
1h30m)``; bad input never surfaces as a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from platform_sdk.errors import BadRequest
from platform_sdk.pipelines.definition_model import DEFAULT_TIMEOUT_SECONDS, Definition, StepDef
from platform_sdk.pipelines.definition_parse import build_definition
from platform_sdk.pipelines.definition_plan import (
    MAX_STEP_NAME,
    PlannedStep,
    expand_steps,
    resolve_parameters,
    secret_names,
)
from platform_sdk.pipelines.definition_steps import MAX_MATRIX_JOBS, MAX_RETRIES
from platform_sdk.pipelines.definition_values import parse_duration, substitute_secrets
from platform_sdk.pipelines.definition_yaml import (
    MAX_BYTES,
    DefinitionError,
    Problem,
    Problems,
    load_nodes,
)
from platform_sdk.pipelines.triggers import Schedule, Triggers, When, next_schedule_times

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_BYTES",
    "MAX_MATRIX_JOBS",
    "MAX_RETRIES",
    "MAX_STEP_NAME",
    "Definition",
    "DefinitionError",
    "PlannedStep",
    "Problem",
    "Schedule",
    "StepDef",
    "Triggers",
    "When",
    "expand_steps",
    "lint_file",
    "next_schedule_times",
    "parse_definition",
    "parse_duration",
    "resolve_parameters",
    "secret_names",
    "substitute_secrets",
]

DEFAULT_FILENAME = ".platform.yaml"


def parse_definition(text: str | bytes, *, filename: str = DEFAULT_FILENAME) -> Definition:
    """The checked definition in ``text``; :class:`DefinitionError` lists every problem."""
    problems = Problems(filename)
    root = load_nodes(text, problems)
    defn = build_definition(root, problems) if not problems.items else None
    problems.raise_if_any()
    assert defn is not None
    return defn


def lint_file(path: str | os.PathLike[str]) -> Definition:
    """Parse the definition file at ``path`` (errors name it as given)."""
    file = Path(path)
    try:
        if not file.is_file():
            raise BadRequest(f"{path}: no such file", details={"path": str(path)})
        size = file.stat().st_size
        if size > MAX_BYTES:
            problems = Problems(str(path))
            problems.add(1, "", f"file is {size} bytes; the limit is {MAX_BYTES // 1024} KiB")
            problems.raise_if_any()
        data = file.read_bytes()
    except OSError as exc:
        raise BadRequest(
            f"{path}: cannot read: {exc.strerror or exc}", details={"path": str(path)}
        ) from None
    return parse_definition(data, filename=str(path))
