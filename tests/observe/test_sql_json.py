"""``POST /api/observe/sql`` answers JSON for every DuckDB type, and non-finite telemetry
does not break later queries: these were 500s."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People


@pytest.fixture
def api(platform: Platform, people: People) -> Iterator[tuple[TestClient, dict[str, str]]]:
    dev = people.user("dev", roles=("developer",))
    people.project(dev, "app")
    with TestClient(create_app(platform), raise_server_exceptions=False) as client:
        yield client, people.auth(people.token(dev))


def _sql(api: tuple[TestClient, dict[str, str]], query: str) -> list[list[object]]:
    client, auth = api
    r = client.post("/api/observe/sql", json={"query": query}, headers=auth)
    assert r.status_code == 200, r.text
    rows: list[list[object]] = r.json()["rows"]
    return rows


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("'nan'::double", "NaN"),
        ("'inf'::double", "Infinity"),
        ("'-inf'::double", "-Infinity"),
        ("'inf'::float", "Infinity"),
        ("1.5::double", 1.5),
        ("'infinity'::timestamp", "infinity"),
        ("'-infinity'::timestamp", "-infinity"),
        ("'infinity'::date", "infinity"),
        ("'-infinity'::date", "-infinity"),
        ("'infinity'::timestamptz", "infinity"),
        ("'294247-01-10'::date", "294247-01-10"),
        ("'10000-01-01 00:00:00'::timestamp", "10000-01-01T00:00:00.000000"),
        ("timestamp '2024-05-01 12:30:00'", "2024-05-01T12:30:00"),
        ("timestamptz '2024-05-01 12:30:00+00'", "2024-05-01T12:30:00+00:00"),
        ("date '2024-05-01'", "2024-05-01"),
        ("time '12:30:00'", "12:30:00"),
        ("time '12:30:00.25'", "12:30:00.250000"),
        ("time '24:00:00'", "24:00:00"),
        (
            "'340282366920938463463374607431768211455'::uhugeint",
            "340282366920938463463374607431768211455",
        ),
        (
            "'-170141183460469231731687303715884105728'::hugeint",
            "-170141183460469231731687303715884105728",
        ),
        ("12345678901234567890123::hugeint", "12345678901234567890123"),
        ("['nan'::double, 1.0]", ["NaN", 1.0]),
        ("{'t': time '01:02:03', 'd': 'inf'::double}", {"t": "01:02:03", "d": "Infinity"}),
    ],
)
def test_every_value_encodes_as_json(
    api: tuple[TestClient, dict[str, str]], expr: str, expected: object
) -> None:
    assert _sql(api, f"select {expr} as v") == [[expected]]


def test_test_all_types_encodes_whole(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    r = client.post(
        "/api/observe/sql", json={"query": "select * from test_all_types()"}, headers=auth
    )
    assert r.status_code == 200, r.text
    body = r.json()
    columns, rows = body["columns"], body["rows"]
    assert len(rows) == 3
    low, high, _ = (dict(zip(columns, row, strict=True)) for row in rows)
    assert high["uhugeint"] == str(2**128 - 1)  # was -1: decimal128 overflowed
    assert low["hugeint"] == str(-(2**127))
    assert high["double"] == 1.7976931348623157e308
    assert high["time"] == "24:00:00"
    assert high["date"] == "5881580-07-10"
    # strict JSON: no bare NaN or Infinity anywhere in the body
    json.loads(r.text, parse_constant=lambda c: pytest.fail(f"bare {c} in the body"))


def test_an_infinite_gauge_does_not_break_later_metric_queries(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, auth = api
    now = time.time_ns()
    resource = {
        "attributes": [
            {"key": "platform.project", "value": {"stringValue": "dev/app"}},
            {"key": "service.name", "value": {"stringValue": "s"}},
        ]
    }
    points = [
        {"timeUnixNano": str(now - 2_000_000_000), "asDouble": "Infinity"},
        {"timeUnixNano": str(now - 1_000_000_000), "asDouble": "NaN"},
        {"timeUnixNano": str(now), "asDouble": 3.5},
    ]
    body = {
        "resourceMetrics": [
            {
                "resource": resource,
                "scopeMetrics": [{"metrics": [{"name": "temp", "gauge": {"dataPoints": points}}]}],
            }
        ]
    }
    r = client.post("/v1/metrics", json=body, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    values = _sql(api, "select value from metrics where name = 'temp' order by timestamp")
    assert values == [["Infinity"], ["NaN"], [3.5]]
    for agg in ("max", "avg", "last", "min"):
        r = client.get(
            "/api/observe/metrics/query",
            params={"name": "temp", "agg": agg, "project": "dev/app"},
            headers=auth,
        )
        assert r.status_code == 200, (agg, r.text)
        json.loads(r.text, parse_constant=lambda c: pytest.fail(f"bare {c} in the body"))
