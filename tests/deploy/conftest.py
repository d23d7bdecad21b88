"""Renders each kustomization once per session: kubectl kustomize takes a moment."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy._tools import render


@pytest.fixture(scope="session")
def base() -> list[dict[str, Any]]:
    return render("base")


@pytest.fixture(scope="session")
def dev() -> list[dict[str, Any]]:
    return render("dev")


@pytest.fixture(scope="session")
def infra() -> list[dict[str, Any]]:
    return render("dev-infra")
