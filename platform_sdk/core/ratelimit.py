"""Rate limits on the bus: ``N/s``, ``N/min`` or ``N/h`` per key, shared across processes.

:func:`hit` counts one event for a key in a window that starts with the key's first event
(the counter is created with the window as its time to live, so it needs no clock agreement
between processes: Valkey expires it, or the in-process bus does). Past the limit it raises
:class:`~platform_sdk.errors.RateLimited` — 429 with ``Retry-After`` — naming what was limited
and how to change it. A limit of ``0`` (or ``off``) disables the check.

Used for OTLP requests per token (``PLATFORM_RATE_OTLP``) and manual pipeline triggers per user
and project (``PLATFORM_RATE_PIPELINE_TRIGGERS``); failed logins have their own counters in
:mod:`platform_sdk.identity.authn`.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from platform_sdk.core.bus import Bus
from platform_sdk.errors import RateLimited

__all__ = ["Rate", "hit"]

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0}
_RATE = re.compile(r"\s*(\d+)\s*/\s*([a-z]+)\s*")


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` events per ``window`` seconds; ``limit == 0`` is no limit."""

    limit: int
    window: float

    @classmethod
    @functools.cache  # settings hold the text; this runs on every OTLP request
    def parse(cls, text: str) -> Rate:
        """``600/min``, ``50/s``, ``1000/h``; ``0`` or ``off`` for none. ValueError otherwise."""
        if text.strip().lower() in ("0", "off", "none"):
            return cls(0, 1.0)
        match = _RATE.fullmatch(text.lower())
        if match is None or match.group(2) not in _UNITS:
            raise ValueError(f"{text!r} is not N/s, N/min or N/h (or off)")
        return cls(int(match.group(1)), _UNITS[match.group(2)])

    def __str__(self) -> str:
        if not self.limit:
            return "off"
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.window, f"{self.window:g}s")
        return f"{self.limit}/{unit}"


def hit(bus: Bus, key: str, rate: Rate, what: str, setting: str) -> None:
    """Count one event of ``key``; :class:`RateLimited` once ``rate`` is exceeded."""
    if not rate.limit:
        return
    count = bus.incr(f"rate:{key}", ttl=rate.window)
    if count > rate.limit:
        raise RateLimited(
            f"too many {what}: at most {rate} ({setting}); try again later",
            retry_after=max(1, math.ceil(rate.window)),
        )
