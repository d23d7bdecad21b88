"""The server extension application: reads :class:`PlatformConfig`, mounts the handlers, and
closes the platform when the server stops."""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp

from platform_sdk.jupyter.backend import Backend, make_backend
from platform_sdk.jupyter.config import PlatformConfig
from platform_sdk.jupyter.handlers import handlers

__all__ = ["PlatformExtension"]


class PlatformExtension(ExtensionApp):
    """``platform_sdk.jupyter``: the JupyterLab sidebar's REST handlers under ``/platform``."""

    name = "platform_sdk"
    description = "Projects, pipeline runs, merge requests and alerts of the platform."
    classes: list[Any] = [PlatformConfig]
    load_other_extensions = True

    backend: Backend | None = None

    def initialize_settings(self) -> None:
        config = PlatformConfig(parent=self.serverapp)
        self.backend = make_backend(config)
        self.log.info("platform_sdk.jupyter: serving %s", config.describe())

    def initialize_handlers(self) -> None:
        assert self.backend is not None
        self.handlers.extend(handlers(self.backend))

    async def stop_extension(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
