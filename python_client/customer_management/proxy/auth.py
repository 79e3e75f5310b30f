"""Who is calling: the ``apikey`` gate and JWT verification, as Supabase's gateway and
PostgREST do them, before any SQL runs.

* ``apikey`` (header, or ``?apikey=``) must be one of the project's keys: a JWT signed by the
  project whose role is ``anon`` or ``service_role``. Missing: 401; the Edge Function route
  accepts a request without it (``verify_jwt`` there only looks at ``Authorization``).
* ``Authorization: Bearer <jwt>`` is the caller; without it the apikey is the token (the anon
  key is itself a JWT, which is how Supabase treats anonymous requests).
* Tokens are verified by ``customer_management.tokens`` (the verifier the MCP server uses
  too): only algorithms with a key configured, HS256/384/512 with the JWT secret,
  RS*/ES*/PS*/EdDSA with a JWKS. ``alg: none``, a wrong signature, expiry (30 s leeway, like
  PostgREST), a future ``nbf``/``iat`` or a role outside ``anon``/``authenticated``/
  ``service_role`` is a 401 with PostgREST's ``PGRST301``/``PGRST303`` body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from customer_management.proxy import errors
from customer_management.proxy.settings import Settings
from customer_management.tokens import TokenKeys, TokenRejected, TokenVerifier, unverified_claims

API_KEY_ROLES = frozenset({"anon", "service_role"})
DEFAULT_ROLE = "anon"  # PostgREST's db-anon-role on Supabase: a token without role is anon


@dataclass(frozen=True)
class Caller:
    """The verified caller: database role and JWT claims; the raw token only for forwarding."""

    role: str
    claims: dict[str, Any]
    token: str = field(repr=False)

    def claims_json(self) -> str:
        """The claims as PostgREST puts them in ``request.jwt.claims``."""
        return json.dumps(self.claims, separators=(",", ":"))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; other schemes count as absent."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


class Authenticator:
    """Verifies API keys and bearer tokens with the project's secret and/or JWKS."""

    def __init__(self, settings: Settings) -> None:
        """Keep the settings; the verifier holds the key material (none when forwarding
        without it: the upstream alone verifies)."""
        self._settings = settings
        keys = TokenKeys(
            settings.jwt_secret,
            settings.jwks_url,
            settings.jwks_json,
            settings.jwt_audience,
            settings.jwt_leeway_seconds,
        )
        self._verifier = TokenVerifier(keys) if settings.verify_jwt else None

    async def authenticate(
        self,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        require_api_key: bool = True,
    ) -> Caller:
        """Return the caller of a request or raise a 401 ``ApiError``."""
        api_key = headers.get("apikey") or query.get("apikey") or None
        token = bearer_token(headers.get("authorization"))
        if api_key is None and (require_api_key or token is None):
            raise errors.missing_api_key()
        if api_key is not None and api_key != token and self._settings.verify_jwt:
            await self._check_api_key(api_key)
        if token is None:
            token = api_key or ""
        if token == "":
            raise errors.jwt_error("PGRST301", "Empty JWT is sent in Authorization header")
        claims = await self.verify(token) if self._verifier else unverified_claims(token)
        role = claims.get("role") or DEFAULT_ROLE
        if not isinstance(role, str) or role not in self._settings.allowed_roles:
            raise errors.jwt_error(
                "PGRST303",
                "JWT role is not allowed",
                "The role claim must be one of: " + ", ".join(sorted(self._settings.allowed_roles)),
            )
        if api_key is not None and api_key == token and role not in API_KEY_ROLES:
            raise errors.invalid_api_key("The apikey must be the anon or service_role key.")
        return Caller(role, claims, token)

    async def _check_api_key(self, api_key: str) -> None:
        """The apikey must verify and carry the anon or service_role role."""
        try:
            claims = await self.verify(api_key)
        except errors.ApiError as exc:
            raise errors.invalid_api_key(exc.message) from None
        if claims.get("role") not in API_KEY_ROLES:
            raise errors.invalid_api_key("The apikey must be the anon or service_role key.")

    async def verify(self, token: str) -> dict[str, Any]:
        """Verify signature and time claims; return the claims or raise a 401 ``ApiError``.
        A token seen before is answered from the verifier's memory; fetching a JWKS runs
        off the event loop."""
        verifier = self._verifier
        if verifier is None:
            return unverified_claims(token)
        try:
            known = verifier.cached(token)
            if known is not None:
                return known
            if verifier.fetches_keys:
                return await anyio.to_thread.run_sync(verifier.verify, token)
            return verifier.verify(token)
        except TokenRejected as rejected:
            raise errors.jwt_error(rejected.code, rejected.message, rejected.details) from None
