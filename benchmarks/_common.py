"""Helpers shared by the benchmark scripts: the machine header, timing and the result table.

Not a benchmark itself. The scripts import it as ``_common`` (Python puts the script's own
folder first on ``sys.path``), so they run as ``.venv/bin/python benchmarks/<name>.py``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import platform_sdk


def header(title: str, extra: dict[str, str] | None = None) -> None:
    """Print what was measured and on which machine."""
    print(f"== {title}")
    rows = {
        "cpus": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform_sdk": platform_sdk.__version__,
        "os": platform.platform(terse=True),
    }
    rows.update(extra or {})
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"   {key.ljust(width)}  {value}")
    print()


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts on Linux), or '?'."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "?"
    best, kind = "", "?"
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, parts[2]
    return f"{kind} ({best})" if best else kind


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took, by ``time.perf_counter``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rate(count: float, seconds: float) -> str:
    """``count`` per second, compactly (``12.3k``, ``1.25M``)."""
    if seconds <= 0:
        return "inf"
    per = count / seconds
    if per >= 1_000_000:
        return f"{per / 1_000_000:.2f}M"
    if per >= 100_000:
        return f"{per / 1000:.0f}k"
    if per >= 10_000:
        return f"{per / 1000:.1f}k"
    if per >= 100:
        return f"{per:,.0f}"
    return f"{per:.1f}"


def ratio(platform_seconds: float, baseline_seconds: float) -> str:
    """Platform time over baseline time: above 1.00x the platform is slower."""
    if baseline_seconds <= 0:
        return "n/a"
    return f"{platform_seconds / baseline_seconds:.2f}x"


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, right_from: int = 0) -> None:
    """Print ``rows`` under ``columns``; columns from ``right_from`` on are right-aligned."""
    if not rows:
        print("(nothing measured)")
        return
    cells = [list(columns), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]

    def line(row: Sequence[str]) -> str:
        out = [
            cell.rjust(w) if right_from and i >= right_from else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    print(line(columns))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    sys.stdout.flush()
