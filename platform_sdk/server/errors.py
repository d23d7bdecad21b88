"""The one place that turns exceptions into JSON error bodies (``{"error": {...}}``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from platform_sdk.errors import BadRequest, NotFound, PlatformError, ValidationFailed

__all__ = ["ERROR_RESPONSES", "ErrorBody", "install_error_handlers"]

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """What every error response carries."""

    error: ErrorDetail


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Malformed request"),
    401: _documented("No or bad credentials"),
    403: _documented("Visible, but the caller may not do this"),
    404: _documented("Missing, or not visible to the caller"),
    409: _documented("Conflicts with the current state (exists, illegal transition)"),
    413: _documented("Request body over the limit"),
    422: _documented("Invalid input; the message names the field"),
    429: _documented("Rate limited; see Retry-After"),
    503: _documented("A dependency is down; see Retry-After when given"),
}
"""Documented on every API route: the error envelope and when each status happens."""

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


def error_response(err: PlatformError) -> JSONResponse:
    return JSONResponse(err.to_dict(), status_code=err.status, headers=err.headers())


async def _platform_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlatformError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    return error_response(
        ValidationFailed(
            f"{where}: {first['msg']}" if where else str(first["msg"]), details={"errors": problems}
        )
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        err: PlatformError = NotFound("no such route")
    elif exc.status_code == 400:
        err = BadRequest(str(exc.detail))
    else:
        err = PlatformError(str(exc.detail))
    body = err.to_dict()
    body["error"]["code"] = _HTTP_CODES.get(exc.status_code, err.code)
    return JSONResponse(body, status_code=exc.status_code, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
    return error_response(PlatformError("internal error; see the server log"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PlatformError, _platform_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
