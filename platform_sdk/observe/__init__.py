"""Observability: OTLP ingest, telemetry queries, the metric catalogue, alert rules."""
