"""What tripped a newcomer adopting a shop's table, from the command line: real subprocesses
against real databases.

A malformed email costs the row only that value; a row with no phone or email comes in and
is reported unreachable; columns named otherwise are mapped with ``--map``; a table's
ignored columns are listed and its rejects numbered by the line of its CSV export; the dry
run names accounts by legacy id and name and says which rule chose each survivor (rows
without created_at in file order); the apply summary counts the held identifiers made
active; ``undo`` undoes a merge (``--cascade`` lists what it also undoes first);
``dedupe --suggest`` lists possible duplicates; ``report`` fits 80 columns.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

Conn = psycopg.Connection[Any]


def cli(
    *args: str, url: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``customer-management ARGS --db-url URL``."""
    result = subprocess.run(
        [sys.executable, "-m", "customer_management", *args, "--db-url", url],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_malformed_values_unreachable_rows_and_mapped_columns(db_url: str, tmp_path: Path) -> None:
    """A row keeps its name, phone and orders without its malformed email (reported, with
    the line a person looks up); a row with neither phone nor email comes in unreachable;
    --map reads the shop's column names."""
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "id,first_name,surname,phone,email,notes\n"
        "A1,Ann,Lee,+15551230001,ann@@example.com,vip\n"
        "A2,Bob,Ray,,,\n"
        "A3,Cy,Oh,12,cy@example.com,\n",
        encoding="utf-8",
    )
    orders = tmp_path / "orders.csv"
    orders.write_text("client,total\nA1,12.50\n", encoding="utf-8")
    done = cli(
        "import",
        str(customers),
        "--orders",
        str(orders),
        "--map",
        "id=legacy_id",
        "--map",
        "surname=last_name",
        "--orders-map",
        "client=legacy_customer_id",
        url=db_url,
    ).stdout
    assert "customers: 3 imported, 0 already imported, 0 rejected (of 3 rows)" in done
    assert "malformed phones or emails left out: 2" in done
    assert "imported with neither a phone nor an email: 1" in done
    assert "ignored customers columns: notes" in done
    assert "orders: 1 imported" in done
    noted = rejects(Path(str(customers) + ".rejects.csv"))
    assert [(r["line"], r["legacy_id"], r["column"], r["code"], r["row"]) for r in noted] == [
        ("2", "A1", "email", "invalid_email", "imported"),
        ("3", "A2", "phone, email", "unreachable", "imported"),
        ("4", "A3", "phone", "invalid_phone", "imported"),
    ]
    with psycopg.connect(db_url) as conn:
        ann = conn.execute(
            "select c.last_name, c.phone, c.email, (select count(*) from public.orders as o "
            "where o.customer_id = c.id) from public.customers as c where c.first_name = 'Ann'"
        ).fetchone()
    assert ann == ("Lee", "+15551230001", None, 1)

    unknown = cli("import", str(customers), "--map", "id=nothing", url=db_url, check=False)
    assert unknown.returncode == 2 and "none of the kit's columns" in unknown.stderr
    absent = cli("import", str(customers), "--map", "mail=email", url=db_url, check=False)
    assert absent.returncode == 1 and "the header does not have" in absent.stderr


def test_a_table_lists_ignored_columns_and_numbers_rows_as_its_export(
    db_url: str, tmp_path: Path
) -> None:
    """--from-table lists the columns it ignores, maps columns, and reports a row by its line
    in the table's CSV export (stored order, header on line 1), not by legacy id order."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "create table public.legacy_people (id text, given text, last_name text, "
            "phone text, email text, loyalty int)"
        )
        conn.execute(
            "insert into public.legacy_people values "
            "('9', 'Zoe', 'Park', '+15550001111', null, 1), "
            "('10', 'Yan', 'Li', null, 'bad@', 2), "
            "('11', '!!', 'X', '+15550002222', null, 3)"
        )
    rejects_file = tmp_path / "table-rejects.csv"
    done = cli(
        "import",
        "--from-table",
        "public.legacy_people",
        "--map",
        "given=first_name",
        "--rejects",
        str(rejects_file),
        url=db_url,
    ).stdout
    assert "ignored customers columns: loyalty" in done
    assert "1 rejected (of 3 rows)" in done
    found = {(r["line"], r["legacy_id"], r["code"]) for r in rejects(rejects_file)}
    assert found == {
        ("3", "10", "invalid_email"),
        ("3", "10", "unreachable"),
        ("4", "11", "invalid_name"),
    }


def test_plan_names_accounts_follows_file_order_and_undo_from_the_shell(
    db_url: str, tmp_path: Path
) -> None:
    """The dry run shows legacy ids, names and the survivor rule; undated rows are ordered as
    the file orders them; the apply summary has no stray separator and counts the held
    identifiers made active; undo refuses a merge others build on, --cascade lists them
    first and undoes them with --yes."""
    with psycopg.connect(db_url) as conn:
        # A live account from the online system holds the phone an older record also has.
        conn.execute(
            'select public.customer_management(\'{"phone": "+15557770002", '
            '"source": "chatbot"}\'::jsonb)'
        )
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "legacy_id,first_name,last_name,phone,email,created_at\n"
        "L2,Dora,Second,+15557770001,dora@example.com,\n"
        "L1,Dora,First,+15557770001,,\n"
        "L3,Dora,Third,,dora@example.com,\n"
        "L0,Old,Record,+15557770002,,2020-01-01\n",
        encoding="utf-8",
    )
    # The old system knew its callers by caller ID: its numbers are held as strongly as the
    # online account's line, so the tie merges (a weaker one would go to support).
    cli("import", str(customers), "--verified", "phone", url=db_url)
    planned = cli("dedupe", url=db_url).stdout
    assert "survivor (the oldest account): L2: Dora Second" in planned
    assert "merged into it: L1: Dora First" in planned
    assert "survivor (the oldest account): L0: Old Record" in planned
    applied = cli("dedupe", "--apply", url=db_url).stdout
    assert "applied: 3 merges in 2 groups\n" in applied
    # The old record survives and its held copy of the phone becomes the active one.
    assert "held imported identifiers made active: 1;" in applied

    with psycopg.connect(db_url) as conn:
        first, second = (
            row[0]
            for row in conn.execute(
                "select m.id from customer_management.merge_log as m "
                "join customer_management.legacy_ids as l on l.customer_id = m.survivor_id "
                "where l.legacy_id = 'L2' order by m.id"
            )
        )
    blocked = cli("undo", str(first), url=db_url, check=False)
    assert blocked.returncode == 1
    assert "undo_blocked_by_later_merges" in blocked.stderr
    assert f"customer-management undo {first} --cascade" in blocked.stderr
    listed = cli("undo", str(first), "--cascade", url=db_url, check=False)
    assert listed.returncode == 2
    assert f"merge {second} (built on it)" in listed.stderr and "L3: Dora Third" in listed.stderr
    assert "nothing was undone" in listed.stderr
    undone = cli("undo", str(first), "--cascade", "--yes", url=db_url).stdout
    assert f"undone: merge {second}, {first}" in undone
    with psycopg.connect(db_url) as conn:
        live = conn.execute(
            "select count(*) from public.customers as c "
            "join customer_management.legacy_ids as l on l.customer_id = c.id "
            "where c.merged_into is null and l.legacy_id like 'L_' and l.legacy_id <> 'L0'"
        )
        assert live.fetchone() == (3,)


def test_suggest_lists_possible_duplicates_for_people_to_decide(
    db_url: str, tmp_path: Path
) -> None:
    """dedupe --suggest prints the groups with legacy ids, names, scores and reasons, and
    --json all of them; nothing is merged; --apply with it is refused."""
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "legacy_id,first_name,last_name,phone,email\n"
        "T1,Philippa,Grimsditch,+15553330001,philippa.grims@example.com\n"
        "T2,Grimsditch,Philippa,+15553330009,philippa.grimms@example.com\n",
        encoding="utf-8",
    )
    cli("import", str(customers), url=db_url)
    text = cli("dedupe", "--suggest", url=db_url).stdout
    assert "1 groups of 2 accounts, 1 pairs; nothing was merged" in text
    assert "T1: Philippa Grimsditch" in text and "T2: Grimsditch Philippa" in text
    assert "phone one digit off" in text and "first and last name swapped" in text
    listed = json.loads(cli("dedupe", "--suggest", "--json", url=db_url).stdout)
    (group,) = listed["groups"]
    assert {a["legacyIds"][0] for a in group["accounts"]} == {"T1", "T2"}
    assert "email_one_character_dropped_or_doubled" in group["pairs"][0]["reasons"]
    refused = cli("dedupe", "--suggest", "--apply", url=db_url, check=False)
    assert refused.returncode == 2
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*) from customer_management.merge_log").fetchone() == (0,)


def test_report_headers_fit_80_columns(db_url: str) -> None:
    """No header is cut to "con…" at 80 columns; the count of accounts seen on several
    channels is named for what it is."""
    text = cli("report", url=db_url, env={"COLUMNS": "80"}).stdout
    assert "…" not in text
    assert "seen on several" in text and "merged accounts" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
