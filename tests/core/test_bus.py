"""The bus behaves the same in process and on Valkey (the local Redis server)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from platform_sdk.config import load_settings
from platform_sdk.core.bus import Bus, Message, open_bus
from platform_sdk.core.bus_memory import InProcessBus
from platform_sdk.core.bus_valkey import ValkeyBus
from platform_sdk.errors import BadRequest, DependencyUnavailable

WAIT = 5.0  # seconds to wait for something that should happen at once


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Case:
    bus: Bus
    advance: Callable[[float], None]  # moves the fake clock; Valkey's time moves by itself

    def eventually(self, check: Callable[[], bool], timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


@pytest.fixture(params=["memory", pytest.param("valkey", marks=pytest.mark.redis)])
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    if request.param == "memory":
        clock = FakeClock()

        def advance(seconds: float) -> None:
            clock.now += seconds

        bus: Bus = InProcessBus(clock=clock)
    else:
        url: str = request.getfixturevalue("valkey_url")
        bus = ValkeyBus(url, prefix=request.getfixturevalue("valkey_prefix"))

        def advance(seconds: float) -> None:
            pass

    yield Case(bus, advance)
    bus.close()


@pytest.fixture
def bus(case: Case) -> Bus:
    return case.bus


def test_publish_reaches_every_subscriber_of_the_channel_and_no_other(bus: Bus) -> None:
    with bus.subscribe("a") as one, bus.subscribe("a", "b") as two, bus.subscribe("c") as other:
        bus.publish("a", {"n": 1, "tags": ("x", "y")})
        assert one.get(WAIT) == Message("a", {"n": 1, "tags": ["x", "y"]})
        assert two.get(WAIT) == Message("a", {"n": 1, "tags": ["x", "y"]})
        bus.publish("b", {"n": 2})
        bus.publish("c", {"n": 3})
        assert two.get(WAIT) == Message("b", {"n": 2})
        # "c" is the first thing `other` sees: nothing from "a" or "b" reached it
        assert other.get(WAIT) == Message("c", {"n": 3})
        assert one.get(0) is None
        assert other.get(0) is None


def test_messages_keep_their_order(bus: Bus) -> None:
    with bus.subscribe("seq") as sub:
        for i in range(50):
            bus.publish("seq", {"i": i})
        assert [m.data["i"] for m in (sub.get(WAIT) for _ in range(50)) if m] == list(range(50))


def test_publish_without_subscribers_is_dropped_not_kept(bus: Bus) -> None:
    assert bus.publish("nobody", {"x": 1}) is None  # no error
    with bus.subscribe("nobody") as late:
        bus.publish("nobody", {"x": 2})
        # a subscriber sees what is published from then on, never what came before
        assert late.get(WAIT) == Message("nobody", {"x": 2})
        assert late.get(0) is None


def test_subscribers_get_their_own_copy(bus: Bus) -> None:
    with bus.subscribe("a") as one, bus.subscribe("a") as two:
        bus.publish("a", {"items": [1]})
        first, second = one.get(WAIT), two.get(WAIT)
        assert first is not None
        assert second is not None
        first.data["items"].append(2)
        assert second.data == {"items": [1]}


def test_messages_must_be_json_objects(bus: Bus) -> None:
    with pytest.raises(BadRequest):
        bus.publish("a", {"when": object()})
    with pytest.raises(BadRequest):
        bus.publish("a", {"x": float("nan")})
    with pytest.raises(BadRequest):
        bus.publish("a", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        bus.publish("", {})
    with pytest.raises(BadRequest):
        bus.subscribe()


def test_closing_a_subscription_stops_delivery(bus: Bus) -> None:
    with bus.subscribe("a") as staying:
        leaving = bus.subscribe("a")
        bus.publish("a", {"n": 1})
        assert leaving.get(WAIT) == Message("a", {"n": 1})
        bus.publish("a", {"n": 2})
        leaving.close()
        leaving.close()  # idempotent
        bus.publish("a", {"n": 3})
        assert leaving.closed
        assert leaving.get(0) is None
        assert list(leaving) == []
        assert [staying.get(WAIT), staying.get(WAIT), staying.get(WAIT)] == [
            Message("a", {"n": i}) for i in (1, 2, 3)
        ]


def test_close_wakes_a_reader_blocked_in_another_thread(bus: Bus) -> None:
    sub = bus.subscribe("a")
    seen: list[Message] = []
    reader = threading.Thread(target=lambda: seen.extend(sub))  # iterates until closed
    reader.start()
    bus.publish("a", {"n": 1})
    deadline = time.monotonic() + WAIT
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    sub.close()
    reader.join(WAIT)
    assert not reader.is_alive()
    assert seen == [Message("a", {"n": 1})]


def test_a_slow_subscriber_drops_its_oldest_messages(case: Case) -> None:
    bus = case.bus
    with bus.subscribe("a", max_pending=3) as slow, bus.subscribe("a") as fast:
        for i in range(10):
            bus.publish("a", {"i": i})
        assert [m.data["i"] for m in (fast.get(WAIT) for _ in range(10)) if m] == list(range(10))
        assert case.eventually(lambda: slow.dropped == 7)
        assert [m.data["i"] for m in (slow.get(WAIT) for _ in range(3)) if m] == [7, 8, 9]
        assert slow.get(0) is None


def test_get_set_delete(bus: Bus) -> None:
    assert bus.get("k") is None
    bus.set("k", b"v1")
    assert bus.get("k") == b"v1"
    bus.set("k", b"v2")
    assert bus.get("k") == b"v2"
    bus.set("bin", bytes(range(256)))
    assert bus.get("bin") == bytes(range(256))
    assert bus.delete("k") is True
    assert bus.delete("k") is False
    assert bus.get("k") is None
    with pytest.raises(BadRequest):
        bus.set("k", "text")  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        bus.get("")


def test_ttl_expiry(case: Case) -> None:
    bus = case.bus
    bus.set("long", b"v", ttl=60)
    bus.set("short", b"v", ttl=0.2)
    assert bus.get("long") == b"v"
    case.advance(0.3)
    assert case.eventually(lambda: bus.get("short") is None)
    assert bus.delete("short") is False
    assert bus.get("long") == b"v"
    bus.set("long", b"forever")  # a set without ttl clears the old one
    case.advance(120)
    assert bus.get("long") == b"forever"
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(BadRequest):
            bus.set("k", b"v", ttl=bad)


def test_incr(case: Case) -> None:
    bus = case.bus
    assert bus.incr("n") == 1
    assert bus.incr("n", 5) == 6
    assert bus.incr("n", -2) == 4
    assert bus.get("n") == b"4"
    bus.set("text", b"abc")
    with pytest.raises(BadRequest):
        bus.incr("text")
    assert bus.get("text") == b"abc"


def test_incr_ttl_starts_with_the_counter(case: Case) -> None:
    bus = case.bus
    assert bus.incr("window", ttl=600) == 1
    assert bus.incr("window", ttl=0.2) == 2  # a later ttl does not restart the window
    case.advance(1)
    assert bus.get("window") == b"2"
    # a window that ended starts a new counter (one incr per window: no race with its ttl)
    assert bus.incr("short", ttl=0.2) == 1
    case.advance(0.3)
    assert case.eventually(lambda: bus.get("short") is None)
    assert bus.incr("short", ttl=600) == 1


def test_incr_is_atomic_across_threads(bus: Bus) -> None:
    def work() -> None:
        for _ in range(200):
            bus.incr("counter")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bus.get("counter") == b"1600"


def test_ping_and_close(bus: Bus) -> None:
    bus.ping()
    sub = bus.subscribe("a")
    bus.close()
    assert sub.closed
    with pytest.raises(DependencyUnavailable, match="bus"):
        bus.ping()
    with pytest.raises(DependencyUnavailable):
        bus.publish("a", {})
    bus.close()  # idempotent


def test_open_bus_picks_the_implementation(tmp_path: Path) -> None:
    bus = open_bus(load_settings(data_dir=tmp_path, valkey_url=""))
    assert isinstance(bus, InProcessBus)
    assert bus.backend == "in-process"
    bus = open_bus(load_settings(data_dir=tmp_path, valkey_url="redis://127.0.0.1:1/0"))
    assert isinstance(bus, ValkeyBus)
    assert bus.backend == "valkey"
    bus.close()


def test_in_process_ttl_follows_the_injected_clock() -> None:
    clock = FakeClock()
    bus = InProcessBus(clock=clock)
    bus.set("k", b"v", ttl=10)
    clock.now += 9.999
    assert bus.get("k") == b"v"
    clock.now += 0.001
    assert bus.get("k") is None


@pytest.mark.timeout(15)
def test_valkey_ping_fails_fast_when_the_server_is_down(closed_port: int) -> None:
    bus = ValkeyBus(f"redis://127.0.0.1:{closed_port}/0", connect_timeout=1, socket_timeout=1)
    with pytest.raises(DependencyUnavailable, match="Valkey bus") as excinfo:
        bus.ping()
    assert "127.0.0.1" in str(excinfo.value)
    for call in (
        lambda: bus.get("k"),
        lambda: bus.set("k", b"v"),
        lambda: bus.incr("k"),
        lambda: bus.publish("a", {}),
        lambda: bus.subscribe("a"),
    ):
        with pytest.raises(DependencyUnavailable):
            call()
    bus.close()


@pytest.mark.redis
def test_installations_sharing_a_valkey_keep_apart_by_prefix(
    tmp_path: Path, valkey_url: str, valkey_prefix: str
) -> None:
    a, b = f"{valkey_prefix}a:", f"{valkey_prefix}b:"
    with (
        open_bus(load_settings(data_dir=tmp_path, valkey_url=valkey_url, valkey_prefix=a)) as one,
        open_bus(load_settings(data_dir=tmp_path, valkey_url=valkey_url, valkey_prefix=b)) as two,
    ):
        one.set("k", b"from a", ttl=30)
        assert two.get("k") is None
        assert one.incr("n", ttl=30) == 1
        assert two.incr("n", ttl=30) == 1
        raw = redis.Redis.from_url(valkey_url)
        assert raw.get(f"{a}k") == b"from a"
        raw.close()


@pytest.mark.redis
def test_valkey_uses_the_prefix_and_px(valkey_url: str, valkey_prefix: str) -> None:
    raw = redis.Redis.from_url(valkey_url)
    with ValkeyBus(valkey_url, prefix=valkey_prefix) as bus:
        bus.set("k", b"v", ttl=30)
        assert raw.get(f"{valkey_prefix}k") == b"v"
        assert 0 < raw.pttl(f"{valkey_prefix}k") <= 30_000
        bus.incr("n", ttl=30)
        assert 0 < raw.pttl(f"{valkey_prefix}n") <= 30_000
        bus.incr("n", ttl=0.2)  # the counter keeps the ttl it started with
        assert 200 < raw.pttl(f"{valkey_prefix}n") <= 30_000
        with bus.subscribe("ch") as sub:
            assert raw.pubsub_numsub(f"{valkey_prefix}ch")[0][1] == 1
            raw.publish(f"{valkey_prefix}ch", '{"from": "outside"}')
            assert sub.get(WAIT) == Message("ch", {"from": "outside"})
        gone = Case(bus, lambda s: None).eventually(
            lambda: raw.pubsub_numsub(f"{valkey_prefix}ch")[0][1] == 0
        )
        assert gone, "closing the subscription releases its connection"
    raw.close()


@pytest.mark.redis
def test_valkey_skips_malformed_messages(
    valkey_url: str, valkey_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = redis.Redis.from_url(valkey_url)
    caplog.set_level(logging.WARNING, logger="platform_sdk.core.bus_valkey")
    with ValkeyBus(valkey_url, prefix=valkey_prefix) as bus, bus.subscribe("ch") as sub:
        raw.publish(f"{valkey_prefix}ch", b"not json {")
        raw.publish(f"{valkey_prefix}ch", b"[1, 2]")
        raw.publish(f"{valkey_prefix}ch", b"\xff\xfe")
        bus.publish("ch", {"ok": True})
        assert sub.get(WAIT) == Message("ch", {"ok": True})
        assert not sub.closed
    skipped = [r for r in caplog.records if "skipped" in r.message]
    assert len(skipped) == 3
    raw.close()


@pytest.mark.redis
def test_valkey_subscription_survives_a_dropped_connection(
    valkey_url: str, valkey_prefix: str
) -> None:
    raw = redis.Redis.from_url(valkey_url)
    name = f"t-{uuid.uuid4().hex[:12]}"
    channel = f"{valkey_prefix}ch"

    def resubscribed_and_published() -> bool:
        return bool(
            raw.pubsub_numsub(channel)[0][1] == 1
            and raw.publish(channel, '{"after": "reconnect"}') > 0
        )

    with (
        ValkeyBus(valkey_url, prefix=valkey_prefix, client_name=name) as bus,
        bus.subscribe("ch") as sub,
    ):
        ids = [c["id"] for c in raw.client_list(_type="pubsub") if c.get("name") == name]
        assert len(ids) == 1
        raw.client_kill_filter(_id=ids[0])
        assert Case(bus, lambda s: None).eventually(resubscribed_and_published, timeout=15)
        assert sub.get(WAIT) == Message("ch", {"after": "reconnect"})
    raw.close()


def test_platforms_of_one_data_dir_share_the_in_process_bus(tmp_path: Path) -> None:
    """A notebook's server and its ``ps.open(user=…)`` objects see each other's messages."""
    settings = load_settings(data_dir=tmp_path / "a", valkey_url="")
    first, second = open_bus(settings), open_bus(settings)
    other = open_bus(load_settings(data_dir=tmp_path / "b", valkey_url=""))
    try:
        with first.subscribe("events.x") as sub, other.subscribe("events.x") as elsewhere:
            second.publish("events.x", {"n": 1})
            message = sub.get(timeout=5)
            assert message is not None
            assert message.data == {"n": 1}
            assert elsewhere.get(timeout=0.05) is None  # another data dir is another bus
        assert second.incr("k") == 1
        assert first.incr("k") == 2
        second.close()  # one user leaves: the bus stays open for the other
        first.publish("events.x", {"n": 2})
        assert first.get("k") == b"2"
    finally:
        first.close()
        other.close()
    with pytest.raises(Exception, match="closed"):
        first.publish("events.x", {"n": 3})
