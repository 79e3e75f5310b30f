"""Importing legacy customers and orders: ``customer_management.batch.importer`` driving the
import functions, against a real database.

Good rows come in as they are (identifiers normalised by the RPC's own functions, source
``import``), rows the RPC would refuse are rejected whole and reported with line, column and
reason, placeholders are dropped, an identifier another account holds is kept pending, a
rerun adds nothing, and a file that fails part-way leaves nothing behind.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from customer_management.batch.csvfiles import CsvFileError
from customer_management.batch.importer import ImportSummary, Source, run_import
from customer_management.batch.progress import Progress
from customer_management.local.rpc_session import call_rpc as call_named_rpc
from support.helpers import call_rpc, table_snapshot

Conn = psycopg.Connection[Any]
CUSTOMER_HEADER = "legacy_id,first_name,last_name,phone,email,allergies,created_at\n"
ORDER_HEADER = "legacy_customer_id,total,currency,status,delivery_date,created_at,items\n"


def write(path: Path, header: str, *lines: str) -> Path:
    """A CSV file from a header and raw lines."""
    path.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def load(
    db_url: str,
    customers: Path | str,
    orders: Path | str | None = None,
    rejects: Path | None = None,
    chunk_lines: int = 3,
    verified: tuple[str, ...] = (),
) -> ImportSummary:
    """Run an import from files (Path) or tables (str), in small chunks."""
    source = Source(path=customers) if isinstance(customers, Path) else Source(table=customers)
    order_source = None
    if orders is not None:
        order_source = Source(path=orders) if isinstance(orders, Path) else Source(table=orders)
    with Progress(enabled=False) as progress:
        return run_import(
            db_url,
            source,
            order_source,
            rejects or Path("/dev/null"),
            progress,
            chunk_lines=chunk_lines,
            verified=verified,
        )


def rejects_of(path: Path) -> list[dict[str, str]]:
    """The rejects file as dicts."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def account(conn: Conn, legacy_id: str) -> dict[str, Any]:
    """The imported account of a legacy id, with its identifiers."""
    row = conn.execute(
        """
        select to_jsonb(c) || jsonb_build_object('identifiers', coalesce((
            select jsonb_agg(jsonb_build_object(
                'type', ci.type, 'value', ci.value, 'display', ci.display_value,
                'status', ci.status, 'source', ci.source, 'verified_at', ci.verified_at
            ) order by ci.type)
            from customer_management.customer_identifiers as ci where ci.customer_id = c.id
        ), '[]'::jsonb))
        from customer_management.legacy_ids as l
        inner join public.customers as c on l.customer_id = c.id
        where l.legacy_id = %s
        """,
        (legacy_id,),
    ).fetchone()
    assert row is not None, f"{legacy_id} was not imported"
    document: dict[str, Any] = row[0]
    return document


def count(conn: Conn, query: str) -> int:
    """A count query's result."""
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_good_rows_come_in_as_they_are(conn: Conn, db_url: str, tmp_path: Path) -> None:
    customers = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        "A1,Alice,Archer,(201) 555-0101, Alice.Archer@Gmail.com ,nuts; dairy;,2023-04-05 10:00",
        'A2,"Bob ""Bobby""",Baker,+1 202 555 0102,,,2022-01-01T00:00:00Z',
        "A3,Carol,,,carol@example.org,Gluten,",
    )
    orders = write(
        tmp_path / "orders.csv",
        ORDER_HEADER,
        'A1,54.99,usd,delivered,2023-05-01,2023-04-29 09:00,"[{""name"": ""Bouquet""}]"',
        "A1,10,,,,,",
        "A2,12.50,EUR,Cancelled,,2022-02-02,[]",
    )
    summary = load(db_url, customers, orders)
    assert summary.customers == {
        "rows": 3,
        "imported": 3,
        "skipped": 0,
        "rejected": 0,
        "placeholdersDropped": 0,
        "identifiersActive": 4,
        "identifiersHeld": 0,
        "valuesDropped": 0,
        "unreachable": 0,
    }
    assert summary.orders == {"rows": 3, "imported": 3, "skipped": 0, "rejected": 0}
    assert summary.rejects_file is None

    alice = account(conn, "A1")
    assert (alice["first_name"], alice["last_name"]) == ("Alice", "Archer")
    assert alice["phone"] == "+12015550101"
    assert alice["email"] == "Alice.Archer@Gmail.com"
    assert alice["allergies"] == ["nuts", "dairy"]
    assert alice["created_at"].startswith("2023-04-05T10:00:00")
    assert alice["preferences"] == {
        "account_sources": [],
        "created_via": "import",
        "last_updated_via": "import",
    }
    assert alice["identifiers"] == [
        {
            "type": "email",
            "value": "alice.archer@gmail.com",
            "display": "Alice.Archer@Gmail.com",
            "status": "active",
            "source": "import",
            "verified_at": None,
        },
        {
            "type": "phone",
            "value": "+12015550101",
            "display": "+12015550101",
            "status": "active",
            "source": "import",
            "verified_at": None,
        },
    ]
    assert account(conn, "A2")["first_name"] == 'Bob "Bobby"'
    carol = account(conn, "A3")
    assert carol["created_at"] is not None and carol["phone"] is None

    order_rows = conn.execute(
        "select l.legacy_id, o.total::text, o.currency, o.status, o.items, "
        "o.delivery_date::text from public.orders as o "
        "inner join customer_management.legacy_ids as l on o.customer_id = l.customer_id "
        "order by l.legacy_id, o.total"
    ).fetchall()
    assert order_rows == [
        ("A1", "10.00", "USD", "pending", [], None),
        ("A1", "54.99", "USD", "delivered", [{"name": "Bouquet"}], "2023-05-01"),
        ("A2", "12.50", "EUR", "cancelled", [], None),
    ]
    # The order summaries are current: the RPC answers from them.
    assert (
        count(
            conn,
            "select s.order_count from customer_management.order_summaries as s "
            f"where s.customer_id = '{alice['id']}'",
        )
        == 2
    )
    # One create event per account in the audit trail, by source import, values hashed.
    audit = conn.execute(
        "select action, source, details from customer_management.audit_log "
        f"where customer_id = '{alice['id']}'"
    ).fetchall()
    assert [(a, s) for a, s, _ in audit] == [("create", "import")]
    assert "alice" not in json.dumps(audit[0][2]).lower()
    # Nothing stays in the staging tables.
    assert count(conn, "select count(*) from customer_management.import_customer_rows") == 0
    assert count(conn, "select count(*) from customer_management.import_order_rows") == 0


def test_a_phone_the_old_system_proved_opens_the_account_for_the_chatbot(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    customers = write(
        tmp_path / "c.csv", CUSTOMER_HEADER, "L1,Dora,Diaz,201-555-0177,dora@gmail.com,,"
    )
    orders = write(tmp_path / "o.csv", ORDER_HEADER, "L1,20,,delivered,,2024-01-01,")
    load(db_url, customers, orders, verified=("phone",))
    dora = account(conn, "L1")
    assert [(i["type"], i["verified_at"] is not None) for i in dora["identifiers"]] == [
        ("email", False),
        ("phone", True),
    ]
    answer = call_rpc(conn, {"phone": "+12015550177", "source": "chatbot"})
    assert answer["customer"]["id"] == dora["id"]
    assert answer["customer"]["isNewAccount"] is False
    assert answer["summary"].startswith("Welcome back Dora!")
    assert len(answer["orderHistory"]) == 1


def test_an_asserted_phone_yields_to_the_verified_line(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """Without --verified the shop only asserts the phone: the chatbot's proven line takes
    it (the verified-owner rule), as it would from any account that only asserts it."""
    customers = write(tmp_path / "c.csv", CUSTOMER_HEADER, "L2,Ari,Asserted,201-555-0178,,,")
    load(db_url, customers)
    ari = account(conn, "L2")
    answer = call_rpc(conn, {"phone": "+12015550178", "source": "chatbot"})
    assert answer["customer"]["id"] != ari["id"]
    assert account(conn, "L2")["identifiers"][0]["status"] == "pending"


def test_bad_rows_are_rejected_whole_with_line_column_and_reason(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    customers = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        "B1,Good,Row,201-555-0101,good@gmail.com,,",  # line 2
        "B2,Bad,Phone,12345,bad.phone@gmail.com,,",  # line 3
        "B3,Bad,Email,201-555-0103,not-an-email,,",  # line 4
        "B4,1234,Name,201-555-0104,,,",  # line 5: a name needs a letter
        "B5,Bad,Date,201-555-0105,,,2023-02-30",  # line 6
        "B6,too,many,fields,,,,,",  # line 7
        ",No,Id,201-555-0107,,,",  # line 8
        "B1,Twice,Same,201-555-0108,,,",  # line 9: legacy id again
        f"B9,Long,Allergy,201-555-0109,,{'x' * 101},",  # line 10
        "B10,Place,Holder,unknown,chatbot_temp@temp.local,,",  # line 11: kept
        "B11,Zero,Phone,000-000-0000,zero@gmail.com,,",  # line 12: kept, phone dropped
    )
    orders = write(
        tmp_path / "orders.csv",
        ORDER_HEADER,
        "B1,-3,,,,,",  # line 2: negative total
        "B1,3,EURO,,,,",  # line 3: currency
        "B1,3,,shipped,,,",  # line 4: status
        "B1,3,,,,,{not json",  # line 5: items
        "B2,3,,,,,",  # line 6: its customer was rejected
        "Z9,3,,,,,",  # line 7: nobody
        "B1,4,,,not a date,,",  # line 8: delivery date
        "B10,5,,,,,",  # line 9: fine
        "B1,6,,,,," + "[" * 50_000 + "]" * 50_000,  # line 10: items too deep to parse
    )
    rejects = tmp_path / "rejects.csv"
    before_rpc = table_snapshot(conn)
    assert before_rpc  # the database is reachable and migrated
    summary = load(db_url, customers, orders, rejects)
    # A malformed phone or email costs the row only that value (reported all the same).
    assert summary.customers["imported"] == 5
    assert summary.customers["rejected"] == 6
    assert summary.customers["valuesDropped"] == 2
    assert summary.customers["placeholdersDropped"] == 3
    assert summary.orders["imported"] == 2
    assert summary.orders["rejected"] == 7
    reported = [
        (r["file"].rsplit("/", 1)[-1], int(r["line"]), r["legacy_id"], r["column"], r["code"])
        for r in rejects_of(rejects)
    ]
    assert reported == [
        ("customers.csv", 3, "B2", "phone", "invalid_phone"),
        ("customers.csv", 4, "B3", "email", "invalid_email"),
        ("customers.csv", 5, "B4", "first_name", "invalid_name"),
        ("customers.csv", 6, "B5", "created_at", "invalid_created_at"),
        ("customers.csv", 7, "B6", "row", "malformed_row"),
        ("customers.csv", 8, "", "legacy_id", "missing_legacy_id"),
        ("customers.csv", 9, "B1", "legacy_id", "duplicate_legacy_id"),
        ("customers.csv", 10, "B9", "allergies", "invalid_allergies"),
        ("customers.csv", 11, "B10", "phone, email", "unreachable"),
        ("orders.csv", 2, "B1", "total", "invalid_total"),
        ("orders.csv", 3, "B1", "currency", "invalid_currency"),
        ("orders.csv", 4, "B1", "status", "invalid_status"),
        ("orders.csv", 5, "B1", "items", "invalid_items"),
        ("orders.csv", 7, "Z9", "legacy_customer_id", "unknown_legacy_customer_id"),
        ("orders.csv", 8, "B1", "delivery_date", "invalid_delivery_date"),
        ("orders.csv", 10, "B1", "items", "invalid_items"),
    ]
    assert all(r["detail"] for r in rejects_of(rejects))
    assert rejects_of(rejects)[6]["detail"] == "The same legacy_id is on line 2."
    assert [r["row"] for r in rejects_of(rejects)][:3] == ["imported", "imported", "rejected"]
    # Rejected rows left nothing; placeholder rows came in without the placeholder, rows
    # with a malformed value without that value.
    assert count(conn, "select count(*) from public.customers") == 5
    assert account(conn, "B2")["phone"] is None
    assert account(conn, "B2")["email"] == "bad.phone@gmail.com"
    assert account(conn, "B3")["email"] is None
    placeholder = account(conn, "B10")
    assert placeholder["identifiers"] == [] and placeholder["email"] is None
    zero = account(conn, "B11")
    assert [i["type"] for i in zero["identifiers"]] == ["email"] and zero["phone"] is None


def test_an_identifier_another_account_holds_is_kept_pending(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    existing = call_rpc(conn, {"phone": "+12015550150", "source": "chatbot"})["customer"]["id"]
    customers = write(
        tmp_path / "c.csv",
        CUSTOMER_HEADER,
        "H1,Hal,Held,201-555-0150,hal@gmail.com,,2020-01-01",
        "H2,Hal,Again,,HAL@gmail.com,,2021-01-01",
    )
    summary = load(db_url, customers, chunk_lines=1)
    assert summary.customers["identifiersActive"] == 1
    assert summary.customers["identifiersHeld"] == 2
    first, second = account(conn, "H1"), account(conn, "H2")
    assert [(i["type"], i["status"]) for i in first["identifiers"]] == [
        ("email", "active"),
        ("phone", "pending"),
    ]
    assert first["phone"] is None, "a held identifier is not shown as contact data"
    assert [(i["type"], i["status"]) for i in second["identifiers"]] == [("email", "pending")]
    assert second["email"] is None
    held = count(conn, "select count(*) from customer_management.import_held_identifiers")
    assert held == 2
    # The held phone matches nothing: the chatbot still reaches the account that had it.
    answer = call_rpc(conn, {"phone": "+12015550150", "source": "chatbot"})
    assert answer["customer"]["id"] == existing
    # Active identifiers stay unique.
    assert (
        count(
            conn,
            "select count(*) from (select value from customer_management.customer_identifiers "
            "where status = 'active' group by value, type having count(*) > 1) as d",
        )
        == 0
    )


def test_a_rerun_adds_nothing_twice(conn: Conn, db_url: str, tmp_path: Path) -> None:
    customers = write(
        tmp_path / "c.csv",
        CUSTOMER_HEADER,
        "R1,Rita,Rerun,201-555-0160,rita@gmail.com,,",
        "R2,Rob,Rerun,201-555-0161,,,",
        "R3,1234,Row,201-555-0162,,,",
    )
    orders = write(tmp_path / "o.csv", ORDER_HEADER, "R1,1,,,,,", "R1,2,,,,,", "R2,3,,,,,")
    load(db_url, customers, orders)
    before = table_snapshot(conn)
    again = load(db_url, customers, orders)
    assert again.customers["imported"] == 0 and again.customers["skipped"] == 2
    assert again.customers["rejected"] == 1, "a rejected row is reported again"
    assert again.orders == {"rows": 3, "imported": 0, "skipped": 3, "rejected": 0}
    assert table_snapshot(conn) == before


def test_orders_of_customers_imported_earlier_come_in_once(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    customers = write(tmp_path / "c.csv", CUSTOMER_HEADER, "E1,Eve,Early,201-555-0170,,,")
    load(db_url, customers)
    orders = write(tmp_path / "o.csv", ORDER_HEADER, "E1,1,,,,,", "E1,2,,,,,")
    first = load(db_url, customers, orders, chunk_lines=1)
    assert first.orders == {"rows": 2, "imported": 2, "skipped": 0, "rejected": 0}
    second = load(db_url, customers, orders)
    assert second.orders == {"rows": 2, "imported": 0, "skipped": 2, "rejected": 0}
    assert count(conn, "select count(*) from public.orders") == 2


def test_an_erased_person_is_never_imported_again(conn: Conn, db_url: str, tmp_path: Path) -> None:
    customers = write(tmp_path / "c.csv", CUSTOMER_HEADER, "X1,Xia,Erased,201-555-0171,,,")
    load(db_url, customers)
    erased = account(conn, "X1")["id"]
    call_named_rpc(conn, "erase_customer", {"customer_id": erased, "reason": "GDPR request"})
    assert conn.execute(
        "select customer_id from customer_management.legacy_ids where legacy_id = 'X1'"
    ).fetchone() == (None,)
    again = load(db_url, customers)
    assert again.customers["imported"] == 0 and again.customers["skipped"] == 1
    assert count(conn, "select count(*) from public.customers") == 0


def test_a_legacy_id_that_is_an_email_or_a_phone_outlives_no_erasure(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """An old system that keyed customers by email or phone: the id is kept sealed with the
    account's key (readable while the person lives, unreadable once erased) and by its keyed
    hash (a rerun still skips it); other ids are kept as they are."""
    customers = write(
        tmp_path / "c.csv",
        CUSTOMER_HEADER,
        "zoe.private@example.org,Zoe,Private,201-555-0172,,,",
        "+1 (201) 555-0173,Yan,Phone,201-555-0173,,,",
        "C-1001,Cat,Plain,201-555-0174,,,",
    )
    load(db_url, customers)
    kept = conn.execute(
        "select legacy_id, legacy_id_sealed is not null, "
        "customer_management.legacy_ids_of(customer_id) "
        "from customer_management.legacy_ids order by legacy_id_digest"
    ).fetchall()
    assert sorted((tuple(row[2]), row[0], row[1]) for row in kept) == [
        (("+1 (201) 555-0173",), None, True),
        (("C-1001",), "C-1001", False),
        (("zoe.private@example.org",), None, True),
    ]
    zoe = conn.execute(
        "select customer_id from customer_management.legacy_ids "
        "where legacy_id_digest = customer_management.legacy_id_digest(%s)",
        ("zoe.private@example.org",),
    ).fetchone()
    assert zoe is not None
    call_named_rpc(conn, "erase_customer", {"customer_id": str(zoe[0])})
    text = conn.execute(
        "select coalesce(string_agg(l::text, ' '), '') from customer_management.legacy_ids as l"
    ).fetchone()
    assert text is not None and "zoe" not in text[0].lower()
    again = load(db_url, customers)
    assert again.customers["imported"] == 0 and again.customers["skipped"] == 3


@pytest.mark.parametrize(
    "broken",
    [
        b'Z1,Zed,Broken,201-555-0190,,,\nZ2,"unterminated,201-555-0191,,,\n',
        b"Z1,Zed,Broken,201-555-0190,,,\nZ2,Caf\xe9,Latin1,201-555-0191,,,\n",
    ],
    ids=["unterminated-quote", "not-utf8"],
)
def test_a_file_that_fails_part_way_leaves_nothing(
    conn: Conn, db_url: str, tmp_path: Path, broken: bytes
) -> None:
    good = "".join(f"G{n},Good,Row,201-555-{1000 + n},,,\n" for n in range(40))
    path = tmp_path / "broken.csv"
    path.write_bytes(CUSTOMER_HEADER.encode() + good.encode() + broken)
    before = table_snapshot(conn)
    with pytest.raises(CsvFileError) as failure:
        load(db_url, path)
    assert "nothing was imported" in str(failure.value)
    assert table_snapshot(conn) == before


def test_a_failure_inside_the_database_leaves_nothing(
    conn: Conn, db_url: str, tmp_path: Path
) -> None:
    customers = write(
        tmp_path / "c.csv",
        CUSTOMER_HEADER,
        *(f"F{n},Fail,Late,201-555-{2000 + n},,," for n in range(20)),
    )
    # The kit's tables refuse one late row (a check the import does not know about).
    conn.execute(
        "alter table public.customers add constraint no_f19 check (first_name <> 'Nineteen')"
    )
    customers.write_text(
        customers.read_text() + "F99,Nineteen,Late,201-555-2999,,,\n", encoding="utf-8"
    )
    before = table_snapshot(conn)
    with pytest.raises(psycopg.errors.CheckViolation):
        load(db_url, customers, chunk_lines=5)
    assert table_snapshot(conn) == before


def test_a_legacy_table_is_imported_by_column_name(conn: Conn, db_url: str) -> None:
    conn.execute(
        """
        create table public.legacy_customers (
            id uuid primary key, first_name text, last_name text, phone text, email text,
            allergies text[], preferences jsonb, created_at timestamptz, shoe_size integer
        );
        create table public.legacy_orders (
            id uuid primary key, customer_id uuid, items jsonb, total numeric,
            status text, delivery_date date, created_at timestamptz
        );
        insert into public.legacy_customers values
            ('00000000-0000-4000-8000-000000000001', 'Tia', 'Table', '201-555-0181',
             'tia@gmail.com', '{nuts,soy}', '{}', '2021-06-01', 42),
            ('00000000-0000-4000-8000-000000000002', 'Ty', 'Table', 'n/a', 'ty@gmail.com',
             '{}', '{}', '2021-07-01', 44);
        insert into public.legacy_orders values
            (gen_random_uuid(), '00000000-0000-4000-8000-000000000001',
             '[{"name": "Cake"}]', 39.99, 'delivered', '2021-06-03', '2021-06-02');
        """
    )
    summary = load(db_url, "public.legacy_customers", "public.legacy_orders")
    assert summary.customers["imported"] == 2
    assert summary.customers["placeholdersDropped"] == 1
    assert summary.orders["imported"] == 1
    tia = account(conn, "00000000-0000-4000-8000-000000000001")
    # A legacy id that is a UUID no account has stays the account's id.
    assert tia["id"] == "00000000-0000-4000-8000-000000000001"
    assert tia["allergies"] == ["nuts", "soy"]
    assert tia["phone"] == "+12015550181"
    items = conn.execute(
        "select items from public.orders where customer_id = %s", (tia["id"],)
    ).fetchone()
    assert items == ([{"name": "Cake"}],)


def test_a_table_without_a_key_column_is_refused(conn: Conn, db_url: str) -> None:
    conn.execute("create table public.nameless (first_name text)")
    before = table_snapshot(conn)
    with pytest.raises(psycopg.errors.RaiseException) as refused:
        load(db_url, "public.nameless")
    assert refused.value.diag.message_primary == "missing_legacy_id_column"
    assert table_snapshot(conn) == before


def test_the_import_functions_are_closed_to_api_roles(conn: Conn) -> None:
    """Only a database owner runs imports: the API roles cannot call the functions."""
    for role in ("anon", "authenticated", "service_role"):
        allowed = conn.execute(
            "select has_function_privilege(%s, 'customer_management.begin_import()', 'execute')",
            (role,),
        ).fetchone()
        assert allowed == (False,), role
