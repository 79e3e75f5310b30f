"""Deleting a Supabase Auth user (dashboard, auth.admin.deleteUser) works and unlinks it.

The customer account stays (orders are the business's records); the login stops matching:
its auth_user identifier becomes pending, customers.auth_user_id becomes null, and the
audit log says why.
"""

from __future__ import annotations

from typing import Any

from support.helpers import call_rpc, create_auth_user

Conn = Any


def test_deleting_a_linked_auth_user_unlinks_the_customer(conn: Conn) -> None:
    """The delete succeeds; the account stays, unlinked; a new login with the email is new."""
    user_id, claims = create_auth_user(conn, email="leaving@mail.com")
    customer_id = call_rpc(
        conn, {"email": "leaving@mail.com", "source": "webapp"}, "authenticated", claims
    )["customer"]["id"]

    conn.execute("delete from auth.users where id = %s", (user_id,))

    row = conn.execute(
        "select auth_user_id, merged_into from public.customers where id = %s", (customer_id,)
    ).fetchone()
    assert row == (None, None)
    statuses = conn.execute(
        "select type, status from customer_management.customer_identifiers where customer_id = %s "
        "order by type",
        (customer_id,),
    ).fetchall()
    assert statuses == [("auth_user", "pending"), ("email", "active")]
    audit = conn.execute(
        "select action, details ->> 'reason' from customer_management.audit_log "
        "where customer_id = %s order by id desc limit 1",
        (customer_id,),
    ).fetchone()
    assert audit == ("update", "auth_user_deleted")

    # The same person signs up again: their confirmed email leads back to the account.
    _, new_claims = create_auth_user(conn, email="leaving@mail.com")
    again = call_rpc(
        conn, {"email": "leaving@mail.com", "source": "webapp"}, "authenticated", new_claims
    )
    assert again["customer"]["id"] == customer_id
    assert again["customer"]["isNewAccount"] is False
