"""A small world every RPC of the contract can be called on: a returning customer with
orders, two open conflicts, a merge, a customer to erase, a signed-in user and a support
agent. Built with the kit's own RPCs (as PostgREST calls them) on a fresh database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from customer_management.local import keys
from support.helpers import call_rpc, create_auth_user, with_code
from support.lifecycle import raise_conflict, support_agent
from support.proxy import SECRET, WebUser
from support.reads import insert_order, set_settings

Conn = psycopg.Connection[Any]
RETURNING_PHONE = "+15557100001"
RETURNING_EMAIL = "returning@example.org"


@dataclass(frozen=True)
class ContractWorld:
    """Ids the RPCs are called with."""

    customer_id: str
    conflict_id: str
    preview_conflict_id: str
    merge_id: int
    erasable_id: str
    user: WebUser
    agent_token: str
    # Pairs of accounts proposed as possible duplicates: to preview, to merge, to keep apart.
    duplicates: dict[str, list[str]]


def _token(claims: dict[str, Any]) -> str:
    return keys.sign(claims, SECRET)


def build_contract_world(conn: Conn) -> ContractWorld:
    """Seed the database behind ``conn``; rate limits high enough for a fuzz run."""
    set_settings(
        conn,
        rate_limit_per_identifier_per_minute=100000,
        rate_limit_per_user_per_minute=100000,
    )
    returning = call_rpc(conn, {"phone": RETURNING_PHONE, "firstName": "Rae", "source": "chatbot"})
    customer_id = returning["customer"]["id"]
    for day in range(1, 13):
        insert_order(conn, customer_id, dt.datetime(2026, 11, day, tzinfo=dt.UTC))
    conflict = raise_conflict(conn, "+15557100002", "conflicted@example.org")
    preview = raise_conflict(conn, "+15557100003", "previewed@example.org")
    call_rpc(conn, {"phone": "+15557100005", "firstName": "Pat", "source": "chatbot"})
    _, owner = create_auth_user(conn, email="tomerge@example.org")
    call_rpc(conn, {"email": "tomerge@example.org", "source": "webapp"}, "authenticated", owner)
    both = {"phone": "+15557100005", "email": "tomerge@example.org", "source": "chatbot"}
    merged = call_rpc(conn, with_code(conn, both) | {"mergeIfFound": True})
    merge_ids = [n for notice in merged.get("notices", []) for n in notice.get("mergeIds", [])]
    assert merge_ids, merged
    erasable = call_rpc(conn, {"phone": "+15557100006", "source": "chatbot"})
    user_id, claims = create_auth_user(conn, email=RETURNING_EMAIL)
    call_rpc(conn, {"email": RETURNING_EMAIL, "source": "webapp"}, "authenticated", claims)
    user = WebUser(str(user_id), RETURNING_EMAIL, None, claims, _token(claims))
    _, agent_claims = support_agent(conn, "agent@example.org")
    duplicates = {
        use: [
            call_rpc(
                conn,
                {"email": email, "firstName": first, "lastName": last, "source": "webapp"},
            )["customer"]["id"]
            for email in (f"{first}.{last}@mail.com", f"{first}.{last[:-2]}{last[-1]}@mail.com")
        ]
        for use, first, last in (
            ("preview", "zelda", "quibbleworth"),
            ("merge", "ottilie", "farnsworthy"),
            ("apart", "ignatius", "wolfensberger"),
        )
    }
    conn.execute("select customer_management.refresh_possible_duplicates()")
    groups = conn.execute(
        "select count(distinct group_no) from customer_management.possible_duplicates"
    ).fetchone()
    assert groups == (3,), groups
    return ContractWorld(
        customer_id=customer_id,
        conflict_id=conflict.conflict_id,
        preview_conflict_id=preview.conflict_id,
        merge_id=merge_ids[0],
        erasable_id=erasable["customer"]["id"],
        user=user,
        agent_token=_token(agent_claims),
        duplicates=duplicates,
    )


def valid_bodies(world: ContractWorld) -> dict[str, dict[str, Any]]:
    """For each RPC, a body the service role sends and the RPC accepts (HTTP 200)."""
    return {
        "customer_management": {"phone": RETURNING_PHONE, "source": "chatbot"},
        "request_verification": {
            "identifier_type": "email",
            "identifier_value": "probe@example.org",
        },
        "resolve_conflict": {"conflict_id": world.conflict_id, "action": "escalate"},
        "undo_merge": {"merge_id": world.merge_id},
        "export_customer_data": {"customer_id": world.customer_id},
        "erase_customer": {"customer_id": world.erasable_id},
        "current_customer_id": {"customer_id": world.customer_id},
        "customer_orders": {"customer_id": world.customer_id},
        "support_conflict_queue": {},
        "support_find_customers": {"phone": RETURNING_PHONE},
        "support_customer_view": {"customer_id": world.customer_id},
        "support_merge_preview": {"conflict_id": world.preview_conflict_id},
        "support_possible_duplicates": {},
        "support_duplicate_merge_preview": {"account_ids": world.duplicates["preview"]},
        "support_merge_duplicates": {"account_ids": world.duplicates["merge"]},
        "support_keep_duplicates_apart": {"account_ids": world.duplicates["apart"]},
    }
