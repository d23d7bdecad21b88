"""Integer path parameters beyond the database's range are a 422, never a 500.

PostgreSQL's INTEGER overflows past 2^31 - 1 and SQLite's driver past 2^63 - 1; both used to
answer 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from platform_sdk.projects.models import Visibility
from tests.plugins.platforms import People

TOO_BIG = str(2**31)  # one past INTEGER's maximum
LARGEST = str(2**31 - 1)

ROUTES = [
    ("GET", "/issues/{n}"),
    ("PATCH", "/issues/{n}"),
    ("POST", "/issues/{n}/close"),
    ("GET", "/issues/{n}/comments"),
    ("POST", "/issues/{n}/comments"),
    ("GET", "/merge_requests/{n}"),
    ("GET", "/merge_requests/{n}/diff"),
    ("GET", "/merge_requests/{n}/comments"),
    ("POST", "/merge_requests/{n}/merge"),
    ("GET", "/pipelines/{n}"),
    ("POST", "/pipelines/{n}/cancel"),
    ("GET", "/pipelines/{n}/logs"),
    ("GET", "/pipelines/{n}/artifacts"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_a_number_out_of_range_is_a_422_naming_the_bound(
    client: TestClient, people: People, method: str, route: str
) -> None:
    owner = people.user("owner", roles=("admin",))
    people.project(owner, "app", Visibility.PUBLIC)
    auth = people.auth(people.token(owner))
    base = "/api/projects/owner/app"
    body = {"body": "x"} if method != "GET" else None
    for number in (TOO_BIG, str(2**63), "9" * 40, "0", "-1"):
        r = client.request(method, base + route.format(n=number), json=body, headers=auth)
        assert r.status_code == 422, (number, r.text)
        error = r.json()["error"]
        assert error["code"] == "validation_failed"
        assert error["message"].startswith("path.number:")
        assert "less than or equal to 2147483647" in error["message"] or (
            "greater than or equal to 1" in error["message"]
        )
    # the largest INTEGER is a well-formed number that names nothing
    r = client.request(method, base + route.format(n=LARGEST), json=body, headers=auth)
    assert r.status_code in (404, 422), r.text
    assert r.status_code != 422 or not r.json()["error"]["message"].startswith("path.number")


def test_a_log_attempt_out_of_range_is_422(client: TestClient, people: People) -> None:
    owner = people.user("owner", roles=("admin",))
    people.project(owner, "app", Visibility.PUBLIC)
    r = client.get(
        f"/api/projects/owner/app/pipelines/1/logs?step=a&attempt={TOO_BIG}",
        headers=people.auth(people.token(owner)),
    )
    assert r.status_code == 422, r.text
    assert "2147483647" in r.json()["error"]["message"]
