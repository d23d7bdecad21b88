"""Browser fixtures: the real app served by uvicorn on a free port, and Debian's Chromium driven
headless by Playwright (never a downloaded browser). Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.dashboards.seed import World, make_world
from tests.git.conftest import serve
from tests.plugins.platforms import People

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class Site:
    world: World
    base: str


@pytest.fixture
def site(platform: Platform, people: People, tmp_path: Path) -> Iterator[Site]:
    world = make_world(platform, people, tmp_path)
    gen = serve(create_app(platform))  # type: ignore[arg-type]
    port = next(gen)
    try:
        yield Site(world, f"http://127.0.0.1:{port}")
    finally:
        next(gen, None)
        world.gate.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per test module: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break every later test that calls asyncio.run()."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not installed: run hack/system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context; a screenshot of the last state is saved after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    pg = context.new_page()
    try:
        yield pg
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.name.replace("[", "-").replace("]", "").replace("/", "_")
        pg.screenshot(path=str(ARTIFACTS / f"dashboards-{name}.png"), full_page=True)
        context.close()
