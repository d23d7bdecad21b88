"""Which platform the JupyterLab sidebar talks to, as traitlets configuration of the server.

::

    # jupyter_server_config.py (or --PlatformConfig.data_dir=… on the command line)
    c.PlatformConfig.data_dir = "/srv/platform"   # the embedded platform in that data dir
    c.PlatformConfig.user = "alice"               # act as alice (default: the data dir's admin)

    c.PlatformConfig.url = "https://platform.example.com"   # or a remote platform's REST API
    c.PlatformConfig.token = "plt_…"                        # as the owner of this API token

Unset traits fall back to ``PLATFORM_DATA_DIR``, ``DATABASE_URL``, ``PLATFORM_USER``,
``PLATFORM_URL`` and ``PLATFORM_TOKEN``. A ``url`` selects the remote mode; otherwise the
embedded platform is opened over ``data_dir`` (default ``./.platform``).
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Float, Unicode, default
from traitlets.config import Configurable

__all__ = ["PlatformConfig"]


class PlatformConfig(Configurable):
    """Settings of the ``platform_sdk.jupyter`` server extension."""

    data_dir = Unicode(
        "", help="Data dir of the embedded platform (default: $PLATFORM_DATA_DIR or ./.platform)."
    ).tag(config=True)
    database_url = Unicode(
        "", help="Database of the embedded platform when not the data dir's SQLite file."
    ).tag(config=True)
    user = Unicode(
        "", help="Username the embedded platform acts as (default: the data dir's admin)."
    ).tag(config=True)
    url = Unicode("", help="Base URL of a remote platform; selects the remote mode.").tag(
        config=True
    )
    token = Unicode("", help="API token for the remote platform.").tag(config=True)
    dashboards_url = Unicode(
        "",
        help="Base URL serving the Panel dashboards (default: the platform URL, else the "
        "embedded platform's PLATFORM_PUBLIC_URL or http://PLATFORM_LISTEN).",
    ).tag(config=True)
    poll_interval = Float(3.0, help="Seconds between the sidebar's live refreshes.").tag(
        config=True
    )

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.environ.get("PLATFORM_DATA_DIR", "")

    @default("database_url")
    def _default_database_url(self) -> str:
        return os.environ.get("DATABASE_URL", "")

    @default("user")
    def _default_user(self) -> str:
        return os.environ.get("PLATFORM_USER", "")

    @default("url")
    def _default_url(self) -> str:
        return os.environ.get("PLATFORM_URL", "")

    @default("token")
    def _default_token(self) -> str:
        return os.environ.get("PLATFORM_TOKEN", "")

    @property
    def remote(self) -> bool:
        return bool(self.url)

    def describe(self) -> dict[str, Any]:
        """The configuration without secrets, for logs."""
        if self.remote:
            return {"mode": "remote", "url": self.url}
        return {"mode": "embedded", "data_dir": self.data_dir or None, "user": self.user or None}
