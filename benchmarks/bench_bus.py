"""Bus and cache speed: InProcessBus and ValkeyBus against raw baselines, in the same run.

Three measurements, each a bounded loop of ``--ops`` operations (default 5000):

* **pub->recv**: publish one small JSON object, then wait until the subscriber has it; one
  round trip at a time, so the figure is latency expressed as round trips/s.
* **cache set** and **cache get**: ``set(key, 64 bytes)`` over ``--ops`` distinct keys, then
  ``get`` of each.

Platform rows and their baselines:

* ``InProcessBus`` against plain Python doing the same job (``json.dumps`` into a
  ``queue.SimpleQueue``, ``json.loads`` out; a ``dict`` behind a ``threading.Lock``), and
  against raw redis-py, to show what the embedded default saves over a network hop;
* ``ValkeyBus`` on Redis/Valkey (``--url``, default ``redis://127.0.0.1:6379/0``) against raw
  redis-py with the same client settings as ``ValkeyBus`` (timeouts, retry, health checks):
  ``PUBLISH`` then ``pubsub.get_message`` on the same thread (no reader thread), with the same
  JSON encoding; ``SET``/``GET``.

When the server does not answer PING the Valkey and redis-py rows are skipped with a message.
Keys and channels live under a unique prefix, and every key under it is deleted at the end.
Each figure is the median of ``--repeat`` runs, the order of the sides alternating between
runs. The ratio is platform time over baseline time (above 1.00x the platform is slower).
Nothing is asserted: the script prints and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from _common import header, median, rate, ratio, table, timed
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from platform_sdk.core.bus import Bus
from platform_sdk.core.bus_memory import InProcessBus
from platform_sdk.core.bus_valkey import ValkeyBus

DEFAULT_URL = os.environ.get("PLATFORM_TEST_VALKEY_URL", "redis://127.0.0.1:6379/0")
START_REDIS = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379"
CHANNEL = "bench"
VALUE = os.urandom(64)
WARMUP = 100
RECEIVE_TIMEOUT = 5.0


@dataclass
class Side:
    """One implementation: a round trip, a set and a get, and a close."""

    label: str
    names: dict[str, str]  # what the table calls each operation of this side
    roundtrip: Callable[[int], None]
    set: Callable[[str], None]
    get: Callable[[str], None]
    close: Callable[[], None]


def message(i: int) -> dict[str, Any]:
    return {"i": i, "kind": "bench.event", "project": "todo-app"}


def lost(label: str, i: int) -> RuntimeError:
    return RuntimeError(f"{label}: message {i} did not arrive within {RECEIVE_TIMEOUT} s")


OPS = ("pub->recv", "cache set", "cache get")


# -- platform sides ------------------------------------------------------------------------
def bus_side(label: str, bus: Bus) -> Side:
    sub = bus.subscribe(CHANNEL)

    def roundtrip(i: int) -> None:
        bus.publish(CHANNEL, message(i))
        got = sub.get(timeout=RECEIVE_TIMEOUT)
        if got is None or got.data["i"] != i:
            raise lost(label, i)

    def get(key: str) -> None:
        if bus.get(key) is None:
            raise RuntimeError(f"{label}: {key!r} is missing")

    def close() -> None:
        sub.close()
        bus.close()

    names = dict.fromkeys(OPS, label)
    return Side(label, names, roundtrip, lambda key: bus.set(key, VALUE), get, close)


# -- baselines --------------------------------------------------------------------------------
def python_side() -> Side:
    """What the in-process bus does, with nothing around it."""
    q: queue.SimpleQueue[str] = queue.SimpleQueue()
    entries: dict[str, bytes] = {}
    lock = threading.Lock()

    def roundtrip(i: int) -> None:
        q.put(json.dumps(message(i), separators=(",", ":")))
        if json.loads(q.get(timeout=RECEIVE_TIMEOUT))["i"] != i:
            raise lost("python", i)

    def set_(key: str) -> None:
        with lock:
            entries[key] = VALUE

    def get(key: str) -> None:
        with lock:
            if entries.get(key) is None:
                raise RuntimeError(f"python: {key!r} is missing")

    names = {
        "pub->recv": "json + SimpleQueue",
        "cache set": "dict + Lock",
        "cache get": "dict + Lock",
    }
    return Side("python", names, roundtrip, set_, get, lambda: None)


def raw_client(url: str) -> redis.Redis:
    """A redis-py client with ValkeyBus's settings."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 2, (redis.ConnectionError,))
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        retry=retry,
        health_check_interval=30,
    )


def redis_side(url: str, prefix: str) -> Side:
    client = raw_client(url)
    pubsub = client.pubsub()
    channel = f"{prefix}raw:{CHANNEL}"
    pubsub.subscribe(channel)
    confirmed = pubsub.get_message(timeout=RECEIVE_TIMEOUT)
    if confirmed is None or confirmed["type"] != "subscribe":
        raise RuntimeError("redis-py: no confirmation of SUBSCRIBE")

    def roundtrip(i: int) -> None:
        client.publish(channel, json.dumps(message(i), separators=(",", ":")))
        raw = pubsub.get_message(timeout=RECEIVE_TIMEOUT)
        if raw is None or raw["type"] != "message" or json.loads(raw["data"])["i"] != i:
            raise lost("redis-py", i)

    def set_(key: str) -> None:
        client.set(f"{prefix}raw:{key}", VALUE)

    def get(key: str) -> None:
        if client.get(f"{prefix}raw:{key}") is None:
            raise RuntimeError(f"redis-py: {key!r} is missing")

    def close() -> None:
        pubsub.close()
        client.close()

    names = {
        "pub->recv": "redis-py PUBLISH + get_message",
        "cache set": "redis-py SET",
        "cache get": "redis-py GET",
    }
    return Side("redis-py", names, roundtrip, set_, get, close)


# -- measuring --------------------------------------------------------------------------------


def measure(side: Side, ops: int, run: int) -> dict[str, float]:
    """Seconds for ``ops`` round trips, ``ops`` sets and ``ops`` gets (fresh keys per run)."""
    keys = [f"r{run}:k{i}" for i in range(ops)]
    for i in range(WARMUP):
        side.roundtrip(-1 - i)
    out = {
        "pub->recv": timed(lambda: [side.roundtrip(i) for i in range(ops)]),
        "cache set": timed(lambda: [side.set(k) for k in keys]),
        "cache get": timed(lambda: [side.get(k) for k in keys]),
    }
    return out


def run_all(sides: list[Side], ops: int, repeat: int) -> dict[str, dict[str, float]]:
    """Median seconds per side and operation."""
    samples: dict[str, list[dict[str, float]]] = {s.label: [] for s in sides}
    for run in range(repeat):
        order = sides if run % 2 == 0 else list(reversed(sides))
        for side in order:
            samples[side.label].append(measure(side, ops, run))
    return {
        label: {op: median([s[op] for s in runs]) for op in OPS} for label, runs in samples.items()
    }


def redis_reachable(url: str) -> str | None:
    """``None`` when the server answers PING, else why not."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        info = client.info("server")
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None if info else "no INFO"


def server_version(url: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        info = client.info("server")
    finally:
        client.close()
    if "valkey_version" in info:
        return f"valkey {info['valkey_version']}"
    return f"redis {info.get('redis_version', '?')}"


def delete_prefix(url: str, prefix: str) -> int:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1000 ops, 1 run")
    parser.add_argument("--ops", type=int, help="operations per loop (default 5000)")
    parser.add_argument("--repeat", type=int, help="runs per figure, median kept (default 3)")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"Redis/Valkey (default {DEFAULT_URL})")
    args = parser.parse_args(argv)
    ops = args.ops or (1000 if args.quick else 5000)
    repeat = args.repeat or (1 if args.quick else 3)

    why_not = redis_reachable(args.url)
    server = f"{args.url}: {server_version(args.url)}" if why_not is None else "unreachable"
    extra = {
        "redis-py": redis.__version__,
        "server": server,
        "ops per loop": str(ops),
        "runs per figure": f"{repeat} (median)",
    }
    header("bench_bus: bus round trips and cache ops vs raw baselines", extra)

    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    python = python_side()
    sides = [python]
    raw: Side | None = None
    try:
        sides.append(bus_side("InProcessBus", InProcessBus()))
        if why_not is None:
            print(f"key prefix: {prefix}")
            sides.append(bus_side("ValkeyBus", ValkeyBus(args.url, prefix=prefix)))
            raw = redis_side(args.url, prefix)
            sides.append(raw)
        else:
            print(
                f"skipping the ValkeyBus and redis-py rows: Redis/Valkey at {args.url} is not "
                f"reachable ({why_not}); start it with: {START_REDIS}"
            )
        results = run_all(sides, ops, repeat)
    finally:
        for side in sides:
            side.close()
        if why_not is None:
            removed = delete_prefix(args.url, prefix)
            print(f"deleted {removed} keys under {prefix}")

    pairs: list[tuple[str, Side]] = [("InProcessBus", python)]
    if raw is not None:
        pairs += [("InProcessBus", raw), ("ValkeyBus", raw)]
    rows: list[list[str]] = []
    for platform, base in pairs:
        for op in OPS:
            mine, theirs = results[platform][op], results[base.label][op]
            row = [platform, op, f"{rate(ops, mine)}/s", base.names[op], f"{rate(ops, theirs)}/s"]
            rows.append([*row, ratio(mine, theirs)])
    print()
    table(["bus", "op", "platform", "baseline", "baseline rate", "ratio"], rows)
    print("\nratio = platform time / baseline time (above 1.00x the platform is slower)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
