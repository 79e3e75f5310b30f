"""The smaller holes of the caller-proof review: oversized preferences, logins that are
deleted, banned or share an email, masks that counted characters, and recycled lines."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from customer_management.local import auth_users
from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot, with_code
from support.reads import identifier_set, owner_of
from support.security import Conn, as_role, sql_error

LINE = "+15557775000"


def own_account(conn: Conn, email: str) -> tuple[str, dict[str, Any]]:
    """A web user with their account; the account id and the user's claims."""
    _, claims = create_auth_user(conn, email=email)
    answer = call_rpc(conn, {"email": email, "source": "webapp"}, "authenticated", claims)
    return str(answer["customer"]["id"]), claims


def test_preferences_have_a_size_limit_for_every_writer(conn: Conn) -> None:
    customer_id, claims = own_account(conn, "big@gmail.com")
    huge = json.dumps({"notes": "x" * 20_000})
    error = sql_error(
        conn,
        "authenticated",
        claims,
        "update public.customers set preferences = %s::jsonb where id = %s",
        (huge, customer_id),
    )
    assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_preferences")
    with psycopg.ClientCursor(conn) as cursor, conn.transaction():
        try:
            cursor.execute(
                "update public.customers set preferences = %s::jsonb where id = %s",
                (huge, customer_id),
            )
        except psycopg.errors.CheckViolation:
            pass
        else:
            raise AssertionError("the owner wrote 20 KB of preferences")
    small = json.dumps({"spice": "mild"})
    with as_role(conn, "authenticated", claims) as acting:
        acting.execute(
            "update public.customers set preferences = %s::jsonb where id = %s",
            (small, customer_id),
        )


def test_a_soft_deleted_or_banned_login_reaches_nothing(conn: Conn) -> None:
    for state in ("deleted_at = now()", "banned_until = now() + interval '1 day'"):
        email = f"gone{len(state)}@gmail.com"
        customer_id, claims = own_account(conn, email)
        conn.execute(
            f"update auth.users set {state} where email = %s",
            (email,),
        )
        with as_role(conn, "authenticated", claims) as acting:
            assert acting.execute("select id from public.customers").fetchall() == []
            assert acting.execute("select id from public.orders").fetchall() == []
            updated = acting.execute(
                "update public.customers set first_name = 'X' where id = %s", (customer_id,)
            )
            assert updated.rowcount == 0
        before = table_snapshot(conn)
        error = expect_error(conn, {"email": email, "source": "webapp"}, "authenticated", claims)
        assert error["message"] in ("not_authenticated", "forbidden"), error
        assert table_snapshot(conn) == before


def test_an_email_two_logins_confirmed_proves_nothing(conn: Conn) -> None:
    """Supabase lets SSO users share an email: the first owner keeps it."""
    first_id, _ = own_account(conn, "shared@corp.com")
    second = auth_users.create_user(conn, "Shared@corp.com")
    answer = call_rpc(
        conn, {"email": "shared@corp.com", "source": "webapp"}, "authenticated", second.claims()
    )
    assert answer["customer"]["id"] != first_id
    assert answer["verificationRequired"] == [{"type": "email", "value": "shared@corp.com"}]
    assert owner_of(conn, "email", "shared@corp.com") == first_id


def test_masks_do_not_count_the_hidden_characters(conn: Conn) -> None:
    """Two users in the same situation, one with a short, one with a long address and
    number: their masked conflict answers have the same shape."""
    shapes = []
    for email, phone in (("al@x.io", "+15557775100"), ("alexander.hamilton@x.io", "+442079460018")):
        _, claims = create_auth_user(conn, email=email, phone=phone)
        call_rpc(conn, {"email": email, "source": "webapp"}, "authenticated", claims)
        call_rpc(conn, {"phone": phone, "source": "chatbot"})
        masked = call_rpc(
            conn, {"email": email, "phone": phone, "source": "webapp"}, "authenticated", claims
        )
        web, line = masked["conflicts"]["accounts"]  # oldest first: the web account
        shapes.append((web["email"], line["phone"]))
    (short_email, short_phone), (long_email, long_phone) = shapes
    assert short_email == "a***@x.io" and long_email == "a***@x.io"
    assert short_phone == "+1******5100" and long_phone == "+4******0018"


def test_a_dormant_line_no_longer_opens_its_account(conn: Conn) -> None:
    """A number unused for a year may belong to someone else now: the caller is answered as
    a new caller, the old account keeps the number as pending."""
    old = call_rpc(conn, {"phone": LINE, "firstName": "Olga", "source": "chatbot"})
    old_id = old["customer"]["id"]
    conn.execute(
        "update customer_management.customer_identifiers set verified_at = now() - interval "
        "'400 days', last_used_at = now() - interval '400 days' where customer_id = %s",
        (old_id,),
    )
    answer = call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    assert answer["customer"]["id"] != old_id
    assert answer["customer"]["isNewAccount"] is True
    assert "Olga" not in json.dumps(answer)
    assert ("phone", LINE, "pending") in identifier_set(conn, old_id)
    assert owner_of(conn, "phone", LINE) == answer["customer"]["id"]


def test_a_dormant_line_comes_back_with_another_proof_of_its_account(conn: Conn) -> None:
    """The same person after a year: proving the account's email brings the line back."""
    first = call_rpc(
        conn, with_code(conn, {"phone": LINE, "email": "olga@gmail.com", "source": "chatbot"})
    )
    old_id = first["customer"]["id"]
    conn.execute(
        "update customer_management.customer_identifiers set last_used_at = now() - interval "
        "'400 days', verified_at = now() - interval '400 days' where type = 'phone'"
    )
    answer = call_rpc(
        conn, with_code(conn, {"phone": LINE, "email": "olga@gmail.com", "source": "chatbot"})
    )
    assert answer["customer"]["id"] == old_id
    used = conn.execute(
        "select last_used_at > now() - interval '1 minute' from "
        "customer_management.customer_identifiers where type = 'phone' and value = %s",
        (LINE,),
    ).fetchone()
    assert used == (True,)
    assert call_rpc(conn, {"phone": LINE, "source": "chatbot"})["customer"]["id"] == old_id


def test_a_lookup_records_a_lines_use_at_most_once_a_day(conn: Conn) -> None:
    call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    conn.execute(
        "update customer_management.customer_identifiers "
        "set last_used_at = now() - interval '2 days'"
    )
    call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    first = conn.execute(
        "select last_used_at from customer_management.customer_identifiers"
    ).fetchone()
    call_rpc(conn, {"phone": LINE, "source": "chatbot"})
    second = conn.execute(
        "select last_used_at from customer_management.customer_identifiers"
    ).fetchone()
    assert first == second
    assert first is not None
    row = conn.execute("select now() - %s < interval '1 minute'", (first[0],)).fetchone()
    assert row == (True,)
