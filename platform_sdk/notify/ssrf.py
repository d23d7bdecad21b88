"""Where the platform may send HTTP requests on a user's behalf (webhooks, notification hooks).

A target URL must be ``http``/``https`` with a host. Its host is resolved, and every address it
resolves to must be globally routable: loopback (``127/8``, ``::1``), private (``10/8``,
``172.16/12``, ``192.168/16``, ``fc00::/7``), link-local (``169.254/16`` — cloud metadata —,
``fe80::/10``), site-local, unspecified, multicast and reserved ranges are refused, unless
``PLATFORM_WEBHOOK_ALLOW_PRIVATE`` is set.

IPv6 forms that carry an IPv4 address are unwrapped and the IPv4 address is checked too:
IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), IPv4-translated
(``::ffff:0:a.b.c.d``), NAT64 (``64:ff9b::/96``; the local-use ``64:ff9b:1::/48`` is refused
whole), 6to4 (``2002::/16``) and Teredo (``2001::/32``, server and client), so
``[::127.0.0.1]`` or ``[2002:7f00:1::]`` cannot reach loopback.

The check runs when a target is saved (a name that does not resolve yet is accepted then) and
at every request, inside :class:`PinnedTransport`: the host is resolved once, every answer is
checked, and the connection goes to a checked address, with the ``Host`` header and the TLS
SNI (and certificate check) still naming the host. A name re-pointed at an internal address
between the check and the connection (DNS rebinding) therefore never reaches it. Redirects are
never followed by the senders, so a public target cannot bounce a request inward either.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

import httpx

from platform_sdk.errors import ValidationFailed

__all__ = [
    "PinnedTransport",
    "Resolver",
    "check_target",
    "check_url",
    "embedded_ipv4",
    "is_public_address",
    "pinned_client",
    "system_resolver",
]

Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``: how a name is resolved (a seam for tests)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def _low32(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _COMPATIBLE or ip in _TRANSLATED or ip in _NAT64:
        return [_low32(ip)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    return not (isinstance(ip, ipaddress.IPv6Address) and (ip.is_site_local or ip in _NAT64_LOCAL))


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_global(ip)
    inner = embedded_ipv4(ip)
    if ip.ipv4_mapped is not None or ip in _COMPATIBLE or ip in _TRANSLATED:
        return all(_is_global(v4) for v4 in inner)  # the IPv6 form only wraps the IPv4 one
    return _is_global(ip) and all(_is_global(v4) for v4 in inner)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _addresses(host: str, port: int, resolver: Resolver | None, field: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        found = list((resolver or system_resolver)(host, port))
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"{field}: cannot resolve host {host!r} ({exc})", details={"field": field}
        ) from None
    if not found:
        raise ValidationFailed(
            f"{field}: cannot resolve host {host!r} (no addresses)", details={"field": field}
        )
    return found


def _check_all(host: str, addresses: list[str], field: str) -> list[str]:
    """``addresses`` if each is public; ValidationFailed naming the first that is not."""
    for address in addresses:
        if not is_public_address(address):
            raise ValidationFailed(
                f"{field}: {host} resolves to {address}, a private, loopback or "
                "link-local address (set PLATFORM_WEBHOOK_ALLOW_PRIVATE to allow it)",
                details={"field": field, "address": address},
            )
    return addresses


def check_target(
    url: str,
    *,
    allow_private: bool,
    field: str = "url",
    saving: bool = False,
    resolver: Resolver | None = None,
) -> str:
    """Return ``url`` if the platform may send to it; ``ValidationFailed`` otherwise.

    ``saving``: the target is being stored, not called. A host that does not resolve *yet*
    (a receiver still being set up, or no DNS from this server right now) is accepted then;
    the check before each request refuses it if it still does not resolve, or resolves inward.
    """
    parts, port = _parse(url, field)
    if allow_private:
        return url.strip()
    host = parts.hostname or ""
    try:
        addresses = _addresses(host, port, resolver, field)
    except ValidationFailed:
        if saving:
            return url.strip()
        raise
    _check_all(host, addresses, field)
    return url.strip()


def check_url(url: str, *, field: str = "url") -> str:
    """``url`` if it is an http(s) URL with a host and no credentials (nothing is resolved:
    :class:`PinnedTransport` checks the addresses when the request is sent)."""
    _parse(url, field)
    return url.strip()


def _parse(url: str, field: str) -> tuple[SplitResult, int]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(
            f"{field}: must be an http(s) URL with a host", details={"field": field}
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: bad port ({exc})", details={"field": field}) from None
    if parts.username or parts.password:
        raise ValidationFailed(
            f"{field}: credentials in the URL are not allowed", details={"field": field}
        )
    return parts, port


class PinnedTransport(httpx.BaseTransport):
    """Sends each request to an address checked by this module, never to a fresh lookup.

    The request's host is resolved once (``resolver``), every answer must pass
    :func:`is_public_address`, and the request goes to the first answer through ``inner``: the
    URL's host becomes that address while the ``Host`` header keeps the name, and for
    ``https`` the TLS server name (SNI) and the certificate check stay on the name. With
    ``allow_private`` requests pass through unchanged.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpx.HTTPTransport()
        self._owns_inner = inner is None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.allow_private:
            url = request.url
            if url.scheme not in ("http", "https") or not url.host:
                raise ValidationFailed("url: must be an http(s) URL with a host")
            port = url.port or (443 if url.scheme == "https" else 80)
            addresses = _addresses(url.host, port, self.resolver, "url")
            address = _check_all(url.host, addresses, "url")[0]
            if address != url.host:
                request.url = url.copy_with(host=address)
                if url.scheme == "https":
                    request.extensions = {**request.extensions, "sni_hostname": url.host}
        return self.inner.handle_request(request)

    def close(self) -> None:
        if self._owns_inner:  # a transport handed in is its giver's to close
            self.inner.close()


def pinned_client(
    *,
    allow_private: bool,
    timeout: float,
    resolver: Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An HTTP client for user-given targets: every request through :class:`PinnedTransport`,
    redirects not followed (a redirect would be a target nobody checked)."""
    pinned = PinnedTransport(allow_private=allow_private, resolver=resolver, inner=transport)
    return httpx.Client(transport=pinned, timeout=timeout, follow_redirects=False)
