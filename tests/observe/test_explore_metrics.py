"""query_metric: downsampling values checked by hand on small series, rate with a counter
reset, group_by, label filters, histogram percentiles and the actor's scope."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.observe.explore_base import auto_step
from platform_sdk.observe.schema import series_key
from platform_sdk.observe.services.explore_metrics import query_metric
from platform_sdk.sdk import Platform
from tests.observe.explore_data import T0, A, B, World, at, make_world
from tests.plugins.platforms import People

RANGE = {"since": at(0), "until": at(60), "step_seconds": 20}


def point(
    name: str, t: float, labels: dict[str, object], project: str = A, **extra: object
) -> dict:  # type: ignore[type-arg]
    return {
        "timestamp": at(t),
        "name": name,
        "project": project,
        "labels": json.dumps(labels, sort_keys=True),
        "series_key": series_key(name, labels, project),
        **extra,
    }


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    w = make_world(platform, people)
    gauge = [
        point("cpu", t, {"host": host}, kind="gauge", value=v)
        for host, scale in (("h1", 1), ("h2", 10))
        for t, v in zip(range(0, 60, 10), range(1, 7), strict=True)
        for v in [v * scale]
    ]
    counter = [  # cumulative, with a reset between 20 s and 30 s, and a point before `since`
        point(
            "requests",
            t,
            {"route": "/a"},
            kind="sum",
            value=v,
            temporality="cumulative",
            is_monotonic=True,
        )
        for t, v in ((-10, 0), (0, 0), (10, 10), (20, 30), (30, 5), (40, 15), (50, 35))
    ]
    w.add("metrics", gauge[:6] + counter[:3])
    w.flush()
    w.add("metrics", gauge[6:] + counter[3:])
    w.add("metrics", [point("cpu", 0, {"host": "h1"}, project=B, kind="gauge", value=1000.0)])
    return w


def series(world: World, name: str, actor: str = "admin", **kwargs: object) -> list[tuple]:  # type: ignore[type-arg]
    who = world.admin if actor == "admin" else world.reader
    with world.db() as db:
        table = query_metric(db, actor=who, name=name, **{**RANGE, **kwargs})  # type: ignore[arg-type]
    out = []
    for row in table.to_pylist():
        seconds = (row.pop("time") - T0).total_seconds()
        value = row.pop("value")
        out.append((seconds, *row.values(), None if value is None else round(value, 6)))
    return out


def test_avg_per_bucket_with_a_label_filter(world: World) -> None:
    assert series(world, "cpu", project=A, labels={"host": "h1"}) == [
        (0, 1.5),
        (20, 3.5),
        (40, 5.5),
    ]
    assert series(world, "cpu", project=A) == [(0, 8.25), (20, 19.25), (40, 30.25)]


def test_group_by_a_label(world: World) -> None:
    assert series(world, "cpu", project=A, group_by=["host"], agg="max") == [
        (0, "h1", 2),
        (0, "h2", 20),
        (20, "h1", 4),
        (20, "h2", 40),
        (40, "h1", 6),
        (40, "h2", 60),
    ]
    with world.db() as db:
        table = query_metric(db, actor=world.admin, name="cpu", group_by=["host"], **RANGE)  # type: ignore[arg-type]
    assert table.column_names == ["time", "host", "value"]


@pytest.mark.parametrize(
    ("agg", "labels", "expected"),
    [
        ("sum", {}, [33, 77, 121]),
        ("min", {}, [1, 3, 5]),
        ("count", {}, [4, 4, 4]),
        ("last", {"host": "h2"}, [20, 40, 60]),
        ("p50", {}, [6, 17, 28]),
        ("p90", {"host": "h1"}, [1.9, 3.9, 5.9]),
    ],
)
def test_other_aggregations(
    world: World, agg: str, labels: dict[str, str], expected: list[float]
) -> None:
    assert [v for _, v in series(world, "cpu", project=A, agg=agg, labels=labels)] == expected


def test_rate_counts_a_reset_as_the_new_value(world: World) -> None:
    # increases: 0→0 (baseline read before `since`), 10, 20, reset to 5, 10, 20
    assert series(world, "requests", agg="rate") == [(0, 10 / 20), (20, 25 / 20), (40, 30 / 20)]


def test_a_reader_of_alpha_never_sees_beta(world: World) -> None:
    assert series(world, "cpu", "reader", labels={"host": "h1"}) == [(0, 1.5), (20, 3.5), (40, 5.5)]
    assert series(world, "cpu", labels={"host": "h1"}, agg="max")[0] == (0, 1000)
    with pytest.raises(NotFound):
        series(world, "cpu", "reader", project=B)


def test_histogram_percentiles_from_bucket_counts(world: World) -> None:
    bounds = [10.0, 20.0, 50.0]
    hist = [  # cumulative: the deltas over [0, 20) are [2, 6, 2, 0]
        point(
            "latency",
            t,
            {},
            kind="histogram",
            temporality="cumulative",
            count=c,
            sum=s,
            bucket_counts=b,
            explicit_bounds=bounds,
            min=1.0,
            max=45.0,
        )
        for t, c, s, b in ((-5, 1, 5.0, [1, 0, 0, 0]), (10, 11, 155.0, [3, 6, 2, 0]))
    ]
    world.add("metrics", hist)
    assert series(world, "latency", agg="p50") == [(0, 15.0)]  # 10 + 10 * (5 - 2) / 6
    assert series(world, "latency", agg="p90") == [(0, 35.0)]  # 20 + 30 * (9 - 8) / 2
    assert series(world, "latency", agg="count") == [(0, 10)]
    assert series(world, "latency", agg="avg") == [(0, 15.0)]  # 150 / 10
    assert series(world, "latency", agg="rate") == [(0, 0.5)]  # 10 observations in 20 s


def test_the_step_is_chosen_when_not_given(world: World) -> None:
    assert auto_step(timedelta(hours=1)) == 30
    assert auto_step(timedelta(days=7)) == 3600
    assert auto_step(timedelta(days=400)) == 2 * 86400
    with world.db() as db:
        table = query_metric(db, actor=world.admin, name="cpu", since=at(0), until=at(3600))
    assert table.num_rows == 2  # 30 s buckets: [0, 30) and [30, 60)


def test_bad_arguments(world: World) -> None:
    for kwargs in (
        {"agg": "median"},
        {"step_seconds": 0},
        {"step_seconds": 0.001},
        {"group_by": ["time"]},
        {"labels": {"host": ["h1"]}},
        {"name": ""},
    ):
        with pytest.raises(ValidationFailed):
            series(world, **{"name": "cpu", **kwargs})  # type: ignore[arg-type]
