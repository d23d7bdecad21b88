"""The ``platform`` entry point."""

from platform_sdk.cli.main import main

__all__ = ["main"]
