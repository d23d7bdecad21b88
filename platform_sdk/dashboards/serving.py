"""Serving the dashboards: on the platform's own ASGI app, or alone with Panel's server.

**On ``platform serve``** (:func:`mount`): Panel's FastAPI integration
(``panel.io.fastapi.add_applications``, backed by the ``bokeh-fastapi`` package) adds each
dashboard as a Bokeh document route plus its websocket (``/dashboards/<name>`` and
``/dashboards/<name>/ws``) to the same FastAPI app, with BokehJS under ``/static``. One port, one
process, and the same login: that was chosen over running Panel's Tornado server on a second
port behind a proxy, which would need websocket proxying and a second origin for the cookie.

Login is enforced twice. :class:`LoginRequired` (ASGI middleware) answers a request for a
dashboard page without a valid credential (the ``platform_session`` cookie set by
``POST /api/auth/login``, or a Bearer token) with a redirect to ``/dashboards/login``, a small
form that posts to the login API. Then each Panel session resolves its actor from the same
credential in the session's request (``pn.state.cookies`` / ``pn.state.headers``) with
:func:`platform_sdk.identity.authn.authenticate`, and builds the dashboard over
:func:`acting_as` — the server's platform acting as that actor (sharing its engine, bus and
runtime) — so every read and action is that user's, checked by the services.

**Alone** (:func:`serve_standalone`, ``platform dashboards``): ``pn.serve`` over an embedded
platform acting as one user (``--as``; default the data dir's admin), like the SDK itself.
"""

# mypy: disable-error-code="no-untyped-call"
# (Panel's widget constructors are untyped; everything else here is checked strictly.)

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from platform_sdk.core.access import Actor
from platform_sdk.errors import PlatformError, Unauthenticated
from platform_sdk.identity import authn

if TYPE_CHECKING:
    from fastapi import FastAPI

    from platform_sdk.dashboards.base import Dashboard
    from platform_sdk.sdk import Platform

__all__ = ["LoginRequired", "acting_as", "mount", "serve_standalone"]

PREFIX = "/dashboards"
SESSION_COOKIE = "platform_session"


def acting_as(platform: Platform, actor: Actor) -> Platform:
    """``platform`` acting as ``actor`` (see :meth:`Platform.acting_as`)."""
    return platform.acting_as(actor)


def credential_of(cookies: dict[str, str], headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(SESSION_COOKIE) or None


def authenticate(platform: Platform, raw: str | None, client: str | None = None) -> Actor:
    if not raw or len(raw) > 256:
        raise Unauthenticated("log in to see the dashboards")
    with platform.session() as db:
        return authn.authenticate(db, raw, client_addr=client)


def _dashboards() -> dict[str, type[Dashboard]]:
    from platform_sdk.dashboards import DASHBOARDS

    return DASHBOARDS


class LoginRequired:
    """Redirect dashboard page requests without a valid credential to the login page."""

    def __init__(self, app: ASGIApp, paths: set[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _parse_cookies(headers.get("cookie", ""))
        platform = scope["app"].state.platform
        try:
            await asyncio.to_thread(authenticate, platform, credential_of(cookies, headers))
        except PlatformError:
            target = f"{PREFIX}/login?next={quote(scope['path'])}"
            await RedirectResponse(target, status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _parse_cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _session_builder(app: FastAPI, cls: type[Dashboard]) -> Callable[[], Any]:
    def build() -> Any:
        import panel as pn

        platform = app.state.platform
        headers = {k: str(v) for k, v in (pn.state.headers or {}).items()}
        raw = credential_of(dict(pn.state.cookies or {}), headers)
        try:
            actor = authenticate(platform, raw)
        except PlatformError:
            return pn.pane.Markdown(
                f"**Log in first:** [sign in]({PREFIX}/login?next={PREFIX}) and reload."
            )
        return cls(platform=acting_as(platform, actor))

    return build


def mount(app: FastAPI) -> None:
    """Add ``/dashboards/<name>`` for every dashboard, the login page and an index to ``app``."""
    from panel.io.fastapi import add_applications

    dashboards = _dashboards()
    paths = {f"{PREFIX}/{name}" for name in dashboards} | {PREFIX}

    @app.get(f"{PREFIX}/login", include_in_schema=False)
    def login_page(next: str = PREFIX) -> HTMLResponse:
        return HTMLResponse(_login_html(next if next.startswith("/") else PREFIX))

    @app.get(PREFIX, include_in_schema=False)
    def index() -> HTMLResponse:
        links = "".join(
            f'<li><a href="{PREFIX}/{n}">{html.escape(c.title)}</a></li>'
            for n, c in dashboards.items()
        )
        return HTMLResponse(f"<!doctype html><title>Dashboards</title><ul>{links}</ul>")

    add_applications(
        {f"{PREFIX}/{name}": _session_builder(app, cls) for name, cls in dashboards.items()},
        app=app,
        title={f"{PREFIX}/{name}": f"Platform · {cls.title}" for name, cls in dashboards.items()},
        location=False,
    )
    for route in app.routes:  # Bokeh's document routes are pages, not API: keep OpenAPI clean
        if getattr(route, "path", "").startswith(PREFIX):
            route.include_in_schema = False  # type: ignore[attr-defined]
    app.add_middleware(LoginRequired, paths=paths)


def serve_standalone(
    platform: Platform, *, port: int = 5006, address: str = "127.0.0.1", show: bool = False
) -> None:
    """Serve every dashboard with Panel's own server, acting as ``platform``'s user (blocks)."""
    import panel as pn

    apps = {name: (lambda cls=cls: cls(platform=platform)) for name, cls in _dashboards().items()}
    pn.serve(apps, port=port, address=address, show=show, title="Platform dashboards")


def _login_html(next_path: str) -> str:
    target = html.escape(next_path, quote=True)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in · Platform dashboards</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:4rem auto}}
label,input,button{{display:block;width:100%;margin:.3rem 0}}#error{{color:#b00}}</style></head>
<body><h1>Sign in</h1>
<form id="login" data-next="{target}">
<label>Username <input name="username" id="username" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password"
 autocomplete="current-password" required></label>
<button type="submit">Sign in</button><p id="error" role="alert"></p></form>
<script>
document.getElementById("login").addEventListener("submit", async (e) => {{
  e.preventDefault();
  const f = e.target;
  const r = await fetch("/api/auth/login", {{method: "POST",
    headers: {{"Content-Type": "application/json"}}, credentials: "same-origin",
    body: JSON.stringify({{username: f.username.value, password: f.password.value}})}});
  if (r.ok) {{ window.location.assign(f.dataset.next); return; }}
  const body = await r.json().catch(() => ({{}}));
  document.getElementById("error").textContent = body.message || body.detail || "Sign-in failed";
}});
</script></body></html>"""
