"""Cross-cutting ASGI middleware: CORS for browsers and one access-log line per request.

Both are plain ASGI (no response buffering). The access log writes one JSON object per
request to the ``customer_management.proxy.access`` logger with the method, the path (never
the query string, which may hold an ``apikey``), status, latency in milliseconds, the
caller's role and the error code if any. Bodies and tokens are never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = logging.getLogger("customer_management.proxy.access")
ALLOW_METHODS = "GET, POST, OPTIONS"
EXPOSE_HEADERS = "content-range, retry-after, proxy-status"


class CorsMiddleware:
    """Answer preflights like Supabase and allow any origin on every response.

    ``Access-Control-Allow-Headers`` is Supabase's list (authorization, x-client-info,
    apikey, content-type) plus whatever the browser asks for (supabase-js may add
    ``accept-profile``, ``content-profile`` or ``prefer``), as Supabase's gateway reflects
    requested headers. Tokens are bearer headers, not cookies, so ``*`` is safe.
    """

    def __init__(self, app: ASGIApp, allow_headers: Iterable[str]) -> None:
        """Wrap ``app``; ``allow_headers`` are always allowed."""
        self.app = app
        self.allow_headers = [h.lower() for h in allow_headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Short-circuit OPTIONS; add ``Access-Control-Allow-Origin`` to everything else."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", b"*"))
                headers.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send) -> None:
        """200 ``ok`` with the CORS headers (what Supabase Edge Functions answer)."""
        requested = _header(scope, b"access-control-request-headers")
        allowed = list(self.allow_headers)
        for name in (requested or "").split(","):
            name = name.strip().lower()
            if name and name not in allowed and _is_token(name):
                allowed.append(name)
        body = b"ok"
        headers = [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-headers", ", ".join(allowed).encode()),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-max-age", b"86400"),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class AccessLogMiddleware:
    """Log one JSON line per HTTP request as its response completes (or fails)."""

    def __init__(self, app: ASGIApp, logger: logging.Logger = ACCESS_LOGGER) -> None:
        """Wrap ``app``."""
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it; role and error code come from ``scope['state']``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500
        logged = False

        def log() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            entry = {
                "event": "request",
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "role": state.get("role"),
                "code": state.get("error_code"),
            }
            self.logger.info(json.dumps(entry, separators=(",", ":")))

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log()  # before the last byte leaves: the line exists once the client has it
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            log()


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_token(name: str) -> bool:
    """A plausible header name (RFC 9110 token characters), so nothing odd is reflected."""
    return all(c.isalnum() or c in "-_." for c in name) and len(name) <= 64
