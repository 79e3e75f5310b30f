"""The local JWT secret and the API keys and user tokens signed with it.

Locally the kit behaves like ``supabase start``: the same default secret, and anon /
service-role keys with the same claims (``iss: supabase-demo``, expiry in 2032), so the keys
printed by ``make run`` are the well-known local Supabase keys and tools that hard-code them
work. A real project has its own secret (Dashboard -> Settings -> API -> JWT secret); set
``SUPABASE_JWT_SECRET`` to use it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

from customer_management.tokens import DEFAULT_JWT_SECRET as DEFAULT_JWT_SECRET
from customer_management.tokens import SECRET_ENV_VARS as SECRET_ENV_VARS
from customer_management.tokens import secret_from_env

LOCAL_ISSUER = "supabase-demo"
LOCAL_KEY_EXPIRY = 1983812996  # the expiry of the Supabase CLI's local keys (2032-11-12)
LOCAL_AUTH_ISSUER = "http://127.0.0.1:54321/auth/v1"


def jwt_secret_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The project's JWT secret from the environment, else the local default."""
    return secret_from_env(os.environ if environ is None else environ) or DEFAULT_JWT_SECRET


def sign(claims: Mapping[str, Any], secret: str = DEFAULT_JWT_SECRET) -> str:
    """Sign ``claims`` with HS256, as Supabase Auth and the CLI's keys are signed."""
    return jwt.encode(dict(claims), secret, algorithm="HS256")


def api_key(role: str, secret: str = DEFAULT_JWT_SECRET) -> str:
    """A project API key for ``role`` (``anon`` or ``service_role``), like the CLI's."""
    return sign({"iss": LOCAL_ISSUER, "role": role, "exp": LOCAL_KEY_EXPIRY}, secret)


def anon_key(secret: str = DEFAULT_JWT_SECRET) -> str:
    """The anon key: safe in browsers; RLS and grants decide what it may do."""
    return api_key("anon", secret)


def service_role_key(secret: str = DEFAULT_JWT_SECRET) -> str:
    """The service-role key: server side only (the chatbot); bypasses RLS."""
    return api_key("service_role", secret)


def user_claims(
    user_id: uuid.UUID | str,
    email: str | None = None,
    phone: str | None = None,
    expires_in: int = 3600,
    now: int | None = None,
    app_metadata: dict[str, Any] | None = None,
    is_anonymous: bool = False,
) -> dict[str, Any]:
    """Claims of a Supabase Auth access token for a user (phone as digits, no ``+``)."""
    issued = int(time.time()) if now is None else now
    provider = "email" if email else "phone"
    return {
        "iss": LOCAL_AUTH_ISSUER,
        "sub": str(user_id),
        "aud": "authenticated",
        "exp": issued + expires_in,
        "iat": issued,
        "email": email or "",
        "phone": (phone or "").lstrip("+"),
        "app_metadata": app_metadata or {"provider": provider, "providers": [provider]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password" if email else "otp", "timestamp": issued}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": is_anonymous,
    }
