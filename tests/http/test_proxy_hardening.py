"""Malformed tokens and bodies get PostgREST's 401/400, never a 500; the public local secret
is refused for anything but a local database."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from customer_management.local import keys
from customer_management.proxy import Settings
from support.proxy import SERVICE_KEY, Proxy

pytest_plugins = ["support.proxy_fixtures"]

LOOKUP = {"phone": "+15551234567", "source": "chatbot"}


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", [["HS256"], {"x": 1}, 256, None])
def test_non_string_alg_is_401(shared_proxy: Proxy, alg: Any) -> None:
    """A header whose alg is not a string: 401 PGRST301, the token never reaches SQL."""
    header = _segment({"alg": alg, "typ": "JWT"})
    payload = _segment({"role": "service_role"})
    token = f"{header}.{payload}.c2lnbmF0dXJl"
    response = shared_proxy.rpc(LOOKUP, token=token)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "PGRST301"


def test_deeply_nested_body_is_400(shared_proxy: Proxy) -> None:
    """5,000 nested arrays (10 KB) are invalid JSON for the kit: 400 PGRST102, not 500."""
    response = shared_proxy.rpc(None, content=b"[" * 5000 + b"]" * 5000)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "PGRST102"


def test_default_secret_only_for_a_local_database() -> None:
    """Anyone can sign with the well-known local secret, so it never guards a real project."""
    with pytest.raises(ValueError, match="well-known local JWT secret"):
        Settings(db_url="postgresql://authenticator@db.abc.supabase.co:5432/postgres")
    with pytest.raises(ValueError, match="well-known local JWT secret"):
        Settings(upstream_url="https://abc.supabase.co", upstream_key="anon")
    own = Settings(
        db_url="postgresql://authenticator@db.abc.supabase.co:5432/postgres",
        jwt_secret="a-project-secret-of-at-least-thirty-two-chars",
    )
    assert own.jwt_secret != keys.DEFAULT_JWT_SECRET


def test_token_signed_with_the_local_secret_fails_against_a_project_secret(
    shared_proxy: Proxy,
) -> None:
    """Sanity: the service key is only as good as the secret it was signed with."""
    forged = jwt.encode({"role": "service_role"}, "not-the-secret-" * 3, algorithm="HS256")
    assert shared_proxy.rpc(LOOKUP, token=forged).status_code == 401
    assert shared_proxy.rpc(LOOKUP, token=SERVICE_KEY).status_code == 200
