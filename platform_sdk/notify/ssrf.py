"""Where the platform may send HTTP requests on a user's behalf (webhooks, notification hooks).

A target URL must be ``http``/``https`` with a host. Its host is resolved, and every address it
resolves to must be globally routable: loopback (``127/8``, ``::1``), private (``10/8``,
``172.16/12``, ``192.168/16``, ``fc00::/7``), link-local (``169.254/16`` — cloud metadata —,
``fe80::/10``), unspecified, multicast and reserved ranges are refused, IPv4-mapped IPv6
included, unless ``PLATFORM_WEBHOOK_ALLOW_PRIVATE`` is set. The check runs when a target is
saved (a name that does not resolve yet is accepted then) and again before every
request, so a name that is re-pointed at an internal address
after creation (DNS rebinding) is refused at delivery. Redirects are never followed by the
senders, so a public target cannot bounce a request inward either. A small window remains
between this check and the HTTP client's own resolution; pinning the address would close it.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from platform_sdk.errors import ValidationFailed

__all__ = ["check_target", "is_public_address"]


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _addresses(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationFailed(
            f"url: cannot resolve host {host!r} ({exc})", details={"field": "url"}
        ) from None
    return sorted({str(info[4][0]) for info in infos})


def check_target(url: str, *, allow_private: bool, field: str = "url", saving: bool = False) -> str:
    """Return ``url`` if the platform may send to it; ``ValidationFailed`` otherwise.

    ``saving``: the target is being stored, not called. A host that does not resolve *yet*
    (a receiver still being set up, or no DNS from this server right now) is accepted then;
    the check before each request refuses it if it still does not resolve, or resolves inward.
    """
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
    if allow_private:
        return url.strip()
    try:
        addresses = _addresses(parts.hostname, port)
    except ValidationFailed:
        if saving:
            return url.strip()
        raise
    for address in addresses:
        if not is_public_address(address):
            raise ValidationFailed(
                f"{field}: {parts.hostname} resolves to {address}, a private, loopback or "
                "link-local address (set PLATFORM_WEBHOOK_ALLOW_PRIVATE to allow it)",
                details={"field": field, "address": address},
            )
    return url.strip()
