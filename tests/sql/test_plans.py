"""The hot statements use their indexes even when the statistics know nothing.

Twenty thousand customers are bulk-loaded with COPY into tables that autovacuum may not
touch, so nothing has analysed them, as in the middle of a long import. A returning
customer's lookup and a new customer's create then run under ``auto_explain``: no
statement of either may scan a kit table sequentially, and the identifier lookup goes
through the (value, type) key.
"""

from __future__ import annotations

from typing import Any

import psycopg

from bench import data, plans

Conn = psycopg.Connection[Any]
TABLES = (
    "public.customers",
    "public.orders",
    "customer_management.customer_identifiers",
    "customer_management.order_summaries",
)


def test_plans_of_the_hot_statements_do_not_depend_on_statistics(conn: Conn, db_url: str) -> None:
    for table in TABLES:
        conn.execute(f"alter table {table} set (autovacuum_enabled = off)")
    data.load(db_url, 0, 20_000)
    never_analysed = conn.execute(
        "select count(*) from pg_stat_user_tables where relname = any(%s) "
        "and last_analyze is null and last_autoanalyze is null",
        (["customers", "orders", "customer_identifiers", "order_summaries"],),
    ).fetchone()
    assert never_analysed == (4,)

    explained = plans.explain_calls(db_url, plans.hot_calls(20_000))
    assert set(explained) == {"returning lookup", "new-customer create"}
    text = "\n".join(plan for found in explained.values() for plan in found)
    assert explained["returning lookup"], "auto_explain reported the lookup's statements"
    assert "customer_identifiers_active_key" in "\n".join(explained["returning lookup"])
    for table in ("customers", "orders", "customer_identifiers", "order_summaries"):
        assert f"Seq Scan on {table}" not in text, table
