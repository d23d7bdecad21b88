"""Pipelines on the local runtime: push-to-first-step latency and runs per minute.

Starts the platform's app under uvicorn in a background thread (embedded SQLite data dir in a
temporary folder; the app runs the pipeline worker with the default parallelism), creates user
``bench`` with a token and two projects, and measures with the real ``git`` client:

- **latency** (project ``bench/latency``): ``--pushes`` times, commit, ``git push``, then follow
  the run the push started over the server's SSE endpoint, as a live client does. From the
  moment ``git push`` returns to the run's ``created_at``, the first step's ``started_at``
  (both recorded by the platform), the first log line of that step (its first SSE ``log``
  event), the run's ``finished_at`` and the SSE ``end`` event. The first step is
  ``echo first line; sleep --sleep; echo done``: a line held back until the step's next output
  shows up as ~``--sleep`` s. A second step depends on the first: the time from the first
  step's ``finished_at`` to the second's ``started_at`` is the DAG hand-off. Each run ends
  before the next push, so the worker is idle when a push arrives. The goal (issue #5) is a
  first step within 0.5 s after the push returns.
- **throughput** (project ``bench/throughput``, one step ``echo hi``): queue ``--runs`` manual
  runs as fast as possible, then wait until every run ended; runs per minute from the first
  trigger to the last ``finished_at``. Twice: through the REST API (the trigger's event wakes
  the server's worker at once) and through the SDK of a second embedded ``Platform`` in this
  process (its in-process bus is not the server's, so the worker finds the runs by polling).
- **baselines**, measured in the same run: ``bash -c 'echo hi'`` as a plain ``subprocess.run``
  (``--spawns`` times one after the other, half before and half after the platform's
  measurements), and what the local runtime does for such a step done by hand — a fresh
  one-commit checkout (``git init``, ``fetch --depth=1``, ``checkout``) plus the spawn; each
  also ``--runs`` times over a thread pool as wide as the worker's parallelism.

The server, its worker, the step threads and this script share one process (and its GIL), as
with a notebook that runs the server. Timestamps from the database are wall-clock UTC; the
script compares them with ``datetime.now(UTC)`` on the same machine.

    .venv/bin/python benchmarks/pipelines.py [--pushes 10] [--runs 30] [--spawns 30] [--sleep 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
from _common import filesystem_of, header, median, ratio, table
from _pipelines_bench import (
    GOAL_SECONDS,
    LATENCY_PIPELINE,
    TRIVIAL_PIPELINE,
    Follower,
    Server,
    checkout_and_spawn,
    measure_latency,
    measure_throughput,
    ms,
    p90,
    parallel,
    setup_repo,
    spawn_echo,
)

import platform_sdk as ps
from platform_sdk.git.repos import repo_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=10, help="pushes for the latency")
    parser.add_argument("--runs", type=int, default=30, help="manual runs per way of triggering")
    parser.add_argument("--spawns", type=int, default=30, help="baseline spawns (sequential)")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds the first step sleeps")
    opts = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pipelines-bench-"))
    platforms: list[ps.Platform] = []
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the admin's one-time password
            admin = ps.open(str(tmp / "data"))
        platforms.append(admin)
        git_version = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        width = admin.settings.pipeline_max_parallel
        header(
            "pipelines on the local runtime (live server in a thread, real git client)",
            {
                "git": git_version,
                "runtime": admin.settings.runtime,
                "max parallel": str(width),
                "data dir fs": filesystem_of(tmp),
            },
        )
        admin.users.create("bench", email="bench@example.test")
        admin.bindings.create("bench", "developer")
        token = admin.users.get("bench").tokens.create("bench").token
        bench = ps.open(str(tmp / "data"), user="bench")
        platforms.append(bench)
        latency_proj = bench.projects.create("latency")
        throughput_proj = bench.projects.create("throughput")

        baseline = [spawn_echo() for _ in range(opts.spawns // 2)]
        with Server(admin) as server:
            base = f"http://127.0.0.1:{server.port}"
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=auth) as client:
                remote = f"http://bench:{token}@127.0.0.1:{server.port}/bench"
                pipeline = LATENCY_PIPELINE.format(sleep=opts.sleep)
                setup_repo(tmp / "latency", f"{remote}/latency.git", pipeline)
                setup_repo(tmp / "throughput", f"{remote}/throughput.git", TRIVIAL_PIPELINE)
                lat = measure_latency(
                    latency_proj, Follower(client, "bench/latency"), tmp / "latency", opts.pushes
                )
                warmup = throughput_proj.pipelines.latest()
                if warmup is None:
                    raise SystemExit("the first push started no pipeline")
                warmup.wait(timeout=60, drive=False)

                def over_http() -> int:
                    r = client.post(
                        "/api/projects/bench/throughput/pipelines", json={"ref": "main"}
                    )
                    r.raise_for_status()
                    return int(r.json()["number"])

                def over_sdk() -> int:
                    return int(throughput_proj.pipelines.trigger("main").number)

                ways = {
                    "REST API (server's bus)": measure_throughput(
                        throughput_proj, opts.runs, over_http
                    ),
                    "SDK, 2nd Platform": measure_throughput(throughput_proj, opts.runs, over_sdk),
                }
        baseline += [spawn_echo() for _ in range(opts.spawns - len(baseline))]
        spawn_wall = parallel(spawn_echo, opts.runs, width)
        bare = repo_path(admin.settings, "bench", "throughput")
        root = tmp / "baseline"
        root.mkdir()
        checkouts = [checkout_and_spawn(bare, warmup.commit_sha, root) for _ in range(10)]
        checkout_wall = parallel(
            lambda: checkout_and_spawn(bare, warmup.commit_sha, root), opts.runs, width
        )
    finally:
        for platform in reversed(platforms):
            platform.close()
        shutil.rmtree(tmp, ignore_errors=True)

    report(
        opts,
        width,
        lat,
        ways,
        baselines={"spawn": baseline, "checkout": checkouts},
        walls={"spawn": spawn_wall, "checkout": checkout_wall},
    )


def report(
    opts: argparse.Namespace,
    width: int,
    lat: dict[str, list[float]],
    ways: dict[str, dict[str, Any]],
    *,
    baselines: dict[str, list[float]],
    walls: dict[str, float],
) -> None:
    """Print the two tables and the verdict on the goal."""
    baseline, checkouts = baselines["spawn"], baselines["checkout"]
    spawn_wall, checkout_wall = walls["spawn"], walls["checkout"]
    spawn = median(baseline)
    print(f"latency: {opts.pushes} pushes, one at a time; ms after `git push` returned")
    rows = [
        ("git push itself (duration)", lat["push"]),
        ("run queued (created_at)", lat["queued"]),
        ("first step started (started_at)", lat["step"]),
        ("first log line of the step (SSE)", lat["log"]),
        ("run finished (finished_at)", lat["run"]),
        ("SSE end event", lat["end"]),
        ("DAG hand-off: finished -> next started", lat["handoff"]),
    ]
    table(
        ("measure", "median", "p90", "max"),
        [(name, ms(median(v)), ms(p90(v)), ms(max(v))) for name, v in rows],
        right_from=1,
    )
    step_median, step_p90 = median(lat["step"]), p90(lat["step"])
    verdict = "met" if step_p90 < GOAL_SECONDS else "NOT met"
    print(
        f"goal: first step < {GOAL_SECONDS * 1000:.0f} ms after the push returns: {verdict} "
        f"(median {ms(step_median)} ms, p90 {ms(step_p90)} ms; negative: the run was queued "
        "and started before git's push returned)"
    )
    print(
        f"first log line readable {ms(median(lat['log']) - step_median)} ms (median) after its "
        f"step started; the step prints it, then sleeps {opts.sleep:g} s"
    )
    print()

    per_spawn = spawn_wall / opts.runs
    per_checkout = checkout_wall / opts.runs
    checkout = median(checkouts)
    print(
        f"throughput: {opts.runs} manual runs per way, one `echo hi` step each, "
        f"{width} steps in parallel; baseline: bash -c 'echo hi' as a plain subprocess"
    )
    out = []
    for way, thr in ways.items():
        per_run = thr["elapsed"] / opts.runs
        step = median(thr["step"])
        out.append(
            (
                way,
                f"{60 / per_run:,.0f}",
                f"{thr['queue_calls'] / opts.runs * 1000:.1f}",
                ms(per_run),
                ratio(per_run, per_spawn),
                ratio(per_run, per_checkout),
                ms(median(thr["wait"])),
                ms(p90(thr["wait"])),
                ms(step),
                ratio(step, spawn),
                ratio(step, checkout),
            )
        )
    for name, wall, one in (
        ("baseline: spawn", per_spawn, spawn),
        ("baseline: checkout+spawn", per_checkout, checkout),
    ):
        row = (name, f"{60 / wall:,.0f}", "", f"{wall * 1000:.1f}", "", "", "", "")
        out.append((*row, f"{one * 1000:.1f}", "", ""))
    table(
        (
            "way",
            "runs/min",
            "trigger ms",
            "ms/run",
            "/spawn",
            "/c+s",
            "wait med",
            "wait p90",
            "step ms",
            "/spawn",
            "/c+s",
        ),
        out,
        right_from=1,
    )
    print(
        "   trigger ms: one trigger call (mean); "
        f"ms/run: wall time from the first trigger to the last finished_at, per run ({width} "
        "in parallel; the baselines over as many threads); wait: run created -> step started;\n"
        "   step ms: the step's started -> finished (median), against one sequential baseline "
        f"(medians: spawn {spawn * 1000:.1f} ms of {len(baseline)}, checkout+spawn "
        f"{checkout * 1000:.1f} ms of {len(checkouts)}); /c+s: ratio to checkout+spawn"
    )


if __name__ == "__main__":
    main()
