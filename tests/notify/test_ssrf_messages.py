"""The SSRF guard's answers: each refusal's message and details (pinned for mutation testing).

Every URL here is an IP literal or an ``.invalid`` name, so nothing is resolved over the network.
"""

from __future__ import annotations

import pytest

from platform_sdk.errors import ValidationFailed
from platform_sdk.notify.ssrf import check_target

PUBLIC = "http://8.8.8.8/hook"


def _refusal(url: str, **kw: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as err:
        check_target(url, allow_private=False, **kw)  # type: ignore[arg-type]
    assert err.value.status == 422
    return err.value


def test_a_public_literal_passes_stripped() -> None:
    assert check_target(f"  {PUBLIC} ", allow_private=False) == PUBLIC
    assert check_target("https://8.8.8.8:8443/x", allow_private=False) == "https://8.8.8.8:8443/x"


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/x", "http:///x", "8.8.8.8/x"])
def test_not_http_or_no_host_is_refused(url: str) -> None:
    err = _refusal(url)
    assert err.message == "url: must be an http(s) URL with a host"
    assert err.details == {"field": "url"}


def test_the_field_named_is_the_callers() -> None:
    err = _refusal("ftp://8.8.8.8/x", field="webhook_url")
    assert err.message == "webhook_url: must be an http(s) URL with a host"
    assert err.details == {"field": "webhook_url"}


def test_a_bad_port_is_refused() -> None:
    err = _refusal("http://8.8.8.8:99999/x")
    assert err.message.startswith("url: bad port (")
    assert err.details == {"field": "url"}


@pytest.mark.parametrize(
    "url", ["http://user@8.8.8.8/x", "http://:pw@8.8.8.8/x", "http://user:pw@8.8.8.8/x"]
)
def test_credentials_in_the_url_are_refused_even_a_user_alone(url: str) -> None:
    err = _refusal(url)
    assert err.message == "url: credentials in the URL are not allowed"
    assert err.details == {"field": "url"}
    # allowing private targets does not allow credentials either
    with pytest.raises(ValidationFailed, match="credentials"):
        check_target(url, allow_private=True)


def test_a_private_address_is_refused_with_the_setting_that_allows_it() -> None:
    err = _refusal("http://10.1.2.3:8080/x")
    assert err.message == (
        "url: 10.1.2.3 resolves to 10.1.2.3, a private, loopback or link-local address "
        "(set PLATFORM_WEBHOOK_ALLOW_PRIVATE to allow it)"
    )
    assert err.details == {"field": "url", "address": "10.1.2.3"}
    assert check_target("http://10.1.2.3:8080/x", allow_private=True) == "http://10.1.2.3:8080/x"


def test_a_name_that_does_not_resolve_is_refused_at_delivery() -> None:
    err = _refusal("https://receiver.invalid/hook")
    assert err.message.startswith("url: cannot resolve host 'receiver.invalid' (")
    assert err.details == {"field": "url"}
