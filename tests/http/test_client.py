"""The thin client against the proxy: every typed answer and every typed exception."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

import customer_management
from customer_management import (
    Client,
    Conflict,
    ConflictResult,
    CustomerManagementError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Resolution,
    ServiceUnavailable,
)
from customer_management.client import error_from_fields, resolve_body
from customer_management.local import keys
from support.helpers import call_rpc
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, make_user
from support.security import within_one_clock_minute

pytest_plugins = ["support.proxy_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:supabase")

Conn = psycopg.Connection[Any]


def test_resolve_body_maps_snake_case_to_the_contract() -> None:
    """Keyword arguments become the contract's camelCase keys; None is left out."""
    assert resolve_body(
        source="webapp",
        email="a@b.co",
        first_name="John",
        last_name="Smith",
        phone="+15551234567",
        auth_user_id="u",
        merge_if_found=True,
        allergies=("nuts",),
    ) == {
        "phone": "+15551234567",
        "email": "a@b.co",
        "firstName": "John",
        "lastName": "Smith",
        "source": "webapp",
        "authUserId": "u",
        "allergies": ["nuts"],
        "mergeIfFound": True,
    }
    assert resolve_body(source="chatbot", phone="+15551234567") == {
        "phone": "+15551234567",
        "source": "chatbot",
    }


def test_package_exports_the_client() -> None:
    """``from customer_management import Client`` works (loaded lazily)."""
    assert customer_management.Client is Client
    assert "Client" in customer_management.__all__


def test_from_env() -> None:
    """SUPABASE_URL plus the first key found; the access token is optional."""
    client = Client.from_env(
        environ={"SUPABASE_URL": "http://127.0.0.1:1", "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY}
    )
    assert client.role == "service_role"
    web = Client.from_env(
        environ={
            "SUPABASE_URL": "http://127.0.0.1:1",
            "SUPABASE_ANON_KEY": ANON_KEY,
            "CUSTOMER_MANAGEMENT_ACCESS_TOKEN": keys.sign(keys.user_claims(uuid.uuid4())),
        }
    )
    assert web.role == "authenticated"
    with pytest.raises(RuntimeError, match="SUPABASE_URL"):
        Client.from_env(environ={})


def test_resolution_with_orders(proxy: Proxy, conn: Conn) -> None:
    """A found customer: typed Customer, Orders with Decimal totals and dates."""
    client = Client(proxy.url, SERVICE_KEY)
    created = client.resolve(
        phone="+15555551234",
        first_name="John",
        last_name="Smith",
        allergies=["nuts"],
        source="chatbot",
    )
    assert isinstance(created, Resolution)
    assert created.is_new_account
    assert created.customer.name == "John Smith"
    assert created.customer.allergies == ["nuts"]
    assert created.customer.account_sources == ["chatbot"]
    assert created.customer.internal_id == created.customer.id
    assert created.order_history == []
    conn.execute(
        "insert into public.orders (customer_id, items, total, status, delivery_date) "
        "values (%s, '[{\"sku\": \"berry-bouquet\"}]', 59.99, 'delivered', '2026-02-14')",
        (created.customer.id,),
    )
    found = client.resolve(phone="+15555551234", source="chatbot")
    assert isinstance(found, Resolution)
    assert not found.is_new_account
    (order,) = found.order_history
    assert order.total == Decimal("59.99")
    assert order.delivery_date == date(2026, 2, 14)
    assert isinstance(order.created_at, datetime)
    assert order.items == [{"sku": "berry-bouquet"}]
    assert order.status == "delivered"
    assert found.summary == "Welcome back John! You have 1 previous order."


def test_verification_required_and_notices(proxy: Proxy, conn: Conn) -> None:
    """An end user's unproven phone is pending; a placeholder email is a notice."""
    user = make_user(conn, email="web@example.com")
    client = Client(proxy.url, ANON_KEY, access_token=user.token)
    result = client.resolve(
        email="web@example.com", phone="+15555550101", auth_user_id=user.id, source="webapp"
    )
    assert isinstance(result, Resolution)
    assert [(v.type, v.value) for v in result.verification_required] == [("phone", "+15555550101")]
    chatbot = Client(proxy.url, SERVICE_KEY)
    noticed = chatbot.resolve(
        phone="+15555550202", email="chatbot_temp@temp.local", source="chatbot"
    )
    assert isinstance(noticed, Resolution)
    assert [(n.code, n.field) for n in noticed.notices] == [("placeholder_ignored", "email")]


def test_conflict_result_and_conflict_exception(proxy: Proxy, conn: Conn) -> None:
    """Several matches: ConflictResult by default, Conflict when asked to raise."""
    charlie = make_user(conn, email="charlie@gmail.com")
    a = Client(proxy.url, ANON_KEY, access_token=charlie.token).resolve(
        email="charlie@gmail.com", source="webapp"
    )
    assert isinstance(a, Resolution)
    b = call_rpc(conn, {"phone": "+15555559999", "source": "chatbot"})["customer"]["id"]
    client = Client(proxy.url, SERVICE_KEY)

    def proven() -> dict[str, str]:
        """Charlie reads back the code the chatbot had sent to his email."""
        code = client.request_verification("email", "charlie@gmail.com")
        return code.with_code(code.code)

    result = client.resolve(
        email="charlie@gmail.com", phone="+15555559999", source="chatbot", verification=proven()
    )
    assert isinstance(result, ConflictResult)
    assert result.error == "Account conflict"
    assert {acc.id for acc in result.accounts} == {a.customer.id, b}
    assert result.suggested_actions[0] == "Link accounts automatically"
    assert result.conflict_id is not None
    with pytest.raises(Conflict) as raised:
        client.resolve(
            email="charlie@gmail.com",
            phone="+15555559999",
            source="chatbot",
            verification=proven(),
            raise_on_conflict=True,
        )
    assert raised.value.status == 409
    assert raised.value.result == result
    merged = client.resolve(
        email="charlie@gmail.com",
        phone="+15555559999",
        source="chatbot",
        merge_if_found=True,
        verification=proven(),
    )
    assert isinstance(merged, Resolution)
    assert merged.customer.id == a.customer.id


def test_invalid_input(proxy: Proxy) -> None:
    """P0001 -> InvalidInput with PostgREST's fields and status 400."""
    client = Client(proxy.url, SERVICE_KEY)
    with pytest.raises(InvalidInput) as raised:
        client.resolve(phone="555-CALL-NOW", source="chatbot")
    error = raised.value
    assert (error.code, error.message, error.status) == ("P0001", "invalid_phone", 400)
    assert (
        error.details and error.hint == "Send the number in E.164 form, for example +15551234567."
    )
    assert str(error).startswith("invalid_phone: ")


def test_not_authenticated(proxy: Proxy, conn: Conn) -> None:
    """The anon key alone (42501 for anon) and an expired token (PGRST303): 401."""
    with pytest.raises(NotAuthenticated) as anon:
        Client(proxy.url, ANON_KEY).resolve(phone="+15551234567", source="chatbot")
    assert (anon.value.code, anon.value.status) == ("42501", 401)
    user = make_user(conn, email="late@example.com")
    expired = keys.sign({**user.claims, "exp": int(time.time()) - 120})
    with pytest.raises(NotAuthenticated) as late:
        Client(proxy.url, ANON_KEY, access_token=expired).resolve(
            email="late@example.com", source="webapp"
        )
    assert (late.value.code, late.value.message, late.value.status) == (
        "PGRST303",
        "JWT expired",
        401,
    )
    assert isinstance(late.value, Forbidden)  # NotAuthenticated is a kind of Forbidden


def test_forbidden(proxy: Proxy, conn: Conn) -> None:
    """An end user acting for another user id: Forbidden, 403."""
    user = make_user(conn, email="eve@example.com")
    client = Client(proxy.url, ANON_KEY, access_token=user.token)
    with pytest.raises(Forbidden) as raised:
        client.resolve(email="eve@example.com", auth_user_id=str(uuid.uuid4()), source="webapp")
    assert not isinstance(raised.value, NotAuthenticated)
    assert (raised.value.code, raised.value.message, raised.value.status) == (
        "42501",
        "forbidden",
        403,
    )


def test_rate_limited(proxy: Proxy, conn: Conn) -> None:
    """PT429 -> RateLimited with retry_after in seconds."""
    conn.execute("update customer_management.settings set rate_limit_per_identifier_per_minute = 1")
    client = Client(proxy.url, SERVICE_KEY)
    client.resolve(phone="+15551234567", source="chatbot")
    with pytest.raises(RateLimited) as raised:
        client.resolve(phone="+15551234567", source="chatbot")
    assert raised.value.status == 429
    assert 1 <= raised.value.retry_after <= 60
    assert raised.value.hint == f"Retry after {raised.value.retry_after} seconds."


def test_payload_too_large_and_not_found(shared_proxy: Proxy) -> None:
    """The generic rpc(): 413 PayloadTooLarge, unknown RPC NotFound (PGRST202)."""
    client = Client(shared_proxy.url, SERVICE_KEY)
    with pytest.raises(PayloadTooLarge) as big:
        client.rpc(
            "customer_management",
            {"phone": "+15551234567", "source": "chatbot", "notes": "x" * 20000},
        )
    assert (big.value.code, big.value.message, big.value.status) == (
        "PT413",
        "payload_too_large",
        413,
    )
    with pytest.raises(NotFound) as missing:
        client.rpc("customer_managment", {})
    assert missing.value.code == "PGRST202"
    assert missing.value.hint == "Perhaps you meant to call the function public.customer_management"


def test_generic_rpc_returns_json(shared_proxy: Proxy) -> None:
    """rpc() returns the function's JSON as Python values."""
    data = Client(shared_proxy.url, SERVICE_KEY).rpc(
        "customer_management", {"phone": "+15551234567", "source": "chatbot"}
    )
    assert data["customer"]["phone"] == "+15551234567"
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize(
    ("code", "message", "hint", "role", "cls", "status"),
    [
        ("PT503", "try_again", "Retry the request.", "service_role", ServiceUnavailable, 503),
        ("PGRST003", "Timed out", None, "anon", ServiceUnavailable, 504),
        ("PT429", "rate_limited", "Retry after 7 seconds.", "service_role", RateLimited, 429),
        ("PT429", "rate_limited", None, "service_role", RateLimited, 429),
        ("23505", "duplicate key", None, "service_role", Conflict, 409),
        ("PT401", "not_authenticated", None, "authenticated", NotAuthenticated, 401),
        ("XX000", "internal", None, "service_role", CustomerManagementError, 500),
        ("502", "Bad Gateway", None, "anon", CustomerManagementError, 502),
    ],
)
def test_error_mapping_table(
    code: str, message: str, hint: str | None, role: str, cls: type, status: int
) -> None:
    """Codes that are hard to provoke for real still map to the right class and status."""
    error = error_from_fields(code, message, None, hint, role=role)
    assert type(error) is cls
    assert error.status == status
    if isinstance(error, RateLimited):
        assert error.retry_after == (7 if hint else 60)


def test_client_works_through_the_forwarding_proxy(forward_proxy: Proxy) -> None:
    """Pointing the client at another URL is all it takes (hosted Supabase or a proxy)."""
    result = Client(forward_proxy.url, SERVICE_KEY).resolve(phone="+15551234567", source="chatbot")
    assert isinstance(result, Resolution)
    with pytest.raises(InvalidInput):
        Client(forward_proxy.url, SERVICE_KEY).resolve(phone="12ab", source="chatbot")


def test_a_wrong_code_is_invalid_input_and_counted(proxy: Proxy, conn: Conn) -> None:
    """invalid_verification comes back as HTTP 400 (response.status): InvalidInput; the wrong
    attempt it answers stays recorded."""
    client = Client(proxy.url, SERVICE_KEY)
    code = client.request_verification("email", "dan@gmail.com")
    assert code.expires_at > datetime.now(UTC)
    wrong = f"{(int(code.code) + 1) % 10**6:06d}"
    with pytest.raises(InvalidInput) as raised:
        client.resolve(
            phone="+15555550123",
            email="dan@gmail.com",
            source="chatbot",
            verification=code.with_code(wrong),
        )
    assert (raised.value.status, raised.value.message) == (400, "invalid_verification")
    assert raised.value.details == "The code is wrong."
    attempts = conn.execute("select failed_attempts from customer_management.verifications")
    assert attempts.fetchone() == (1,)
    proven = client.resolve(
        phone="+15555550123",
        email="dan@gmail.com",
        source="chatbot",
        verification=code.with_code(code.code),
    )
    assert isinstance(proven, Resolution)
    assert proven.customer.email == "dan@gmail.com"


def test_a_backend_names_its_requester_so_users_cannot_spend_each_other(
    proxy: Proxy, conn: Conn
) -> None:
    """``requester`` goes out as X-Customer-Requester and reaches the database through the
    proxy: what the backend vouches for spends that requester's limit, not the owner's."""
    conn.execute("update customer_management.settings set rate_limit_per_requester_per_minute = 3")
    within_one_clock_minute()
    backend = Client(proxy.url, SERVICE_KEY)
    mallory = Client(proxy.url, SERVICE_KEY, requester="session-mallory")
    for _ in range(3):
        mallory.resolve(email="wendy@example.com", source="webapp")
    with pytest.raises(RateLimited):
        mallory.resolve(email="wendy@example.com", source="webapp")
    # Wendy's own request, named per call, is hers; so is a call naming nobody.
    found = backend.resolve(email="wendy@example.com", source="webapp", requester="session-wendy")
    assert isinstance(found, Resolution)
    assert isinstance(backend.resolve(email="wendy@example.com", source="webapp"), Resolution)


def test_codes_name_their_requester(proxy: Proxy, conn: Conn) -> None:
    """A line asking for codes for five addresses gets no sixth; another line does."""
    client = Client(proxy.url, SERVICE_KEY)
    for n in range(5):
        client.request_verification("email", f"t{n}@example.com", requester_line="+15557130001")
    with pytest.raises(RateLimited) as limited:
        client.request_verification("email", "t9@example.com", requester_line="+15557130001")
    assert limited.value.details == "At most 5 codes per hour for one requester."
    assert limited.value.retry_after is not None and limited.value.retry_after > 0
    client.request_verification("email", "t9@example.com", requester_line="+15557130002")
    client.request_verification("email", "t9@example.com", requester_session="visitor-1")
    user = make_user(conn, email="una@example.com")
    client.request_verification("email", "una@example.com", requester_user_id=user.id)
    owner = conn.execute(
        "select owner_channel from customer_management.verifications "
        "where identifier_value = 'una@example.com'"
    ).fetchall()
    assert owner == [(True,)]
