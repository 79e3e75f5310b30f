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
