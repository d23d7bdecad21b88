"""The parsed pipeline definition: frozen dataclasses that round-trip through JSON.

A run stores the definition it was started with in the ``pipelines.definition`` JSON column, so
a later edit of ``.platform.yaml`` never changes a run in flight. :meth:`Definition.to_dict`
writes lists and plain dicts only (tuples become lists, values are strings, ints and bools) and
carries a ``version`` so the shape can evolve; :meth:`Definition.from_dict` reads it back into
an equal :class:`Definition`. The dataclasses hold checked values only — they are built by
``definition_parse.py`` (or ``from_dict``), never from raw user input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.triggers import Triggers, When

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "NETWORKS", "Definition", "Network", "StepDef", "StepType"]

StepType = Literal["command", "image_build"]
STEP_TYPES: tuple[StepType, ...] = ("command", "image_build")
Network = Literal["default", "none"]
NETWORKS: tuple[Network, ...] = ("default", "none")
DEFAULT_TIMEOUT_SECONDS = 3600
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StepDef:
    """One ``pipeline.steps`` entry as written (before matrix expansion).

    ``env`` values are the source text of the YAML scalars, ``${{ secrets.X }}`` left in
    place. ``matrix`` maps each axis to its values, in file order. ``timeout_seconds`` None
    means the run's timeout applies. ``context``/``dockerfile``/``destination`` are used by
    ``image_build`` steps only. ``network`` is ``default`` (the runtime's network) or ``none``
    (no network at all, loopback of the host included).
    """

    name: str
    image: str | None = None
    commands: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    when: When = field(default_factory=When)
    matrix: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout_seconds: int | None = None
    retries: int = 0
    allow_failure: bool = False
    artifacts: tuple[str, ...] = ()
    type: StepType = "command"
    context: str = "."
    dockerfile: str = "Dockerfile"
    destination: str | None = None
    network: Network = "default"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "commands": list(self.commands),
            "env": dict(self.env),
            "depends_on": list(self.depends_on),
            "when": self.when.to_dict(),
            "matrix": {axis: list(values) for axis, values in self.matrix.items()},
            "timeout_seconds": self.timeout_seconds,
            "retries": self.retries,
            "allow_failure": self.allow_failure,
            "artifacts": list(self.artifacts),
            "type": self.type,
            "context": self.context,
            "dockerfile": self.dockerfile,
            "destination": self.destination,
            "network": self.network,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepDef:
        kind = data.get("type", "command")
        if kind not in STEP_TYPES:
            raise ValueError(f"unknown step type {kind!r}")
        timeout = data.get("timeout_seconds")
        network = data.get("network", "default")
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}")
        return cls(
            name=str(data["name"]),
            image=data.get("image"),
            commands=tuple(str(c) for c in data.get("commands", ())),
            env={str(k): str(v) for k, v in data.get("env", {}).items()},
            depends_on=tuple(str(d) for d in data.get("depends_on", ())),
            when=When.from_dict(data.get("when") or {}),
            matrix={
                str(axis): tuple(str(v) for v in values)
                for axis, values in data.get("matrix", {}).items()
            },
            timeout_seconds=None if timeout is None else int(timeout),
            retries=int(data.get("retries", 0)),
            allow_failure=bool(data.get("allow_failure", False)),
            artifacts=tuple(str(a) for a in data.get("artifacts", ())),
            type=cast(StepType, kind),
            context=str(data.get("context", ".")),
            dockerfile=str(data.get("dockerfile", "Dockerfile")),
            destination=data.get("destination"),
            network=cast(Network, network),
        )


@dataclass(frozen=True)
class Definition:
    """A whole ``.platform.yaml``: when to run, the shared env, the run timeout and the steps."""

    steps: tuple[StepDef, ...]
    triggers: Triggers = field(default_factory=Triggers)
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS

    def matches(self, event: str, *, ref: str, action: str | None = None) -> bool:
        """Does this event on ``ref`` start a run? (See :mod:`~platform_sdk.pipelines.triggers`.)"""
        return self.triggers.matches(event, ref=ref, action=action)

    def step(self, name: str) -> StepDef:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "triggers": self.triggers.to_dict(),
            "env": dict(self.env),
            "timeout_seconds": self.timeout_seconds,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Definition:
        """The definition :meth:`to_dict` wrote; ValidationFailed on anything else."""
        try:
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            return cls(
                triggers=Triggers.from_dict(data["triggers"]),
                env={str(k): str(v) for k, v in data["env"].items()},
                timeout_seconds=int(data["timeout_seconds"]),
                steps=tuple(StepDef.from_dict(s) for s in data["steps"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationFailed(
                f"stored pipeline definition is malformed: {exc!r}",
                details={"field": "definition"},
            ) from None
