"""Possible duplicates: accounts that are probably one person although no identifier ties
them, found in SQL (``find_possible_duplicates``), kept grouped for support
(``refresh_possible_duplicates``) and decided through the support RPCs: merged (through
merge_opened_accounts, undone with undo_merge) or kept apart (remembered). Never merged by
the kit itself, never opening an account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from bench import typos
from customer_management.batch.importer import Source, run_import
from customer_management.batch.progress import Progress
from support.helpers import create_auth_user
from support.lifecycle import rpc, rpc_error, support_agent

Conn = psycopg.Connection[Any]
HEADER = "legacy_id,first_name,last_name,phone,email\n"


def import_rows(db_url: str, tmp_path: Path, *lines: str) -> None:
    """Import a few legacy rows, as they are."""
    path = tmp_path / f"rows-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    with Progress(enabled=False) as progress:
        run_import(db_url, Source(path=path), None, tmp_path / "rejects.csv", progress)


def account(conn: Conn, legacy_id: str) -> str:
    row = conn.execute(
        "select customer_id::text from customer_management.legacy_ids where legacy_id = %s",
        (legacy_id,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def found(conn: Conn) -> dict[frozenset[str], tuple[int, list[str]]]:
    """The pairs find_possible_duplicates proposes, as legacy ids -> (score, reasons)."""
    rows = conn.execute(
        "select la.legacy_id, lb.legacy_id, f.score, f.reasons "
        "from customer_management.find_possible_duplicates() as f "
        "join customer_management.legacy_ids as la on la.customer_id = f.account_a "
        "join customer_management.legacy_ids as lb on lb.customer_id = f.account_b"
    ).fetchall()
    return {frozenset((a, b)): (score, list(reasons)) for a, b, score, reasons in rows}


def refresh(conn: Conn) -> dict[str, Any]:
    row = conn.execute("select customer_management.refresh_possible_duplicates()").fetchone()
    assert row is not None
    conn.commit()
    result: dict[str, Any] = row[0]
    return result


def test_each_kind_of_typo_is_proposed_with_its_reasons(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """Dropped, doubled and moved characters of an email, a phone one digit off, swapped
    names and a missing surname: each pair is proposed, saying why; strangers are not."""
    import_rows(
        db_url,
        tmp_path,
        "d1,Zelda,Quibbleworth,,zelda.quibbleworth@mail.com",
        "d2,Zelda,Quibbleworth,,zelda.quibbleworh@mail.com",  # one character dropped
        "w1,Ottilie,Farnsworthy,,ottiliefarns@mail.com",
        "w2,Farnsworthy,Ottilie,,ottiliefarnns@mail.com",  # doubled, names swapped
        "m1,Percival,Umbridgeton,+15558880001,percival.umb@mail.com",
        "m2,Percival,,+15558880007,percival.ubm@mail.com",  # moved, surname missing
        "p1,Ignatius,Wolfensberger,+15557654321,",
        "p2,Ignatius,Wolfensberger,+15557654391,",  # one digit off
        "s1,John,Smith,+15551110001,john.smith@mail.com",
        "s2,Mary,Jones,+15552220002,mary.jones@mail.com",
        # The typo of an email that is a first name and an initial, the surname missing:
        # as often two people (daniel@, danielw@) as one, so not proposed on that alone.
        "n1,Daniel,Washington,,danielw@mail.com",
        "n2,Daniel,,,daniel@mail.com",
    )
    pairs = found(conn)
    expected = {
        ("d1", "d2"): "email_one_character_dropped_or_doubled",
        ("w1", "w2"): "email_one_character_dropped_or_doubled",
        ("m1", "m2"): "email_one_character_moved",
        ("p1", "p2"): "phone_one_digit_off",
    }
    for (a, b), reason in expected.items():
        score, reasons = pairs[frozenset((a, b))]
        assert reason in reasons, (a, b, reasons)
        assert score >= 80
    assert "names_swapped" in pairs[frozenset(("w1", "w2"))][1]
    assert "surname_missing" in pairs[frozenset(("m1", "m2"))][1]
    assert "phone_one_digit_off" in pairs[frozenset(("m1", "m2"))][1]
    assert "same_name" in pairs[frozenset(("p1", "p2"))][1]
    assert set(pairs) == {frozenset(p) for p in expected}


def test_pairs_tied_exactly_or_of_two_logins_or_decided_are_left_out(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """A shared email is the exact plan's; two logins are never merged; a pair kept apart
    by support, or whose merge was undone, is not proposed again."""
    import_rows(
        db_url,
        tmp_path,
        "e1,Rosalind,Fairweatherly,,rosalind.fw@mail.com",
        "e2,Rosalind,Fairweatherly,+15553334455,rosalind.fw@mail.com",  # exact: the plan's
        "l1,Barnaby,Thistlewood,,barnaby.thistle@mail.com",
        "l2,Barnaby,Thistlewood,,barnaby.thistel@mail.com",
        "k1,Cordelia,Wintergreen,+15554443322,",
        "k2,Cordelia,Wintergreen,+15554443323,",
    )
    assert set(found(conn)) == {frozenset(("l1", "l2")), frozenset(("k1", "k2"))}
    for legacy_id in ("l1", "l2"):
        user_id, _ = create_auth_user(conn, email=f"{legacy_id}@login.example")
        # The login becomes the account's: an identifier (its auth_user_id follows).
        conn.execute(
            "insert into customer_management.customer_identifiers (customer_id, type, value, "
            "display_value, status, strength, verified_at, source) "
            "values (%s, 'auth_user', %s, %s, 'active', 'verified', now(), 'webapp')",
            (account(conn, legacy_id), str(user_id), str(user_id)),
        )
    assert set(found(conn)) == {frozenset(("k1", "k2"))}

    refresh(conn)
    kept = rpc(conn, "support_keep_duplicates_apart", {"account_ids": [account(conn, "k1")]})
    assert kept["keptApart"] == 1
    assert found(conn) == {}
    assert refresh(conn)["pairs"] == 0


def test_groups_are_transitive_and_support_merges_then_undoes(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """A~B and B~C make one group of three with the reasons of each pair. Support previews
    and merges two of them through merge_opened_accounts; the third stays proposed with the
    survivor; undo_merge restores the accounts and the undone pair is not proposed again."""
    import_rows(
        db_url,
        tmp_path,
        "a,Hyacinth,Bucketworth,+15556667701,hyacinth.bw@mail.com",
        "b,Hyacinth,Bucketworth,+15556667702,hyacinth.bww@mail.com",
        "c,Bucketworth,Hyacinth,+15556667703,",
    )
    summary = refresh(conn)
    assert summary["groups"] == 1 and summary["accounts"] == 3
    page = rpc(conn, "support_possible_duplicates", {})
    (group,) = page["groups"]
    ids = {account(conn, x): x for x in "abc"}
    assert {a["id"] for a in group["accounts"]} == set(ids)
    reasons = {
        frozenset((ids[p["accountA"]], ids[p["accountB"]])): p["reasons"] for p in group["pairs"]
    }
    assert "email_one_character_dropped_or_doubled" in reasons[frozenset("ab")]
    assert "names_swapped" in reasons[frozenset("bc")]

    a, b, c = (account(conn, x) for x in "abc")
    preview = rpc(conn, "support_duplicate_merge_preview", {"account_ids": [a, b]})
    assert preview["canMerge"] and preview["survivorId"] in (a, b)
    before = conn.execute("select count(*) from customer_management.merge_log").fetchone()
    assert before == (0,)  # the preview changed nothing

    merged = rpc(
        conn,
        "support_merge_duplicates",
        {"account_ids": [a, b], "survivor_id": b, "reason": "same person, checked"},
    )
    assert merged["customer"]["id"] == b and len(merged["mergeIds"]) == 1
    (left,) = rpc(conn, "support_possible_duplicates", {})["groups"]
    assert {x["id"] for x in left["accounts"]} == {b, c}

    undone = rpc(conn, "undo_merge", {"merge_id": merged["mergeIds"][0]})
    assert undone["undoneMergeIds"] == merged["mergeIds"]
    live = conn.execute(
        "select count(*) from public.customers where id = any(%s) and merged_into is null",
        ([a, b, c],),
    ).fetchone()
    assert live == (3,)
    assert frozenset(("a", "b")) not in found(conn)


def test_only_support_may_look_and_decide(conn: Conn, db_url: str, tmp_path: Path) -> None:
    """An end user and anon get forbidden from every possible-duplicates RPC; a support
    agent passes; accounts of no group are refused."""
    import_rows(
        db_url,
        tmp_path,
        "x1,Evangeline,Marchbanks,+15557778801,",
        "x2,Evangeline,Marchbanks,+15557778802,",
        "y1,Other,Person,+15550001234,",
    )
    refresh(conn)
    x1, x2, y1 = (account(conn, x) for x in ("x1", "x2", "y1"))
    _user_id, claims = create_auth_user(conn, email="someone@example.com")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("support_possible_duplicates", {}),
        ("support_duplicate_merge_preview", {"account_ids": [x1, x2]}),
        ("support_merge_duplicates", {"account_ids": [x1, x2]}),
        ("support_keep_duplicates_apart", {"account_ids": [x1]}),
    ]
    for function, args in calls:
        assert rpc_error(conn, function, args, "authenticated", claims)["message"] == "forbidden"
    _, agent = support_agent(conn)
    assert len(rpc(conn, "support_possible_duplicates", {}, "authenticated", agent)["groups"]) == 1
    refused = rpc_error(conn, "support_merge_duplicates", {"account_ids": [x1, y1]})
    assert refused["message"] == "not_possible_duplicates"
    assert rpc_error(conn, "support_merge_duplicates", {"account_ids": [x1]})["message"] == (
        "invalid_accounts"
    )


def test_the_generated_table_scores_as_the_bench_says(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """On 1,500 generated people with typos (seed 3), the exact plan plus the suggestions
    find most true pairs and few false ones (the bench measures the full numbers)."""
    path = tmp_path / "typos.csv"
    truth = typos.write_csv(path, 1500, seed=3)
    with Progress(enabled=False) as progress:
        run_import(db_url, Source(path=path), None, tmp_path / "rejects.csv", progress)
    from bench.suggest_compare import kit

    scores = kit(db_url, truth["true_pairs"])
    assert scores["exact"]["recall"] < 0.75
    assert scores["recall"] >= 0.9 and scores["precision"] >= 0.95, scores
