"""Outbound targets: IPv6 spellings of internal IPv4 addresses, and DNS rebinding.

A name that resolves to a public address when it is checked and to an internal one when the
HTTP client connects must not reach the internal one: the connection goes to the address that
was checked (the resolver is a seam here, so the second answer is scripted).
"""

from __future__ import annotations

import httpx
import pytest

from platform_sdk.core.pagination import PageParams
from platform_sdk.errors import ValidationFailed
from platform_sdk.notify.delivery import DeliveryWorker
from platform_sdk.notify.models import DeliveryStatus
from platform_sdk.notify.schemas import WebhookCreate
from platform_sdk.notify.services import webhooks as wh
from platform_sdk.notify.ssrf import PinnedTransport, check_target, is_public_address
from platform_sdk.sdk import Platform
from tests.notify.conftest import Team, call, emit
from tests.notify.test_delivery import PUSH, _push

PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::7f00:1",
        "::a9fe:a9fe",  # 169.254.169.254, the cloud metadata service
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:0:7f00:1",  # IPv4-translated
        "64:ff9b::127.0.0.1",  # NAT64
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # NAT64 local use
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "fec0::1",  # site-local
        "::",
        "::1",
    ],
)
def test_ipv6_forms_of_internal_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
    with pytest.raises(ValidationFailed, match="private, loopback or link-local"):
        check_target(f"http://[{address}]:8080/x", allow_private=False, saving=True)


@pytest.mark.parametrize(
    "address",
    [PUBLIC, "2606:4700:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "::ffff:" + PUBLIC],
)
def test_ipv6_forms_of_public_addresses_are_accepted(address: str) -> None:
    assert is_public_address(address)


def test_a_webhook_at_an_ipv4_compatible_loopback_is_refused(strict: Platform, team: Team) -> None:
    with pytest.raises(ValidationFailed, match=r"resolves to ::7f00:1"):
        call(
            strict,
            wh.create_webhook,
            team.alice,
            project=team.app,
            body=WebhookCreate(url="http://[::127.0.0.1]:8080/hook"),
        )


class Rebinding:
    """A resolver whose answers are scripted, one per lookup, and that counts lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        return self.answers.pop(0)


class Recorder(httpx.MockTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, text="ok")


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host_and_sni() -> None:
    resolver, inner = Rebinding([PUBLIC], ["127.0.0.1"]), Recorder()
    transport = PinnedTransport(allow_private=False, resolver=resolver, inner=inner)
    with httpx.Client(transport=transport) as client:
        assert client.post("https://hooks.test:8443/x?a=1", content=b"{}").status_code == 200
        # the name now points inward: the next request is refused, nothing is sent
        with pytest.raises(ValidationFailed, match=r"resolves to 127\.0\.0\.1"):
            client.post("https://hooks.test:8443/x", content=b"{}")
    (sent,) = inner.requests
    assert (sent.url.host, sent.url.port, sent.url.path, sent.url.query) == (
        PUBLIC,
        8443,
        "/x",
        b"a=1",
    )
    assert sent.headers["host"] == "hooks.test:8443"
    assert sent.extensions["sni_hostname"] == "hooks.test"
    assert resolver.lookups == [("hooks.test", 8443), ("hooks.test", 8443)]  # one per request


def test_every_answer_of_a_name_must_be_public() -> None:
    resolver, inner = Rebinding([PUBLIC, "10.0.0.7"]), Recorder()
    transport = PinnedTransport(allow_private=False, resolver=resolver, inner=inner)
    with httpx.Client(transport=transport) as client, pytest.raises(ValidationFailed):
        client.get("http://hooks.test/")
    assert inner.requests == []


def test_the_delivery_worker_pins_the_address_it_checked(strict: Platform, team: Team) -> None:
    # .invalid never resolves for real: saving accepts it; the scripted resolver answers later
    hook = call(
        strict,
        wh.create_webhook,
        team.alice,
        project=team.app,
        body=WebhookCreate(url="https://hooks.invalid/hook", events=["push"]),
    )
    inner = Recorder()
    resolver = Rebinding([PUBLIC], ["169.254.169.254"])
    worker = DeliveryWorker(strict, resolver=resolver, transport=inner)
    emit(strict, PUSH, _push(team))
    assert worker.run_once() == 1
    (sent,) = inner.requests
    assert sent.url.host == PUBLIC
    assert sent.headers["host"] == "hooks.invalid"
    assert sent.extensions["sni_hostname"] == "hooks.invalid"
    assert sent.headers["x-platform-event"] == "push"

    emit(strict, PUSH, _push(team))
    assert worker.run_once() == 1
    assert len(inner.requests) == 1  # the rebound name was not called
    rows = call(
        strict,
        wh.list_deliveries,
        team.alice,
        project=team.app,
        webhook_id=hook.id,
        page=PageParams(),
    ).items
    errors = {r.status: r.error or "" for r in rows}
    assert sorted(errors) == sorted([DeliveryStatus.SUCCEEDED, DeliveryStatus.RETRYING])
    assert "resolves to 169.254.169.254" in errors[DeliveryStatus.RETRYING]
