"""The one error tree of the platform.

Every error the services, the server and the SDK raise is a :class:`PlatformError`. Each class
carries the HTTP status the server answers with and a stable machine ``code`` that clients match
on (the message is for humans and may change). The server turns any of them into
``{"error": {"code": …, "message": …, "details": …}}``; the remote SDK turns that body back into
the same class, so code written against the embedded platform handles remote errors unchanged.

::

    PlatformError                       500  internal
    ├── ConfigError                     500  config_invalid       bad setting; names the variable
    ├── BadRequest                      400  bad_request
    │   ├── ValidationFailed            422  validation_failed    well-formed but invalid input
    │   └── UnsupportedMediaType        415  unsupported_media_type  a Content-Type not taken
    ├── Unauthenticated                 401  unauthenticated      no or bad credentials
    ├── PermissionDenied                403  permission_denied    visible, but not allowed
    ├── NotFound                        404  not_found            missing, or hidden from the actor
    ├── Conflict                        409  conflict
    │   ├── AlreadyExists               409  already_exists       a unique name or key is taken
    │   └── IllegalTransition           409  illegal_transition   a status machine refused the move
    ├── PayloadTooLarge                 413  payload_too_large
    ├── RateLimited                     429  rate_limited         carries retry_after (seconds)
    └── Unavailable                     503  unavailable          carries retry_after when known
        ├── DependencyUnavailable       503  dependency_unavailable  a backing service is down
        └── SchemaOutdated              503  schema_outdated      migrations are pending

Reads answer ``NotFound`` both when an object is missing and when the actor may not see it, so
nothing leaks about objects an actor cannot read.
"""

from __future__ import annotations

from typing import Any, ClassVar

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
    "PlatformError",
    "RateLimited",
    "SchemaOutdated",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
    "error_class_for_code",
]


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the server answers with."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers this error asks for (``Retry-After``, ``WWW-Authenticate``)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(PlatformError):
    """A setting is missing or malformed. The message names the variable."""

    code = "config_invalid"

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}", details={"variable": variable})
        self.variable = variable


class BadRequest(PlatformError):
    status = 400
    code = "bad_request"


class ValidationFailed(BadRequest):
    status = 422
    code = "validation_failed"


class UnsupportedMediaType(BadRequest):
    status = 415
    code = "unsupported_media_type"


class Unauthenticated(PlatformError):
    status = 401
    code = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="platform"'}


class PermissionDenied(PlatformError):
    status = 403
    code = "permission_denied"


class NotFound(PlatformError):
    status = 404
    code = "not_found"


class Conflict(PlatformError):
    status = 409
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class PayloadTooLarge(PlatformError):
    status = 413
    code = "payload_too_large"


class _Retryable(PlatformError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if retry_after is not None:
            merged["retry_after"] = retry_after
        super().__init__(message, details=merged)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class RateLimited(_Retryable):
    status = 429
    code = "rate_limited"


class Unavailable(_Retryable):
    status = 503
    code = "unavailable"


class DependencyUnavailable(Unavailable):
    code = "dependency_unavailable"


class SchemaOutdated(Unavailable):
    code = "schema_outdated"


def _all_subclasses(cls: type[PlatformError]) -> list[type[PlatformError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_class_for_code(code: str) -> type[PlatformError]:
    """The class a machine ``code`` stands for (``PlatformError`` when unknown)."""
    for cls in _all_subclasses(PlatformError):
        if cls.code == code and not cls.__name__.startswith("_"):
            return cls
    return PlatformError
