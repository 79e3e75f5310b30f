"""Enumeration: a web user probing 50 phones learns nothing and is stopped after 20.

Half of the probed phones belong to other customers. The prober's answers are compared,
probe by probe, with those of a second user probing 50 phones that nobody holds: after
replacing each user's own account id and email and the phone probed, they are identical.
So the answer (verificationRequired included) does not depend on whether the phone exists.
"""

from __future__ import annotations

from typing import Any

from support.helpers import call_rpc, create_auth_user
from support.security import (
    RETRY_HINT,
    Conn,
    customer_state,
    leaked,
    phone_digits,
    rpc_outcome,
    scrub,
)

PROBES = 50
LIMIT = 20


def probe_all(conn: Conn, email: str, phones: list[str]) -> list[dict[str, Any]]:
    """Sign in a user with a confirmed email and send each phone once, as fast as possible."""
    _, claims = create_auth_user(conn, email=email)
    return [
        rpc_outcome(conn, {"phone": phone, "source": "webapp"}, "authenticated", claims)
        for phone in phones
    ]


def normalised(outcome: dict[str, Any], email: str, phone: str) -> str:
    """An outcome with the prober's own id, email and probed phone replaced."""
    replacements = {email: "<own email>", phone: "<phone>"}
    if "ok" in outcome:
        replacements[outcome["ok"]["customer"]["id"]] = "<own id>"
    if "error" in outcome:
        outcome = {"error": {**outcome["error"], "hint": "<retry hint>"}}
    return scrub(outcome, replacements)


def test_probing_fifty_phones_is_limited_and_reveals_nothing(conn: Conn) -> None:
    """20 answers, then rate_limited; every answer identical to a prober of unused phones."""
    probed = [f"+1555600{n:04d}" for n in range(PROBES)]
    unused = [f"+1555700{n:04d}" for n in range(PROBES)]
    victims: dict[str, dict[str, Any]] = {}
    for n, phone in enumerate(probed[::2]):
        response = call_rpc(
            conn,
            {
                "phone": phone,
                "email": f"victim{n}@example.com",
                "firstName": f"Victim{n:02d}",
                "lastName": "Secretson",
                "source": "chatbot",
            },
        )
        victims[phone] = response["customer"]
    before = {phone: customer_state(conn, c["id"]) for phone, c in victims.items()}

    outcomes = probe_all(conn, "prober@example.net", probed)
    controls = probe_all(conn, "control@example.net", unused)

    answered = [o for o in outcomes if "ok" in o]
    limited = [o["error"] for o in outcomes if "error" in o]
    assert len(answered) == LIMIT
    assert all("ok" in o for o in outcomes[:LIMIT])
    assert len(limited) == PROBES - LIMIT
    for error in limited:
        assert (error["sqlstate"], error["message"]) == ("PT429", "rate_limited"), error
        match = RETRY_HINT.match(error["hint"] or "")
        assert match, error
        assert 1 <= int(match.group(1)) <= 60, error

    for n, (outcome, control) in enumerate(zip(outcomes, controls, strict=True)):
        assert normalised(outcome, "prober@example.net", probed[n]) == normalised(
            control, "control@example.net", unused[n]
        ), f"probe {n} ({'held by another account' if probed[n] in victims else 'unused'})"

    # In particular verificationRequired has one shape for held and unused phones.
    pending = [
        o["ok"]
        for o in answered
        if "verificationRequired" in o["ok"] and not o["ok"]["customer"]["isNewAccount"]
    ]
    held = [p for p in pending if p["verificationRequired"][0]["value"] in victims]
    free = [p for p in pending if p["verificationRequired"][0]["value"] not in victims]
    assert held and free
    shapes = {scrub(p, {p["verificationRequired"][0]["value"]: "<phone>"}) for p in pending}
    assert len(shapes) == 1, shapes

    # Nothing about any victim came back, and no victim account changed.
    secrets = [
        "Secretson",
        *(c["id"] for c in victims.values()),
        *(f"victim{n}@example.com" for n in range(len(victims))),
    ]
    assert leaked(outcomes, secrets) == []
    for outcome, phone in zip(outcomes, probed, strict=True):
        if "ok" in outcome:
            rest = {k: v for k, v in outcome["ok"].items() if k != "verificationRequired"}
            assert leaked(rest, phone_digits(phone)) == []
    assert {phone: customer_state(conn, c["id"]) for phone, c in victims.items()} == before
    merges = conn.execute(
        "select (select count(*) from customer_management.merge_log),"
        " (select count(*) from customer_management.customer_conflicts)"
    ).fetchone()
    assert merges == (0, 0)


def test_probing_emails_is_limited_and_reveals_nothing(conn: Conn) -> None:
    """The same for emails: 25 held by other accounts, 25 unused, identical answers."""
    probed = [f"target{n}@example.com" for n in range(PROBES)]
    unused = [f"nobody{n}@example.org" for n in range(PROBES)]
    for n, email in enumerate(probed[::2]):
        call_rpc(conn, {"email": email, "firstName": f"Held{n}", "source": "webapp"})
    _, claims = create_auth_user(conn, email="prober@example.net")
    _, control_claims = create_auth_user(conn, email="control@example.net")
    outcomes = [
        rpc_outcome(conn, {"email": e, "source": "webapp"}, "authenticated", claims) for e in probed
    ]
    controls = [
        rpc_outcome(conn, {"email": e, "source": "webapp"}, "authenticated", control_claims)
        for e in unused
    ]
    assert sum("ok" in o for o in outcomes) == LIMIT
    for n, (outcome, control) in enumerate(zip(outcomes, controls, strict=True)):
        assert normalised(outcome, "prober@example.net", probed[n]) == normalised(
            control, "control@example.net", unused[n]
        ), f"probe {n}"
    assert leaked(outcomes, [f"Held{n}" for n in range(PROBES // 2)]) == []
