"""One person, one account, over HTTP: the web account made three ways (a signed-in user's
token, the service-role backend, an import), then the chatbot's caller on that phone, with
the line alone, the line plus a code, or declining the second proof; and the guide's
scenario 3 as the contract answers it (409 on the functions route). Through the real proxy
and the real supabase-py client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from customer_management import Client, ConflictResult, Resolution, SecondProofRequired
from customer_management.batch.importer import Source, run_import
from customer_management.batch.progress import Progress
from support.proxy import SERVICE_KEY, Proxy, make_user

pytest_plugins = ["support.proxy_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:supabase")

Conn = psycopg.Connection[Any]
LINE = "+14155550199"
EMAIL = "dana@mailbox.org"
ROUTES = ("/functions/v1/customer-management", "/rest/v1/rpc/customer_management")


def web_account(proxy: Proxy, conn: Conn, db_url: str, tmp_path: Path, form: str) -> str:
    """Dana's web account with her phone and email, made the way ``form`` says; its id."""
    body = {"phone": LINE, "email": EMAIL, "firstName": "Dana", "source": "webapp"}
    if form == "token":
        user = make_user(conn, email=EMAIL)
        answer = proxy.rpc(body, token=user.token)
    elif form == "backend":
        answer = proxy.rpc(body)
    else:
        path = tmp_path / "legacy.csv"
        path.write_text(
            "legacy_id,first_name,phone,email\nD1,Dana,415-555-0199,dana@mailbox.org\n",
            encoding="utf-8",
        )
        with Progress(enabled=False) as progress:
            run_import(db_url, Source(path=path), None, tmp_path / "rejects.csv", progress)
        return str(proxy.rpc({"email": EMAIL, "source": "webapp"}).json()["customer"]["id"])
    assert answer.status_code == 200, answer.text
    return str(answer.json()["customer"]["id"])


def code_for(proxy: Proxy, email: str) -> dict[str, str]:
    """A verification code for ``email``, as the chatbot's backend asks for one."""
    issued = proxy.post(
        "/rest/v1/rpc/request_verification",
        {"identifier_type": "email", "identifier_value": email},
    ).json()
    return {"id": issued["verificationId"], "code": issued["code"]}


@pytest.mark.parametrize("form", ["token", "backend", "import"])
def test_the_web_customer_calling_from_her_phone_stays_one_account(
    proxy: Proxy, conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    web = web_account(proxy, conn, db_url, tmp_path, form)
    for route in ROUTES:
        asked = proxy.post(route, {"phone": LINE, "source": "chatbot"})
        assert asked.status_code == 403, asked.text
        assert asked.json()["message"] == "second_proof_required"
        assert "Dana" not in asked.text and EMAIL not in asked.text
    proven = proxy.function(
        {"phone": LINE, "email": EMAIL, "source": "chatbot", "verification": code_for(proxy, EMAIL)}
    )
    assert proven.status_code == 200, proven.text
    assert proven.json()["customer"]["id"] == web
    again = proxy.function({"phone": LINE, "source": "chatbot"})
    assert again.status_code == 200
    assert again.json()["summary"].startswith("Welcome back Dana!")


def test_the_thin_client_raises_second_proof_required_and_can_decline(proxy: Proxy) -> None:
    """supabase-py through the kit's client: a typed exception, then the caller's own
    account when she declines."""
    web = proxy.rpc({"phone": LINE, "email": EMAIL, "source": "webapp"}).json()["customer"]["id"]
    client = Client(proxy.url, SERVICE_KEY)
    with pytest.raises(SecondProofRequired) as raised:
        client.resolve(source="chatbot", phone=LINE)
    assert raised.value.status == 403
    own = client.resolve(source="chatbot", phone=LINE, without_second_proof=True)
    assert isinstance(own, Resolution)
    assert own.customer.is_new_account and own.customer.id != web


@pytest.mark.parametrize("form", ["token", "backend", "import"])
def test_scenario_3_answers_409_on_the_functions_route(
    proxy: Proxy, conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    """A web account with the email, a chatbot account with another line; the caller proves
    both: 409 with the conflict shape (200 from /rest/v1/rpc, where the conflict persists)."""
    web = web_account(proxy, conn, db_url, tmp_path, form)
    bot = proxy.function({"phone": "+15555559999", "source": "chatbot"}).json()["customer"]["id"]
    both = {"phone": "+15555559999", "email": EMAIL, "source": "chatbot"}
    conflict = proxy.function({**both, "verification": code_for(proxy, EMAIL)})
    assert conflict.status_code == 409, conflict.text
    body = conflict.json()
    assert body["error"] == "Account conflict"
    assert sorted(a["id"] for a in body["conflicts"]["accounts"]) == sorted([web, bot])
    again = proxy.rpc({**both, "verification": code_for(proxy, EMAIL)})
    assert again.status_code == 200 and again.json()["conflictId"] == body["conflictId"]
    client = Client(proxy.url, SERVICE_KEY)
    merged = client.resolve(
        source="chatbot",
        phone="+15555559999",
        email=EMAIL,
        verification=code_for(proxy, EMAIL),
        merge_if_found=True,
    )
    assert not isinstance(merged, ConflictResult)
    assert merged.customer.id in (web, bot)
    assert merged.customer.email == EMAIL
    live = conn.execute("select count(*) from public.customers where merged_into is null")
    assert live.fetchone() == (1,)
