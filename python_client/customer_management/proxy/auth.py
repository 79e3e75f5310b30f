"""Who is calling: the ``apikey`` gate and JWT verification, as Supabase's gateway and
PostgREST do them, before any SQL runs.

* ``apikey`` (header, or ``?apikey=``) must be one of the project's keys: a JWT signed by the
  project whose role is ``anon`` or ``service_role``. Missing: 401; the Edge Function route
  accepts a request without it (``verify_jwt`` there only looks at ``Authorization``).
* ``Authorization: Bearer <jwt>`` is the caller; without it the apikey is the token (the anon
  key is itself a JWT, which is how Supabase treats anonymous requests).
* Only algorithms with a key configured are accepted: HS256/384/512 with the JWT secret,
  RS*/ES*/PS*/EdDSA with a JWKS. ``alg: none``, a wrong signature, expiry (30 s leeway, like
  PostgREST), a future ``nbf``/``iat`` or a role outside ``anon``/``authenticated``/
  ``service_role`` is a 401 with PostgREST's ``PGRST301``/``PGRST303`` body.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import jwt

from customer_management.proxy import errors
from customer_management.proxy.settings import Settings

SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
API_KEY_ROLES = frozenset({"anon", "service_role"})
DEFAULT_ROLE = "anon"  # PostgREST's db-anon-role on Supabase: a token without role is anon
VERIFIED_TOKENS_KEPT = 4096


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
        """Keep the key material; a JWKS URL is fetched lazily and cached by PyJWT."""
        self._settings = settings
        # Tokens already verified (the project's keys arrive with every request): their
        # claims, re-checked for expiry at each use. Bounded; a restart forgets it.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._secret = settings.jwt_secret
        self._jwks_client = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None
        self._jwk_set = jwt.PyJWKSet.from_json(settings.jwks_json) if settings.jwks_json else None

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
        claims = await self.verify(token) if self._settings.verify_jwt else _unverified(token)
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

        A token that verified before is not verified again until it expires: its signature
        cannot change, and its expiry is checked here at every use.
        """
        known = self._verified.get(token)
        if known is not None:
            expires = known.get("exp")
            if not isinstance(expires, int | float) or (
                time.time() <= expires + self._settings.jwt_leeway_seconds
            ):
                self._verified.move_to_end(token)
                return known
            del self._verified[token]
        claims = await self._verify_signature(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return claims

    async def _verify_signature(self, token: str) -> dict[str, Any]:
        """The full check: header, key, signature, expiry, not-before, audience."""
        parts = token.count(".") + 1
        if parts != 3:
            raise errors.jwt_error("PGRST301", f"Expected 3 parts in JWT; got {parts}")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise errors.jwt_error("PGRST301", "JWT couldn't be decoded") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise errors.jwt_error("PGRST301", "JWT couldn't be decoded")
        key = await self._key_for(token, algorithm)
        audience = self._settings.jwt_audience
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(algorithm)],
                audience=audience,
                leeway=self._settings.jwt_leeway_seconds,
                options={"verify_aud": audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise errors.jwt_error("PGRST303", "JWT expired") from None
        except jwt.ImmatureSignatureError:
            raise errors.jwt_error("PGRST303", "JWT not yet valid") from None
        except jwt.InvalidAudienceError:
            raise errors.jwt_error("PGRST303", "JWT not in audience") from None
        except jwt.InvalidSignatureError:
            raise errors.jwt_error("PGRST301", "JWT cryptographic operation failed") from None
        except (jwt.InvalidTokenError, jwt.PyJWTError, TypeError, ValueError):
            # TypeError/ValueError: a key of another type than the token's algorithm.
            raise errors.jwt_error("PGRST301", "JWT couldn't be decoded") from None
        return claims

    async def _key_for(self, token: str, algorithm: object) -> Any:
        """The verification key for the token's algorithm; never a secret for ``none``."""
        if algorithm in SYMMETRIC and self._secret:
            return self._secret
        if algorithm in ASYMMETRIC and (self._jwk_set is not None or self._jwks_client):
            try:
                if self._jwk_set is not None:
                    kid = jwt.get_unverified_header(token).get("kid")
                    keys = [
                        k
                        for k in self._jwk_set.keys
                        if (kid is None or k.key_id == kid)
                        and (k.algorithm_name in (algorithm, None) or _key_fits(k, algorithm))
                    ]
                    if keys:
                        return keys[0].key
                if self._jwks_client is not None:
                    client = self._jwks_client
                    signing_key = await anyio.to_thread.run_sync(
                        client.get_signing_key_from_jwt, token
                    )
                    return signing_key.key
            except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
                raise errors.jwt_error(
                    "PGRST301", "No suitable key or wrong key type", str(exc)
                ) from None
            raise errors.jwt_error("PGRST301", "No suitable key or wrong key type")
        raise errors.jwt_error(
            "PGRST301",
            "Wrong or unsupported encoding algorithm",
            f"Tokens signed with {algorithm!s} are not accepted.",
        )


def _unverified(token: str) -> dict[str, Any]:
    """Claims read without verification (forward mode: the upstream verifies)."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}
    return claims


def _key_fits(key: Any, algorithm: str) -> bool:
    """True when a JWK's key type can verify ``algorithm`` (RSA for RS/PS, EC for ES, OKP
    for EdDSA), so a token never reaches PyJWT with a key of the wrong type."""
    key_type = getattr(key, "key_type", None)
    wanted = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}.get(algorithm[:2])
    return wanted is not None and key_type == wanted
