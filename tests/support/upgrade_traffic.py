"""Traffic for an upgrade test: what a live 0.1.0 database has seen, and the requests whose
answers must survive the upgrade.

``put_traffic`` uses only the API release 0.1.0 has (its public RPCs as PostgREST calls
them, its import functions), so it runs on a database of that release whatever later
versions add. ``PROBES`` are requests replayed on two copies of that database, one as
released and one upgraded; ``canonical`` makes their answers comparable (ids and
timestamps the probes themselves create differ between the copies, nothing else may).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg

from customer_management.local import auth_users
from customer_management.local.rpc_session import call_customer_management, call_rpc
from support.helpers import table_snapshot

Conn = psycopg.Connection[Any]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:\d{2})?|Z)$")
INTERVAL = re.compile(r"^(\d+ days? )?\d{2}:\d{2}:\d{2}(\.\d+)?$")

JOHN_LINE = "+15552010001"
VERA_LINE = "+15552010002"  # the web backend vouched for it
CHARLIE_LINE = "+15552010003"
DANA_LINE = "+15552010004"
ERIN_LINE = "+15552010005"
IMPORTED_LINE = "+15552010006"
MONA_LINE = "+15552010008"
LEGACY = """
create schema legacy;
create table legacy.customers (
    legacy_id text primary key, first_name text, last_name text, phone text, email text,
    allergies text, created_at text
);
insert into legacy.customers values
    ('L-1', 'Ida', 'Import', '(555) 201-0006', 'ida@example.com', 'gluten', '2024-05-01'),
    ('L-2', 'Ivo', 'Import', '555-201-0007', null, null, '2024-05-02'),
    ('L-3', 'Ina', 'Import', '12', null, null, '2024-05-03');
"""


@dataclass
class Facts:
    """What the traffic left that the probes refer to."""

    ids: dict[str, str] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    merge_id: int = 0
    views: list[str] = field(default_factory=list)


def code_for(conn: Conn, kind: str, value: str) -> dict[str, str]:
    """A verification code for ``value``, as the request's ``verification`` field."""
    issued = call_rpc(
        conn, "request_verification", {"identifier_type": kind, "identifier_value": value}
    )
    return {"id": issued["verificationId"], "code": issued["code"]}


def signed_up(conn: Conn, facts: Facts, name: str, email: str, phone: str | None = None) -> None:
    """A Supabase Auth user who confirmed ``email`` (and ``phone``), and their web account
    (by the email)."""
    user = auth_users.create_user(conn, email, phone)
    facts.users[name] = user.claims()
    answer = call_customer_management(
        conn,
        {"email": email, "firstName": name.title(), "source": "webapp", "authUserId": str(user.id)},
        "authenticated",
        user.claims(),
    )
    facts.ids[name] = answer["customer"]["id"]


def put_traffic(conn: Conn) -> Facts:
    """Accounts on both channels, a conflict, a merge, codes, orders and an import."""
    facts = Facts()
    john = call_customer_management(
        conn,
        {
            "phone": JOHN_LINE,
            "firstName": "John",
            "lastName": "Smith",
            "allergies": ["nuts"],
            "source": "chatbot",
        },
    )
    facts.ids["john"] = john["customer"]["id"]
    conn.execute(
        "insert into public.orders (customer_id, items, total, status, created_at) values "
        '(%(id)s, \'[{"name": "Fruit Bouquet", "quantity": 1}]\', 64.99, \'delivered\', '
        "'2024-06-01'), (%(id)s, '[{\"name\": \"Cake\"}]', 39.99, 'pending', '2024-07-01')",
        {"id": facts.ids["john"]},
    )
    signed_up(conn, facts, "alice", "alice@example.com")
    vera = call_customer_management(
        conn,
        {"phone": VERA_LINE, "email": "vera@example.com", "firstName": "Vera", "source": "webapp"},
    )
    facts.ids["vera"] = vera["customer"]["id"]

    # Charlie: a web account and a phone account, tied by a code: a conflict, left open.
    signed_up(conn, facts, "charlie", "charlie@example.com")
    call_customer_management(conn, {"phone": CHARLIE_LINE, "source": "chatbot"})
    charlie = {"phone": CHARLIE_LINE, "email": "charlie@example.com", "source": "chatbot"}
    call_customer_management(
        conn, {**charlie, "verification": code_for(conn, "email", "charlie@example.com")}
    )
    # Dana: the same, merged at once by the chatbot (mergeIfFound).
    signed_up(conn, facts, "dana", "dana@example.com")
    call_customer_management(conn, {"phone": DANA_LINE, "source": "chatbot"})
    merged = call_customer_management(
        conn,
        {
            "phone": DANA_LINE,
            "email": "dana@example.com",
            "source": "chatbot",
            "mergeIfFound": True,
            "verification": code_for(conn, "email", "dana@example.com"),
        },
    )
    facts.ids["dana"] = merged["customer"]["id"]
    row = conn.execute(
        "select c.id, m.id from customer_management.customer_conflicts as c, "
        "customer_management.merge_log as m order by c.created_at, m.id limit 1"
    ).fetchone()
    assert row is not None
    facts.ids["charlie_conflict"], facts.merge_id = str(row[0]), int(row[1])
    dana_phone = conn.execute(
        "select customer_id from customer_management.customer_identifiers "
        "where type = 'phone' and value = %s",
        (DANA_LINE,),
    ).fetchone()
    facts.ids["dana_phone_account"] = str(dana_phone[0]) if dana_phone else ""
    # Mona: a phone account, then a login that confirmed the same phone and an email.
    call_customer_management(conn, {"phone": MONA_LINE, "source": "chatbot"})
    signed_up(conn, facts, "mona", "mona@example.com", MONA_LINE)
    # A code issued and not used yet: Erin reads it back after the upgrade.
    facts.codes["erin"] = code_for(conn, "email", "erin@example.com")

    facts.views = [
        str(row[0])
        for row in conn.execute(
            "select relname from pg_class where relnamespace = 'analytics'::regnamespace "
            "and relkind = 'v' order by 1"
        )
    ]
    conn.execute(LEGACY)
    with conn.transaction():
        load = conn.execute("select customer_management.begin_import()").fetchone()
        assert load is not None
        conn.execute(
            "select customer_management.stage_customers_from_table(%s, 'legacy.customers')",
            (load[0],),
        )
        conn.execute(
            "select customer_management.import_staged_customers(%s, 1, 3, array['phone'])",
            (load[0],),
        )
        conn.execute("select customer_management.finish_import(%s)", (load[0],))
    return facts


def known_uuids(conn: Conn) -> set[str]:
    """Every id the database holds before the probes (they stay as they are in answers)."""
    text = json.dumps(table_snapshot(conn))
    users = conn.execute("select coalesce(jsonb_agg(id), '[]') from auth.users").fetchone()
    return set(UUID.findall(text)) | set(UUID.findall(json.dumps(users[0] if users else [])))


def answer_of(conn: Conn, call: Callable[[], Any]) -> dict[str, Any]:
    """One request's answer with the HTTP status the RPC set, or its error."""
    try:
        with conn.transaction():
            body = call()
            row = conn.execute("select current_setting('response.status', true)").fetchone()
        return {"status": (row[0] if row else None) or None, "body": body}
    except psycopg.Error as exc:
        diag = exc.diag
        return {
            "sqlstate": diag.sqlstate,
            "message": diag.message_primary,
            "detail": diag.message_detail,
            "hint": diag.message_hint,
        }


def analyst_reads(conn: Conn, view: str) -> Any:
    """A view's rows as the analyst reads them."""
    with conn.transaction():
        conn.execute("set local role analyst")
        row = conn.execute(
            f"select coalesce(jsonb_agg(v), '[]') from analytics.{view} as v"
        ).fetchone()
    return row[0] if row else None


Probe = Callable[[Conn, Facts], Any]


def _resolve(body: dict[str, Any], role: str = "service_role", user: str = "") -> Probe:
    def probe(conn: Conn, facts: Facts) -> Any:
        claims = facts.users.get(user)
        sent = {**body, "authUserId": claims["sub"]} if claims else body
        return call_customer_management(conn, sent, role, claims)

    return probe


def _rpc(function: str, **args: Callable[[Facts], Any] | Any) -> Probe:
    def probe(conn: Conn, facts: Facts) -> Any:
        given = {k: (v(facts) if callable(v) else v) for k, v in args.items()}
        return call_rpc(conn, function, given)

    return probe


def _analytics(conn: Conn, facts: Facts) -> Any:
    return {view: analyst_reads(conn, view) for view in facts.views}


def _erin(conn: Conn, facts: Facts) -> Any:
    body = {"phone": ERIN_LINE, "email": "erin@example.com", "source": "chatbot"}
    return call_customer_management(conn, {**body, "verification": facts.codes["erin"]})


def _charlie_again(conn: Conn, facts: Facts) -> Any:
    body = {"phone": CHARLIE_LINE, "email": "charlie@example.com", "source": "chatbot"}
    code = code_for(conn, "email", "charlie@example.com")
    return call_customer_management(conn, {**body, "verification": code})


# Replayed in this order on each copy. Names are what DOCUMENTED_DIFFERENCES refers to.
PROBES: dict[str, Probe] = {
    "a returning caller's line": _resolve({"phone": JOHN_LINE, "source": "chatbot"}),
    "the same line, spelled nationally": _resolve({"phone": "(555) 201-0001", "source": "chatbot"}),
    "a new caller's line": _resolve({"phone": "+15552010099", "source": "chatbot"}),
    "a signed-in user": _resolve(
        {"email": "alice@example.com", "source": "webapp"}, "authenticated", "alice"
    ),
    "the web backend, again": _resolve({"email": "vera@example.com", "source": "webapp"}),
    "a line reaching an account whose phone the web backend vouched": _resolve(
        {"phone": VERA_LINE, "source": "chatbot"}
    ),
    "an email said on the phone, without a code": _resolve(
        {"phone": JOHN_LINE, "email": "alice@example.com", "source": "chatbot"}
    ),
    "a code issued before the upgrade": _erin,
    "two accounts proven at once": _charlie_again,
    "an end user's two accounts, masked": _resolve(
        {"email": "mona@example.com", "phone": MONA_LINE, "source": "webapp"},
        "authenticated",
        "mona",
    ),
    "an imported customer's line": _resolve({"phone": IMPORTED_LINE, "source": "chatbot"}),
    "an invalid phone": _resolve({"phone": "12", "source": "chatbot"}),
    "no identifier": _resolve({"source": "chatbot"}),
    "an anonymous caller": _resolve({"phone": JOHN_LINE, "source": "chatbot"}, "anon"),
    "a merged-away id": _rpc(
        "current_customer_id", customer_id=lambda f: f.ids["dana_phone_account"]
    ),
    "orders page by page": _rpc(
        "customer_orders", customer_id=lambda f: f.ids["john"], page=1, page_size=1
    ),
    "an export": _rpc("export_customer_data", customer_id=lambda f: f.ids["dana"]),
    "the conflict queue": _rpc("support_conflict_queue"),
    "support finds a phone": _rpc("support_find_customers", phone=CHARLIE_LINE),
    "support views a merged account": _rpc(
        "support_customer_view", customer_id=lambda f: f.ids["dana"]
    ),
    "a merge preview": _rpc(
        "support_merge_preview", conflict_id=lambda f: f.ids["charlie_conflict"]
    ),
    "a conflict kept separate": _rpc(
        "resolve_conflict",
        conflict_id=lambda f: f.ids["charlie_conflict"],
        action="keep_separate",
        reason="two people",
    ),
    "a merge undone": _rpc("undo_merge", merge_id=lambda f: f.merge_id, reason="wrong merge"),
    "an erasure": _rpc("erase_customer", customer_id=lambda f: f.ids["vera"], reason="asked"),
    "the analytics views, as the analyst reads them": _analytics,
}


def run_probes(conn: Conn, facts: Facts, known: set[str]) -> dict[str, Any]:
    """Every probe's answer, in order, made comparable (``known``: the ids the database
    held before, see ``known_uuids``)."""
    since = dt.datetime.now(dt.UTC)
    return {
        name: canonical(answer_of(conn, partial(probe, conn, facts)), known, since)
        for name, probe in PROBES.items()
    }


def canonical(value: Any, known: set[str], since: dt.datetime) -> Any:
    """``value`` with what the probes themselves create made neutral: ids unknown before
    them numbered in order of appearance, times from after ``since`` and ages (``age``,
    ``ageSeconds``, ``age_days``: they depend on the moment of the call) replaced, codes
    hidden."""
    fresh: dict[str, str] = {}

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, uuid.UUID | dt.datetime):
            node = node.isoformat() if isinstance(node, dt.datetime) else str(node)
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item, key) for item in node]
        if key.startswith("age"):
            return "<age>"
        if not isinstance(node, str):
            return node
        if key == "code" and node.isdigit():
            return "<code>"
        if INTERVAL.match(node):
            return "<age>"
        if TIMESTAMP.match(node):
            moment = dt.datetime.fromisoformat(node.replace("Z", "+00:00"))
            return "<during the probes>" if moment >= since else node
        return UUID.sub(lambda m: m[0] if m[0] in known else _label(fresh, m[0]), node)

    return walk(value)


def _label(fresh: dict[str, str], new_id: str) -> str:
    """``<new id N>``, N in order of first appearance."""
    return fresh.setdefault(new_id, f"<new id {len(fresh) + 1}>")
