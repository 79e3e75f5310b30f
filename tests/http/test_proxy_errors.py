"""Every error the kit raises reaches HTTP as PostgREST would send it, on both routes.

Each case is compared with the same call made directly in SQL (``helpers.expect_error``):
the body is exactly ``{code: SQLSTATE, details: DETAIL, hint: HINT, message: MESSAGE}`` and
the status follows PostgREST's table (``customer_management.statuses``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from customer_management.local import keys
from support.helpers import expect_error
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, make_user

pytest_plugins = ["support.proxy_fixtures"]

ROUTES = ("/rest/v1/rpc/customer_management", "/functions/v1/customer-management")
PHONE = "+15551234567"

# (kit code, body, HTTP status) for the service role.
SERVICE_CASES: list[tuple[str, Any, int]] = [
    ("invalid_request", {"phone": 15551234567, "source": "chatbot"}, 400),
    ("invalid_request", [{"phone": PHONE, "source": "chatbot"}], 400),
    ("invalid_request", {"phone": PHONE, "source": "chatbot", "mergeIfFound": "yes"}, 400),
    ("missing_identifier", {"source": "chatbot"}, 400),
    ("missing_identifier", {"email": "chatbot_temp@temp.local", "source": "chatbot"}, 400),
    ("invalid_source", {"phone": PHONE, "source": "fax"}, 400),
    ("invalid_source", {"phone": PHONE}, 400),
    ("invalid_phone", {"phone": "555-CALL-NOW", "source": "chatbot"}, 400),
    ("invalid_phone", {"phone": "+1555", "source": "chatbot"}, 400),
    ("invalid_email", {"email": "not an email", "source": "webapp"}, 400),
    ("invalid_auth_user_id", {"authUserId": "abc123", "source": "webapp"}, 400),
    ("unknown_auth_user", {"authUserId": str(uuid.uuid4()), "source": "webapp"}, 400),
    ("name_too_long", {"phone": PHONE, "firstName": "x" * 201, "source": "chatbot"}, 400),
    ("invalid_name", {"phone": PHONE, "firstName": "Al\u0007ice", "source": "chatbot"}, 400),
    ("invalid_allergies", {"phone": PHONE, "allergies": "nuts", "source": "chatbot"}, 400),
    ("invalid_allergies", {"phone": PHONE, "allergies": [""], "source": "chatbot"}, 400),
    # Under 16 KB as sent, over 16 KB as jsonb text: the SQL check raises PT413.
    ("payload_too_large", {"phone": PHONE, "source": "chatbot", "x": [1] * 7000}, 413),
]


def body_of(error: dict[str, str | None]) -> dict[str, str | None]:
    """The PostgREST body for an ``expect_error`` result."""
    return {
        "code": error["sqlstate"],
        "details": error["detail"],
        "hint": error["hint"],
        "message": error["message"],
    }


def post_both(proxy: Proxy, body: Any, token: str) -> list[httpx.Response]:
    """The same call on the RPC route and on the Edge Function route."""
    return [proxy.post(route, body, token=token) for route in ROUTES]


@pytest.mark.parametrize(
    ("code", "body", "status"),
    SERVICE_CASES,
    ids=[f"{code}-{i}" for i, (code, _, _) in enumerate(SERVICE_CASES)],
)
def test_service_role_errors(
    shared_proxy: Proxy,
    shared_conn: psycopg.Connection[Any],
    code: str,
    body: Any,
    status: int,
) -> None:
    """Validation errors: P0001 -> 400, PT413 -> 413, with the SQL error's exact fields."""
    expected = body_of(expect_error(shared_conn, body))
    assert expected["message"] == code
    assert len(json.dumps(body, separators=(",", ":"))) <= 16384  # as JSON.stringify sends it
    for response in post_both(shared_proxy, body, SERVICE_KEY):
        assert response.status_code == status, response.text
        assert response.json() == expected
        assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_forbidden_is_403(shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]) -> None:
    """An end user naming another user's id: 42501 ``forbidden`` for an authenticated role."""
    user = make_user(shared_conn, email="dana@example.com")
    body = {"email": "dana@example.com", "authUserId": str(uuid.uuid4()), "source": "webapp"}
    expected = body_of(expect_error(shared_conn, body, "authenticated", user.claims))
    assert expected["message"] == "forbidden"
    for response in post_both(shared_proxy, body, user.token):
        assert response.status_code == 403
        assert response.json() == expected


def test_not_authenticated_with_authenticated_role_is_401(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]
) -> None:
    """A token of the authenticated role without ``sub``: the kit's ``not_authenticated``,
    raised as PT401, so 401 whatever the role."""
    claims = {"role": "authenticated", "aud": "authenticated"}
    body = {"email": "nobody@example.com", "source": "webapp"}
    expected = body_of(expect_error(shared_conn, body, "authenticated", claims))
    assert expected["message"] == "not_authenticated"
    for response in post_both(shared_proxy, body, keys.sign(claims)):
        assert response.status_code == 401
        assert response.json() == expected


def test_deleted_user_is_not_authenticated(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]
) -> None:
    """A still-valid token of a user deleted from auth.users is refused."""
    user = make_user(shared_conn, email="gone@example.com")
    shared_conn.execute("delete from auth.users where id = %s", (user.id,))
    body = {"email": "gone@example.com", "source": "webapp"}
    expected = body_of(expect_error(shared_conn, body, "authenticated", user.claims))
    for response in post_both(shared_proxy, body, user.token):
        assert response.status_code == 401
        assert response.json() == expected
        assert response.json()["message"] == "not_authenticated"


def test_anon_is_401(shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]) -> None:
    """The anon key alone: no EXECUTE on the function, 42501, and 401 because anon."""
    body = {"phone": PHONE, "source": "chatbot"}
    expected = body_of(expect_error(shared_conn, body, "anon"))
    assert expected["code"] == "42501"
    for response in post_both(shared_proxy, body, ANON_KEY):
        assert response.status_code == 401
        assert response.json() == expected


def test_nul_escape_is_postgres_22p05(
    shared_proxy: Proxy, shared_conn: psycopg.Connection[Any]
) -> None:
    """``\\u0000`` is valid JSON but not jsonb: PostgreSQL's 22P05, a 400 as in PostgREST."""
    raw = '{"phone": "+15551234567", "source": "chatbot", "firstName": "A\\u0000"}'
    with pytest.raises(psycopg.Error) as caught:
        shared_conn.execute("select %s::jsonb", (raw,))
    diag = caught.value.diag
    expected = {
        "code": "22P05",
        "details": diag.message_detail,
        "hint": diag.message_hint,
        "message": diag.message_primary,
    }
    for route in ROUTES:
        response = shared_proxy.post(
            route, content=raw.encode(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json() == expected


@pytest.mark.parametrize("route", ROUTES)
def test_rate_limited_is_429_with_retry_after(
    proxy: Proxy, conn: psycopg.Connection[Any], route: str
) -> None:
    """PT429 -> 429, ``Retry-After`` = the N of the hint ``Retry after N seconds.``."""
    has_limits = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'customer_management' "
        "and table_name = 'settings' and column_name = 'rate_limit_per_identifier_per_minute'"
    ).fetchone()
    if not has_limits:
        pytest.skip(
            "customer_management.settings.rate_limit_per_identifier_per_minute is not in the schema"
        )
    conn.execute("update customer_management.settings set rate_limit_per_identifier_per_minute = 2")
    body = {"phone": PHONE, "source": "chatbot"}
    statuses = [proxy.post(route, body).status_code for _ in range(2)]
    assert statuses == [200, 200]
    response = proxy.post(route, body)
    assert response.status_code == 429
    error = response.json()
    assert error["code"] == "PT429"
    assert error["message"] == "rate_limited"
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert error["hint"] == f"Retry after {seconds} seconds."
