"""The proxy authenticates like Supabase: apikey gate, verified JWTs, 401 before any SQL."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from customer_management.local import keys
from customer_management.proxy import Settings
from support.helpers import table_snapshot
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, as_authenticator, make_user, start_proxy

pytest_plugins = ["support.proxy_fixtures"]

LOOKUP = {"phone": "+15551234567", "source": "chatbot"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """A token with ``alg: none`` and no signature (what an attacker would try first)."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def tamper_role(token: str, role: str) -> str:
    """Swap the payload's role and keep the original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = role
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def assert_jwt_401(response: httpx.Response, code: str, message: str, token: str) -> None:
    """401 with PostgREST's body from the HTTP layer (a PGRST code, never a SQLSTATE)."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == code
    assert body["message"] == message
    assert set(body) == {"code", "details", "hint", "message"}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert token not in response.text


@pytest.fixture
def untouched(shared_conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Assert the test left every table as it found it."""
    before = table_snapshot(shared_conn)
    yield
    assert table_snapshot(shared_conn) == before


def test_missing_apikey_is_401(shared_proxy: Proxy, untouched: None) -> None:
    """Like Supabase's gateway: no apikey header or query parameter, no entry."""
    response = shared_proxy.rpc(LOOKUP, token=SERVICE_KEY, apikey=None)
    assert response.status_code == 401
    assert response.json() == {
        "code": "PGRST302",
        "details": None,
        "hint": "No `apikey` request header or url param was found.",
        "message": "No API key found in request",
    }


def test_apikey_may_be_a_query_parameter(shared_proxy: Proxy) -> None:
    """``?apikey=`` works as it does on Supabase; without Authorization it is the token."""
    response = shared_proxy.http.post(
        f"{shared_proxy.url}/rest/v1/rpc/customer_management?apikey={SERVICE_KEY}", json=LOOKUP
    )
    assert response.status_code == 200, response.text


def test_edge_function_accepts_authorization_without_apikey(shared_proxy: Proxy) -> None:
    """A chatbot's plain fetch sends only ``Authorization: Bearer <service key>``."""
    response = shared_proxy.function(LOOKUP, token=SERVICE_KEY, apikey=None)
    assert response.status_code == 200, response.text
    missing = shared_proxy.function(LOOKUP, token=None, apikey=None)
    assert missing.status_code == 401
    assert missing.json()["code"] == "PGRST302"


@pytest.mark.parametrize(
    "path", ["/rest/v1/rpc/customer_management", "/functions/v1/customer-management"]
)
def test_expired_token_is_401(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any], untouched: None, path: str
) -> None:
    """An expired user token (beyond the 30 s leeway) is refused."""
    user = make_user(shared_conn, email="expired@example.com")
    claims = {**user.claims, "exp": int(time.time()) - 120, "iat": int(time.time()) - 3720}
    token = keys.sign(claims)
    response = shared_proxy.post(
        path, {"email": "expired@example.com", "source": "webapp"}, token=token
    )
    assert_jwt_401(response, "PGRST303", "JWT expired", token)
    assert "invalid_token" in response.headers["www-authenticate"]


def test_token_inside_the_clock_skew_leeway_is_accepted(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]
) -> None:
    """PostgREST tolerates 30 s of clock skew; so does the proxy."""
    user = make_user(shared_conn, email="skew@example.com")
    token = keys.sign({**user.claims, "exp": int(time.time()) - 5})
    response = shared_proxy.rpc({"email": "skew@example.com", "source": "webapp"}, token=token)
    assert response.status_code == 200, response.text


def test_token_not_yet_valid_is_401(shared_proxy: Proxy, untouched: None) -> None:
    """``nbf`` in the future (beyond the leeway) is refused."""
    token = keys.sign({"role": "service_role", "nbf": int(time.time()) + 600})
    assert_jwt_401(shared_proxy.rpc(LOOKUP, token=token), "PGRST303", "JWT not yet valid", token)


def test_alg_none_is_401(shared_proxy: Proxy, untouched: None) -> None:
    """An unsigned token claiming service_role never reaches SQL."""
    token = unsigned_token({"role": "service_role", "exp": int(time.time()) + 600})
    response = shared_proxy.rpc(LOOKUP, token=token)
    assert_jwt_401(response, "PGRST301", "Wrong or unsupported encoding algorithm", token)


def test_wrong_secret_is_401(shared_proxy: Proxy, untouched: None) -> None:
    """A token signed with another project's secret is refused."""
    token = keys.sign({"role": "service_role"}, "another-secret-that-is-at-least-32-chars-long")
    response = shared_proxy.rpc(LOOKUP, token=token)
    assert_jwt_401(response, "PGRST301", "JWT cryptographic operation failed", token)


def test_tampered_role_is_401(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any], untouched: None
) -> None:
    """A user who edits their token's role to service_role breaks the signature."""
    user = make_user(shared_conn, email="mallory@example.com")
    token = tamper_role(user.token, "service_role")
    response = shared_proxy.rpc(LOOKUP, token=token)
    assert_jwt_401(response, "PGRST301", "JWT cryptographic operation failed", token)


@pytest.mark.parametrize("role", ["postgres", "authenticator", "supabase_admin"])
def test_signed_token_with_other_role_is_401(
    shared_proxy: Proxy, untouched: None, role: str
) -> None:
    """Only anon, authenticated and service_role may be assumed, even with a valid signature."""
    token = keys.sign({"role": role})
    assert_jwt_401(
        shared_proxy.rpc(LOOKUP, token=token), "PGRST303", "JWT role is not allowed", token
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-jwt", "Expected 3 parts in JWT; got 1"),
        ("a.b", "Expected 3 parts in JWT; got 2"),
        ("a.b.c", "JWT couldn't be decoded"),
    ],
)
def test_malformed_token_is_401(
    shared_proxy: Proxy, untouched: None, token: str, message: str
) -> None:
    """Garbage in the Authorization header is PGRST301 with PostgREST's wording."""
    assert_jwt_401(shared_proxy.rpc(LOOKUP, token=token), "PGRST301", message, token)


def test_empty_bearer_is_401(shared_proxy: Proxy) -> None:
    """``Authorization: Bearer`` with nothing after it."""
    response = shared_proxy.post(
        "/rest/v1/rpc/customer_management",
        LOOKUP,
        token=None,
        headers={"Authorization": "Bearer"},
    )
    assert response.status_code == 401
    assert response.json()["message"] == "Empty JWT is sent in Authorization header"


def test_invalid_apikey_is_401_even_with_a_valid_bearer(
    shared_proxy: Proxy, untouched: None
) -> None:
    """The apikey must be a key of this project, as Supabase's gateway checks."""
    foreign = keys.anon_key("another-secret-that-is-at-least-32-chars-long")
    response = shared_proxy.rpc(LOOKUP, token=SERVICE_KEY, apikey=foreign)
    assert response.status_code == 401
    body = response.json()
    assert body["message"] == "Invalid API key"
    assert body["details"] == "JWT cryptographic operation failed"


def test_user_token_is_not_an_apikey(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]
) -> None:
    """A user's access token in the apikey slot is refused (only anon/service_role keys)."""
    user = make_user(shared_conn, email="keyless@example.com")
    response = shared_proxy.rpc(LOOKUP, token=None, apikey=user.token)
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid API key"


def test_anon_key_reaches_sql_and_gets_401(shared_proxy: Proxy) -> None:
    """A valid anon key is a real (anonymous) caller: SQL refuses it, PostgREST-style 401."""
    response = shared_proxy.rpc(LOOKUP, token=None, apikey=ANON_KEY)
    assert response.status_code == 401
    assert response.json()["code"] == "42501"
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_without_role_claim_is_anon(shared_proxy: Proxy) -> None:
    """No role claim means the anon role (PostgREST's db-anon-role)."""
    response = shared_proxy.rpc(LOOKUP, token=keys.sign({"sub": "x"}))
    assert response.status_code == 401
    assert response.json()["code"] == "42501"


def _es256_jwks() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """An ES256 key pair (Supabase's asymmetric signing keys) and its public JWKS JSON."""
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": "test-key", "alg": "ES256", "use": "sig"})
    return private, json.dumps({"keys": [public_jwk]})


def test_jwks_inline_verifies_asymmetric_tokens(
    shared_db_url: str, shared_conn: psycopg.Connection[Any]
) -> None:
    """With a JWKS, ES256 user tokens verify; HS256 keys keep working; a foreign key fails."""
    private, jwks = _es256_jwks()
    server = start_proxy(Settings(db_url=as_authenticator(shared_db_url), jwks_json=jwks))
    try:
        user = make_user(shared_conn, email="es256@example.com")
        token = jwt.encode(user.claims, private, algorithm="ES256", headers={"kid": "test-key"})
        body = {"email": "es256@example.com", "source": "webapp"}
        headers = {"apikey": ANON_KEY, "Authorization": f"Bearer {token}"}
        ok = httpx.post(f"{server.url}/rest/v1/rpc/customer_management", json=body, headers=headers)
        assert ok.status_code == 200, ok.text
        other, _ = _es256_jwks()
        forged = jwt.encode(user.claims, other, algorithm="ES256", headers={"kid": "test-key"})
        headers["Authorization"] = f"Bearer {forged}"
        refused = httpx.post(
            f"{server.url}/rest/v1/rpc/customer_management", json=body, headers=headers
        )
        assert refused.status_code == 401
        assert refused.json()["message"] == "JWT cryptographic operation failed"
    finally:
        server.stop()


def test_jwks_url_is_fetched(shared_db_url: str, shared_conn: psycopg.Connection[Any]) -> None:
    """``SUPABASE_JWKS_URL`` (``/auth/v1/.well-known/jwks.json``) is fetched and cached."""
    private, jwks = _es256_jwks()
    hits: list[str] = []

    class JwksHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            payload = jwks.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = HTTPServer(("127.0.0.1", 0), JwksHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    jwks_url = f"http://127.0.0.1:{httpd.server_port}/auth/v1/.well-known/jwks.json"
    server = start_proxy(Settings(db_url=as_authenticator(shared_db_url), jwks_url=jwks_url))
    try:
        user = make_user(shared_conn, email="jwks-url@example.com")
        token = jwt.encode(user.claims, private, algorithm="ES256", headers={"kid": "test-key"})
        for _ in range(2):
            response = httpx.post(
                f"{server.url}/rest/v1/rpc/customer_management",
                json={"email": "jwks-url@example.com", "source": "webapp"},
                headers={"apikey": ANON_KEY, "Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
        assert hits == ["/auth/v1/.well-known/jwks.json"]
    finally:
        server.stop()
        httpd.shutdown()


def test_hs256_token_is_refused_when_only_a_jwks_is_configured(shared_db_url: str) -> None:
    """No secret configured: an HS256 token cannot be verified, so it is refused."""
    _, jwks = _es256_jwks()
    settings = Settings(db_url=as_authenticator(shared_db_url), jwt_secret=None, jwks_json=jwks)
    server = start_proxy(settings)
    try:
        response = httpx.post(
            f"{server.url}/functions/v1/customer-management",
            json=LOOKUP,
            headers={"Authorization": f"Bearer {SERVICE_KEY}"},
        )
        assert response.status_code == 401
        assert response.json()["message"] == "Wrong or unsupported encoding algorithm"
    finally:
        server.stop()
