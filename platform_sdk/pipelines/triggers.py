"""Which events start a run (``pipeline.on``) and which steps take part (``step.when``).

Events are ``push``, ``tag``, ``merge_request``, ``manual`` and ``schedule``; each comes with a
full ref (``refs/heads/main``, ``refs/tags/v1``; a bare name counts as a branch).

Triggers (:meth:`Triggers.matches`):

- ``on`` absent: every branch push and every tag push start a run; nothing else does (but see
  manual).
- ``on`` present: an event starts a run only if its section is declared. ``push.branches`` and
  ``tag.patterns`` are globs (absent: any); ``merge_request.actions`` lists the actions that
  count (absent: any); a ``schedule`` event counts when an entry names the ref's branch.
- ``manual`` is always allowed — a person (or agent) with write access asked for the run, so
  refusing it would only force everyone to declare ``manual:``. ``on.manual.parameters``
  declares parameters and their defaults; a parameter without a default must be given.

Step filters (:meth:`When.matches`) are all optional and must all hold: ``event`` lists events;
``branch`` lists branch globs and, as in Drone and Woodpecker, does not apply to tag refs, so
``{branch: [main], event: [push, tag]}`` runs for pushes to main and for every tag;
``path`` lists globs of which at least one changed path must match (when the changed paths are
unknown the filter holds, so a manual run never silently skips work).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import cronsim

from platform_sdk.errors import BadRequest
from platform_sdk.pipelines.definition_values import glob_match

if TYPE_CHECKING:
    from platform_sdk.pipelines.definition_model import Definition

__all__ = [
    "EVENTS",
    "MAX_SCHEDULE_FIRES",
    "MR_ACTIONS",
    "Schedule",
    "Triggers",
    "When",
    "check_event",
    "next_schedule_times",
    "split_ref",
]

EVENTS = ("push", "tag", "merge_request", "manual", "schedule")
MR_ACTIONS = ("opened", "updated", "reopened", "closed", "merged")
MAX_SCHEDULE_FIRES = 10_000
"""Fire times :func:`next_schedule_times` answers at most (a caller that slept for a year)."""


def check_event(event: str) -> str:
    if event not in EVENTS:
        raise BadRequest(
            f"unknown event {event!r}; expected one of: {', '.join(EVENTS)}",
            details={"event": event},
        )
    return event


def split_ref(ref: str) -> tuple[str | None, str | None]:
    """(branch, tag) of a ref; other refs (``refs/merge-requests/…``) give (None, None)."""
    if ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/"), None
    if ref.startswith("refs/tags/"):
        return None, ref.removeprefix("refs/tags/")
    if ref.startswith("refs/"):
        return None, None
    return ref, None


def _any(patterns: Iterable[str], value: str) -> bool:
    return any(glob_match(p, value) for p in patterns)


def _opt(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)


def _tup(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)


@dataclass(frozen=True)
class Schedule:
    """Start a run on ``branch`` whenever the five-field ``cron`` expression (UTC) fires."""

    cron: str
    branch: str


@dataclass(frozen=True)
class Triggers:
    """``pipeline.on``. The default (``on`` absent) is every push and every tag."""

    push: bool = True
    push_branches: tuple[str, ...] | None = None
    tag: bool = True
    tag_patterns: tuple[str, ...] | None = None
    merge_request: bool = False
    merge_request_actions: tuple[str, ...] | None = None
    schedules: tuple[Schedule, ...] = ()
    manual_parameters: dict[str, str | None] = field(default_factory=dict)
    """Declared manual parameters and their defaults (None: the parameter is required)."""

    def matches(self, event: str, *, ref: str, action: str | None = None) -> bool:
        branch, tag = split_ref(ref)
        match check_event(event):
            case "manual":
                return True
            case "push":
                return (
                    self.push
                    and branch is not None
                    and (self.push_branches is None or _any(self.push_branches, branch))
                )
            case "tag":
                return (
                    self.tag
                    and tag is not None
                    and (self.tag_patterns is None or _any(self.tag_patterns, tag))
                )
            case "merge_request":
                if not self.merge_request:
                    return False
                return self.merge_request_actions is None or action in self.merge_request_actions
            case _:  # schedule
                return branch is not None and any(s.branch == branch for s in self.schedules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "push": self.push,
            "push_branches": _opt(self.push_branches),
            "tag": self.tag,
            "tag_patterns": _opt(self.tag_patterns),
            "merge_request": self.merge_request,
            "merge_request_actions": _opt(self.merge_request_actions),
            "schedules": [{"cron": s.cron, "branch": s.branch} for s in self.schedules],
            "manual_parameters": dict(self.manual_parameters),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Triggers:
        return cls(
            push=bool(data["push"]),
            push_branches=_tup(data["push_branches"]),
            tag=bool(data["tag"]),
            tag_patterns=_tup(data["tag_patterns"]),
            merge_request=bool(data["merge_request"]),
            merge_request_actions=_tup(data["merge_request_actions"]),
            schedules=tuple(Schedule(s["cron"], s["branch"]) for s in data["schedules"]),
            manual_parameters={
                str(k): None if v is None else str(v) for k, v in data["manual_parameters"].items()
            },
        )


@dataclass(frozen=True)
class When:
    """``step.when``: every given filter must hold for the step to run (else it is skipped)."""

    branch: tuple[str, ...] | None = None
    event: tuple[str, ...] | None = None
    path: tuple[str, ...] | None = None

    def matches(self, event: str, *, ref: str, changed_paths: Iterable[str] | None) -> bool:
        if self.event is not None and event not in self.event:
            return False
        branch, tag = split_ref(ref)
        if (
            self.branch is not None
            and tag is None
            and (branch is None or not _any(self.branch, branch))
        ):
            return False
        if self.path is not None and changed_paths is not None:
            patterns = self.path
            return any(_any(patterns, p) for p in changed_paths)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"branch": _opt(self.branch), "event": _opt(self.event), "path": _opt(self.path)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> When:
        return cls(
            branch=_tup(data.get("branch")),
            event=_tup(data.get("event")),
            path=_tup(data.get("path")),
        )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def next_schedule_times(
    defn: Definition, after: datetime, until: datetime
) -> list[tuple[datetime, str]]:
    """(fire time, branch) of every schedule entry in ``(after, until]``, oldest first, UTC.

    Naive datetimes are taken as UTC. At most :data:`MAX_SCHEDULE_FIRES` times are answered.
    """
    start, end = _utc(after), _utc(until)
    fires: list[tuple[datetime, str]] = []
    for schedule in defn.triggers.schedules:
        for moment in cronsim.CronSim(schedule.cron, start):
            if moment > end or len(fires) >= MAX_SCHEDULE_FIRES:
                break
            fires.append((moment.astimezone(UTC), schedule.branch))
    fires.sort(key=lambda f: f[0])
    return fires[:MAX_SCHEDULE_FIRES]
