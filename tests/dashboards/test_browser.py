"""The dashboards in a real browser on the real app: login, seeded data, filters, live status."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.dashboards.conftest import Site
from tests.plugins.platforms import People

TIMEOUT = 30_000


def login(page: Any, site: Site, path: str, user: str = "dev") -> None:
    page.goto(site.base + path)
    expect(page).to_have_url(f"{site.base}/dashboards/login?next={path}")
    page.fill("#username", user)
    page.fill("#password", People.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.base + path, timeout=TIMEOUT)


def fill(page: Any, label: str, value: str) -> None:
    box = page.get_by_role("textbox", name=label, exact=True).or_(
        page.get_by_role("spinbutton", name=label, exact=True)
    )
    box.fill(value)
    box.press("Enter")


def test_login_required(site: Site, page: Any) -> None:
    r = httpx.get(site.base + "/dashboards/observe", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboards/login?next=/dashboards/observe"
    page.goto(site.base + "/dashboards/admin")
    page.fill("#username", "dev")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).not_to_be_empty(timeout=TIMEOUT)


def test_projects_dashboard_shows_and_filters(site: Site, page: Any) -> None:
    login(page, site, "/dashboards/projects")
    expect(page.get_by_text("signed in as")).to_contain_text("dev", timeout=TIMEOUT)
    expect(page.get_by_text("dev/other").first).to_be_visible(timeout=TIMEOUT)
    fill(page, "Project", "dev/app")
    expect(page.get_by_text("Add dark mode")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Login fails")).to_be_visible()
    fill(page, "Label", "bug")
    expect(page.get_by_text("Add dark mode")).to_have_count(0, timeout=TIMEOUT)
    expect(page.get_by_text("Login fails")).to_be_visible()


def test_observe_dashboard_acts_as_the_viewer(site: Site, page: Any) -> None:
    login(page, site, "/dashboards/observe", user="vera")
    expect(page.get_by_text("database timeout")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("other project warning")).to_have_count(0)  # not vera's project
    fill(page, "Text", "cache")
    expect(page.get_by_text("database timeout")).to_have_count(0, timeout=TIMEOUT)
    expect(page.get_by_text("cache miss")).to_be_visible()


def test_admin_dashboard_lists_users_and_filters(site: Site, page: Any) -> None:
    site.world.people.user("ops-admin", roles=("admin",))
    login(page, site, "/dashboards/admin", user="ops-admin")
    users = page.get_by_role("grid").first
    expect(users.get_by_text("vera", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(users.get_by_text("dev", exact=True)).to_be_visible()
    fill(page, "Search users", "ver")
    expect(users.get_by_text("dev", exact=True)).to_have_count(0, timeout=TIMEOUT)
    expect(users.get_by_text("vera", exact=True)).to_be_visible()
    page.get_by_text("Audit log", exact=True).click()
    expect(page.get_by_text("merge_request.create")).to_be_visible(timeout=TIMEOUT)


def test_pipeline_status_changes_live(site: Site, page: Any) -> None:
    number = site.world.trigger(wait=True)
    login(page, site, "/dashboards/pipelines")
    page.get_by_role("combobox", name="Project", exact=True).select_option("dev/app")
    expect(page.get_by_role("grid").first).to_contain_text("manual", timeout=TIMEOUT)
    fill(page, "Run #", str(number))
    status = page.get_by_text(f"Run #{number}")
    expect(status).to_contain_text("running", timeout=TIMEOUT)
    expect(page.locator(".tabulator-row", has_text="test").last).to_contain_text("running")
    site.world.gate.open()
    expect(status).to_contain_text("success", timeout=TIMEOUT)  # no reload
    expect(page.locator(".tabulator-row", has_text="test").last).to_contain_text("success")
