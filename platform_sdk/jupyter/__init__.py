"""The JupyterLab sidebar's server half: a jupyter_server extension over the SDK.

Installing ``platform-sdk`` enables it (``jupyter-config/…/platform_sdk.json`` ships as data
in the wheel) next to the built lab extension (``share/jupyter/labextensions/platform-sdk``).
Which platform it reads, and as whom, is :class:`~platform_sdk.jupyter.config.PlatformConfig`;
the routes are in :mod:`platform_sdk.jupyter.handlers`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from platform_sdk.jupyter.app import PlatformExtension

    return [{"module": "platform_sdk.jupyter", "app": PlatformExtension}]
