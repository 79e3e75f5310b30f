"""Local stand-in for Supabase Auth sign-up: an ``auth.users`` row and its access token.

Only for trying the web flow on the local database (``customer-management token``): a real
project's users come from Supabase Auth. Rows look like Supabase Auth's (phone stored as
digits without ``+``, provider metadata), so the kit's proof rules treat them the same way.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from customer_management import keys


@dataclass(frozen=True)
class LocalUser:
    """An ``auth.users`` row as far as a token needs it."""

    id: uuid.UUID
    email: str | None
    phone: str | None
    created: bool


def ensure_user(
    conn: psycopg.Connection[Any],
    email: str | None = None,
    phone: str | None = None,
    confirmed: bool = False,
) -> LocalUser:
    """Find the user by email (else phone) or create it; ``confirmed`` confirms both.

    A reused user gets the phone if it had none, and confirmations if asked for.
    """
    if not email and not phone:
        raise ValueError("give an email or a phone")
    digits = _e164_digits(conn, phone) if phone else None
    with conn.transaction():
        if email:
            row = conn.execute(
                "select id, email, phone from auth.users where lower(email) = lower(%s) "
                "order by created_at limit 1",
                (email,),
            ).fetchone()
        else:
            row = conn.execute(
                "select id, email, phone from auth.users where phone = %s limit 1", (digits,)
            ).fetchone()
        if row is None:
            return _insert(conn, email, digits, confirmed)
        user_id, stored_email, stored_phone = row
        conn.execute(
            """
            update auth.users set
                phone = coalesce(phone, %(phone)s),
                email_confirmed_at = case when %(confirm)s and email is not null
                    then coalesce(email_confirmed_at, now()) else email_confirmed_at end,
                phone_confirmed_at = case
                    when %(confirm)s and coalesce(phone, %(phone)s) is not null
                        then coalesce(phone_confirmed_at, now())
                    else phone_confirmed_at
                end,
                updated_at = now()
            where id = %(id)s
            """,
            {"phone": digits, "confirm": confirmed, "id": user_id},
        )
        return LocalUser(user_id, stored_email, stored_phone or digits, created=False)


def _insert(
    conn: psycopg.Connection[Any], email: str | None, digits: str | None, confirmed: bool
) -> LocalUser:
    """Insert a new user the way Supabase Auth would after sign-up."""
    user_id = uuid.uuid4()
    provider = "email" if email else "phone"
    conn.execute(
        """
        insert into auth.users (
            id, aud, role, email, phone, email_confirmed_at, phone_confirmed_at,
            raw_app_meta_data, raw_user_meta_data, created_at, updated_at
        ) values (
            %s, 'authenticated', 'authenticated', %s, %s,
            case when %s then now() end, case when %s then now() end,
            %s::jsonb, '{}'::jsonb, now(), now()
        )
        """,
        (
            user_id,
            email,
            digits,
            bool(email) and confirmed,
            bool(digits) and confirmed,
            json.dumps({"provider": provider, "providers": [provider]}),
        ),
    )
    return LocalUser(user_id, email, digits, created=True)


def token_for(
    user: LocalUser, secret: str = keys.DEFAULT_JWT_SECRET, expires_in: int = 3600
) -> str:
    """The user's access token, signed with the project's JWT secret."""
    return keys.user_token(user.id, user.email, user.phone, secret, expires_in)


def _e164_digits(conn: psycopg.Connection[Any], phone: str) -> str:
    """The phone as Supabase Auth stores it: E.164 digits without ``+``, read with the kit's
    own normalisation (so ``555-123-4567`` becomes ``15551234567``)."""
    row = conn.execute("select customer_management.normalize_phone(%s)", (phone,)).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"{phone!r} is a placeholder, not a phone number")
    return str(row[0]).lstrip("+")
