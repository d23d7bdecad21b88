"""How every CLI verb that acts on the platform opens it: as the admin, or ``--as USER``."""

from __future__ import annotations

import click

from platform_sdk.clikit import get_settings
from platform_sdk.core.migrate import ensure_current
from platform_sdk.sdk import Platform

__all__ = ["open_platform"]


def open_platform() -> Platform:
    """The configured platform, acting as the root ``--as`` user (default: the data dir's admin).

    The schema must be current; the caller closes the platform (use it in a ``with``).
    """
    root = click.get_current_context().find_root()
    root.ensure_object(dict)
    plat = Platform(get_settings(), user=root.obj.get("as_user"))
    try:
        ensure_current(plat.engine)
        _ = plat.actor  # fail now, naming the user, rather than on first use
    except BaseException:
        plat.close()
        raise
    return plat
