"""Support for the HTTP-layer tests: keys, raw-HTTP calls to a proxy, web users.

The fixtures themselves are in ``proxy_fixtures`` (a pytest plugin); this module holds what
test modules import by name, so the plugin is not imported twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from customer_management.local import auth_users, keys
from customer_management.proxy import Settings, create_app
from customer_management.proxy.server import BackgroundServer

SECRET = keys.DEFAULT_JWT_SECRET
ANON_KEY = keys.anon_key()
SERVICE_KEY = keys.service_role_key()


def as_authenticator(db_url: str) -> str:
    """The same database, logged in as ``authenticator`` (can only become API roles)."""
    params = conninfo_to_dict(db_url)
    params["user"] = "authenticator"
    return make_conninfo(**params)  # type: ignore[arg-type]


@dataclass
class Proxy:
    """A running proxy and convenient raw-HTTP calls to it."""

    url: str
    http: httpx.Client

    def post(
        self,
        path: str,
        body: Any = None,
        token: str | None = SERVICE_KEY,
        apikey: str | None = ANON_KEY,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """POST JSON (or raw ``content``) with an apikey and a bearer token."""
        sent = dict(headers or {})
        if apikey is not None:
            sent["apikey"] = apikey
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if content is None:
            content = json.dumps(body, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.http.post(self.url + path, content=content, headers=sent)

    def rpc(self, body: Any, token: str | None = SERVICE_KEY, **kwargs: Any) -> httpx.Response:
        """``POST /rest/v1/rpc/customer_management``."""
        return self.post("/rest/v1/rpc/customer_management", body, token, **kwargs)

    def function(self, body: Any, token: str | None = SERVICE_KEY, **kwargs: Any) -> httpx.Response:
        """``POST /functions/v1/customer-management``."""
        return self.post("/functions/v1/customer-management", body, token, **kwargs)


def start_proxy(settings: Settings) -> BackgroundServer:
    """Start the app for ``settings`` on a free port."""
    server = BackgroundServer(create_app(settings))
    server.start()
    return server


@contextmanager
def serving(settings: Settings) -> Iterator[Proxy]:
    """A proxy for ``settings`` with an HTTP client for it; stopped afterwards."""
    server = start_proxy(settings)
    try:
        with httpx.Client(timeout=30) as http:
            yield Proxy(server.url, http)
    finally:
        server.stop()


@dataclass(frozen=True)
class WebUser:
    """A Supabase Auth user of the test database and its signed access token."""

    id: str
    email: str | None
    phone: str | None
    claims: dict[str, Any]
    token: str


def make_user(
    conn: psycopg.Connection[Any],
    email: str | None = None,
    phone: str | None = None,
    confirmed: bool = True,
) -> WebUser:
    """Insert an auth user (``auth_users.create_user``) and sign its token."""
    user = auth_users.create_user(
        conn, email, phone, email_confirmed=confirmed, phone_confirmed=confirmed
    )
    claims = user.claims()
    return WebUser(str(user.id), email, phone, claims, keys.sign(claims, SECRET))
