"""Resource limits of every process in a sandbox (``PLATFORM_LOCAL_LIMITS``).

:class:`Limits` parses ``cpu=6h,as=16G,nofile=4096,nproc=4096,fsize=16G``, caps each value at
the calling process's hard limit, and sets them with util-linux ``prlimit`` arguments or, where
``prlimit`` is missing, on the child itself (:meth:`Limits.apply`); core dumps are always off.
See :mod:`platform_sdk.core.sandbox` for how the sandbox uses them.
"""

from __future__ import annotations

import re
import resource
from dataclasses import dataclass

__all__ = ["Limits"]

_SIZE = re.compile(r"(\d+)([kmgt]?)i?b?", re.IGNORECASE)
_SECONDS = re.compile(r"(\d+)([smhd]?)", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limits:
    """rlimits of every process in a sandbox; ``None`` is unlimited (the worker's own limit)."""

    cpu_seconds: int | None = 6 * 3600
    address_space: int | None = 16 << 30
    open_files: int | None = 4096
    processes: int | None = 4096
    file_size: int | None = 16 << 30

    _KEYS = {  # a class constant, not a field (no annotation)
        "cpu": ("cpu_seconds", "seconds"),
        "as": ("address_space", "bytes"),
        "nofile": ("open_files", "count"),
        "nproc": ("processes", "count"),
        "fsize": ("file_size", "bytes"),
    }

    @classmethod
    def parse(cls, text: str) -> Limits:
        """``cpu=6h,as=16G,nofile=4096,nproc=4096,fsize=16G`` (any subset; ``unlimited``
        lifts one). Raises ValueError naming the bad entry."""
        values: dict[str, int | None] = {}
        for raw in (part.strip() for part in text.split(",")):
            if not raw:
                continue
            key, sep, value = (s.strip() for s in raw.partition("="))
            if not sep or key.lower() not in cls._KEYS:
                names = ", ".join(cls._KEYS)
                raise ValueError(f"{raw!r} is not KEY=VALUE with KEY one of {names}")
            attr, kind = cls._KEYS[key.lower()]
            values[attr] = _parse_limit(key, value, kind)
        return cls(**values)

    def rlimits(self) -> list[tuple[int, int]]:
        """``(resource, value)`` pairs, core dumps off; unlimited entries left out, each capped
        at this process's hard limit (which no child may exceed)."""
        pairs = [
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_AS, self.address_space),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_NPROC, self.processes),
            (resource.RLIMIT_FSIZE, self.file_size),
            (resource.RLIMIT_CORE, 0),
        ]
        out = []
        for res, value in pairs:
            if value is None:
                continue
            _soft, hard = resource.getrlimit(res)  # what the child inherits and cannot exceed
            out.append((res, value if hard == resource.RLIM_INFINITY else min(value, hard)))
        return out

    def prlimit_args(self) -> list[str]:
        names = {
            resource.RLIMIT_CPU: "cpu",
            resource.RLIMIT_AS: "as",
            resource.RLIMIT_NOFILE: "nofile",
            resource.RLIMIT_NPROC: "nproc",
            resource.RLIMIT_FSIZE: "fsize",
            resource.RLIMIT_CORE: "core",
        }
        return [f"--{names[res]}={value}:{value}" for res, value in self.rlimits()]

    def apply(self) -> None:
        """Set the limits on the calling process (soft and hard: they cannot be raised)."""
        for res, value in self.rlimits():
            resource.setrlimit(res, (value, value))


def _parse_limit(key: str, value: str, kind: str) -> int | None:
    if value.lower() in ("unlimited", "none", "inf"):
        return None
    pattern, units = (_SECONDS, _TIME_UNITS) if kind == "seconds" else (_SIZE, _UNITS)
    if kind == "count":
        pattern, units = re.compile(r"(\d+)()"), {"": 1}
    match = pattern.fullmatch(value)
    if match is None or int(match.group(1)) <= 0:
        examples = {"seconds": "30m, 6h", "bytes": "512M, 16G", "count": "4096"}[kind]
        raise ValueError(f"{key}={value!r} is not a positive value (e.g. {examples}) or unlimited")
    return int(match.group(1)) * units[match.group(2).lower()]
