"""Concurrency: 16 connections, 2,000 calls, every person's calls racing each other.

Each of 250 persons makes 8 calls that all carry their phone (in varied spellings), some
with their email (in varied case) too. Six come from the chatbot (service role) and two
from the person signed in on the web (their confirmed phone and email), the way both
channels hit the API at once. The calls sit in one queue person by person, so the 16
workers mostly run calls of the same one or two persons at the same moment: the worst case
for duplicate creation. Afterwards there must be exactly one live account per person,
every identifier on exactly one live account, and no call may have failed.

Mixing the two roles matters: service-role calls for one phone also queue on that phone's
rate-limit counter row, so only the mixed calls depend on the advisory locks and the
retry on unique violations alone.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import psycopg

from support.helpers import call_rpc, create_auth_user
from support.reads import count_customers, one, set_settings

Conn = psycopg.Connection[Any]
PERSONS = 250
CALLS_PER_PERSON = 8
WORKERS = 16
WEB_CALLS = (2, 5)

Call = tuple[int, dict[str, Any], bool]


def _phone(person: int) -> str:
    return f"+1555{1_000_000 + person:07d}"


def _spellings(person: int) -> list[str]:
    """Eight spellings of the person's phone, all +1 555 1xx xxxx."""
    digits = _phone(person)[2:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return [
        f"+1{digits}",
        f"({area}) {exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"1 {area} {exchange} {line}",
        f"00 1 {area} {exchange} {line}",
        f"{area}-{exchange}-{line}",
        f"+1 ({area}) {exchange} {line}",
        f"{area}{exchange}{line}",
    ]


def _email(person: int, variant: int) -> str:
    return [f"person{person}@mail.com", f"Person{person}@Mail.com", f" PERSON{person}@MAIL.COM"][
        variant % 3
    ]


def _requests() -> list[Call]:
    """All calls, person by person: (person, body, sent by the person on the web).

    Calls 1, 4 and 5 of each person add the email; calls 2 and 5 are the web app's.
    """
    calls: list[Call] = []
    for person in range(PERSONS):
        for n, spelling in enumerate(_spellings(person)):
            web = n in WEB_CALLS
            body: dict[str, Any] = {"phone": spelling, "source": "webapp" if web else "chatbot"}
            if n in (1, 4, 5):
                body["email"] = _email(person, n)
            if n == 3:
                body["firstName"] = f"Person {person}"
            calls.append((person, body, web))
    return calls


def test_concurrent_calls_keep_one_account_per_person(conn: Conn, db_url: str) -> None:
    """2,000 racing calls on 16 connections: one account per person, no failure."""
    set_settings(conn, rate_limit_per_identifier_per_minute=100_000)
    users = [
        create_auth_user(conn, email=f"person{person}@mail.com", phone=_phone(person))
        for person in range(PERSONS)
    ]
    work: queue.Queue[Call] = queue.Queue()
    calls = _requests()
    assert len(calls) == PERSONS * CALLS_PER_PERSON >= 2_000
    for call in calls:
        work.put(call)

    results: list[tuple[int, dict[str, Any]]] = []
    failures: list[tuple[dict[str, Any], BaseException]] = []
    lock = threading.Lock()
    connections = [psycopg.connect(db_url, autocommit=True) for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)

    def worker(connection: Conn) -> None:
        start.wait()
        while True:
            try:
                person, body, web = work.get_nowait()
            except queue.Empty:
                return
            try:
                if web:
                    response = call_rpc(
                        connection, body, role="authenticated", claims=users[person][1]
                    )
                else:
                    response = call_rpc(connection, body)
            except BaseException as exc:  # every failure is collected and reported
                with lock:
                    failures.append((body, exc))
            else:
                with lock:
                    results.append((person, response))

    threads = [threading.Thread(target=worker, args=(c,)) for c in connections]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for connection in connections:
            connection.close()
    elapsed = time.monotonic() - began

    assert failures == []
    assert len(results) == len(calls)
    assert [r for _, r in results if "customer" not in r] == []

    # Every response of a person names the same account, and persons never share one.
    account_of: dict[int, set[str]] = {}
    for person, response in results:
        account_of.setdefault(person, set()).add(response["customer"]["id"])
    assert {p: len(ids) for p, ids in account_of.items() if len(ids) != 1} == {}
    assert len({next(iter(ids)) for ids in account_of.values()}) == PERSONS
    assert sum(1 for _, r in results if r["customer"]["isNewAccount"]) == PERSONS

    assert count_customers(conn) == PERSONS
    assert count_customers(conn, live_only=False) == PERSONS
    shared = conn.execute(
        "select ci.type, ci.value, count(distinct ci.customer_id) "
        "from customer_management.customer_identifiers as ci "
        "inner join public.customers as c on c.id = ci.customer_id "
        "where ci.status = 'active' and c.merged_into is null "
        "group by ci.type, ci.value having count(distinct ci.customer_id) <> 1"
    ).fetchall()
    assert shared == []
    # Each person: phone and email active, on the account every response named.
    rows = conn.execute(
        "select type, value, customer_id::text from customer_management.customer_identifiers "
        "where status = 'active'"
    ).fetchall()
    owner = {(row[0], row[1]): row[2] for row in rows}
    assert len(owner) == 3 * PERSONS
    for person in range(PERSONS):
        expected = next(iter(account_of[person]))
        assert owner[("phone", _phone(person))] == expected
        assert owner[("email", f"person{person}@mail.com")] == expected
        assert owner[("auth_user", str(users[person][0]))] == expected
    assert one(conn, "select count(*) from customer_management.customer_conflicts") == 0
    assert one(conn, "select count(*) from customer_management.merge_log") == 0
    assert elapsed < 90, f"2,000 calls took {elapsed:.1f} s"
