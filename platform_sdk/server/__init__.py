"""The ASGI server: REST API, and later git smart HTTP, OTLP ingest and dashboards."""

from platform_sdk.server.app import create_app

__all__ = ["create_app"]
