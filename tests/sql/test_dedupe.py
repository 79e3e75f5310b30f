"""Batch deduplication: ``customer_management.batch.dedupe`` driving the dedupe functions.

On generated legacy data with a known truth (people with several records sharing phones and
emails in chains, placeholders shared by many) the groups found are exactly the people; a
dry run changes nothing; applying merges each group as the online path merges (merge log,
audit, events) and every merge can be undone; accounts of different logins become
conflicts; blocked values, undone merges and kept-separate decisions are respected.
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
from customer_management.local.rpc_session import call_rpc as call_named_rpc
from support.helpers import call_rpc, create_auth_user, table_snapshot

Conn = psycopg.Connection[Any]
PEOPLE = 240
HEADER = "legacy_id,first_name,last_name,phone,email,allergies,created_at\n"


def import_rows(db_url: str, tmp_path: Path, *lines: str, verified: tuple[str, ...] = ()) -> None:
    """Import a few legacy rows."""
    path = tmp_path / f"rows-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    with Progress(enabled=False) as progress:
        run_import(
            db_url, Source(path=path), None, tmp_path / "rejects.csv", progress, verified=verified
        )


def import_people(db_url: str, tmp_path: Path, people: int = PEOPLE) -> None:
    """The legacy export of ``people`` generated people."""
    path = tmp_path / "legacy.csv"
    legacy.write_csv(path, people)
    with Progress(enabled=False) as progress:
        run_import(db_url, Source(path=path), None, tmp_path / "rejects.csv", progress)


def legacy_ids(conn: Conn) -> dict[str, str]:
    """Account id -> legacy id."""
    rows = conn.execute(
        "select customer_id::text, legacy_id from customer_management.legacy_ids"
    ).fetchall()
    return {str(a): str(b) for a, b in rows}


def account_of(conn: Conn, legacy_id: str) -> str:
    """The account a legacy record became."""
    row = conn.execute(
        "select customer_id::text from customer_management.legacy_ids where legacy_id = %s",
        (legacy_id,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def apply(db_url: str, batch_size: int = 7, max_group_size: int = 10) -> dedupe.DedupeResult:
    """Apply deduplication."""
    with Progress(enabled=False) as progress:
        return dedupe.apply(db_url, progress, max_group_size, batch_size)


def one(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> Any:
    """A single value."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def durable_state(conn: Conn) -> dict[str, list[Any]]:
    """What a merge changes and an undo restores: accounts (all but updated_at), identifier
    ownership and status, order ownership."""
    return {
        "customers": conn.execute(
            "select id, first_name, last_name, phone, email, auth_user_id, allergies, "
            "preferences, created_at, merged_into from public.customers order by id"
        ).fetchall(),
        "identifiers": conn.execute(
            "select id, customer_id, type, value, status, verified_at "
            "from customer_management.customer_identifiers order by id"
        ).fetchall(),
        "orders": conn.execute("select id, customer_id from public.orders order by id").fetchall(),
    }


def test_the_groups_are_the_people_exactly(conn: Conn, db_url: str, tmp_path: Path) -> None:
    import_people(db_url, tmp_path)
    result = dedupe.dry_run(db_url)
    legacy_of = legacy_ids(conn)
    found = {frozenset(legacy_of[m] for m in g["memberIds"]) for g in result.groups}
    truth = legacy.true_groups(PEOPLE)
    assert len(truth) > 50 and any(len(group) == 4 for group in truth)
    assert found == truth
    assert result.plan["groups"] == len(truth)
    assert result.plan["planned"]["merge"] == len(truth)
    assert result.plan["mergesPlanned"] == sum(len(g) - 1 for g in truth)
    for group in result.groups:
        # The survivor is the one the fixed rule picks, listed first; the ties are real.
        chosen = one(
            conn,
            "select customer_management.choose_survivor(%s::uuid[])::text",
            (group["memberIds"],),
        )
        assert group["survivorId"] == chosen == group["memberIds"][0]
        values = {t["value"] for t in group["ties"]}
        person = legacy.person_of(legacy_of[group["memberIds"][0]])
        assert values <= {
            legacy.phone(person),
            legacy.phone(person, 1),
            legacy.email(person),
            legacy.work_email(person),
        }


def test_the_dry_run_changes_nothing(conn: Conn, db_url: str, tmp_path: Path) -> None:
    import_people(db_url, tmp_path, 60)
    before = table_snapshot(conn)
    first = dedupe.dry_run(db_url)
    assert first.plan["groups"] > 0
    assert table_snapshot(conn) == before
    again = dedupe.dry_run(db_url)
    assert again.groups == first.groups


def test_apply_merges_each_person_into_one_account(conn: Conn, db_url: str, tmp_path: Path) -> None:
    import_people(db_url, tmp_path)
    plan = dedupe.dry_run(db_url)
    result = apply(db_url)
    truth = legacy.true_groups(PEOPLE)
    assert result.totals["outcomes"]["merged"] == len(truth)
    assert result.totals["merges"] == sum(len(g) - 1 for g in truth)
    assert len(result.merge_ids) == result.totals["merges"]
    assert [g["memberIds"] for g in result.groups] == [g["memberIds"] for g in plan.groups]
    # Every person is one live account now, holding all of their phones and emails active.
    assert one(conn, "select count(*) from public.customers where merged_into is null") == PEOPLE
    for group in truth:
        survivors = {
            one(
                conn,
                "select customer_management.live_customer_id(%s)::text",
                (account_of(conn, m),),
            )
            for m in group
        }
        assert len(survivors) == 1
        person = legacy.person_of(next(iter(group)))
        held = {
            row[0]
            for row in conn.execute(
                "select value from customer_management.customer_identifiers "
                "where customer_id = %s and status = 'active'",
                (survivors.pop(),),
            )
        }
        assert legacy.phone(person) in held and legacy.email(person) in held
        if len(group) >= 3:
            assert legacy.phone(person, 1) in held
    # The merges went the one way: merge log (source dedupe), audit, outbox.
    assert one(
        conn, "select count(*) from customer_management.merge_log where source = 'dedupe'"
    ) == len(result.merge_ids)
    assert one(
        conn,
        "select count(*) from customer_management.audit_log where action = 'merge' "
        "and source = 'dedupe'",
    ) == len(result.merge_ids)
    assert one(conn, "select count(*) from public.customer_events where event = 'merged'") == len(
        result.merge_ids
    )
    # Nothing is left to do, the scratch space is empty, and the kit's promises hold.
    assert dedupe.dry_run(db_url).plan["groups"] == 0
    assert one(conn, "select count(*) from customer_management.dedupe_groups") == 0
    assert conn.execute("select * from customer_management.check_invariants()").fetchall() == []


def test_every_merge_it_made_is_undoable(conn: Conn, db_url: str, tmp_path: Path) -> None:
    import_people(db_url, tmp_path, 80)
    before = durable_state(conn)
    result = apply(db_url)
    assert len(result.merge_ids) > 10
    for merge_id in sorted(result.merge_ids, reverse=True):
        undone = call_named_rpc(conn, "undo_merge", {"merge_id": merge_id, "reason": "test"})
        assert undone["undoneMergeIds"] == [merge_id]
    assert durable_state(conn) == before
    assert conn.execute("select * from customer_management.check_invariants()").fetchall() == []
    # An undone merge is a decision: no later run merges those two accounts again.
    undone = conn.execute(
        "select m.survivor_id, m.merged_id from customer_management.merge_log as m "
        "inner join customer_management.merge_undos as u on u.merge_id = m.id"
    ).fetchall()
    assert len(undone) == len(result.merge_ids)
    apply(db_url)
    for survivor, merged in undone:
        live = conn.execute(
            "select customer_management.live_customer_id(%s), "
            "customer_management.live_customer_id(%s)",
            (survivor, merged),
        ).fetchone()
        assert live is not None and live[0] != live[1]


def test_accounts_of_different_logins_become_a_conflict(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    _, x_claims = create_auth_user(conn, email="xena@gmail.com")
    xena = call_rpc(
        conn, {"email": "xena@gmail.com", "source": "webapp"}, "authenticated", x_claims
    )["customer"]["id"]
    # An old record with a phone the old system proved, and Xena's email.
    import_rows(
        db_url, tmp_path, "X1,Xena,Old,201-555-0191,xena@gmail.com,,2019-01-01", verified=("phone",)
    )
    old = account_of(conn, "X1")
    # Someone else signs in with that phone confirmed: the old record becomes theirs.
    _, y_claims = create_auth_user(conn, phone="+12015550191")
    mine = call_rpc(conn, {"phone": "+12015550191", "source": "webapp"}, "authenticated", y_claims)[
        "customer"
    ]["id"]
    assert mine == old
    plan = dedupe.dry_run(db_url)
    # Xena's login verified the email; the old record only repeats it: never merged.
    assert [(g["planned"], g["survivorId"], sorted(g["memberIds"])) for g in plan.groups] == [
        ("contested", None, sorted([xena, old]))
    ]
    assert plan.groups[0]["ties"] == [
        {"type": "email", "value": "xena@gmail.com", "strengths": ["vouched", "verified"]}
    ]
    result = apply(db_url)
    assert result.merge_ids == []
    conflict = result.groups[0]["conflictId"]
    row = conn.execute(
        "select status, customer_ids::text[], source from customer_management.customer_conflicts "
        "where id = %s",
        (conflict,),
    ).fetchone()
    assert row == ("open", sorted([xena, old]), "dedupe")
    # A rerun does not record it again.
    again = apply(db_url)
    assert again.groups[0]["conflictId"] == conflict
    assert one(conn, "select count(*) from customer_management.customer_conflicts") == 1
    assert one(conn, "select occurrences from customer_management.customer_conflicts") == 1


def test_a_blocked_value_ties_nobody(conn: Conn, db_url: str, tmp_path: Path) -> None:
    import_rows(
        db_url,
        tmp_path,
        "S1,Shop,Counter,201-555-0199,,,2020-01-01",
        "S2,Walk,In,201-555-0199,,,2020-02-01",
        "S3,Walk,Out,201-555-0199,walk@gmail.com,,2020-03-01",
    )
    assert dedupe.dry_run(db_url).plan["groups"] == 1
    # The shop's own number was typed for walk-in customers: a DBA blocks it.
    conn.execute(
        "insert into customer_management.blocked_values (kind, value, reason) "
        "values ('phone', '+12015550199', 'the shop''s own number')"
    )
    assert dedupe.dry_run(db_url).plan["groups"] == 0


def test_a_group_larger_than_the_limit_is_listed_not_merged(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    import_rows(
        db_url,
        tmp_path,
        *(f"T{n},Many,Same,201-555-0177,,,2020-01-{n + 1:02d}" for n in range(5)),
    )
    result = apply(db_url, max_group_size=4)
    assert [(g["planned"], g["outcome"]) for g in result.groups] == [("too_large", "too_large")]
    assert result.merge_ids == []
    assert one(conn, "select count(*) from public.customers where merged_into is null") == 5


def test_a_set_kept_separate_is_not_merged(conn: Conn, db_url: str, tmp_path: Path) -> None:
    import_rows(
        db_url,
        tmp_path,
        "K1,Kim,One,201-555-0166,,,2020-01-01",
        "K2,Kim,Two,201-555-0166,kim2@gmail.com,,2020-02-01",
        "K3,Kim,Three,,kim2@gmail.com,,2020-03-01",
    )
    first, second = account_of(conn, "K1"), account_of(conn, "K2")
    conn.execute(
        "insert into customer_management.customer_conflicts (customer_ids, status, source, "
        "actor_role, resolved_at, resolved_by_role) values (%s::uuid[], 'kept_separate', "
        "'support', 'service_role', now(), 'service_role')",
        (sorted([first, second]),),
    )
    result = apply(db_url)
    assert [g["outcome"] for g in result.groups] == ["kept_separate"]
    assert result.merge_ids == []


def test_a_held_identifier_nobody_else_holds_any_more_becomes_active(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    holder = call_rpc(conn, {"phone": "+12015550155", "source": "chatbot"})["customer"]["id"]
    import_rows(db_url, tmp_path, "G1,Gia,Gone,201-555-0155,,,2020-01-01")
    imported = account_of(conn, "G1")
    # A DBA takes the phone off the online account (it was typed there by mistake).
    conn.execute(
        "delete from customer_management.customer_identifiers where customer_id = %s", (holder,)
    )
    conn.execute("update public.customers set phone = null where id = %s", (holder,))
    assert dedupe.dry_run(db_url).plan["groups"] == 0
    result = apply(db_url)
    assert result.totals["identifiersActivated"] == 1
    row = conn.execute(
        "select c.phone, ci.status from public.customers as c "
        "inner join customer_management.customer_identifiers as ci on ci.customer_id = c.id "
        "where c.id = %s",
        (imported,),
    ).fetchone()
    assert row == ("+12015550155", "active")
    assert one(conn, "select count(*) from customer_management.import_held_identifiers") == 0
    assert (
        one(
            conn,
            "select count(*) from customer_management.audit_log where customer_id = %s "
            "and action = 'link' and details ->> 'reason' = 'import_hold_settled'",
            (imported,),
        )
        == 1
    )


def test_accounts_holding_a_value_nobody_holds_active_are_one_group(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    import_rows(
        db_url,
        tmp_path,
        "N1,Nan,First,201-555-0133,,,2020-01-01",
        "N2,Nan,Second,201-555-0133,,,2020-02-01",
        "N3,Nan,Third,201-555-0133,,,2020-03-01",
    )
    first, second, third = (account_of(conn, n) for n in ("N1", "N2", "N3"))
    # A DBA takes the phone off the account holding it active: the two held copies remain.
    conn.execute(
        "delete from customer_management.customer_identifiers where customer_id = %s", (first,)
    )
    conn.execute("update public.customers set phone = null where id = %s", (first,))
    planned = dedupe.dry_run(db_url).groups
    assert [(g["memberIds"], g["survivorId"], g["ties"]) for g in planned] == [
        (
            [second, third],
            second,
            [{"type": "phone", "value": "+12015550133", "strengths": ["vouched", "vouched"]}],
        )
    ]
    result = apply(db_url)
    assert [g["outcome"] for g in result.groups] == ["merged"]
    # What the merge left on the tombstone ties nobody: a rerun finds nothing to do.
    assert dedupe.dry_run(db_url).groups == []


def test_an_existing_account_and_its_imported_duplicates_merge(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """The online account keeps its id when it is the oldest; the imported duplicate's
    email comes over, and its held copy of the phone stays on the tombstone. The old system
    knew its callers by caller ID (--verified phone): the import holds the number as strongly
    as the caller's line does."""
    online = call_rpc(conn, {"phone": "+12015550144", "firstName": "Olga", "source": "chatbot"})
    import_rows(
        db_url,
        tmp_path,
        "O1,Olga,Imported,201-555-0144,olga@gmail.com,,2999-01-01",
        verified=("phone",),
    )
    result = apply(db_url)
    assert result.groups[0]["survivorId"] == online["customer"]["id"]
    answer = call_rpc(conn, {"email": "olga@gmail.com", "source": "webapp"})
    assert answer["customer"]["id"] == online["customer"]["id"]
    assert answer["customer"]["phone"] == "+12015550144"


@pytest.mark.parametrize("function", ["plan_dedupe(integer)", "apply_dedupe_batch(uuid, integer)"])
def test_the_dedupe_functions_are_closed_to_api_roles(conn: Conn, function: str) -> None:
    for role in ("anon", "authenticated", "service_role"):
        allowed = one(
            conn,
            "select has_function_privilege(%s, %s, 'execute')",
            (role, f"customer_management.{function}"),
        )
        assert allowed is False, role
