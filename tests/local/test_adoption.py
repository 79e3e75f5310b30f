"""The README's adoption walk-through, run as written: a shop whose own ``customers`` and
``orders`` tables are in ``public`` (a typical shop schema, duplicates included) renames them,
installs the kit, imports, looks at the plan, merges and reads the report.

The README's ``sql`` block runs as SQL and each command of its ``bash`` block as a
subprocess (``customer-management`` is ``python -m customer_management``), with
``DATABASE_URL`` naming the shop's database.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from customer_management.local import migrations
from support.helpers import call_rpc

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")

# A shop's own tables, as a project built before the kit has them, with a customer who
# called the chatbot twice (two accounts, one phone) and then signed up on the web with
# the same phone and an email (a third account): one person, three rows.
SHOP = """
create table public.customers (
    id uuid primary key default gen_random_uuid(),
    first_name text, last_name text, phone text, email text,
    auth_user_id uuid references auth.users (id),
    allergies text[] default '{}', preferences jsonb default '{}',
    created_at timestamptz default now()
);
create table public.orders (
    id uuid primary key default gen_random_uuid(),
    customer_id uuid references public.customers (id),
    items jsonb default '[]', total numeric, status text, delivery_date date,
    created_at timestamptz default now()
);
insert into public.customers (id, first_name, last_name, phone, email, allergies, created_at)
values
    ('00000000-0000-4000-8000-00000000a001', 'Alice', null, '555-123-4567',
     'chatbot_temp@temp.local', '{nuts}', '2024-01-01'),
    ('00000000-0000-4000-8000-00000000a002', 'Alice', 'Smith', '(555) 123-4567', null,
     '{}', '2024-02-01'),
    ('00000000-0000-4000-8000-00000000a003', 'Alice', 'Smith', '+1 555 123 4567',
     'Alice@Gmail.com', '{dairy}', '2024-03-01'),
    ('00000000-0000-4000-8000-00000000b001', 'Bob', 'Jones', '555-987-6543',
     'bob@gmail.com', '{}', '2024-01-15'),
    ('00000000-0000-4000-8000-00000000c001', 'Carl', null, '12', null, '{}', '2024-01-20');
insert into public.orders (customer_id, items, total, status, created_at) values
    ('00000000-0000-4000-8000-00000000a001', '[{"name": "Bouquet"}]', 54.99, 'delivered',
     '2024-01-02'),
    ('00000000-0000-4000-8000-00000000a003', '[{"name": "Cake"}]', 39.99, 'delivered',
     '2024-03-02'),
    ('00000000-0000-4000-8000-00000000b001', '[]', 12.00, 'cancelled', '2024-01-16');
"""


def section(title: str) -> str:
    """The README's text from a ``## title`` heading to the next one."""
    start = README.index(f"## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of one language in ``text``."""
    found: list[str] = []
    current: list[str] | None = None
    keep = False
    for line in text.splitlines():
        if line.startswith("```") and current is None:
            current, keep = [], line[3:].strip() == language
        elif line.startswith("```"):
            if keep and current is not None:
                found.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return found


def commands(block: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        command = line.split("#", 1)[0].strip()
        if command:
            words = shlex.split(command)
            assert words[0] == "customer-management", command
            out.append([sys.executable, "-m", "customer_management", *words[1:]])
    return out


@pytest.fixture
def shop_url(server_url: str) -> Iterator[str]:
    """A Supabase-like database (the shim) holding the shop's own customers and orders."""
    name = f"shop_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    try:
        migrations.apply_shim(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SHOP)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def run(command: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command of the walk-through, with DATABASE_URL naming the shop's database."""
    environment = {k: v for k, v in os.environ.items() if k != "SUPABASE_DB_URL"}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env={**environment, "DATABASE_URL": url},
    )


def test_the_readme_walk_through_adopts_the_shops_tables(shop_url: str, tmp_path: Path) -> None:
    text = section("Adopting an existing customer table")
    (rename,) = blocks(text, "sql")
    (shell,) = blocks(text, "bash")
    steps = commands(shell)
    assert [s[3:5] for s in steps] == [
        ["migrate"],
        ["import", "--from-table"],
        ["dedupe"],
        ["dedupe", "--apply"],
        ["dedupe", "--suggest"],
        ["report"],
    ]

    # Installing over the shop's tables is refused, and changes nothing.
    refused = run(steps[0], shop_url, tmp_path)
    assert refused.returncode != 0
    assert "public.customers and public.orders already exists" in refused.stderr

    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute(rename)
    outputs: list[str] = []
    for step in steps:
        done = run(step, shop_url, tmp_path)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
        outputs.append(done.stdout)
    migrated, imported, planned, applied, suggested, report = outputs
    assert "database is up to date" in migrated
    # Carl's phone is malformed and he gave no email: he comes in, reported unreachable.
    assert "customers: 5 imported, 0 already imported, 0 rejected (of 5 rows)" in imported
    assert "imported with neither a phone nor an email: 1" in imported
    assert "orders: 3 imported" in imported
    assert "1 groups of 3 accounts" in planned and "dry run: nothing was changed" in planned
    assert "applied: 2 merges in 1 groups" in applied
    assert "nothing was merged" in suggested
    assert "Customers by account sources" in report and "Account completeness" in report
    rejects = (tmp_path / "import-rejects.csv").read_text(encoding="utf-8")
    assert '"00000000-0000-4000-8000-00000000c001","phone","invalid_phone"' in rejects

    with psycopg.connect(shop_url, autocommit=True) as conn:
        # Alice is one account now, under her oldest record's id, with both orders.
        answer = call_rpc(conn, {"phone": "+15551234567", "source": "chatbot"})
        customer: dict[str, Any] = answer["customer"]
        assert customer["id"] == "00000000-0000-4000-8000-00000000a001"
        assert customer["email"] == "Alice@Gmail.com"
        assert customer["allergies"] == ["nuts", "dairy"]
        assert len(answer["orderHistory"]) == 2
        # The shop's old ids still lead to the right account.
        live = conn.execute(
            "select customer_management.live_customer_id(customer_id)::text "
            "from customer_management.legacy_ids where legacy_id = %s",
            ("00000000-0000-4000-8000-00000000a003",),
        ).fetchone()
        assert live == ("00000000-0000-4000-8000-00000000a001",)
        # The legacy tables are still there, untouched, until the shop drops them.
        counts = conn.execute(
            "select (select count(*) from public.legacy_customers), "
            "(select count(*) from public.legacy_orders)"
        ).fetchone()
        assert counts == (5, 3)
    journey = json.loads(
        run(
            [sys.executable, "-m", "customer_management", "report", "--json"],
            shop_url,
            tmp_path,
        ).stdout
    )["customer_journey"]
    # Bob and Carl have not come back yet; Alice has, on the chatbot (the call above).
    assert journey == [
        {"sources": [], "customer_count": 2, "avg_platforms": 0},
        {"sources": ["chatbot"], "customer_count": 1, "avg_platforms": 1},
    ]
