"""Verifying Supabase JWTs: the one verifier of the kit's HTTP proxy and its MCP server.

Only algorithms with a key configured are accepted: HS256/384/512 with the project's JWT
secret, RS*/ES*/PS*/EdDSA with its JWKS (a URL, fetched and cached by PyJWT, or the JSON
itself). ``alg: none``, a wrong signature, expiry (30 s leeway, like PostgREST), a future
``nbf``/``iat`` and, when an audience is set, another ``aud`` raise ``TokenRejected`` with
PostgREST's code (``PGRST301`` undecodable or unverifiable, ``PGRST303`` a claim refused).
Which roles a caller may hold is for each door to decide.

Needs PyJWT (``pyjwt[crypto]``), part of the ``local``, ``proxy`` and ``mcp`` extras.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

DEFAULT_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
"""The secret the Supabase CLI uses for local projects (never use it in production)."""

SECRET_ENV_VARS = ("SUPABASE_JWT_SECRET", "JWT_SECRET")
SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
VERIFIED_TOKENS_KEPT = 4096
LOOPBACK_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


class TokenRejected(Exception):
    """A token that failed verification: PostgREST's code, a message, optional details.
    Neither ever holds the token."""

    def __init__(self, code: str, message: str, details: str | None = None) -> None:
        """Keep the code, the message and the details."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class TokenKeys:
    """The key material tokens are verified with, and the audience they must carry."""

    secret: str | None = None
    jwks_url: str | None = None
    jwks_json: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30

    def __repr__(self) -> str:
        """Never the secret."""
        return f"TokenKeys(jwks_url={self.jwks_url!r}, audience={self.audience!r})"

    @property
    def configured(self) -> bool:
        """True when there is anything to verify a signature with."""
        return bool(self.secret or self.jwks_url or self.jwks_json)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], target_url: str, audience: str | None = None
    ) -> TokenKeys:
        """``SUPABASE_JWT_SECRET`` (or ``JWT_SECRET``), ``SUPABASE_JWKS_URL``,
        ``SUPABASE_JWKS``; with none of them, the Supabase CLI's local secret, but only when
        ``target_url`` (the project the tokens come from) is on this machine."""
        secret = secret_from_env(environ)
        jwks_url = environ.get("SUPABASE_JWKS_URL") or None
        jwks_json = environ.get("SUPABASE_JWKS") or None
        if (
            secret is None
            and jwks_url is None
            and jwks_json is None
            and is_loopback_host(_host_of(target_url))
        ):
            secret = DEFAULT_JWT_SECRET
        return cls(secret, jwks_url, jwks_json, audience)


def secret_from_env(environ: Mapping[str, str]) -> str | None:
    """The project's JWT secret from the environment, or None."""
    return next((environ[name] for name in SECRET_ENV_VARS if environ.get(name)), None)


def is_loopback_host(host: str) -> bool:
    """True for this machine (loopback names and addresses, a unix socket, no host)."""
    return host in LOOPBACK_HOSTS or host.startswith("/")


def _host_of(url: str) -> str:
    """The host of an http(s) URL."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


class TokenVerifier:
    """Verifies tokens with ``TokenKeys``; remembers the claims of tokens that verified."""

    def __init__(self, keys: TokenKeys) -> None:
        """Keep the key material; a JWKS URL is fetched lazily and cached by PyJWT."""
        if not keys.configured:
            raise ValueError("token verification needs a JWT secret or a JWKS")
        self.keys = keys
        self._jwks_client = jwt.PyJWKClient(keys.jwks_url) if keys.jwks_url else None
        self._jwk_set = jwt.PyJWKSet.from_json(keys.jwks_json) if keys.jwks_json else None
        # Tokens already verified: their claims, re-checked for expiry at each use. Bounded;
        # a restart forgets it. Threads share it (the MCP server verifies in worker threads).
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may fetch a JWKS over the network (run it off the event loop)."""
        return self._jwks_client is not None

    def cached(self, token: str) -> dict[str, Any] | None:
        """The claims of a token that verified before and has not expired since, else None:
        its signature cannot change, and its expiry is checked here at every use."""
        with self._lock:
            known = self._verified.get(token)
            if known is None:
                return None
            expires = known.get("exp")
            if not isinstance(expires, int | float) or (
                time.time() <= expires + self.keys.leeway_seconds
            ):
                self._verified.move_to_end(token)
                return known
            del self._verified[token]
            return None

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; raises ``TokenRejected`` otherwise."""
        known = self.cached(token)
        if known is not None:
            return known
        claims = self._verify_signature(token)
        with self._lock:
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any]:
        """The full check: header, key, signature, expiry, not-before, audience."""
        parts = token.count(".") + 1
        if parts != 3:
            raise TokenRejected("PGRST301", f"Expected 3 parts in JWT; got {parts}")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("PGRST301", "JWT couldn't be decoded") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise TokenRejected("PGRST301", "JWT couldn't be decoded")
        key = self._key_for(token, header, algorithm)
        audience = self.keys.audience
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                leeway=self.keys.leeway_seconds,
                options={"verify_aud": audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("PGRST303", "JWT expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("PGRST303", "JWT not yet valid") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("PGRST303", "JWT not in audience") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("PGRST301", "JWT cryptographic operation failed") from None
        except (jwt.InvalidTokenError, jwt.PyJWTError, TypeError, ValueError):
            # TypeError/ValueError: a key of another type than the token's algorithm.
            raise TokenRejected("PGRST301", "JWT couldn't be decoded") from None
        return claims

    def _key_for(self, token: str, header: Mapping[str, Any], algorithm: str) -> Any:
        """The verification key for the token's algorithm; never a secret for ``none``."""
        if algorithm in SYMMETRIC and self.keys.secret:
            return self.keys.secret
        if algorithm in ASYMMETRIC and (self._jwk_set is not None or self._jwks_client):
            try:
                if self._jwk_set is not None:
                    kid = header.get("kid")
                    keys = [
                        k
                        for k in self._jwk_set.keys
                        if (kid is None or k.key_id == kid)
                        and (k.algorithm_name in (algorithm, None) or _key_fits(k, algorithm))
                    ]
                    if keys:
                        return keys[0].key
                if self._jwks_client is not None:
                    return self._jwks_client.get_signing_key_from_jwt(token).key
            except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
                raise TokenRejected(
                    "PGRST301", "No suitable key or wrong key type", str(exc)
                ) from None
            raise TokenRejected("PGRST301", "No suitable key or wrong key type")
        raise TokenRejected(
            "PGRST301",
            "Wrong or unsupported encoding algorithm",
            f"Tokens signed with {algorithm!s} are not accepted.",
        )


def unverified_claims(token: str) -> dict[str, Any]:
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
