"""The support console at ``/console``: the static page of the repository's ``console/``
(shipped in the package as ``bundled/console``) and the ``config.json`` that points it at
this proxy.

The page is the same one a project deploys to any static host next to hosted Supabase; only
``config.json`` differs. Served here it says: the API is this origin, the anon key is the
one this proxy's JWT secret signs, and the agent signs in by pasting a token
(``customer-management token --support --email ...``), since there is no Auth server
locally. In forward mode the page talks to the upstream project itself and signs in with
its password. The service-role key never appears in anything served here.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from customer_management.local import keys
from customer_management.proxy.settings import Settings

PREFIX = "/console"


def console_dir() -> Path:
    """Where the console's files are (inside the package: ``bundled/console``)."""
    return Path(str(resources.files("customer_management") / "bundled" / "console"))


def console_config(settings: Settings) -> dict[str, str]:
    """What ``config.json`` tells the page: API URL ("" = this origin), anon key, sign-in."""
    if settings.forwarding:
        return {
            "supabaseUrl": settings.upstream_url or "",
            "anonKey": settings.upstream_key or "",
            "signIn": "password",
        }
    return {
        "supabaseUrl": "",
        "anonKey": keys.anon_key(settings.jwt_secret) if settings.jwt_secret else "",
        "signIn": "token",
    }


def security_headers(settings: Settings) -> dict[str, str]:
    """The page may load only its own files and talk only to this origin (or, in forward
    mode, the upstream project); it is never framed and sends no referrer."""
    connect = ["'self'"]
    if settings.forwarding and settings.upstream_url:
        parts = urlsplit(settings.upstream_url)
        connect.append(f"{parts.scheme}://{parts.netloc}")
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src " + " ".join(connect),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


class _ConsoleFiles:
    """The static files with the console's security headers on every answer."""

    def __init__(self, files: StaticFiles, headers: dict[str, str]) -> None:
        self._files = files
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))  # type: ignore[call-overload]
                message["headers"] = raw + self._headers
            await send(message)

        await self._files(scope, receive, with_headers)  # type: ignore[arg-type]


def console_routes(settings: Settings) -> list[BaseRoute]:
    """``/console`` (redirect), ``/console/config.json`` and the files under ``/console/``."""
    headers = security_headers(settings)
    config = json.dumps(console_config(settings), separators=(",", ":"))

    async def to_index(request: Request) -> Response:
        return RedirectResponse(PREFIX + "/", status_code=308)

    async def config_json(request: Request) -> Response:
        return Response(config, media_type="application/json", headers=headers)

    files = StaticFiles(directory=console_dir(), html=True, check_dir=False)
    return [
        Route(PREFIX, to_index, methods=["GET", "HEAD"]),
        Route(PREFIX + "/config.json", config_json, methods=["GET", "HEAD"]),
        Mount(PREFIX, app=_ConsoleFiles(files, headers)),
    ]
