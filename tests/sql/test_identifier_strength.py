"""One person, one account, whoever vouched for it: the identifier-strength rule.

A web account is made the three ways a shop makes one (a signed-in user's token, the
service-role backend, an import), with the phone and email the customer typed at checkout;
then the customer calls the chatbot from that very phone, proving the line alone, the line
plus a code for her email, or declining the second proof. The guide's scenarios 2 and 3 run
the same matrix. After every story the data keeps its promises (check_invariants is empty).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import psycopg
import pytest

from customer_management.batch.importer import Source, run_import
from customer_management.batch.progress import Progress
from support.helpers import call_rpc, create_auth_user, table_snapshot, with_code
from support.reads import count_customers, customer, identifiers, insert_order, one

Conn = psycopg.Connection[Any]
LINE = "+14155550199"
EMAIL = "dana@mailbox.org"
SECRET_ITEM = "Midnight Truffle Box"
IMPORT_HEADER = "legacy_id,first_name,last_name,phone,email,allergies,created_at\n"
WEB_FORMS = ("token", "backend", "import")


def import_rows(db_url: str, tmp_path: Path, *lines: str, verified: tuple[str, ...] = ()) -> None:
    """Import legacy rows as a DBA would (``customer-management import``)."""
    path = tmp_path / f"rows-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(IMPORT_HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    with Progress(enabled=False) as progress:
        run_import(
            db_url, Source(path=path), None, tmp_path / "rejects.csv", progress, verified=verified
        )


def account_holding(conn: Conn, kind: str, value: str) -> str:
    """The account holding (type, value) active."""
    return str(
        one(
            conn,
            "select customer_id::text from customer_management.customer_identifiers "
            "where type = %s and value = %s and status = 'active'",
            (kind, value),
        )
    )


def web_account(
    conn: Conn,
    db_url: str,
    tmp_path: Path,
    form: str,
    phone: str | None = LINE,
    email: str = EMAIL,
    verified: tuple[str, ...] = (),
) -> str:
    """Dana's web account as one form of shop makes it, with an order; its id."""
    body: dict[str, Any] = {"email": email, "firstName": "Dana", "source": "webapp"}
    if phone:
        body["phone"] = phone
    if form == "token":
        _, claims = create_auth_user(conn, email=email)
        account = str(call_rpc(conn, body, "authenticated", claims)["customer"]["id"])
    elif form == "backend":
        account = str(call_rpc(conn, body)["customer"]["id"])
    else:
        row = f"D1,Dana,,{phone or ''},{email},,2024-05-01"
        import_rows(db_url, tmp_path, row, verified=verified)
        account = account_holding(conn, "email", email)
    insert_order(
        conn, account, dt.datetime(2026, 11, 2, tzinfo=dt.UTC), items=[{"name": SECRET_ITEM}]
    )
    return account


def assert_healthy(conn: Conn) -> None:
    """check_invariants() reports nothing."""
    assert conn.execute("select * from customer_management.check_invariants()").fetchall() == []


def without_counters(snapshot: dict[str, list[str]]) -> dict[str, list[str]]:
    """A table snapshot without the rate-limit counters (every call counts)."""
    return {k: v for k, v in snapshot.items() if k != "customer_management.rate_limit_counters"}


def contested(conn: Conn) -> list[tuple[Any, ...]]:
    """The contested-identifier conflicts: accounts, who met them, status."""
    return conn.execute(
        "select customer_ids::text[], raised_by, status "
        "from customer_management.customer_conflicts "
        "where kind = 'contested_identifier' order by created_at"
    ).fetchall()


@pytest.mark.parametrize("form", WEB_FORMS)
def test_the_line_alone_asks_for_a_second_proof(
    conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    """A line on an account that holds it less than verified reads nothing of it and
    creates nothing: the answer asks for a second proof."""
    web = web_account(conn, db_url, tmp_path, form)
    before = without_counters(table_snapshot(conn))
    answer = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert answer["message"] == "second_proof_required"
    assert answer["code"] == "PT403"
    assert set(answer) == {"code", "message", "details", "hint"}
    for secret in ("Dana", EMAIL, web, SECRET_ITEM, "mailbox"):
        assert secret not in str(answer)
    assert without_counters(table_snapshot(conn)) == before


@pytest.mark.parametrize("form", WEB_FORMS)
def test_the_line_and_a_code_open_the_web_account(
    conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    """With the account's email proven by a code the line joins the web account, verified;
    later calls from the line are the ordinary welcome back."""
    web = web_account(conn, db_url, tmp_path, form)
    proven = call_rpc(conn, with_code(conn, {"phone": LINE, "email": EMAIL, "source": "chatbot"}))
    assert proven["customer"]["id"] == web
    assert proven["customer"]["isNewAccount"] is False
    assert proven["summary"].startswith("Welcome back Dana!")
    line = one(
        conn,
        "select status || ' ' || strength from customer_management.customer_identifiers "
        "where customer_id = %s and type = 'phone'",
        (web,),
    )
    assert line == "active verified"
    again = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert again["customer"]["id"] == web
    assert again["summary"] == "Welcome back Dana! You have 1 previous order."
    assert count_customers(conn) == 1
    assert contested(conn) == []
    assert_healthy(conn)


@pytest.mark.parametrize("form", WEB_FORMS)
def test_a_declined_second_proof_serves_the_caller_on_her_own_account(
    conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    """A stranger whose number a web customer mistyped is never stuck: she gets an account of
    her own with the line verified, the web account keeps its data, and support sees the
    contested phone."""
    web = web_account(conn, db_url, tmp_path, form)
    web_before = customer(conn, web)
    answer = call_rpc(conn, {"phone": LINE, "source": "chatbot", "withoutSecondProof": True})
    own = answer["customer"]["id"]
    assert own != web
    assert answer["customer"]["isNewAccount"] is True
    assert answer["summary"] == "Welcome! I've created your account."
    for secret in ("Dana", EMAIL, web, SECRET_ITEM):
        assert secret not in str(answer)
    web_after = customer(conn, web)
    assert (web_after["first_name"], web_after["email"]) == ("Dana", web_before["email"])
    assert web_after["phone"] is None
    set_aside = one(
        conn,
        "select status || ' ' || strength from customer_management.customer_identifiers "
        "where customer_id = %s and type = 'phone'",
        (web,),
    )
    assert set_aside in ("pending vouched", "pending claimed")
    assert contested(conn) == [(sorted([web, own]), [], "open")]
    # The next call from the line is hers.
    again = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert again["customer"]["id"] == own
    assert again["summary"] == "Welcome back! You have no previous orders yet."
    assert_healthy(conn)


def test_an_imported_line_the_old_system_verified_opens_at_once(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """import --verified phone: the old system knew its callers by caller ID."""
    web = web_account(conn, db_url, tmp_path, "import", verified=("phone",))
    answer = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert answer["customer"]["id"] == web
    assert answer["summary"].startswith("Welcome back Dana! You have 1 previous order.")


def test_an_account_with_nothing_else_to_prove_is_never_read_to_the_line(conn: Conn) -> None:
    """The backend made an account with a phone and a name only: a line alone never reads
    it, and there is no second identifier to ask for, so the caller is served on an account
    of her own at once and support sees the contested phone."""
    web = call_rpc(conn, {"phone": LINE, "firstName": "Dana", "source": "webapp"})
    web_id = web["customer"]["id"]
    answer = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert answer["customer"]["isNewAccount"] is True
    assert "Dana" not in str(answer)
    assert customer(conn, web_id)["first_name"] == "Dana"
    assert contested(conn) == [(sorted([web_id, answer["customer"]["id"]]), [], "open")]
    assert_healthy(conn)


@pytest.mark.parametrize("form", WEB_FORMS)
def test_scenario_2_web_first_then_the_chatbot_with_a_code(
    conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    """Scenario 2: a web account with an email; the caller's new line and the email proven by
    a code update that account with the phone. No duplicate."""
    web = web_account(conn, db_url, tmp_path, form, phone=None)
    answer = call_rpc(
        conn,
        with_code(conn, {"phone": "+15555550178", "email": EMAIL, "source": "chatbot"}),
    )
    assert answer["customer"]["id"] == web
    assert answer["customer"]["phone"] == "+15555550178"
    assert answer["customer"]["accountSources"][-1] == "chatbot"
    assert count_customers(conn) == 1
    assert_healthy(conn)


@pytest.mark.parametrize("form", WEB_FORMS)
def test_scenario_2_the_line_alone_only_claims_the_email(
    conn: Conn, db_url: str, tmp_path: Path, form: str
) -> None:
    """Scenario 2 with the line alone: the email said on the phone is a claim, answered as if
    nobody held it (no oracle); the web account is untouched."""
    web = web_account(conn, db_url, tmp_path, form, phone=None)
    before = customer(conn, web)
    answer = call_rpc(conn, {"phone": "+15555550178", "email": EMAIL, "source": "chatbot"})
    assert answer["customer"]["id"] != web
    assert answer["verificationRequired"] == [{"type": "email", "value": EMAIL}]
    assert customer(conn, web) == before
    assert_healthy(conn)


@pytest.mark.parametrize("form", WEB_FORMS)
@pytest.mark.parametrize("merge", [False, True])
def test_scenario_3_two_accounts_proven_together_conflict_or_merge(
    conn: Conn, db_url: str, tmp_path: Path, form: str, merge: bool
) -> None:
    """Scenario 3: a web account with the email, a chatbot account with the line; the caller
    proves both: the conflict is raised (or, with mergeIfFound, the accounts merge)."""
    web = web_account(conn, db_url, tmp_path, form, phone=None)
    bot = call_rpc(conn, {"phone": "+15555559999", "source": "chatbot"})["customer"]["id"]
    body = {"phone": "+15555559999", "email": EMAIL, "source": "chatbot"}
    if merge:
        body["mergeIfFound"] = True
    answer = call_rpc(conn, with_code(conn, body))
    if merge:
        assert answer["customer"]["id"] in (web, bot)
        assert [n["code"] for n in answer["notices"]] == ["accounts_merged"]
        assert (answer["customer"]["phone"], answer["customer"]["email"]) == (
            "+15555559999",
            EMAIL,
        )
        assert count_customers(conn) == 1
    else:
        assert answer["error"] == "Account conflict"
        assert sorted(a["id"] for a in answer["conflicts"]["accounts"]) == sorted([web, bot])
        kind = one(
            conn,
            "select kind from customer_management.customer_conflicts where id = %s",
            (answer["conflictId"],),
        )
        assert kind == "several_accounts"
    assert_healthy(conn)


def test_a_proof_through_a_vouched_identifier_demotes_what_nobody_verified(conn: Conn) -> None:
    """Pre-hijacking: an attacker's guest checkout puts the victim's email and his own phone
    on one account. The victim proves her email: the account opens for her, the email becomes
    verified and the attacker's phone stops opening it; from that phone he is asked for a
    second proof he cannot give, and declining gets him an empty account of his own."""
    attacker_phone = "+15555550666"
    web = call_rpc(conn, {"email": EMAIL, "phone": attacker_phone, "source": "webapp"})
    web_id = web["customer"]["id"]
    insert_order(conn, web_id, dt.datetime(2026, 11, 2, tzinfo=dt.UTC))
    victim = call_rpc(conn, with_code(conn, {"phone": LINE, "email": EMAIL, "source": "chatbot"}))
    assert victim["customer"]["id"] == web_id
    email_strength = one(
        conn,
        "select strength from customer_management.customer_identifiers where value = %s",
        (EMAIL,),
    )
    assert email_strength == "verified"
    demoted = one(
        conn,
        "select strength from customer_management.customer_identifiers where value = %s",
        (attacker_phone,),
    )
    assert demoted == "claimed"
    asked = call_rpc(conn, {"phone": attacker_phone, "source": "chatbot"})
    assert asked["message"] == "second_proof_required"
    own = call_rpc(conn, {"phone": attacker_phone, "source": "chatbot", "withoutSecondProof": True})
    assert own["customer"]["id"] != web_id and own["orderHistory"] == []
    assert_healthy(conn)


def test_a_confirmed_login_email_opens_the_backend_account_and_demotes_its_phone(
    conn: Conn,
) -> None:
    """Supabase Auth confirmed the email the backend vouched for: the signed-in user lands in
    that account (one account), and the phone nobody ever verified stops opening it."""
    web = call_rpc(conn, {"email": EMAIL, "phone": LINE, "firstName": "Dana", "source": "webapp"})
    _, claims = create_auth_user(conn, email=EMAIL)
    signed_in = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    assert signed_in["customer"]["id"] == web["customer"]["id"]
    assert count_customers(conn) == 1
    asked = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert asked["message"] == "second_proof_required"
    proven = call_rpc(conn, with_code(conn, {"phone": LINE, "email": EMAIL, "source": "chatbot"}))
    assert proven["customer"]["id"] == web["customer"]["id"]
    assert_healthy(conn)


def test_a_login_account_opens_only_for_what_its_login_confirmed(conn: Conn) -> None:
    """The backend added an email to a signed-in user's account; a stranger who proves that
    email by code does not open the login's account: she is answered as if nobody held it,
    and support sees the contested email."""
    _, claims = create_auth_user(conn, email="owner@mailbox.org")
    owned = call_rpc(
        conn, {"email": "owner@mailbox.org", "source": "webapp"}, "authenticated", claims
    )["customer"]["id"]
    # What the backend added for that user, straight into the identifiers (no proof).
    conn.execute(
        "insert into customer_management.customer_identifiers "
        "(customer_id, type, value, display_value, status, strength, source) "
        "values (%s, 'email', 'typed@mailbox.org', 'typed@mailbox.org', 'active', 'vouched', "
        "'webapp')",
        (owned,),
    )
    stranger = call_rpc(
        conn,
        with_code(conn, {"phone": LINE, "email": "typed@mailbox.org", "source": "chatbot"}),
    )
    assert stranger["customer"]["id"] != owned
    assert stranger["customer"]["isNewAccount"] is True
    assert "owner@mailbox.org" not in str(stranger)
    assert contested(conn) == [(sorted([owned, stranger["customer"]["id"]]), [], "open")]
    assert_healthy(conn)


def test_a_dormant_line_asks_for_a_second_proof(conn: Conn) -> None:
    """A line unused for longer than line_dormant_after (numbers are recycled) no longer
    opens its account alone; the owner proves her email and is back."""
    first = call_rpc(conn, {"phone": LINE, "source": "chatbot"})["customer"]["id"]
    call_rpc(conn, with_code(conn, {"phone": LINE, "email": EMAIL, "source": "chatbot"}))
    conn.execute(
        "update customer_management.customer_identifiers set verified_at = now() - interval "
        "'2 years', last_used_at = now() - interval '2 years' where type = 'phone'"
    )
    asked = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert asked["message"] == "second_proof_required"
    back = call_rpc(conn, with_code(conn, {"phone": LINE, "email": EMAIL, "source": "chatbot"}))
    assert back["customer"]["id"] == first
    assert call_rpc(conn, {"phone": LINE, "source": "chatbot"})["customer"]["id"] == first


def test_the_backend_is_trusted_whatever_the_strength(conn: Conn) -> None:
    """The web backend (service role, webapp) vouches: it opens every account holding what it
    sends, even one whose identifier a proof demoted, and never takes anything away."""
    web = call_rpc(conn, {"email": EMAIL, "phone": LINE, "source": "webapp"})["customer"]["id"]
    call_rpc(conn, with_code(conn, {"phone": "+15555550178", "email": EMAIL, "source": "chatbot"}))
    again = call_rpc(conn, {"phone": LINE, "source": "webapp"})
    assert again["customer"]["id"] == web
    assert contested(conn) == []


def test_identifiers_keep_their_strength_through_a_merge_and_its_undo(conn: Conn) -> None:
    """A merge keeps each identifier's strength; undoing it restores them exactly."""
    web = call_rpc(conn, {"email": EMAIL, "source": "webapp"})["customer"]["id"]
    bot = call_rpc(conn, {"phone": LINE, "source": "chatbot"})["customer"]["id"]
    before = {a: identifiers(conn, a) for a in (web, bot)}
    merged = call_rpc(
        conn,
        {"phone": LINE, "email": EMAIL, "source": "webapp", "mergeIfFound": True},
    )
    merge_id = merged["notices"][0]["mergeIds"][0]
    conn.execute("select public.undo_merge(%s)", (merge_id,))
    after = {a: identifiers(conn, a) for a in (web, bot)}
    assert after == before
    assert_healthy(conn)


def test_backend_and_chatbot_racing_for_one_person_keep_one_account(
    conn: Conn, db_url: str
) -> None:
    """16 connections: for each person the web backend (phone, email, name), the chatbot's
    line alone and the line with a code for the email, all at once. Whatever comes first,
    each person ends with one account, every answer names it or asks for a second proof, and
    no answer is a conflict."""
    import queue
    import threading

    persons, workers = 60, 16
    conn.execute(
        "update customer_management.settings set rate_limit_per_identifier_per_minute = 100000"
    )
    calls: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    for person in range(persons):
        phone, email = f"+1415556{person:04d}", f"racer{person}@mailbox.org"
        web = {"phone": phone, "email": email, "firstName": "Racer", "source": "webapp"}
        line = {"phone": phone, "source": "chatbot"}
        for body in (web, line, web, line, line, web):
            calls.put((person, body))
        for _ in range(2):
            calls.put((person, with_code(conn, {**line, "email": email})))
    answers: list[tuple[int, dict[str, Any]]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    connections = [psycopg.connect(db_url, autocommit=True) for _ in range(workers)]

    def work(connection: Conn) -> None:
        while True:
            try:
                person, body = calls.get_nowait()
            except queue.Empty:
                return
            try:
                answer = call_rpc(connection, body)
            except BaseException as error:  # collected and reported below
                with lock:
                    failures.append(error)
            else:
                with lock:
                    answers.append((person, answer))

    threads = [threading.Thread(target=work, args=(c,)) for c in connections]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for connection in connections:
            connection.close()
    assert failures == []
    assert len(answers) == persons * 8
    assert [a for _, a in answers if a.get("error") == "Account conflict"] == []
    accounts: dict[int, set[str]] = {}
    for person, answer in answers:
        if "customer" in answer:
            accounts.setdefault(person, set()).add(answer["customer"]["id"])
        else:
            assert answer["message"] == "second_proof_required"
    assert all(len(ids) == 1 for ids in accounts.values())
    assert count_customers(conn) == persons
    assert one(conn, "select count(*) from customer_management.customer_conflicts") == 0
    assert_healthy(conn)
