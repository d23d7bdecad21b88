"""``/api/observe``, ``p.observe`` and ``platform observe`` over telemetry the real
OpenTelemetry SDK sent to a running server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from click.testing import CliRunner
from opentelemetry._logs import SeverityNumber
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

from platform_sdk.cli import main
from platform_sdk.sdk import Platform
from tests.observe.live import Live, live_platform


@pytest.fixture
def live(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Live]:
    yield from live_platform(request, db_url, tmp_path, "local")


def _send(live: Live) -> str:
    """One trace of 3 spans with a log line in each, and a counter; answers the trace id."""
    resource = Resource.create(
        {"service.name": "shop", "platform.project": "dev/app", "platform.session": "s-1"}
    )
    headers = {"Authorization": f"Bearer {live.token}"}
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(f"{live.base}/v1/traces", headers=headers))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(f"{live.base}/v1/logs", headers=headers))
    )
    tracer = tracer_provider.get_tracer("t")
    logger = logger_provider.get_logger("t")
    with tracer.start_as_current_span("checkout") as root:
        logger.emit(body="checkout started", severity_number=SeverityNumber.INFO)
        with tracer.start_as_current_span("pay"):
            logger.emit(body="payment declined", severity_number=SeverityNumber.ERROR)
        with tracer.start_as_current_span("notify"):
            pass
    tracer_provider.shutdown()
    logger_provider.shutdown()
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(f"{live.base}/v1/metrics", headers=headers),
        export_interval_millis=3_600_000,
    )
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meters.get_meter("t").create_counter("orders").add(7, {"region": "eu"})
    meters.force_flush()
    meters.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def test_rest_sdk_and_cli(live: Live) -> None:
    trace_id = _send(live)
    h = {"Authorization": f"Bearer {live.token}"}
    base = f"{live.base}/api/observe"

    r = httpx.post(f"{base}/sql", json={"query": "select count(*) as n from logs"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == ["n"]
    assert r.json()["rows"] == [[2]]
    r = httpx.post(
        f"{base}/sql",
        json={"query": "select name from spans where service = 'shop' order by start"},
        headers={**h, "Accept": "application/vnd.apache.arrow.stream"},
    )
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.column("name").to_pylist() == ["checkout", "pay", "notify"]
    r = httpx.post(f"{base}/sql", json={"query": "drop table logs"}, headers=h)
    assert r.status_code == 400
    assert "SELECT" in r.json()["error"]["message"]

    r = httpx.get(f"{base}/logs", params={"project": "dev/app", "level": "error"}, headers=h)
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert len(rows) == 1
    assert "payment declined" in json.dumps(rows)
    r = httpx.get(f"{base}/logs", params={"project": "dev/elsewhere"}, headers=h)
    assert r.status_code == 404

    r = httpx.get(f"{base}/traces/{trace_id}", headers=h)
    assert r.status_code == 200, r.text
    trace = r.json()
    assert trace["span_count"] == 3
    [root] = trace["roots"]
    assert root["name"] == "checkout"
    assert [c["name"] for c in root["children"]] == ["pay", "notify"]
    assert len(trace["logs"]) == 2
    r = httpx.get(f"{base}/traces/{'0' * 31}x", headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    assert "a trace id is 32 hex digits" in r.json()["error"]["message"]

    r = httpx.get(
        f"{base}/metrics/query", params={"name": "orders", "agg": "max", "step": 60}, headers=h
    )
    assert r.status_code == 200, r.text
    assert [row[-1] for row in r.json()["rows"]] == [7.0]
    r = httpx.get(f"{base}/metrics/query", params={"name": "orders", "labels": "[1]"}, headers=h)
    assert r.status_code == 422

    sdk = Platform(live.platform.settings, user="dev")
    try:
        frame = sdk.observe.sql(
            "select service, count(*) as n from spans where service = 'shop' group by 1"
        )
        assert frame.to_dict("records") == [{"service": "shop", "n": 3}]
        found = sdk.observe.trace(trace_id)
        assert list(found.waterfall()["name"]) == ["checkout", "pay", "notify"]
        assert found.plot() is not None
        assert len(sdk.observe.logs(session="s-1")) == 2
        assert list(sdk.observe.metrics.query("orders", agg="max")["value"]) == [7.0]  # cumulative
        assert "checkout" in found._repr_html_()
    finally:
        sdk.close()

    env = {"DATABASE_URL": live.platform.settings.resolved_database_url}
    args = ["--data-dir", str(live.platform.settings.data_dir), "--as", "dev", "observe"]
    runner = CliRunner()
    result = runner.invoke(
        main,
        [*args, "sql", "select count(*) as n from spans where service = 'shop'", "--format", "csv"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["n", "3"]
    result = runner.invoke(main, [*args, "logs", "--level", "error"], env=env)
    assert result.exit_code == 0, result.output
    assert "payment declined" in result.stdout
    result = runner.invoke(main, [*args, "trace", trace_id], env=env)
    assert result.exit_code == 0, result.output
    assert "  pay [shop]" in result.stdout
    result = runner.invoke(main, [*args, "sql", "delete from logs"], env=env)
    assert result.exit_code != 0
