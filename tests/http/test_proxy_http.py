"""The HTTP surface around the RPC: CORS, size limit, JSON checks, routing, health, logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from customer_management.proxy import Settings
from support.proxy import (
    ANON_KEY,
    SERVICE_KEY,
    Proxy,
    as_authenticator,
    serving,
    start_proxy,
)

pytest_plugins = ["support.proxy_fixtures"]

LOOKUP = {"phone": "+15551234567", "source": "chatbot"}
TOO_LARGE = {
    "code": "PT413",
    "details": "The request body is larger than 16 KB.",
    "hint": "Send only the documented fields.",
    "message": "payload_too_large",
}


@pytest.mark.parametrize(
    "path", ["/functions/v1/customer-management", "/rest/v1/rpc/customer_management"]
)
def test_cors_preflight(shared_proxy: Proxy, path: str) -> None:
    """A browser's preflight gets Supabase's answer: 200 ok, any origin, its headers."""
    response = shared_proxy.http.options(
        shared_proxy.url + path,
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-client-info, apikey, "
            "content-type, accept-profile",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    allowed = [h.strip() for h in response.headers["access-control-allow-headers"].split(",")]
    assert allowed[:4] == ["authorization", "x-client-info", "apikey", "content-type"]
    assert "accept-profile" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]


def test_cors_header_on_answers_and_errors(shared_proxy: Proxy) -> None:
    """Every answer to a page, errors included, allows any origin and exposes Retry-After."""
    page = {"Origin": "https://shop.example.com"}
    ok = shared_proxy.function(LOOKUP, headers=page)
    error = shared_proxy.function({"source": "chatbot"}, headers=page)
    for response in (ok, error):
        assert response.headers["access-control-allow-origin"] == "*"
        assert "retry-after" in response.headers["access-control-expose-headers"]
    assert (ok.status_code, error.status_code) == (200, 400)


@pytest.mark.parametrize(
    "path", ["/functions/v1/customer-management", "/rest/v1/rpc/customer_management"]
)
def test_body_over_16kb_is_413(shared_proxy: Proxy, path: str) -> None:
    """Content-Length over 16 KB: 413 before reading, same body as the SQL check."""
    body = {**LOOKUP, "notes": "x" * 17000}
    response = shared_proxy.post(path, body)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def test_chunked_body_over_16kb_is_413(shared_proxy: Proxy) -> None:
    """Without Content-Length (chunked), the bytes actually read are counted."""

    def chunks() -> Iterator[bytes]:
        yield b'{"phone": "+15551234567", "source": "chatbot", "notes": "'
        for _ in range(20):
            yield b"x" * 1024
        yield b'"}'

    response = shared_proxy.http.post(
        shared_proxy.url + "/functions/v1/customer-management",
        content=chunks(),
        headers={"Authorization": f"Bearer {SERVICE_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def test_body_of_exactly_16kb_is_read(shared_proxy: Proxy) -> None:
    """The limit is inclusive: 16384 bytes pass (laid out as jsonb prints, so the SQL check,
    which measures the jsonb text, passes too)."""
    prefix = json.dumps(LOOKUP)[:-1] + ', "notes": "'
    raw = (prefix + "x" * (16384 - len(prefix) - 2) + '"}').encode()
    assert len(raw) == 16384
    response = shared_proxy.function(
        None, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("raw", [b'{"phone": ', b"\xff\xfe", b"NaN", b"{'a': 1}"])
def test_invalid_json_is_pgrst102(shared_proxy: Proxy, raw: bytes) -> None:
    """Not UTF-8 JSON: PostgREST's 400 PGRST102 on both routes."""
    for route in ("/functions/v1/customer-management", "/rest/v1/rpc/customer_management"):
        response = shared_proxy.post(
            route, content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json() == {
            "code": "PGRST102",
            "details": None,
            "hint": None,
            "message": "Empty or invalid json",
        }


def test_empty_body_is_an_empty_object(shared_proxy: Proxy) -> None:
    """PostgREST calls an RPC with ``{}`` for an empty body: here missing source -> 400."""
    response = shared_proxy.rpc(None, content=b"")
    assert response.status_code == 400
    assert response.json()["message"] == "invalid_source"


def test_unknown_function_is_pgrst202(shared_proxy: Proxy) -> None:
    """Only functions of schema public exist; the 404 reads like PostgREST's."""
    response = shared_proxy.post("/rest/v1/rpc/customer_managment", LOOKUP)
    assert response.status_code == 404
    assert response.json() == {
        "code": "PGRST202",
        "details": "Searched for the function public.customer_managment with parameters "
        "phone, source or with a single unnamed json/jsonb parameter, but no matches were "
        "found in the schema cache.",
        "hint": "Perhaps you meant to call the function public.customer_management",
        "message": "Could not find the function public.customer_managment(phone, source) "
        "in the schema cache",
    }


@pytest.mark.parametrize(
    "name", ["resolve_customer", "customer_management.resolve_customer", "current_caller", "uid"]
)
def test_internal_functions_are_not_exposed(shared_proxy: Proxy, name: str) -> None:
    """customer_management.* and auth.* are unreachable, whatever the name looks like."""
    response = shared_proxy.post(f"/rest/v1/rpc/{name}", {})
    assert response.status_code == 404
    assert response.json()["code"] == "PGRST202"


def test_other_schema_profile_is_406(shared_proxy: Proxy) -> None:
    """Content-Profile: private is refused like PostgREST's PGRST106."""
    response = shared_proxy.rpc(LOOKUP, headers={"Content-Profile": "private"})
    assert response.status_code == 406
    assert response.json()["code"] == "PGRST106"
    assert response.json()["hint"] == "Only the following schemas are exposed: public"


def test_get_is_405(shared_proxy: Proxy) -> None:
    """The kit's functions write, so only POST is served: GET is PostgREST's PGRST101."""
    response = shared_proxy.http.get(
        shared_proxy.url + "/rest/v1/rpc/customer_management", headers={"apikey": ANON_KEY}
    )
    assert response.status_code == 405
    assert response.json() == {
        "code": "PGRST101",
        "details": None,
        "hint": None,
        "message": "Cannot use the GET method on RPC",
    }
    assert response.headers["allow"] == "OPTIONS,POST"


# Each route, the methods its Allow names (OPTIONS answers them), the code of its 405.
ROUTES = [
    ("/rest/v1/rpc/customer_management", "OPTIONS,POST", "PGRST101"),
    ("/rest/v1/", "OPTIONS,GET,HEAD", "PGRST117"),
    ("/health", "OPTIONS,GET,HEAD", "PGRST117"),
    ("/functions/v1/customer-management", "POST, OPTIONS", "PGRST117"),
    ("/console/", "GET, HEAD", "PGRST117"),
]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY")


@pytest.mark.parametrize(("path", "allow", "code"), ROUTES)
def test_methods_and_allow_agree(shared_proxy: Proxy, path: str, allow: str, code: str) -> None:
    """Every method a route's Allow names is served (none answers 405); every other method
    is 405 with the same Allow and PostgREST's error body; a plain OPTIONS (not a CORS
    preflight) answers Allow when Allow names it."""
    allowed = {method.strip() for method in allow.split(",")}
    headers = {"apikey": SERVICE_KEY, "Authorization": f"Bearer {SERVICE_KEY}"}
    for method in METHODS:
        response = shared_proxy.http.request(
            method, shared_proxy.url + path, headers=headers, json=LOOKUP
        )
        if method in allowed:
            assert response.status_code != 405, (method, response.text)
            continue
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == allow, method
        if method != "HEAD":
            assert response.headers["content-type"].startswith("application/json")
            assert response.json() == {
                "code": code,
                "details": None,
                "hint": None,
                "message": f"Cannot use the {method} method on RPC"
                if code == "PGRST101"
                else f"Unsupported HTTP method: {method}",
            }
    if "OPTIONS" in allowed:
        options = shared_proxy.http.options(shared_proxy.url + path, headers=headers)
        assert options.status_code == 200
        if path.startswith("/rest/v1"):
            assert options.headers["allow"] == allow  # PostgREST's answer: Allow, no body
            assert options.content == b""


def test_options_needs_a_key_and_a_function(shared_proxy: Proxy) -> None:
    """Like every request to /rest/v1: no apikey is 401; an unknown function is 404."""
    url = shared_proxy.url + "/rest/v1/rpc/"
    missing = shared_proxy.http.options(url + "customer_management")
    assert missing.status_code == 401 and missing.json()["code"] == "PGRST302"
    unknown = shared_proxy.http.options(url + "no_such_function", headers={"apikey": ANON_KEY})
    assert unknown.status_code == 404 and unknown.json()["code"] == "PGRST202"


def test_unknown_edge_function_and_path_are_404(shared_proxy: Proxy) -> None:
    """Other function names and paths: JSON 404s."""
    function = shared_proxy.post("/functions/v1/hello-world", {})
    assert function.status_code == 404
    assert function.json()["message"] == "Requested function was not found"
    other = shared_proxy.http.get(shared_proxy.url + "/rest/v1/customers")
    assert other.status_code == 404
    assert other.json()["code"] == "PGRST125"


def test_health(shared_proxy: Proxy) -> None:
    """``GET /health`` needs no key and checks the database."""
    response = shared_proxy.http.get(shared_proxy.url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_reports_an_unreachable_database() -> None:
    """With the database down, /health is 503 and calls are 503/504, never a traceback."""
    settings = Settings(
        db_url="postgresql://authenticator@127.0.0.1:1/postgres?connect_timeout=1",
        pool_timeout_seconds=0.5,
    )
    server = start_proxy(settings)
    try:
        import httpx

        health = httpx.get(server.url + "/health", timeout=10)
        assert health.status_code == 503
        call = httpx.post(
            server.url + "/functions/v1/customer-management",
            json=LOOKUP,
            headers={"Authorization": f"Bearer {SERVICE_KEY}"},
            timeout=10,
        )
        assert call.status_code in (503, 504)
        assert call.json()["code"] in ("PGRST000", "PGRST003")
        assert "Traceback" not in call.text
    finally:
        server.stop()


@pytest.fixture
def named_params_proxy(db_url: str, conn: psycopg.Connection[Any]) -> Iterator[Proxy]:
    """A proxy on a database with a test-only function taking named parameters."""
    conn.execute(
        """
        create function public.greet(name text, times integer default 1,
                                     tags text[] default '{}')
        returns jsonb language sql stable as $$
            select jsonb_build_object('greeting', repeat('hi ' || name || ' ', times),
                                      'tags', to_jsonb(tags), 'role', current_user)
        $$;
        create function public.roll() returns setof integer language sql as
            $$ select * from generate_series(1, 3) $$;
        create function public.nothing() returns void language sql as $$ select $$;
        """
    )
    with serving(Settings(db_url=as_authenticator(db_url))) as proxy:
        yield proxy


def test_named_parameters_map_by_name(named_params_proxy: Proxy) -> None:
    """Keys name parameters; defaults may be left out; values keep their JSON types."""
    proxy = named_params_proxy
    response = proxy.post("/rest/v1/rpc/greet", {"name": "Ann", "times": 2, "tags": ["a"]})
    assert response.status_code == 200, response.text
    assert response.json() == {"greeting": "hi Ann hi Ann ", "tags": ["a"], "role": "service_role"}
    short = proxy.post("/rest/v1/rpc/greet", {"name": "Bo"}, token=ANON_KEY)
    assert short.json()["role"] == "anon"
    unknown = proxy.post("/rest/v1/rpc/greet", {"name": "Ann", "colour": "red"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "PGRST202"
    missing = proxy.post("/rest/v1/rpc/greet", {"times": 2})
    assert missing.status_code == 404


def test_set_returning_and_void_functions(named_params_proxy: Proxy) -> None:
    """A set comes back as a JSON array; a void function answers 204 without a body."""
    rows = named_params_proxy.post("/rest/v1/rpc/roll", {})
    assert rows.status_code == 200
    assert rows.json() == [1, 2, 3]
    void = named_params_proxy.post("/rest/v1/rpc/nothing", {})
    assert void.status_code == 204
    assert void.content == b""


def test_one_structured_log_line_per_request(
    shared_proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    """method, path, status, latency, role; never the body, the query string or a token."""
    caplog.set_level(logging.INFO, logger="customer_management.proxy.access")
    secret_phone = "+15557654321"
    shared_proxy.http.post(
        f"{shared_proxy.url}/rest/v1/rpc/customer_management?apikey={ANON_KEY}",
        json={"phone": secret_phone, "source": "chatbot"},
        headers={"Authorization": f"Bearer {SERVICE_KEY}"},
    )
    shared_proxy.function({"source": "chatbot"})
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("proxy.access")]
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["method"] == "POST"
    assert first["path"] == "/rest/v1/rpc/customer_management"
    assert first["status"] == 200
    assert first["role"] == "service_role"
    assert isinstance(first["latency_ms"], float)
    assert first["code"] is None
    assert (second["status"], second["code"]) == (400, "P0001")
    for line in lines:
        assert secret_phone not in line
        assert ANON_KEY not in line and SERVICE_KEY not in line
        assert "apikey" not in line
