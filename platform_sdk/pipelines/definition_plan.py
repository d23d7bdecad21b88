"""Planning a run: the concrete steps a definition gives for one event.

:func:`expand_steps` turns each :class:`~platform_sdk.pipelines.definition_model.StepDef` into
one :class:`PlannedStep` per matrix combination, in file order (axes vary last-axis fastest):

- **Names.** A step without a matrix keeps its name; a matrix job is ``test (PY=3.11, OS=linux)``.
  Names fit the ``pipeline_steps.name`` column (:data:`MAX_STEP_NAME`): a longer label is cut
  and ends with a digest of the whole label (``… #1a2b3c4d``), so names stay unique.
- **Dependencies.** ``depends_on: [test]`` on any step means every job of ``test``.
- **Skips.** A step whose ``when`` does not hold is planned with ``skip=True`` and shows as
  skipped; steps that depend on it still run (as in Woodpecker), since a filter is not a
  failure.
- **Env**, later wins: the pipeline's ``env``, the step's ``env``, the matrix values, then the
  run parameters (given values over ``on.manual.parameters`` defaults). ``${{ secrets.X }}``
  stays in the values; ``secret_refs`` maps each variable that references a secret to its
  name, and the worker resolves them (:func:`substitute_secrets`) into masked variables.
  Parameter values come from whoever triggers the run, so they may not contain ``${{`` — a
  parameter must never be able to name a secret.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.definition_model import Definition, StepDef, StepType
from platform_sdk.pipelines.definition_values import (
    ENV_NAME_RULE,
    secret_refs_in,
    valid_env_name,
)
from platform_sdk.pipelines.triggers import check_event

__all__ = ["MAX_STEP_NAME", "PlannedStep", "expand_steps", "resolve_parameters", "secret_names"]

MAX_STEP_NAME = 100


@dataclass(frozen=True)
class PlannedStep:
    """One job of a run, ready to become a ``pipeline_steps`` row."""

    name: str
    step: str
    """The name of the definition step it comes from."""
    image: str | None
    commands: tuple[str, ...]
    env: dict[str, str]
    secret_refs: dict[str, str]
    """Env variable → the secret its value references."""
    depends_on: tuple[str, ...]
    timeout_seconds: int | None
    retries: int
    allow_failure: bool
    artifacts: tuple[str, ...]
    type: StepType
    skip: bool
    matrix: dict[str, str] = field(default_factory=dict)
    context: str = "."
    dockerfile: str = "Dockerfile"
    destination: str | None = None
    network: str = "default"


def secret_names(defn: Definition) -> set[str]:
    """Every secret the definition references, in the pipeline's or any step's env."""
    values = [*defn.env.values(), *(v for step in defn.steps for v in step.env.values())]
    return {name for value in values for name in secret_refs_in(value)}


def resolve_parameters(
    defn: Definition, event: str, given: Mapping[str, str] | None
) -> dict[str, str]:
    """The run parameters: ``given`` over the declared defaults, checked."""
    declared = defn.triggers.manual_parameters
    out = {name: default for name, default in declared.items() if default is not None}
    for name, value in (given or {}).items():
        if not valid_env_name(name):
            raise ValidationFailed(
                f"parameter name {name!r} {ENV_NAME_RULE}", details={"parameter": name}
            )
        text = str(value)
        if "${{" in text:
            raise ValidationFailed(
                f"parameter {name}: values may not contain '${{{{' expressions",
                details={"parameter": name},
            )
        out[name] = text
    if event == "manual":
        missing = sorted(n for n in declared if n not in out)
        if missing:
            raise ValidationFailed(
                f"missing required parameters: {', '.join(missing)}",
                details={"parameters": missing},
            )
    return out


def _label_names(name: str, combos: list[dict[str, str]]) -> list[str]:
    if combos == [{}]:
        return [name]
    out: list[str] = []
    for combo in combos:
        label = ", ".join(f"{axis}={value}" for axis, value in combo.items())
        full = f"{name} ({label})"
        if len(full) > MAX_STEP_NAME or full in out:
            digest = hashlib.sha256(label.encode()).hexdigest()[:8]
            room = MAX_STEP_NAME - len(name) - len(" (… #12345678)")
            full = f"{name} ({label[:room]}… #{digest})"
        out.append(full)
    return out


def _combinations(matrix: Mapping[str, Iterable[str]]) -> list[dict[str, str]]:
    axes = list(matrix)
    return [dict(zip(axes, values, strict=True)) for values in itertools.product(*matrix.values())]


def expand_steps(
    defn: Definition,
    *,
    event: str,
    ref: str,
    changed_paths: list[str] | None = None,
    parameters: dict[str, str] | None = None,
) -> list[PlannedStep]:
    """The jobs of a run of ``defn`` for ``event`` on ``ref`` (see the module docstring).

    ``changed_paths`` None means unknown: ``when.path`` filters then hold.
    """
    check_event(event)
    params = resolve_parameters(defn, event, parameters)
    jobs: list[tuple[StepDef, str, dict[str, str]]] = []
    names: dict[str, list[str]] = {}
    for step in defn.steps:
        combos = _combinations(step.matrix)
        labels = _label_names(step.name, combos)
        names[step.name] = labels
        jobs.extend((step, label, combo) for label, combo in zip(labels, combos, strict=True))
    planned: list[PlannedStep] = []
    skipped = {
        s.name: not s.when.matches(event, ref=ref, changed_paths=changed_paths) for s in defn.steps
    }
    for step, name, combo in jobs:
        env = {**defn.env, **step.env, **combo, **params}
        refs = {var: found[0] for var, value in env.items() if (found := secret_refs_in(value))}
        planned.append(
            PlannedStep(
                name=name,
                step=step.name,
                image=step.image,
                commands=step.commands,
                env=env,
                secret_refs=refs,
                depends_on=tuple(n for dep in step.depends_on for n in names[dep]),
                timeout_seconds=step.timeout_seconds,
                retries=step.retries,
                allow_failure=step.allow_failure,
                artifacts=step.artifacts,
                type=step.type,
                skip=skipped[step.name],
                matrix=combo,
                context=step.context,
                dockerfile=step.dockerfile,
                destination=step.destination,
                network=step.network,
            )
        )
    return planned
