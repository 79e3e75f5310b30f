"""Cross-cutting ASGI middleware: one access-log line per request, and the CORS settings.

CORS itself is Starlette's ``CORSMiddleware``, configured by ``cors_options`` to answer as
Supabase does: any origin (tokens travel in headers, never cookies), the headers the browser
asks for, and the headers a client may need to read. The access log is plain ASGI (no
response buffering) and writes one JSON object per
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
ALLOW_METHODS = ("GET", "POST", "OPTIONS")
EXPOSE_HEADERS = ("content-range", "retry-after", "proxy-status")
PREFLIGHT_MAX_AGE = 86400


def cors_options(allow_headers: Iterable[str]) -> dict[str, Any]:
    """Keyword arguments for Starlette's ``CORSMiddleware``: Supabase's CORS answers.

    ``allow_headers`` are always allowed; ``*`` also reflects whatever a preflight asks for
    (supabase-js may add ``accept-profile``, ``content-profile`` or ``prefer``).
    """
    return {
        "allow_origins": ["*"],
        "allow_methods": list(ALLOW_METHODS),
        "allow_headers": ["*", *allow_headers],
        "expose_headers": list(EXPOSE_HEADERS),
        "max_age": PREFLIGHT_MAX_AGE,
    }


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
