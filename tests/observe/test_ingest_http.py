"""OTLP over HTTP into a running server, with the real OpenTelemetry exporters and with
hand-written JSON; every acknowledged record is found by SQL, on a local folder and on S3."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from platform_sdk.observe.services.query import sql
from platform_sdk.observe.telemetry import telemetry_of
from tests.observe.live import Live, live_platform
from tests.observe.samples import logs_request
from tests.observe.test_otlp_errors import status_class


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def live(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Live]:
    yield from live_platform(request, db_url, tmp_path, request.param)


def _count(live: Live, query: str) -> int:
    with live.platform.session() as db:
        result = sql(db, actor=live.dev, query=query)
    return int(result.table.column(0)[0].as_py())


def test_the_opentelemetry_sdk_exports_traces_logs_and_metrics(live: Live) -> None:
    resource = Resource.create({"service.name": "shop", "platform.project": "dev/app"})
    headers = {"Authorization": f"Bearer {live.token}"}
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(f"{live.base}/v1/traces", headers=headers))
    )
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("checkout") as parent:
        for i in range(3):
            with tracer.start_as_current_span(f"step-{i}"):
                pass
    trace_id = format(parent.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(f"{live.base}/v1/logs", headers=headers))
    )
    logger = logger_provider.get_logger("test")
    from opentelemetry._logs import SeverityNumber

    for i in range(5):
        logger.emit(body=f"order {i} placed", severity_number=SeverityNumber.INFO)
    logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(f"{live.base}/v1/metrics", headers=headers),
        export_interval_millis=3_600_000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    counter = meter_provider.get_meter("test").create_counter("orders", unit="1")
    counter.add(2, {"region": "eu"})
    counter.add(3, {"region": "us"})
    meter_provider.force_flush()
    meter_provider.shutdown()

    spans_query = f"select count(*) from spans where trace_id = '{trace_id}'"  # noqa: S608
    assert _count(live, spans_query) == 4
    assert _count(live, "select count(*) from logs where body like 'order % placed'") == 5
    assert _count(live, "select count(*) from logs where project = 'dev/app'") == 5
    assert _count(live, "select sum(value) from metrics where name = 'orders'") >= 5
    # the same rows once written to the object store: nothing lost, nothing doubled
    telemetry_of(live.platform.runtime).flush()
    assert list(live.platform.runtime.blobs.list("telemetry/logs/"))
    assert _count(live, spans_query) == 4
    assert _count(live, "select count(*) from logs") == 5
    with live.platform.session() as db:
        from sqlalchemy import select

        from platform_sdk.observe.models import MetricSeries

        series = db.scalars(select(MetricSeries).where(MetricSeries.name == "orders")).all()
    assert sorted(s.labels["region"] for s in series) == ["eu", "us"]


def test_json_bodies_and_partial_success(live: Live) -> None:
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "platform.project", "value": {"stringValue": "app"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1714564800000000000",
                                "body": {"stringValue": "hello json"},
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                            },
                            {"timeUnixNano": "1714564800000000000", "traceId": "abc"},
                        ]
                    }
                ],
            }
        ]
    }
    r = httpx.post(
        f"{live.base}/v1/logs",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    query = "select project, trace_id from logs where body = 'hello json'"
    with live.platform.session() as db:
        rows = sql(db, actor=live.dev, query=query).table.to_pylist()
    assert rows == [{"project": "dev/app", "trace_id": "5b8efff798038103d269b633813fc60c"}]


def test_bad_requests_are_refused_and_store_nothing(live: Live) -> None:
    url = f"{live.base}/v1/logs"
    auth = {"Authorization": f"Bearer {live.token}"}
    proto = {**auth, "Content-Type": "application/x-protobuf"}
    good = logs_request(2, resource={"service.name": "s", "platform.project": "dev/app"})

    r = httpx.post(url, content=b"\xff\xfe not protobuf", headers=proto)
    assert r.status_code == 400
    status = status_class().FromString(r.content)
    assert status.code == 3
    assert "protobuf" in status.message.lower() or "malformed" in status.message.lower()
    r = httpx.post(url, content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert "message" in r.json()
    bomb = gzip.compress(b"\x00" * (40 * 1024 * 1024))
    r = httpx.post(url, content=bomb, headers={**proto, "Content-Encoding": "gzip"})
    assert r.status_code == 413
    r = httpx.post(
        url, content=good.SerializeToString(), headers={**auth, "Content-Type": "text/plain"}
    )
    assert r.status_code == 415  # the OTLP/HTTP specification's answer
    assert "application/x-protobuf or application/json" in r.json()["message"]
    r = httpx.post(
        url, content=good.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
    )
    assert r.status_code == 401
    viewer = live.people.user("viewer", roles=("viewer",))
    r = httpx.post(
        url,
        content=good.SerializeToString(),
        headers={**proto, "Authorization": f"Bearer {live.people.token(viewer)}"},
    )
    assert r.status_code == 403
    elsewhere = logs_request(2, resource={"platform.project": "dev/nope"})
    r = httpx.post(url, content=elsewhere.SerializeToString(), headers=proto)
    assert r.status_code == 404
    assert _count(live, "select count(*) from logs") == 0
    # a token bounded to the project fills in a missing platform.project
    bounded = live.people.token(live.dev, project_id=_project_id(live))
    anonymous = logs_request(3, resource={"service.name": "s"})
    r = httpx.post(
        url,
        content=anonymous.SerializeToString(),
        headers={**proto, "Authorization": f"Bearer {bounded}"},
    )
    assert r.status_code == 200
    assert _count(live, "select count(*) from logs where project = 'dev/app'") == 3


def test_a_private_project_the_sender_cannot_read_answers_as_a_missing_one(live: Live) -> None:
    # An outsider with a project of their own: dev/app is private to them.
    outsider = live.people.user("outsider")
    own = live.people.project(outsider, "mine")
    with live.platform.session() as db:
        from platform_sdk.identity.models import Role, UserRole

        role = db.query(Role).filter(Role.name == "developer").one()
        db.add(UserRole(user_id=outsider.user_id, role_id=role.id, project_id=own))
    headers = {
        "Authorization": f"Bearer {live.people.token(outsider)}",
        "Content-Type": "application/x-protobuf",
    }

    def answer(project: str) -> tuple[int, str]:
        body = logs_request(1, resource={"platform.project": project}).SerializeToString()
        r = httpx.post(f"{live.base}/v1/logs", content=body, headers=headers)
        status = status_class().FromString(r.content) if r.status_code != 200 else None
        return r.status_code, status.message if status else ""

    existing_id, missing_id = str(_project_id(live)), "0b7e4c5e-7d1f-4c36-9f43-2d9a4b2d0c11"
    assert answer("dev/app") == (404, "project 'dev/app' not found")
    assert answer("dev/nope") == (404, "project 'dev/nope' not found")
    # by id: the same answer as an unknown id, and the owner/name is not given away
    assert answer(existing_id) == (404, f"project {existing_id!r} not found")
    assert answer(missing_id) == (404, f"project {missing_id!r} not found")
    # a bare name matches only projects the sender may write to
    assert answer("app") == (404, "project 'app' not found")
    # their own project still takes the records
    assert answer("outsider/mine")[0] == 200
    assert _count(live, "select count(*) from logs where project = 'dev/app'") == 0


def _project_id(live: Live) -> object:
    from platform_sdk.projects.access import find_project

    with live.platform.session() as db:
        project = find_project(db, "dev/app")
        assert project is not None
        return project.id
