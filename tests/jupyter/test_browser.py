"""JupyterLab in Debian's Chromium (driven by Playwright, no downloaded browser): the sidebar
lists the seeded projects and runs, and clicking a run opens its logs in a main-area tab.
The screenshot is saved under ``test-artifacts/``."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.jupyter.seed import LOG_LINE, Seeded
from tests.pipelines.helpers import Gate
from tests.plugins.s3 import free_port

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
JUPYTER = Path(sys.executable).parent / "jupyter"
TIMEOUT_MS = 60_000


@dataclass
class Lab:
    url: str
    output: list[str]


@pytest.fixture
def lab(seeded: Seeded, tmp_path: Path) -> Iterator[Lab]:
    """``jupyter lab`` on a free port, configured to the seeded platform as alice."""
    port = free_port()
    token = secrets.token_hex(16)
    root = tmp_path / "notebooks"
    root.mkdir()
    home = tmp_path / "jupyter"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env |= {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
    }
    traits = [f"--PlatformConfig.{k}={v}" for k, v in seeded.config("alice").items() if v]
    proc = subprocess.Popen(
        [
            str(JUPYTER),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            "--allow-root",
            "--PlatformConfig.poll_interval=1",
            *traits,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    output: list[str] = []
    for line in proc.stdout:  # until the server says it is listening (or exits)
        output.append(line)
        if f"127.0.0.1:{port}/lab" in line:
            break
    drain = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    drain.start()
    try:
        assert proc.poll() is None, "".join(output)
        yield Lab(f"http://127.0.0.1:{port}/lab?token={token}", output)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        drain.join(timeout=5)


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not installed: run hack/system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        try:
            yield pg
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            name = request.node.name.replace("[", "-").replace("]", "")
            pg.screenshot(path=str(ARTIFACTS / f"jupyter-{name}.png"))
            browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sidebar_lists_projects_and_runs_and_opens_run_logs(lab: Lab, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(lab.url)
    page.locator('.lm-TabBar-tab[data-id="platform-sidebar"]').click()
    sidebar = page.locator("#platform-sidebar")
    expect(sidebar.locator(".jp-Platform-user")).to_contain_text("alice")
    projects = sidebar.locator(".jp-Platform-project")
    expect(projects).to_have_count(2)
    expect(sidebar.locator('[data-project="alice/app"]')).to_be_visible()
    expect(sidebar.locator('[data-project="alice/docs"]')).to_be_visible()
    expect(sidebar.locator('[data-project="bob/secret"]')).to_have_count(0)

    sidebar.locator('[data-project="alice/app"]').click()
    run = sidebar.locator('.jp-Platform-run[data-number="1"]')
    expect(run).to_contain_text("success")
    expect(sidebar.locator(".jp-Platform-mr")).to_contain_text("Add the feature")
    expect(sidebar.locator(".jp-Platform-alert")).to_contain_text("errors")
    expect(sidebar.locator(".jp-Platform-sessions")).to_contain_text("not available")

    run.locator(".jp-Platform-name").click()
    logs = page.locator("#jp-main-dock-panel .jp-Platform-logs")
    expect(logs).to_be_visible()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")).to_contain_text(
        "alice/app #1"
    )
    expect(logs.locator('[data-step="build"] pre')).to_contain_text(LOG_LINE)
    expect(logs.locator('[data-step="test"] pre')).to_contain_text("tested")
    expect(logs.locator(".jp-Platform-logsHeader")).to_contain_text("success")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_live_status_snippet_and_dashboard(
    lab: Lab, page: Any, seeded: Seeded, tmp_path: Path
) -> None:
    """A running run's status changes in the sidebar and its log tab without a reload; the
    snippet lands in the notebook; the dashboard opens in a tab."""
    from playwright.sync_api import expect

    page.goto(lab.url)
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    notebook = page.locator("#jp-main-dock-panel .jp-NotebookPanel")
    expect(notebook).to_be_visible()

    page.locator('.lm-TabBar-tab[data-id="platform-sidebar"]').click()
    sidebar = page.locator("#platform-sidebar")
    sidebar.locator('[data-project="alice/app"]').click()
    first = sidebar.locator('.jp-Platform-run[data-number="1"]')
    expect(first).to_contain_text("success")
    first.get_by_role("button", name="Snippet").click()
    expect(notebook.locator(".jp-Cell .cm-content").last).to_contain_text(
        'run = p.projects.get("alice/app").pipelines.get(1)'
    )

    sidebar.get_by_role("button", name="Dashboard").click()
    frame = page.locator("#jp-main-dock-panel iframe")
    expect(frame).to_have_attribute(
        "src", "http://127.0.0.1:8080/dashboards/pipelines?project=alice%2Fapp"
    )

    gate = Gate()
    run = seeded.platform.projects.get("alice/app").pipelines.trigger(
        "main", {"GATE": str(gate.port)}
    )
    worker = threading.Thread(target=run.wait, kwargs={"timeout": 120}, daemon=True)
    worker.start()
    try:
        live = sidebar.locator('.jp-Platform-run[data-number="2"]')
        expect(live).to_have_attribute("data-status", "running")
        live.locator(".jp-Platform-name").click()
        logs = page.locator("#jp-main-dock-panel .jp-Platform-logs:visible")
        expect(logs.locator('[data-step="build"] pre')).to_contain_text(LOG_LINE)
        expect(logs.locator(".jp-Platform-logsHeader")).to_contain_text("running")
        gate.open()
        expect(logs.locator('[data-step="test"] pre')).to_contain_text("tested")
        expect(logs.locator(".jp-Platform-logsHeader")).to_contain_text("success")
        expect(live).to_have_attribute("data-status", "success")
    finally:
        gate.open()
        worker.join(timeout=120)
        gate.close()
