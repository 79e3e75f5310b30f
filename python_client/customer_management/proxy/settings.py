"""Proxy settings: one frozen dataclass, filled from arguments or the environment.

Two modes share every route:

* **database** (``db_url`` set): the proxy verifies the JWT and calls the function itself on
  a pooled psycopg connection, the way PostgREST would;
* **forward** (``upstream_url`` set): requests go to a real Supabase project (or another
  proxy) through supabase-py's PostgREST client; the upstream checks the JWT again.

Environment variables (``Settings.from_env``):

==================================  =======================================================
``CUSTOMER_MANAGEMENT_DB_URL``      database mode: libpq URL (``DATABASE_URL`` also read)
``CUSTOMER_MANAGEMENT_UPSTREAM_URL`` forward mode: the project URL (``https://x.supabase.co``)
``CUSTOMER_MANAGEMENT_UPSTREAM_KEY`` forward mode: the project's anon key (sent as apikey)
``SUPABASE_JWT_SECRET``             HS256 secret (default, for a local database only: the
                                    Supabase CLI's well-known local secret)
``SUPABASE_JWKS_URL``               JWKS URL for asymmetric keys (``.../auth/v1/.well-known/
                                    jwks.json``); ``SUPABASE_JWKS`` may hold the JSON itself
``CUSTOMER_MANAGEMENT_POOL_MAX``    most pooled connections (default 10)
``CUSTOMER_MANAGEMENT_POOL_TIMEOUT`` seconds a request waits for a free pooled connection
                                    before 504 ``PGRST003`` (default 10)
``CUSTOMER_MANAGEMENT_STATEMENT_TIMEOUT_MS`` ``statement_timeout`` of each request (default
                                    8000, Supabase's for ``authenticated``)
==================================  =======================================================

The forward mode deliberately does not read ``SUPABASE_URL``: that variable usually points
client code at this very proxy, and a proxy forwarding to itself would loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psycopg

from customer_management.tokens import DEFAULT_JWT_SECRET, is_loopback_host, secret_from_env

MAX_BODY_BYTES = 16 * 1024
ALLOWED_ROLES: frozenset[str] = frozenset({"anon", "authenticated", "service_role"})
# supabase-js / supabase-py send these; the list Supabase's Edge Function docs recommend.
CORS_ALLOW_HEADERS: tuple[str, ...] = ("authorization", "x-client-info", "apikey", "content-type")


@dataclass(frozen=True)
class Settings:
    """Everything the proxy needs; build with ``Settings(...)`` or ``Settings.from_env()``."""

    db_url: str | None = None
    upstream_url: str | None = None
    upstream_key: str | None = None
    jwt_secret: str | None = DEFAULT_JWT_SECRET
    jwks_url: str | None = None
    jwks_json: str | None = None
    jwt_audience: str | None = None
    verify_jwt: bool = True
    jwt_leeway_seconds: int = 30  # PostgREST tolerates 30 s of clock skew
    allowed_roles: frozenset[str] = ALLOWED_ROLES
    max_body_bytes: int = MAX_BODY_BYTES
    pool_min_size: int = 1
    pool_max_size: int = 10
    pool_timeout_seconds: float = 10.0  # then 504 PGRST003
    # How long the pool retries a lost connection (backoff 1, 2, 4 s...) before giving up
    # the slot; a request, or the proxy's own probe, starts a new attempt afterwards.
    pool_reconnect_timeout_seconds: float = 5.0
    connect_timeout_seconds: int = 5  # libpq connect_timeout, unless the URL sets one
    health_timeout_seconds: float = 2.0  # /health never waits longer for a connection
    statement_timeout_ms: int = 8000  # Supabase's default for the authenticated role
    upstream_timeout_seconds: float = 30.0
    cors_allow_headers: tuple[str, ...] = CORS_ALLOW_HEADERS
    exposed_schema: str = "public"
    extra_search_path: tuple[str, ...] = field(default=("public", "extensions"))

    def __post_init__(self) -> None:
        """Exactly one mode; something to verify tokens with when verification is on."""
        if bool(self.db_url) == bool(self.upstream_url):
            raise ValueError("set exactly one of db_url (database mode) and upstream_url (forward)")
        if self.upstream_url and not self.upstream_key:
            raise ValueError("forward mode needs upstream_key (the project's anon key)")
        if self.verify_jwt and not (self.jwt_secret or self.jwks_url or self.jwks_json):
            raise ValueError("verify_jwt needs jwt_secret, jwks_url or jwks_json")
        if self.pool_max_size < 1 or self.pool_min_size < 0:
            raise ValueError("pool_max_size must be at least 1 and pool_min_size not negative")
        if min(self.pool_timeout_seconds, self.health_timeout_seconds) <= 0:
            raise ValueError("pool and health timeouts must be positive")
        if self.statement_timeout_ms < 1:
            raise ValueError("statement_timeout_ms must be positive (0 would mean no limit)")
        # The local secret is public: anyone could mint a service_role token with it.
        target = self.db_url or self.upstream_url or ""
        if self.jwt_secret == DEFAULT_JWT_SECRET and not is_loopback(target):
            raise ValueError(
                "the well-known local JWT secret is only accepted for a database on this "
                "machine; set SUPABASE_JWT_SECRET (or a JWKS) to your project's"
            )

    @property
    def forwarding(self) -> bool:
        """True in forward mode."""
        return self.upstream_url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read the variables listed in the module docstring; keyword overrides win."""
        env = os.environ if environ is None else environ
        secret = secret_from_env(env)
        jwks_url = env.get("SUPABASE_JWKS_URL") or None
        jwks_json = env.get("SUPABASE_JWKS") or None
        upstream_url = env.get("CUSTOMER_MANAGEMENT_UPSTREAM_URL") or None
        forward = upstream_url is not None
        has_key_material = bool(secret or jwks_url or jwks_json)
        values: dict[str, object] = {
            "db_url": None
            if forward
            else (env.get("CUSTOMER_MANAGEMENT_DB_URL") or env.get("DATABASE_URL") or None),
            "upstream_url": upstream_url,
            "upstream_key": env.get("CUSTOMER_MANAGEMENT_UPSTREAM_KEY") or None,
            # The local default only when nothing else was configured (never beside a JWKS).
            "jwt_secret": secret
            or (None if forward or jwks_url or jwks_json else DEFAULT_JWT_SECRET),
            "jwks_url": jwks_url,
            "jwks_json": jwks_json,
            # Forwarding without key material: the upstream alone verifies tokens.
            "verify_jwt": has_key_material or not forward,
        }
        if env.get("CUSTOMER_MANAGEMENT_POOL_MAX"):
            values["pool_max_size"] = int(env["CUSTOMER_MANAGEMENT_POOL_MAX"])
        if env.get("CUSTOMER_MANAGEMENT_POOL_TIMEOUT"):
            values["pool_timeout_seconds"] = float(env["CUSTOMER_MANAGEMENT_POOL_TIMEOUT"])
        if env.get("CUSTOMER_MANAGEMENT_STATEMENT_TIMEOUT_MS"):
            values["statement_timeout_ms"] = int(env["CUSTOMER_MANAGEMENT_STATEMENT_TIMEOUT_MS"])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def is_loopback(url: str) -> bool:
    """True when a libpq or HTTP URL points at this machine (loopback or a unix socket)."""
    if url.startswith(("http://", "https://")):
        host = urlsplit(url).hostname or ""
    else:
        try:
            host = str(psycopg.conninfo.conninfo_to_dict(url).get("host") or "")
        except psycopg.ProgrammingError:
            return False
    return all(is_loopback_host(h.strip()) for h in host.split(","))
