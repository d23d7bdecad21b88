"""Platform: a developer platform for teams of AI agents and the humans who audit and steer.

``import platform_sdk as ps; p = ps.open()`` opens the embedded platform over ``./.platform``.
"""

from platform_sdk.__about__ import __version__
from platform_sdk.config import Settings, load_settings
from platform_sdk.errors import (
    AlreadyExists,
    BadRequest,
    ConfigError,
    Conflict,
    DependencyUnavailable,
    IllegalTransition,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PlatformError,
    RateLimited,
    SchemaOutdated,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from platform_sdk.sdk import Platform, open

__all__ = [
    "AlreadyExists",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "DependencyUnavailable",
    "IllegalTransition",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Platform",
    "PlatformError",
    "RateLimited",
    "SchemaOutdated",
    "Settings",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
    "__version__",
    "load_settings",
    "open",
]
