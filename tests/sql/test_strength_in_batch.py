"""Identifier strengths across import, batch deduplication, maintenance and undo.

Nothing of a person is lost: after an import, ``dedupe --apply``, every identifier aged past
the retention and maintenance run, undoing every merge restores each account so that the
same lookups find it, and a later dedupe plans the imported duplicates again. And a
stranger never inherits a legacy account: dedupe never merges a number someone's verified
line holds into a legacy account, nor a legacy row into the line's account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench import legacy
from customer_management.batch import dedupe
from customer_management.batch.importer import Source, run_import
from customer_management.batch.progress import Progress
from support.helpers import call_rpc

Conn = psycopg.Connection[Any]
HEADER = "legacy_id,first_name,last_name,phone,email,allergies,created_at\n"
NUMBER = "+12015550177"


def import_csv(db_url: str, path: Path, tmp_path: Path) -> None:
    with Progress(enabled=False) as progress:
        run_import(db_url, Source(path=path), None, tmp_path / "rejects.csv", progress)


def import_rows(db_url: str, tmp_path: Path, *lines: str) -> None:
    path = tmp_path / f"rows-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    import_csv(db_url, path, tmp_path)


def apply(db_url: str) -> dedupe.DedupeResult:
    with Progress(enabled=False) as progress:
        return dedupe.apply(db_url, progress)


def violations(conn: Conn) -> list[Any]:
    return conn.execute("select * from customer_management.check_invariants()").fetchall()


def shown_emails(conn: Conn) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select id::text, email from public.customers "
        "where merged_into is null and email is not null order by id"
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


@pytest.mark.parametrize("cascade", [False, True])
def test_undo_after_months_of_maintenance_restores_every_account(
    conn: Conn, db_url: str, tmp_path: Path, cascade: bool
) -> None:
    """Import people with duplicates, merge them, let every identifier age past the
    retention and maintenance run, then undo every merge: each account shows what it did
    before the merges, and a lookup by each shown email finds the account showing it."""
    path = tmp_path / "legacy.csv"
    legacy.write_csv(path, 160)
    import_csv(db_url, path, tmp_path)
    shown_before = shown_emails(conn)
    first_plan = dedupe.dry_run(db_url)
    result = apply(db_url)
    assert result.merge_ids
    conn.execute(
        "update customer_management.customer_identifiers "
        "set created_at = created_at - interval '400 days'"
    )
    conn.execute("select customer_management.run_maintenance()")
    assert violations(conn) == []
    merges = [
        int(row[0])
        for row in conn.execute(
            "select id from customer_management.merge_log order by id desc"
        ).fetchall()
    ]
    if cascade:
        # Undo the oldest merge of each group with cascade: its later ones go first.
        for merge_id in sorted(merges):
            done = conn.execute(
                "select 1 from customer_management.merge_undos where merge_id = %s", (merge_id,)
            ).fetchone()
            if done is None:
                conn.execute("select public.undo_merge(%s, true)", (merge_id,))
    else:
        for merge_id in merges:
            conn.execute("select public.undo_merge(%s)", (merge_id,))
    assert violations(conn) == []
    assert shown_emails(conn) == shown_before
    for account, email in shown_emails(conn):
        answer = call_rpc(conn, {"email": email, "source": "webapp"})
        assert answer["customer"]["id"] == account
        assert answer["customer"]["isNewAccount"] is False
    # The imported duplicates are held again: dedupe plans the same groups.
    again = dedupe.dry_run(db_url)
    assert [sorted(g["memberIds"]) for g in again.groups] == [
        sorted(g["memberIds"]) for g in first_plan.groups
    ]


def test_a_legacy_number_never_merges_into_the_callers_verified_line(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """The current owner of a recycled number calls first; the shop then imports its legacy
    table, where a former customer had that number. Dedupe plans a contested tie, applies it
    as a conflict for support, and the caller keeps hearing her own account."""
    caller = call_rpc(conn, {"phone": NUMBER, "source": "chatbot"})["customer"]["id"]
    import_rows(
        db_url, tmp_path, "W1,Walter,Old,201-555-0177,walter@oldmail.com,shellfish,2015-03-01"
    )
    plan = dedupe.dry_run(db_url)
    assert [(g["planned"], g["ties"]) for g in plan.groups] == [
        (
            "contested",
            [{"type": "phone", "value": NUMBER, "strengths": ["vouched", "verified"]}],
        )
    ]
    result = apply(db_url)
    assert result.merge_ids == []
    assert [g["outcome"] for g in result.groups] == ["contested"]
    kind = conn.execute(
        "select kind, status from customer_management.customer_conflicts"
    ).fetchall()
    assert kind == [("contested_identifier", "open")]
    again = call_rpc(conn, {"phone": NUMBER, "source": "chatbot"})
    assert again["customer"]["id"] == caller
    for secret in ("Walter", "walter@oldmail.com", "shellfish"):
        assert secret not in str(again)
    assert violations(conn) == []


def test_legacy_rows_sharing_a_number_never_greet_its_next_owner(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """Two legacy rows share a number and merge; whoever holds that line later is asked for a
    second proof, and declining gets her an account of her own: never "Welcome back Walter"."""
    import_rows(
        db_url,
        tmp_path,
        "W1,Walter,Old,201-555-0177,walter@oldmail.com,shellfish,2015-03-01",
        "W2,Walter,Older,201-555-0177,,,2016-03-01",
    )
    result = apply(db_url)
    assert len(result.merge_ids) == 1
    asked = call_rpc(conn, {"phone": NUMBER, "source": "chatbot"})
    assert asked["message"] == "second_proof_required"
    own = call_rpc(conn, {"phone": NUMBER, "source": "chatbot", "withoutSecondProof": True})
    assert own["customer"]["isNewAccount"] is True
    for secret in ("Walter", "walter@oldmail.com", "shellfish"):
        assert secret not in str(own)
    assert violations(conn) == []


def test_legacy_rows_sharing_the_callers_number_are_each_contested(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """The line's owner called before the import; two legacy rows repeat her number: neither
    is merged into her account, each tie goes to support."""
    caller = call_rpc(conn, {"phone": NUMBER, "source": "chatbot"})["customer"]["id"]
    import_rows(
        db_url,
        tmp_path,
        "W1,Walter,Old,201-555-0177,walter@oldmail.com,,2015-03-01",
        "W2,Walter,Older,201-555-0177,,,2016-03-01",
    )
    result = apply(db_url)
    assert result.merge_ids == []
    assert sorted(g["outcome"] for g in result.groups) == ["contested", "contested"]
    assert call_rpc(conn, {"phone": NUMBER, "source": "chatbot"})["customer"]["id"] == caller
    assert violations(conn) == []
