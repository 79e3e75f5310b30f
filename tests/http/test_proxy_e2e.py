"""Three scenarios (chatbot then web, web then chatbot, a conflict) end to end with the
real supabase-py against the proxy.

The chatbot uses the service-role key; web users use the anon key plus an access token made
the way ``customer-management token`` makes it (``localauth``). Both routes are exercised:
``supabase.rpc("customer_management", ...)`` and ``supabase.functions.invoke(...)``.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from supabase import Client as SupabaseClient
from supabase import ClientOptions, create_client
from supabase_functions.errors import FunctionsHttpError

from customer_management.local import auth_users
from support.helpers import call_rpc
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy

pytest_plugins = ["support.proxy_fixtures"]
# supabase-py passes deprecated arguments to its own sub-clients; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:supabase")

Conn = psycopg.Connection[Any]


def supabase_for(proxy: Proxy, key: str, access_token: str | None = None) -> SupabaseClient:
    """A stock supabase-py client for the proxy, signed in when given an access token."""
    options = (
        ClientOptions(headers={"Authorization": f"Bearer {access_token}"}) if access_token else None
    )
    return create_client(proxy.url, key, options)


def invoke(client: SupabaseClient, body: dict[str, Any]) -> Any:
    """``functions.invoke("customer-management")`` and parse its JSON."""
    raw = client.functions.invoke("customer-management", invoke_options={"body": body})
    assert isinstance(raw, bytes)
    return json.loads(raw)


def rpc(client: SupabaseClient, body: dict[str, Any]) -> Any:
    """``rpc("customer_management", body).execute().data``."""
    return client.rpc("customer_management", body).execute().data


def coded(client: SupabaseClient, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with a verification code for its email, issued through
    ``rpc("request_verification")`` as the chatbot's backend does (and read back)."""
    issued = (
        client.rpc(
            "request_verification", {"identifier_type": "email", "identifier_value": body["email"]}
        )
        .execute()
        .data
    )
    return {**body, "verification": {"id": issued["verificationId"], "code": issued["code"]}}


def web_user(conn: Conn, email: str, phone: str | None = None) -> tuple[str, str]:
    """A confirmed local auth user (as ``customer-management token --confirmed``)."""
    user = auth_users.ensure_user(conn, email, phone, confirmed=True)
    return str(user.id), user.token()


def sql_text(conn: Conn, body: dict[str, Any], role: str, claims: dict[str, Any]) -> str:
    """The RPC's own JSON text, called in SQL exactly as PostgREST would call it."""
    with conn.transaction():
        conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(claims)),
        )
        row = conn.execute(
            "select public.customer_management(%s::jsonb)::text", (json.dumps(body),)
        ).fetchone()
    assert row is not None
    return str(row[0])


def customer_count(conn: Conn) -> int:
    """Rows in public.customers (merged accounts stay as tombstones)."""
    row = conn.execute("select count(*) from public.customers").fetchone()
    assert row is not None
    return int(row[0])


def test_scenario_1_chatbot_first_then_web_app(proxy: Proxy, conn: Conn) -> None:
    """Alice calls the chatbot, later signs up on the web: one account, both sources."""
    chatbot = supabase_for(proxy, SERVICE_KEY)
    first = rpc(chatbot, {"phone": "+15555551234", "firstName": "Alice", "source": "chatbot"})
    assert first["customer"]["isNewAccount"] is True
    assert first["customer"]["accountSources"] == ["chatbot"]

    user_id, token = web_user(conn, "alice@gmail.com", "+15555551234")
    web = supabase_for(proxy, ANON_KEY, token)
    body = {
        "email": "alice@gmail.com",
        "phone": "+15555551234",
        "authUserId": user_id,
        "source": "webapp",
    }
    second = invoke(web, body)
    customer = second["customer"]
    assert customer["id"] == first["customer"]["id"]
    assert customer["isNewAccount"] is False
    assert customer["email"] == "alice@gmail.com"
    assert customer["phone"] == "+15555551234"
    assert customer["accountSources"] == ["chatbot", "webapp"]
    assert "web app access" in second["summary"]

    again = invoke(chatbot, {"phone": "+15555551234", "source": "chatbot"})
    assert again["customer"]["id"] == first["customer"]["id"]
    assert again["customer"]["email"] == "alice@gmail.com"
    assert customer_count(conn) == 1


def test_scenario_2_web_app_first_then_chatbot(proxy: Proxy, conn: Conn) -> None:
    """Bob signs up on the web, later calls the chatbot and proves his email with a code:
    no duplicate."""
    user_id, token = web_user(conn, "bob@gmail.com")
    web = supabase_for(proxy, ANON_KEY, token)
    first = rpc(
        web,
        {"email": "bob@gmail.com", "authUserId": user_id, "firstName": "Bob", "source": "webapp"},
    )
    assert first["customer"]["isNewAccount"] is True
    assert first["customer"]["accountSources"] == ["webapp"]

    # Bob calls and says his email; the chatbot sends him a code and he reads it back.
    chatbot = supabase_for(proxy, SERVICE_KEY)
    said = {"phone": "+15555555678", "email": "bob@gmail.com", "firstName": "Bob"}
    second = invoke(chatbot, coded(chatbot, {**said, "source": "chatbot"}))
    assert second["customer"]["id"] == first["customer"]["id"]
    assert second["customer"]["phone"] == "+15555555678"
    assert second["customer"]["accountSources"] == ["webapp", "chatbot"]
    assert second["summary"].startswith("Welcome back Bob!")
    assert customer_count(conn) == 1

    mine = rpc(web, {"email": "bob@gmail.com", "source": "webapp"})
    assert mine["customer"]["phone"] == "+15555555678"


def test_scenario_3_conflict_then_merge(proxy: Proxy, conn: Conn) -> None:
    """Two accounts, both identifiers given: the conflict shape (200 on rpc, 409 on the
    function); the chatbot merges with mergeIfFound; a web user proving both identifiers
    afterwards never sees an account id other than their own."""
    chatbot = supabase_for(proxy, SERVICE_KEY)
    _, charlie = web_user(conn, "charlie@gmail.com")
    web = supabase_for(proxy, ANON_KEY, charlie)
    a = rpc(web, {"email": "charlie@gmail.com", "source": "webapp"})["customer"]
    b = rpc(chatbot, {"phone": "+15555559999", "source": "chatbot"})["customer"]
    both = {"email": "charlie@gmail.com", "phone": "+15555559999", "source": "chatbot"}

    conflict = rpc(chatbot, coded(chatbot, both))
    assert conflict["error"] == "Account conflict"
    assert conflict["conflicts"]["found"] is True
    assert {acc["id"] for acc in conflict["conflicts"]["accounts"]} == {a["id"], b["id"]}
    assert conflict["conflicts"]["suggestedActions"][0] == "Link accounts automatically"

    with pytest.raises(FunctionsHttpError) as raised:
        chatbot.functions.invoke(
            "customer-management", invoke_options={"body": coded(chatbot, both)}
        )
    assert raised.value.status == 409
    assert raised.value.message == "Account conflict"
    raw = proxy.function(coded(chatbot, both))
    assert raw.status_code == 409
    assert raw.json() == conflict

    merged = invoke(chatbot, coded(chatbot, {**both, "mergeIfFound": True}))
    survivor = merged["customer"]
    assert survivor["id"] in {a["id"], b["id"]}
    assert survivor["email"] == "charlie@gmail.com"
    assert survivor["phone"] == "+15555559999"
    by_email = rpc(chatbot, {"email": "charlie@gmail.com", "source": "webapp"})
    assert by_email["customer"]["id"] == survivor["id"]

    _, token = web_user(conn, "charlie@gmail.com", "+15555559999")
    web = supabase_for(proxy, ANON_KEY, token)
    answer = rpc(web, {"email": "charlie@gmail.com", "phone": "+15555559999", "source": "webapp"})
    landed = answer.get("customer", {}).get("id")
    for other in {a["id"], b["id"]} - {landed}:
        assert other not in json.dumps(answer)


def test_proxy_answers_equal_the_rpc_json(proxy: Proxy, conn: Conn) -> None:
    """Byte for byte: the proxy's body on both routes is the function's own jsonb text."""
    call_rpc(
        conn,
        {"phone": "+15555551234", "firstName": "Ann", "allergies": ["nuts"], "source": "chatbot"},
    )
    call_rpc(conn, {"email": "ann@example.com", "source": "webapp"})
    user_id, token = web_user(conn, "zoe@example.com", "+15555550000")
    call_rpc(conn, {"email": "zoe@example.com", "authUserId": user_id, "source": "webapp"})
    user_claims = {
        "role": "authenticated",
        "sub": user_id,
        "email": "zoe@example.com",
        "phone": "15555550000",
    }

    cases: list[tuple[dict[str, Any], str, str, dict[str, Any], int]] = [
        (
            {"phone": "+15555551234", "source": "chatbot"},
            SERVICE_KEY,
            "service_role",
            {"role": "service_role"},
            200,
        ),
        (
            {"phone": "+15555551234", "email": "ann@example.com", "source": "webapp"},
            SERVICE_KEY,
            "service_role",
            {"role": "service_role"},
            409,
        ),
        (
            {"email": "zoe@example.com", "source": "webapp"},
            token,
            "authenticated",
            user_claims,
            200,
        ),
    ]
    for body, key, role, claims, function_status in cases:
        via_rpc = proxy.rpc(body, token=key)
        via_function = proxy.function(body, token=key)
        expected = sql_text(conn, body, role, claims)
        assert via_rpc.status_code == 200
        assert via_function.status_code == function_status
        assert via_rpc.text == expected
        assert via_function.text == expected
