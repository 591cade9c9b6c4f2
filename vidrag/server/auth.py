"""The token beyond localhost: with VIDRAG_API_TOKEN set, every route needs it.

The API and /mcp take `Authorization: Bearer <token>`. The web UI asks for the token once, on a
small login page, and keeps a session cookie (HttpOnly, SameSite=Strict) that holds an HMAC of
the token, never the token itself. Every comparison is constant-time; a wrong or missing token
gets a bare 401.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
from urllib.parse import parse_qs

from rag.errors import VidragError

COOKIE = "vidrag_session"
LOGIN_PATH = "/vidrag-login"
BEARER_PREFIXES = ("/api/", "/mcp")
OPEN_PATHS = ("/_stcore/health",)  # the container's health check: says "ok", nothing more
MAX_LOGIN_BODY = 4096
_LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>vidrag</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:6rem auto}}
input{{width:100%;padding:.5rem;margin:.3rem 0}}</style>
</head><body><h2>vidrag</h2><p>{message}</p><form method="post" action="{action}">
<input type="password" name="token" placeholder="Token (VIDRAG_API_TOKEN)" autofocus>
<input type="submit" value="Open"></form></body></html>"""


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str, published: str = "") -> None:
    """Beyond loopback only with a token: anyone on the network could otherwise read and delete
    the library. In a container, 0.0.0.0 is the only way out, and what counts is where compose
    publishes the port (`published`, VIDRAG_PUBLISHED_BIND)."""
    host = published or host
    if not is_loopback(host) and not token:
        raise VidragError(f"refusing to listen on {host} without VIDRAG_API_TOKEN: set a token, or bind 127.0.0.1")


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"vidrag web session", hashlib.sha256).hexdigest()


class TokenGate:
    """ASGI middleware in front of everything the server serves."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token
        self.session = session_value(token) if token else ""

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if not self.token or scope["type"] not in ("http", "websocket") or path in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path.startswith(BEARER_PREFIXES):
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode()):
                return await self.app(scope, receive, send)
            return await _reply(send, 401, b'{"error": "unauthorized"}', "application/json")
        if self._has_session(headers.get("cookie", "")):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        if path == LOGIN_PATH and scope.get("method") == "POST":
            return await self._login(receive, send)
        await _reply(send, 401, _page("Enter the token to open this library."), "text/html; charset=utf-8")

    def _has_session(self, cookie_header: str) -> bool:
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and hmac.compare_digest(value.encode(), self.session.encode()):
                return True
        return False

    async def _login(self, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                return await _reply(send, 413, b"too large", "text/plain")
            if not message.get("more_body"):
                break
        token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return await _reply(send, 401, _page("That token is not right."), "text/html; charset=utf-8")
        cookie = f"{COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path=/"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def _page(message: str) -> bytes:
    return _LOGIN_PAGE.format(message=html.escape(message), action=LOGIN_PATH).encode()


async def _reply(send, status: int, body: bytes, media_type: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
