"""A database login that inherits ``authenticated`` poses as the service role.

Any role may set ``request.jwt.claims``. A project that grants ``authenticated`` to a login
of its own (a reporting user, a worker) gives that login the RPCs' EXECUTE grants; if the
kit believed the claims, the login would set ``{"role": "service_role"}`` and be trusted:
export any customer, obtain a verification code for anyone's email, resolve as the
chatbot. The kit reads the role in effect instead (what ``SET ROLE`` switched to, else the
login itself), so the claims decide nothing. The test logs in as such a role over a real
connection and replays each attack, with and without switching to ``authenticated``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from customer_management.local.rpc_session import call_rpc as call_named
from support.helpers import call_rpc, table_snapshot, with_code
from support.security import Conn

VICTIM_LINE = "+15557330001"
VICTIM_EMAIL = "vera.victim@example.com"
SERVICE_CLAIMS = {"role": "service_role", "iss": "supabase-demo"}


@pytest.fixture
def inheriting_login(conn: Conn, db_url: str) -> Iterator[str]:
    """A LOGIN role of the project's own that inherits ``authenticated``; its URL."""
    name = f"reporting_{uuid.uuid4().hex[:10]}"
    conn.execute(sql.SQL("create role {} login inherit").format(sql.Identifier(name)))
    conn.execute(sql.SQL("grant authenticated to {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(db_url)
    params["user"] = name
    try:
        yield make_conninfo(**params)
    finally:
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def victim(conn: Conn) -> str:
    """Vera: her line and her email (proven with a code); her account id."""
    answer = call_rpc(
        conn,
        with_code(
            conn,
            {
                "phone": VICTIM_LINE,
                "email": VICTIM_EMAIL,
                "firstName": "Vera",
                "source": "chatbot",
            },
        ),
    )
    return str(answer["customer"]["id"])


def attempt(url: str, switch_role: bool, statement: str, params: tuple[Any, ...]) -> str:
    """Run ``statement`` as the login with service-role claims; the SQLSTATE it failed with
    (the test fails if it succeeds)."""
    with psycopg.connect(url, autocommit=True) as attacker:
        try:
            with attacker.transaction():
                if switch_role:
                    attacker.execute("set local role authenticated")
                attacker.execute(
                    "select set_config('request.jwt.claims', %s, true)",
                    (json.dumps(SERVICE_CLAIMS),),
                )
                row = attacker.execute(statement, params).fetchone()
        except psycopg.Error as exc:
            return str(exc.diag.sqlstate)
    raise AssertionError(f"{statement} succeeded for the login: {row!r}")


@pytest.mark.parametrize("switch_role", [False, True], ids=["as-login", "set-role-authenticated"])
def test_service_role_claims_do_not_make_a_login_the_service_role(
    conn: Conn, inheriting_login: str, switch_role: bool
) -> None:
    vera = victim(conn)
    before = table_snapshot(conn)
    export = attempt(
        inheriting_login, switch_role, "select public.export_customer_data(%s::uuid)", (vera,)
    )
    code = attempt(
        inheriting_login,
        switch_role,
        "select public.request_verification('email', %s)",
        (VICTIM_EMAIL,),
    )
    resolve = attempt(
        inheriting_login,
        switch_role,
        "select public.customer_management(%s::jsonb)",
        (json.dumps({"phone": VICTIM_LINE, "source": "chatbot"}),),
    )
    # forbidden (42501) for the login itself; not_authenticated (PT401) once it switched to
    # authenticated, whose claims name no user.
    expected = "PT401" if switch_role else "42501"
    assert (export, code, resolve) == (expected, expected, expected)
    assert table_snapshot(conn) == before


def test_the_login_cannot_read_the_callers_role_from_claims_either(
    conn: Conn, inheriting_login: str
) -> None:
    """The same login with the claims of a real end user, without switching: refused too.
    (Switching to authenticated makes it that user, as PostgREST's authenticator can.)"""
    vera = victim(conn)
    user_id = str(uuid.uuid4())
    with (
        psycopg.connect(inheriting_login, autocommit=True) as attacker,
        pytest.raises(psycopg.Error) as refused,
        attacker.transaction(),
    ):
        attacker.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"role": "authenticated", "sub": user_id}),),
        )
        attacker.execute("select public.export_customer_data(%s::uuid)", (vera,))
    assert refused.value.diag.sqlstate == "42501"


def test_the_service_role_itself_still_works(conn: Conn) -> None:
    """PostgREST's way (SET ROLE service_role plus claims) is still the service role."""
    vera = victim(conn)
    exported = call_named(conn, "export_customer_data", {"customer_id": vera})
    assert exported["customerId"] == vera
    assert exported["profile"]["email"] == VICTIM_EMAIL
