"""Calling the RPC the way PostgREST does, over a plain psycopg connection.

PostgREST runs each request in one transaction after ``set local role <role>`` and
``set_config('request.jwt.claims', <claims>, true)``. The demo and the local tools use this
to act as the chatbot (service role) or as a signed-in end user without an HTTP hop.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

Json = dict[str, Any]


def call_customer_management(
    conn: psycopg.Connection[Any], body: Json, role: str, claims: Json | None = None
) -> Json:
    """Run ``public.customer_management(body)`` as ``role`` with JWT ``claims``."""
    claims = {"role": role, **(claims or {})}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(claims)),
        )
        cur.execute("select public.customer_management(%s::jsonb)", (json.dumps(body),))
        row = cur.fetchone()
    if row is None:
        raise RuntimeError("customer_management returned no row")
    result: Json = row[0]
    return result


def create_local_user(
    conn: psycopg.Connection[Any],
    email: str | None,
    phone: str | None = None,
    email_confirmed: bool = True,
    phone_confirmed: bool = False,
) -> tuple[str, Json]:
    """Insert a Supabase Auth user on a local database; return its id and token claims.

    Like Supabase Auth, the phone is stored as digits without ``+``. Local databases only:
    on a real project users sign up through Supabase Auth.
    """
    stored_phone = phone.lstrip("+") if phone else None
    row = conn.execute(
        """
        insert into auth.users (
            id, aud, role, email, phone, email_confirmed_at, phone_confirmed_at,
            raw_app_meta_data, raw_user_meta_data, created_at, updated_at
        ) values (
            gen_random_uuid(), 'authenticated', 'authenticated', %(email)s, %(phone)s,
            case when %(email_confirmed)s then now() end,
            case when %(phone_confirmed)s then now() end,
            '{"provider": "email", "providers": ["email"]}', '{}', now(), now()
        )
        returning id::text
        """,
        {
            "email": email,
            "phone": stored_phone,
            "email_confirmed": email_confirmed and email is not None,
            "phone_confirmed": phone_confirmed and phone is not None,
        },
    ).fetchone()
    if row is None:
        raise RuntimeError("auth.users insert returned no row")
    user_id: str = row[0]
    claims: Json = {
        "sub": user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": email or "",
        "phone": stored_phone or "",
        "is_anonymous": False,
    }
    return user_id, claims
