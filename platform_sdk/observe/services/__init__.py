"""Observability services: OTLP ingest, SQL and typed queries over telemetry, alert rules."""
