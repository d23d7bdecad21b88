"""The error tree: statuses, stable codes, JSON bodies, and the docstring drawing the tree."""

from __future__ import annotations

import pytest

import platform_sdk.errors as errors
from platform_sdk.errors import PlatformError, error_class_for_code

PUBLIC = [getattr(errors, name) for name in errors.__all__ if name[0].isupper()]


def test_codes_are_unique_and_every_class_is_drawn_in_the_docstring() -> None:
    codes = [cls.code for cls in PUBLIC]
    assert len(codes) == len(set(codes))
    doc = errors.__doc__ or ""
    for cls in PUBLIC:
        assert cls.__name__ in doc, cls
        assert f"{cls.status}  {cls.code}" in doc, cls


@pytest.mark.parametrize("cls", PUBLIC)
def test_every_error_maps_back_from_its_code(cls: type[PlatformError]) -> None:
    assert error_class_for_code(cls.code) is cls
    assert 400 <= cls.status <= 599


def test_body_and_headers() -> None:
    err = errors.RateLimited("slow down", retry_after=7)
    assert err.to_dict() == {
        "error": {"code": "rate_limited", "message": "slow down", "details": {"retry_after": 7}}
    }
    assert err.headers() == {"Retry-After": "7"}
    assert errors.Unauthenticated("who?").headers()["WWW-Authenticate"].startswith("Bearer")
    assert errors.NotFound("x").to_dict() == {"error": {"code": "not_found", "message": "x"}}
    assert error_class_for_code("no-such-code") is PlatformError


def test_hierarchy_lets_callers_catch_families() -> None:
    assert issubclass(errors.AlreadyExists, errors.Conflict)
    assert issubclass(errors.IllegalTransition, errors.Conflict)
    assert issubclass(errors.SchemaOutdated, errors.Unavailable)
    assert issubclass(errors.ValidationFailed, errors.BadRequest)
