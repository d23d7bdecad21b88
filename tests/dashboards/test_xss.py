"""Stored XSS: user text shown by the dashboards is inert.

Markup is stored where users write text the dashboards show — an issue title, a merge request
title, a log body, a project description, a user's display name — and each dashboard is opened
in Chromium. No script may run (a page-wide flag set by the payloads stays 0, no dialog opens)
and the payload is shown as the text it is.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from platform_sdk.git.repos import repo_path
from tests.dashboards.conftest import Site
from tests.dashboards.seed import acting_as, add_logs
from tests.dashboards.test_browser import TIMEOUT, fill, login
from tests.pipelines.helpers import commit_files

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
SVG = '<svg onload="window.__xss=3"></svg>'


def _armed(page: Any) -> list[str]:
    dialogs: list[str] = []
    page.add_init_script("window.__xss = 0")
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def _inert(page: Any, dialogs: list[str]) -> None:
    assert page.evaluate("window.__xss") == 0, "a stored payload ran as script"
    assert dialogs == []


def test_stored_markup_is_shown_as_text_in_every_dashboard(site: Site, page: Any) -> None:
    world = site.world
    dev = acting_as(world.platform, world.dev)
    app = dev.projects.get("dev/app")
    app.issues.create(f"issue {IMG}", labels=["bug"])
    commit_files(repo_path(world.platform.settings, "dev", "app"), {"x.txt": "x\n"}, branch="xss")
    app.merge_requests.create("xss", "main", title=f"mr {SCRIPT}")
    add_logs(world.platform, [("dev/app", "ERROR", f"log {SVG}")])
    admin = world.people.user("root-admin", roles=("admin",))
    acting_as(world.platform, admin).users.create("mallory", display_name=f"Mal {IMG}")
    dialogs = _armed(page)

    login(page, site, "/dashboards/projects")
    fill(page, "Project", "dev/app")
    expect(page.get_by_text(f"issue {IMG}")).to_be_visible(timeout=TIMEOUT)
    page.get_by_text("Merge requests", exact=True).first.click()
    expect(page.get_by_text(f"mr {SCRIPT}")).to_be_visible(timeout=TIMEOUT)
    _inert(page, dialogs)

    page.goto(site.base + "/dashboards/observe")
    expect(page.get_by_text(f"log {SVG}")).to_be_visible(timeout=TIMEOUT)
    _inert(page, dialogs)

    page.goto(site.base + "/dashboards/admin")
    page.context.clear_cookies()
    login(page, site, "/dashboards/admin", user="root-admin")
    expect(page.get_by_text(f"Mal {IMG}")).to_be_visible(timeout=TIMEOUT)
    _inert(page, dialogs)
