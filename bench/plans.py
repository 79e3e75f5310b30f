"""The query plans of the hot statements, as they run inside the RPC.

``auto_explain`` (shipped with PostgreSQL) explains every statement a call runs, nested
ones included, with actual rows, timing and buffers; its notices are collected for one
returning-customer lookup and one new-customer create.
"""

from __future__ import annotations

from typing import Any

import psycopg

from bench import data
from customer_management.local.rpc_session import call_customer_management

SETTINGS = (
    "load 'auto_explain'",
    "set auto_explain.log_min_duration = 0",
    "set auto_explain.log_analyze = on",
    "set auto_explain.log_buffers = on",
    "set auto_explain.log_timing = on",
    "set auto_explain.log_nested_statements = on",
    "set auto_explain.log_level = notice",
    "set client_min_messages = notice",
)
# Statements worth showing: those that read or write the kit's tables.
TABLES = ("customer_identifiers", "customers", "orders", "rate_limit_counters", "summar")


def explain_calls(url: str, calls: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The plans of the statements each call ran that touch the kit's tables."""
    plans: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        for statement in SETTINGS:
            conn.execute(statement)
        for name, body in calls.items():
            notices.clear()
            call_customer_management(conn, body)
            plans[name] = [
                text
                for text in notices
                if "Query Text" in text and any(table in text for table in TABLES)
            ]
    return plans


def hot_calls(customers: int) -> dict[str, dict[str, Any]]:
    """A returning customer's lookup and a new caller's create."""
    return {
        "returning lookup": {"phone": data.phone(customers // 2), "source": "chatbot"},
        "new-customer create": {"phone": "+19785551234", "source": "chatbot"},
    }
