"""The RPC's real answers follow the contract written once in ``contract.schema.json``.

Every answer of the decision table (created, found, updated with verification required and
notices, merged, conflict for a trusted caller and for an end user) validates against the
schema's response shapes, and every error the kit raises carries one of its listed codes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import jsonschema
import psycopg
import pytest

from customer_management import contract
from customer_management.local import paths
from support.helpers import call_rpc, create_auth_user, expect_error, with_code
from support.reads import insert_order

Conn = psycopg.Connection[Any]


def validator(definition: str) -> jsonschema.protocols.Validator:
    """A validator for one of the schema's ``$defs``, with formats checked."""
    document = {**contract.schema(), "$ref": f"#/$defs/{definition}"}
    cls = jsonschema.validators.validator_for(document)
    cls.check_schema(document)
    return cls(document, format_checker=cls.FORMAT_CHECKER)


RESPONSE = validator("ResolutionResponse")
SUCCESS = validator("Success")
CONFLICT = validator("Conflict")
REQUEST = validator("ResolutionRequest")


def resolve(conn: Conn, body: dict[str, Any], *args: Any) -> dict[str, Any]:
    """Call the RPC; the body must be a contract request and the answer a contract answer."""
    REQUEST.validate(body)
    answer: dict[str, Any] = call_rpc(conn, body, *args)
    RESPONSE.validate(answer)
    return answer


def test_every_shape_of_the_decision_table_follows_the_contract(conn: Conn) -> None:
    created = resolve(conn, {"phone": "555-123-4567", "firstName": "Ann", "source": "chatbot"})
    SUCCESS.validate(created)
    customer_id = created["customer"]["id"]
    for day in range(12):
        insert_order(conn, customer_id, dt.datetime(2026, 11, 1 + day, tzinfo=dt.UTC))
    found = resolve(conn, {"phone": "+15551234567", "source": "chatbot", "extra": 1})
    assert len(found["orderHistory"]) == 10
    assert [n["code"] for n in found["notices"]] == ["unknown_fields_ignored"]

    user_id, claims = create_auth_user(conn, email="ann@gmail.com")
    pending = resolve(
        conn,
        {"email": "ann@gmail.com", "phone": "555-222-3333", "source": "webapp"},
        "authenticated",
        claims,
    )
    assert pending["verificationRequired"] == [{"type": "phone", "value": "+15552223333"}]

    placeholder = resolve(
        conn, {"phone": "555-123-4567", "email": "chatbot_temp@temp.local", "source": "chatbot"}
    )
    assert placeholder["notices"][0]["code"] == "placeholder_ignored"

    _, bob = create_auth_user(conn, email="bob@gmail.com")
    resolve(conn, {"email": "bob@gmail.com", "source": "webapp"}, "authenticated", bob)
    both = {"phone": "555-123-4567", "email": "bob@gmail.com", "source": "chatbot"}
    conflict = resolve(conn, with_code(conn, both))
    CONFLICT.validate(conflict)
    assert conflict["error"] == contract.conflict_error()
    assert all("id" in account for account in conflict["conflicts"]["accounts"])
    merged = resolve(conn, with_code(conn, {**both, "mergeIfFound": True}))
    assert [n["code"] for n in merged["notices"]] == ["accounts_merged"]

    # An end user whose login and confirmed phone sit on two accounts: masked conflict.
    carol_id, carol = create_auth_user(conn, "carol@gmail.com", "+15557654321")
    resolve(conn, {"email": "carol@gmail.com", "source": "webapp"}, "authenticated", carol)
    resolve(conn, {"phone": "+15557654321", "source": "chatbot"})
    masked = resolve(
        conn,
        {"email": "carol@gmail.com", "phone": "+15557654321", "source": "webapp"},
        "authenticated",
        carol,
    )
    CONFLICT.validate(masked)
    assert not any("id" in account for account in masked["conflicts"]["accounts"])
    assert user_id != carol_id


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "12", "source": "chatbot"},
        {"email": "not-an-email", "source": "chatbot"},
        {"phone": "555-123-4567"},
        {"source": "chatbot"},
        {"phone": 5551234567, "source": "chatbot"},
        {"authUserId": "nope", "source": "webapp"},
        {"firstName": "x" * 201, "phone": "555-123-4567", "source": "chatbot"},
        {"allergies": "nuts", "phone": "555-123-4567", "source": "chatbot"},
        {"phone": "555-123-4567", "source": "chatbot", "big": "x" * 17000},
    ],
)
def test_every_error_carries_a_listed_code(conn: Conn, body: dict[str, Any]) -> None:
    error = expect_error(conn, body)
    assert error["message"] in contract.kit_error_codes(), error


def test_every_code_the_sql_raises_is_in_the_contract() -> None:
    """Each stable code passed to raise_error in a migration is listed in KitErrorCode
    (but those of the import and dedupe functions: only a DBA's batch run meets them, and
    the command prints them; no API role can execute those functions)."""
    pattern = re.compile(r"raise_error\(\s*'([a-z_]+)'(?!\s*\|\|)")
    raised = {
        code
        for path in paths.migrations_dir().glob("*.sql")
        if "import" not in path.name and "dedupe" not in path.name
        for code in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert len(raised) >= 20
    assert sorted(raised - set(contract.kit_error_codes())) == []
