"""The support console in a real browser: headless Chromium against the real proxy and a
real Postgres, the page served at ``/console`` exactly as ``make run`` serves it.

The data comes in through the API the way a conflict of two channels makes it (Charlie signs up
on the web, calls the chatbot from another line, proves his email with a code: a conflict).
The agent signs in with the token ``customer-management token --support`` prints, and works
only through the page. Screenshots of every screen go to ``.local/screenshots/``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from support.browser import (
    DESKTOP,
    PHONE,
    Traffic,
    record_traffic,
    screenshot,
    sideways_overflow,
    tab_to,
)
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, WebUser, make_user
from support.reads import insert_order, one

pytest_plugins = ["support.proxy_fixtures", "support.browser_fixtures"]

Conn = psycopg.Connection[Any]
CHARLIE_EMAIL = "charlie@gmail.com"
CHARLIE_LINE = "555-222-9999"
CHARLIE_PHONE = "+15552229999"
AGENT_EMAIL = "agent@shop.example"
SUPPORT_RPCS = {
    "support_conflict_queue",
    "support_find_customers",
    "support_customer_view",
    "support_merge_preview",
    "resolve_conflict",
    "undo_merge",
}


@dataclass
class Scenario:
    """Scenario 3 after the conflict, plus an older conflict of someone else."""

    charlie: WebUser
    web_account: str
    chatbot_account: str
    conflict_id: str
    other_conflict_id: str
    other_accounts: list[str]


def call(proxy: Proxy, function: str, body: Any, token: str = SERVICE_KEY) -> Any:
    response = proxy.post(f"/rest/v1/rpc/{function}", body, token)
    assert response.status_code == 200, response.text
    return response.json()


def with_code(proxy: Proxy, body: dict[str, Any]) -> dict[str, Any]:
    """The chatbot's request once the caller read back the code sent to the email."""
    issued = call(
        proxy,
        "request_verification",
        {"identifier_type": "email", "identifier_value": body["email"]},
    )
    return {**body, "verification": {"id": issued["verificationId"], "code": issued["code"]}}


def scenario_3(proxy: Proxy, conn: Conn) -> Scenario:
    """Dana's conflict first (older), then Charlie's phone account against his web account."""
    dana_phone = call(proxy, "customer_management", {"phone": "+15553334444", "source": "chatbot"})
    dana_email = call(proxy, "customer_management", {"email": "dana@mail.com", "source": "webapp"})
    other = call(
        proxy,
        "customer_management",
        {"phone": "+15553334444", "email": "dana@mail.com", "source": "webapp"},
    )
    assert other["error"] == "Account conflict"

    charlie = make_user(conn, email=CHARLIE_EMAIL)
    web = call(
        proxy,
        "customer_management",
        {
            "email": CHARLIE_EMAIL,
            "firstName": "Charlie",
            "source": "webapp",
            "authUserId": charlie.id,
        },
        charlie.token,
    )
    chatbot = call(proxy, "customer_management", {"phone": CHARLIE_LINE, "source": "chatbot"})
    insert_order(conn, chatbot["customer"]["id"], dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
    conflict = call(
        proxy,
        "customer_management",
        with_code(proxy, {"phone": CHARLIE_LINE, "email": CHARLIE_EMAIL, "source": "chatbot"}),
    )
    assert conflict["error"] == "Account conflict", conflict
    return Scenario(
        charlie,
        web["customer"]["id"],
        chatbot["customer"]["id"],
        conflict["conflictId"],
        other["conflictId"],
        [dana_phone["customer"]["id"], dana_email["customer"]["id"]],
    )


def agent_token(db_url: str) -> tuple[str, str]:
    """What the agent runs locally: ``customer-management token --support --email ...``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_management",
            "token",
            "--support",
            "--email",
            AGENT_EMAIL,
            "--db-url",
            db_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "as a support agent" in result.stderr
    token = result.stdout.strip()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return token, str(claims["sub"])


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no stored session) at 1280x800, UTC, English."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def sign_in(page: Any, proxy: Proxy, token: str) -> None:
    """Open the console and paste the token, as the agent does."""
    page.goto(proxy.url + "/console")
    page.get_by_label("Agent's access token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def rpc_calls_are_clean(traffic: Traffic, token: str) -> None:
    """Every call went with the anon key and the agent's own token, to a support RPC; the
    service-role key appeared in no request and no response."""
    assert traffic.calls
    for sent in traffic.calls:
        assert sent["function"] in SUPPORT_RPCS, sent["function"]
        assert sent["headers"]["apikey"] == ANON_KEY
        assert sent["headers"]["authorization"] == f"Bearer {token}"
        assert SERVICE_KEY not in json.dumps(sent)
    assert not any(SERVICE_KEY in body for body in traffic.bodies_seen)


def test_agent_merges_scenario_3_then_undoes_it(
    proxy: Proxy, conn: Conn, db_url: str, page: Any
) -> None:
    """Queue (oldest first) -> conflict with its preview -> merge -> the merged customer ->
    undo -> both accounts back, each with what it had; all audited with the agent's id."""
    scenario = scenario_3(proxy, conn)
    token, agent_id = agent_token(db_url)
    traffic = record_traffic(page)

    page.goto(proxy.url + "/console")
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.get_by_label("Agent's access token").is_visible()
    screenshot(page, "01-sign-in")
    page.get_by_label("Agent's access token").fill(token)
    page.get_by_role("button", name="Sign in").click()

    # The queue: both open conflicts, oldest first, with age and occurrences.
    page.get_by_role("heading", name="Conflict queue").wait_for()
    rows = page.locator("table.queue tbody tr")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    assert "+15553334444" in rows.nth(0).inner_text()
    assert CHARLIE_PHONE in rows.nth(1).inner_text()
    assert CHARLIE_EMAIL in rows.nth(1).inner_text()
    assert "1\u00d7" in rows.nth(1).inner_text()  # seen once
    assert "2 open conflicts, oldest first" in page.locator("#queue-summary").inner_text()
    screenshot(page, "02-queue")

    # The conflict: the rule keeps Charlie's web account (it has the login).
    page.locator(f'a[data-conflict="{scenario.conflict_id}"]').click()
    preview = page.locator("#merge-preview")
    preview.get_by_text("stays, by the fixed rule").wait_for()
    assert page.locator(f"#survivor-{scenario.web_account}").is_checked()
    assert (
        "linked to a login"
        in page.locator(f'label[for="survivor-{scenario.web_account}"]').inner_text()
    )
    preview_text = preview.inner_text()
    assert f"phone {CHARLIE_PHONE} and 1 order move over" in preview_text
    assert "chatbot" in preview_text and "webapp" in preview_text
    screenshot(page, "03-conflict-preview")

    # Choosing the other survivor changes the preview; choosing back restores it.
    page.locator(f"#survivor-{scenario.chatbot_account}").check()
    preview.get_by_text("stays, as you chose").wait_for()
    assert f"email {CHARLIE_EMAIL}" in preview.inner_text()
    page.locator(f"#survivor-{scenario.web_account}").check()
    preview.get_by_text(f"phone {CHARLIE_PHONE} and 1 order").wait_for()

    page.get_by_label("Reason (kept on record)").fill("Same person: confirmed on the phone")
    page.get_by_role("button", name="Merge into Charlie").click()

    # The merged customer: phone, email and the order together; the undo says what it does.
    page.get_by_role("heading", name="Profile").wait_for()
    assert page.locator("h1").inner_text().startswith("Charlie")
    profile = page.locator("dl.profile").inner_text()
    assert CHARLIE_PHONE in profile and CHARLIE_EMAIL in profile
    assert page.get_by_role("heading", name="Orders (1)").is_visible()
    assert "Merged (merge #1)" in page.locator("#status").inner_text()
    undo_text = page.locator("#undo-text-1").inner_text()
    assert f"Undo restores account {scenario.chatbot_account[:8]}" in undo_text
    assert f"({CHARLIE_PHONE}), with 1 identifier and 1 order moved back" in undo_text
    assert f"returns to Charlie ({CHARLIE_EMAIL})" in undo_text
    screenshot(page, "04-customer-merged")
    assert (
        one(
            conn,
            "select merged_into::text from public.customers where id = %s",
            (scenario.chatbot_account,),
        )
        == scenario.web_account
    )

    page.get_by_role("button", name="Undo merge #1…").click()
    page.get_by_label("Why undo merge #1? (kept on record)").fill("Wrong merge: two people")
    screenshot(page, "05-undo-confirm")
    page.get_by_role("button", name="Confirm undo of merge #1").click()
    page.locator(".merge .notice").get_by_text("Undone").wait_for()
    status = page.locator("#status").inner_text()
    assert "Undone: 1 merge (#1)" in status and "separate again" in status
    assert scenario.chatbot_account[:8] in status and scenario.web_account[:8] in status
    profile = page.locator("dl.profile").inner_text()
    assert CHARLIE_EMAIL in profile and CHARLIE_PHONE not in profile
    assert page.get_by_role("heading", name="Orders (0)").is_visible()
    screenshot(page, "06-customer-after-undo")

    # The other account is back as it was, with its line and its order.
    page.locator(".merge h3").get_by_role("link", name=scenario.chatbot_account[:8]).click()
    page.get_by_role("heading", name="Orders (1)").wait_for()
    assert scenario.chatbot_account in page.locator("dl.profile").inner_text()
    assert CHARLIE_PHONE in page.locator("dl.profile").inner_text()

    # Search by the line written another way finds that account, by its own phone.
    page.get_by_role("link", name="Find a customer").click()
    page.get_by_label("Phone", exact=True).fill("(555) 222-9999")
    page.get_by_role("button", name="Search").click()
    result = page.locator(f'[data-customer="{scenario.chatbot_account}"]')
    result.wait_for()
    assert "Matched by its phone" in result.inner_text()
    assert f"phone {CHARLIE_PHONE}" in page.locator("#search-results").inner_text()
    screenshot(page, "07-search")

    # In the database: two live accounts again, each action audited with the agent's id.
    live = conn.execute(
        "select count(*) from public.customers where id in (%s, %s) and merged_into is null",
        (scenario.web_account, scenario.chatbot_account),
    ).fetchone()
    assert live == (2,)
    audited = conn.execute(
        "select action, actor_uid::text, "
        "customer_management.read_note(details ->> 'reason') from customer_management.audit_log"
        " where action in ('resolve', 'merge', 'undo') order by id"
    ).fetchall()
    assert audited == [
        ("merge", agent_id, "Same person: confirmed on the phone"),
        ("resolve", agent_id, "Same person: confirmed on the phone"),
        ("undo", agent_id, "Wrong merge: two people"),
    ]

    # Only the anon key and the agent's session went out; only opened customers were read.
    rpc_calls_are_clean(traffic, token)
    viewed = {args["customer_id"] for args in traffic.args_of("support_customer_view")}
    assert viewed == {scenario.web_account, scenario.chatbot_account}
    assert not set(scenario.other_accounts) & viewed
    previewed = {args["conflict_id"] for args in traffic.args_of("support_merge_preview")}
    assert previewed == {scenario.conflict_id}


def test_readable_on_a_phone(proxy: Proxy, conn: Conn, db_url: str, browser: Any) -> None:
    """At 390 px wide no screen scrolls sideways (tables scroll inside their box)."""
    scenario = scenario_3(proxy, conn)
    token, _ = agent_token(db_url)
    context = browser.new_context(viewport=PHONE, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    try:
        sign_in(page, proxy, token)
        page.locator("table.queue tbody tr").nth(1).wait_for()
        assert sideways_overflow(page) == []
        screenshot(page, "08-queue-phone")
        page.locator(f'a[data-conflict="{scenario.conflict_id}"]').click()
        page.locator("#merge-preview").get_by_text("stays, by the fixed rule").wait_for()
        assert sideways_overflow(page) == []
        screenshot(page, "09-conflict-phone")
        page.goto(f"{proxy.url}/console/#/customer/{scenario.web_account}")
        page.get_by_role("heading", name="Profile").wait_for()
        assert sideways_overflow(page) == []
        screenshot(page, "10-customer-phone")
    finally:
        context.close()


def test_keyboard_only_agent_escalates_a_conflict(
    proxy: Proxy, conn: Conn, db_url: str, page: Any
) -> None:
    """From sign-in to an escalation with Tab, typing and Enter only."""
    scenario = scenario_3(proxy, conn)
    token, agent_id = agent_token(db_url)
    page.goto(proxy.url + "/console")
    page.get_by_role("heading", name="Sign in").wait_for()
    tab_to(page, "#signin-token")
    page.keyboard.insert_text(token)
    tab_to(page, "form button[type=submit]")
    page.keyboard.press("Enter")
    page.locator("table.queue tbody tr").nth(1).wait_for()

    tab_to(page, f'a[data-conflict="{scenario.other_conflict_id}"]')
    page.keyboard.press("Enter")
    page.locator("#merge-preview").get_by_text("stays, by the fixed rule").wait_for()
    tab_to(page, "#resolve-reason")
    page.keyboard.type("Customer unsure: needs a call back")
    tab_to(page, 'button[value="escalate"]')
    page.keyboard.press("Enter")
    page.locator("#status").get_by_text("Escalated.").wait_for()
    row = conn.execute(
        "select status, resolved_by_uid::text, "
        "customer_management.read_note(resolution_reason) "
        "from customer_management.customer_conflicts where id = %s",
        (scenario.other_conflict_id,),
    ).fetchone()
    assert row == ("escalated", agent_id, "Customer unsure: needs a call back")


def test_an_end_users_token_gets_nothing(proxy: Proxy, conn: Conn, db_url: str, page: Any) -> None:
    """Charlie's own token: every call is forbidden, the page shows no customer data and
    drops the token. The service-role key is refused before any call is made."""
    scenario = scenario_3(proxy, conn)
    traffic = record_traffic(page)

    sign_in(page, proxy, SERVICE_KEY)
    page.locator("#status").get_by_text("That is the service-role key").wait_for()
    assert traffic.calls == []

    page.get_by_label("Agent's access token").fill(scenario.charlie.token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Not a support agent").wait_for()
    assert traffic.statuses and all(code == 403 for _, code in traffic.statuses)
    text = page.locator("body").inner_text()
    for leaked in (CHARLIE_EMAIL, CHARLIE_PHONE, "+15553334444", scenario.conflict_id[:8]):
        assert leaked not in text
    assert page.evaluate("Object.keys(sessionStorage).length") == 0
    screenshot(page, "11-end-user-refused")

    # Reaching a customer's address directly with that token gets nothing either.
    page.get_by_label("Agent's access token").wait_for(state="detached")
    page.goto(f"{proxy.url}/console/#/customer/{scenario.web_account}")
    page.get_by_label("Agent's access token").fill(scenario.charlie.token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Not a support agent").wait_for()
    assert CHARLIE_EMAIL not in page.locator("body").inner_text()
    assert all(code == 403 for _, code in traffic.statuses)


def test_in_front_of_a_hosted_project_the_agent_signs_in_with_a_password(
    forward_proxy: Proxy, proxy: Proxy, page: Any
) -> None:
    """Forward mode (a hosted project upstream): config.json sends the page to the project
    and its Supabase Auth; the page offers email and password only, and reports a sign-in
    the project refuses (this upstream has no Auth server) without calling any RPC."""
    traffic = record_traffic(page)
    auth_requests: list[str] = []
    page.on("request", lambda r: auth_requests.append(r.url) if "/auth/v1/" in r.url else None)
    page.goto(forward_proxy.url + "/console")
    page.get_by_role("heading", name="Email and password").wait_for()
    assert page.get_by_label("Agent's access token").count() == 0
    screenshot(page, "12-sign-in-hosted")
    page.get_by_label("Email", exact=True).fill(AGENT_EMAIL)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#status.status-error").wait_for()
    assert auth_requests and auth_requests[0].startswith(proxy.url + "/auth/v1/token")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert traffic.calls == []
