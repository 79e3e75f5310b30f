"""The one way to make a Supabase Auth user locally: an ``auth.users`` row and its token.

Only for local databases (``customer-management token``, the demo, the tests): a real
project's users come from Supabase Auth. Rows look like Supabase Auth's (phone stored as
digits without ``+``, provider metadata in ``raw_app_meta_data``), so the kit's proof rules
treat them exactly as they treat real ones.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from customer_management.local import keys

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class AuthUser:
    """An ``auth.users`` row as far as a token needs it."""

    id: uuid.UUID
    email: str | None
    phone: str | None
    app_metadata: dict[str, Any] = field(default_factory=dict)
    is_anonymous: bool = False
    created: bool = True

    def claims(self, expires_in: int = 3600) -> dict[str, Any]:
        """The claims of this user's access token (what ``auth.jwt()`` reads)."""
        return keys.user_claims(
            self.id,
            self.email,
            self.phone,
            expires_in=expires_in,
            app_metadata=self.app_metadata,
            is_anonymous=self.is_anonymous,
        )

    def token(self, secret: str = keys.DEFAULT_JWT_SECRET, expires_in: int = 3600) -> str:
        """The user's access token, signed with the project's JWT secret."""
        return keys.sign(self.claims(expires_in), secret)


def create_user(
    conn: Conn,
    email: str | None = None,
    phone: str | None = None,
    *,
    email_confirmed: bool = True,
    phone_confirmed: bool = True,
    app_metadata: dict[str, Any] | None = None,
    is_anonymous: bool = False,
    banned_until: dt.datetime | None = None,
    user_id: uuid.UUID | None = None,
) -> AuthUser:
    """Insert a user the way Supabase Auth does after sign-up; return it.

    ``phone`` is stored as its digits (Supabase's format); the confirmations apply only to
    what was given. ``user_id`` fixes the id (the same user in two databases).
    """
    user_id = user_id or uuid.uuid4()
    digits = re.sub(r"[^0-9]", "", phone) if phone else None
    provider = "email" if email else "phone" if phone else "anonymous"
    metadata = {"provider": provider, "providers": [provider], **(app_metadata or {})}
    conn.execute(
        """
        insert into auth.users (
            instance_id, id, aud, role, email, phone, email_confirmed_at, phone_confirmed_at,
            raw_app_meta_data, raw_user_meta_data, is_anonymous, banned_until,
            created_at, updated_at
        ) values (
            '00000000-0000-0000-0000-000000000000', %s, 'authenticated', 'authenticated', %s, %s,
            case when %s then now() end, case when %s then now() end,
            %s::jsonb, '{}'::jsonb, %s, %s, now(), now()
        )
        """,
        (
            user_id,
            email,
            digits,
            bool(email) and email_confirmed,
            bool(digits) and phone_confirmed,
            json.dumps(metadata),
            is_anonymous,
            banned_until,
        ),
    )
    return AuthUser(user_id, email, digits, metadata, is_anonymous)


def ensure_user(
    conn: Conn, email: str | None = None, phone: str | None = None, confirmed: bool = False
) -> AuthUser:
    """Find the user by email (else phone) or create it; ``confirmed`` confirms both.

    The phone may be written any way the kit reads (``555-123-4567``). A reused user gets
    the phone if it had none, and confirmations if asked for.
    """
    if not email and not phone:
        raise ValueError("give an email or a phone")
    digits = _e164_digits(conn, phone) if phone else None
    with conn.transaction():
        if email:
            row = conn.execute(
                "select id, email, phone, raw_app_meta_data from auth.users "
                "where lower(email) = lower(%s) order by created_at limit 1",
                (email,),
            ).fetchone()
        else:
            row = conn.execute(
                "select id, email, phone, raw_app_meta_data from auth.users where phone = %s "
                "limit 1",
                (digits,),
            ).fetchone()
        if row is None:
            return create_user(
                conn, email, digits, email_confirmed=confirmed, phone_confirmed=confirmed
            )
        user_id, stored_email, stored_phone, metadata = row
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
        return AuthUser(
            user_id, stored_email, stored_phone or digits, dict(metadata or {}), created=False
        )


def make_support_agent(conn: Conn, user: AuthUser) -> AuthUser:
    """Give ``user`` the support role, as an admin does (``app_metadata.role = support``,
    which the user cannot edit themself); return it with the new metadata."""
    row = conn.execute(
        "update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) "
        '|| \'{"role": "support"}\'::jsonb, updated_at = now() where id = %s '
        "returning raw_app_meta_data",
        (user.id,),
    ).fetchone()
    if row is None:
        raise ValueError(f"no auth user {user.id}")
    return replace(user, app_metadata=dict(row[0]))


def _e164_digits(conn: Conn, phone: str) -> str:
    """The phone as Supabase Auth stores it: E.164 digits without ``+``, read with the kit's
    own normalisation (so ``555-123-4567`` becomes ``15551234567``)."""
    row = conn.execute("select customer_management.normalize_phone(%s)", (phone,)).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"{phone!r} is a placeholder, not a phone number")
    return str(row[0]).lstrip("+")
