"""Forward mode: a second proxy whose upstream "Supabase project" is the first proxy.

The forwarding proxy talks to its upstream only through supabase-py's PostgREST client, so
this is the path a self-hosted proxy in front of hosted Supabase takes. Its answers must be
the upstream's answers: same bodies, same statuses, same Retry-After.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from supabase import ClientOptions, create_client
from supabase_functions.errors import FunctionsHttpError

from customer_management.local import keys
from support.helpers import call_rpc
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, make_user

pytest_plugins = ["support.proxy_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:supabase")

Conn = psycopg.Connection[Any]


def test_scenarios_through_the_forwarding_proxy(
    forward_proxy: Proxy, proxy: Proxy, conn: Conn
) -> None:
    """supabase-py against the forwarder: create, merge on the web, conflict as 409."""
    chatbot = create_client(forward_proxy.url, SERVICE_KEY)
    first = (
        chatbot.rpc("customer_management", {"phone": "+15555551234", "source": "chatbot"})
        .execute()
        .data
    )
    assert first["customer"]["isNewAccount"] is True

    user = make_user(conn, email="alice@gmail.com", phone="+15555551234")
    web = create_client(
        forward_proxy.url,
        ANON_KEY,
        ClientOptions(headers={"Authorization": f"Bearer {user.token}"}),
    )
    raw = web.functions.invoke(
        "customer-management",
        invoke_options={
            "body": {"email": "alice@gmail.com", "phone": "+15555551234", "source": "webapp"}
        },
    )
    second = json.loads(raw)
    assert second["customer"]["id"] == first["customer"]["id"]
    assert second["customer"]["accountSources"] == ["chatbot", "webapp"]

    # The backend vouches for both identifiers it passes on: two accounts, a conflict.
    call_rpc(conn, {"email": "other@example.com", "source": "webapp"})
    both = {"phone": "+15555551234", "email": "other@example.com", "source": "webapp"}
    with pytest.raises(FunctionsHttpError) as raised:
        chatbot.functions.invoke("customer-management", invoke_options={"body": both})
    assert raised.value.status == 409
    direct = proxy.function(both)
    forwarded = forward_proxy.function(both)
    assert (direct.status_code, forwarded.status_code) == (409, 409)
    assert forwarded.text == direct.text


@pytest.mark.parametrize(
    ("body", "token_kind", "status"),
    [
        ({"phone": "12ab", "source": "chatbot"}, "service", 400),
        ({"phone": "+15551234567", "source": "chatbot"}, "anon", 401),
        (
            {
                "email": "eve@example.com",
                "authUserId": "00000000-0000-4000-8000-000000000000",
                "source": "webapp",
            },
            "user",
            403,
        ),
        ({"phone": "+15551234567", "source": "chatbot", "x": [1] * 7000}, "service", 413),
    ],
)
def test_errors_pass_through_unchanged(
    forward_proxy: Proxy, proxy: Proxy, conn: Conn, body: Any, token_kind: str, status: int
) -> None:
    """Status and PostgREST body are the upstream's, on both routes."""
    token = {"service": SERVICE_KEY, "anon": ANON_KEY}.get(token_kind)
    if token is None:
        token = make_user(conn, email="eve@example.com").token
    for route in ("/rest/v1/rpc/customer_management", "/functions/v1/customer-management"):
        direct = proxy.post(route, body, token=token)
        forwarded = forward_proxy.post(route, body, token=token)
        assert direct.status_code == status, direct.text
        assert forwarded.status_code == status
        assert forwarded.json() == direct.json()


def test_rate_limit_and_retry_after_pass_through(forward_proxy: Proxy, conn: Conn) -> None:
    """429 with the upstream's Retry-After."""
    conn.execute("update customer_management.settings set rate_limit_per_identifier_per_minute = 1")
    body = {"phone": "+15551234567", "source": "chatbot"}
    assert forward_proxy.function(body).status_code == 200
    limited = forward_proxy.function(body)
    assert limited.status_code == 429
    assert limited.json()["message"] == "rate_limited"
    assert limited.json()["hint"] == f"Retry after {limited.headers['retry-after']} seconds."


def test_success_bodies_are_identical(forward_proxy: Proxy, proxy: Proxy, conn: Conn) -> None:
    """Re-serialised upstream JSON is the same text jsonb prints (separators, unicode)."""
    call_rpc(
        conn,
        {
            "phone": "+15555551234",
            "firstName": "Zoë",
            "lastName": 'Ñúñez "Q"',
            "allergies": ["nuts", "crème"],
            "source": "chatbot",
        },
    )
    body = {"phone": "+15555551234", "source": "chatbot"}
    assert forward_proxy.rpc(body).text == proxy.rpc(body).text


def test_bad_tokens_stop_at_the_forwarder(forward_proxy: Proxy) -> None:
    """With key material configured, the forwarder verifies too: 401 without a round trip."""
    forged = keys.sign({"role": "service_role"}, "another-secret-that-is-at-least-32-chars-long")
    response = forward_proxy.rpc({"phone": "+15551234567", "source": "chatbot"}, token=forged)
    assert response.status_code == 401
    assert response.json()["code"] == "PGRST301"


def test_unknown_function_is_the_upstream_404(forward_proxy: Proxy) -> None:
    """PGRST202 from the upstream arrives as a 404 with the same body."""
    response = forward_proxy.post("/rest/v1/rpc/does_not_exist", {"a": 1})
    assert response.status_code == 404
    assert response.json()["code"] == "PGRST202"
