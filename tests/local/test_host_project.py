"""The kit installs into a project that already has things, and leaves as cleanly as it came.

A Supabase-like database gets host objects first: a ``private`` schema with a
security-definer function and a table granted to ``authenticated`` (what Supabase's RLS
guides suggest), a ``public`` table with RLS and a policy, and a ``public`` function granted
to ``anon``. The kit's migrations are then applied with the real Supabase CLI
(``supabase db push --db-url``), all at once or as an upgrade from release 0.1.0. Every host
object, privilege and policy must be exactly as before, the RPC must work, and
``customer-management uninstall`` must leave the database exactly as it was before the
install.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from customer_management.local import auth_users, migrations, uninstall
from customer_management.local.rpc_session import acting_as, call_customer_management
from support.catalog import catalog_state, difference
from support.helpers import new_database
from support.supabase_cli import current_project, push, release_project, supabase_cli

# Created by the Supabase CLI to record what it applied; bookkeeping, not the host's.
BOOKKEEPING = ("supabase_migrations",)

Conn = psycopg.Connection[Any]

HOST_OBJECTS = """
create schema private;
create table private.host_flags (name text primary key, enabled boolean not null);
insert into private.host_flags values ('beta', true);
create function private.is_beta_tester() returns boolean
language sql stable security definer set search_path = ''
as $$ select enabled from private.host_flags where name = 'beta' $$;
revoke all on function private.is_beta_tester() from public;
grant usage on schema private to authenticated;
grant execute on function private.is_beta_tester() to authenticated;
grant select on private.host_flags to authenticated;

create table public.products (id bigint primary key, name text not null);
alter table public.products enable row level security;
create policy "Anyone reads products" on public.products for select
to anon, authenticated using (true);
insert into public.products values (1, 'Fruit Bouquet');

create function public.host_ping() returns text language sql stable as $$ select 'pong' $$;
revoke all on function public.host_ping() from public;
grant execute on function public.host_ping() to anon;
"""


@pytest.fixture
def host_url(server_url: str) -> Iterator[str]:
    """A fresh Supabase-like database (the shim) holding the host project's objects."""
    with new_database(server_url, "host") as url:
        migrations.apply_shim(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(HOST_OBJECTS)
        yield url


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A Supabase CLI project holding the kit's migrations (so the CLI writes nothing here)."""
    return current_project(tmp_path / "project")


def uninstall_command(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``customer-management uninstall --db-url URL [options]``."""
    return subprocess.run(
        [sys.executable, "-m", "customer_management", "uninstall", "--db-url", url, *options],
        capture_output=True,
        text=True,
        check=False,
    )


def state(url: str) -> dict[str, list[str]]:
    """The database's objects and privileges, without the CLI's bookkeeping."""
    with psycopg.connect(url, autocommit=True) as conn:
        return catalog_state(conn, exclude_schemas=BOOKKEEPING)


def host_lines(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    """Host objects of ``before`` that are missing or different in ``after``."""
    return {
        kind: sorted(set(lines) - set(after.get(kind, [])))
        for kind, lines in before.items()
        if set(lines) - set(after.get(kind, []))
    }


def test_installs_beside_the_host_and_uninstalls_to_exactly_before(
    host_url: str, project_dir: Path
) -> None:
    before = state(host_url)
    assert any(line.startswith("private.is_beta_tester()") for line in before["functions"])

    result = push(host_url, project_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = supabase_cli(
        "migration", "list", "--db-url", f"{host_url}?sslmode=disable", workdir=project_dir
    )
    assert listed.returncode == 0, listed.stderr
    assert "20261124000100" in listed.stdout

    installed = state(host_url)
    assert host_lines(before, installed) == {}, "the install changed host objects"

    with psycopg.connect(host_url, autocommit=True) as conn:
        # The host's own pieces still work for the roles they were granted to.
        user = auth_users.create_user(conn, "host.user@gmail.com")
        with acting_as(conn, "authenticated", user.claims()) as acting:
            assert acting.execute("select private.is_beta_tester()").fetchone() == (True,)
            assert acting.execute("select count(*) from public.products").fetchone() == (1,)
        with acting_as(conn, "anon") as acting:
            assert acting.execute("select public.host_ping()").fetchone() == ("pong",)
        # And the kit's RPC works, for the chatbot and for the signed-in user.
        created = call_customer_management(conn, {"phone": "555-123-4567", "source": "chatbot"})
        assert created["customer"]["isNewAccount"] is True
        mine = call_customer_management(
            conn,
            {"email": "host.user@gmail.com", "source": "webapp"},
            "authenticated",
            user.claims(),
        )
        assert mine["customer"]["email"] == "host.user@gmail.com"

    dry_run = uninstall_command(host_url, "--dry-run")
    assert dry_run.returncode == 0, dry_run.stderr
    assert "would drop schema customer_management" in dry_run.stdout
    assert "would drop table public.customers" in dry_run.stdout
    assert "would drop trigger customer_management_release_deleted_user on auth.users" in (
        dry_run.stdout
    )
    assert "private" not in dry_run.stdout.replace("customer_management", "")
    assert state(host_url) == installed, "the dry run changed something"

    removed = uninstall_command(host_url)
    assert removed.returncode == 0, removed.stderr
    after = state(host_url)
    assert difference(before, after) == {}, "uninstall left the host different"
    assert uninstall.installed_objects(host_url) == []
    # The history forgot the kit, so installing again works (here with the kit's migrator).
    assert migrations.apply_migrations(host_url)
    assert host_lines(before, state(host_url)) == {}


def test_an_upgrade_from_0_1_0_leaves_the_host_as_it_was(
    host_url: str, project_dir: Path, tmp_path: Path, template_db: str
) -> None:
    # The analyst role is the cluster's: the template database (which has the kit) keeps
    # it in use, so this database's uninstall leaves it as it found it.
    before = state(host_url)
    released = push(host_url, release_project(tmp_path / "project-0.1.0", "0.1.0"))
    assert released.returncode == 0, released.stdout + released.stderr
    assert host_lines(before, state(host_url)) == {}, "installing 0.1.0 changed host objects"
    # 0.1.0 does not record what it created outside its schema: uninstall waits for the
    # upgrade rather than guess, and changes nothing.
    at_0_1_0 = state(host_url)
    refused = uninstall_command(host_url)
    assert refused.returncode == 1
    assert "apply the pending migrations first" in refused.stderr
    assert state(host_url) == at_0_1_0

    upgraded = push(host_url, project_dir)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert host_lines(before, state(host_url)) == {}, "the upgrade changed host objects"
    with psycopg.connect(host_url, autocommit=True) as conn:
        created = call_customer_management(conn, {"phone": "555-123-4567", "source": "chatbot"})
        assert created["customer"]["isNewAccount"] is True

    removed = uninstall_command(host_url)
    assert removed.returncode == 0, removed.stderr
    assert difference(before, state(host_url)) == {}, "uninstall left the host different"


def test_uninstall_refuses_when_the_host_depends_on_the_kit(
    host_url: str, project_dir: Path
) -> None:
    assert push(host_url, project_dir).returncode == 0
    with psycopg.connect(host_url, autocommit=True) as conn:
        conn.execute("create view public.customer_names as select first_name from public.customers")
    installed = state(host_url)
    with pytest.raises(psycopg.errors.DependentObjectsStillExist) as refused:
        uninstall.uninstall(host_url)
    assert "view public.customer_names" in str(refused.value.diag.message_detail)
    assert state(host_url) == installed


@pytest.mark.parametrize("table", ["customers", "orders"])
def test_an_existing_customer_table_stops_the_install_before_anything_changes(
    host_url: str, project_dir: Path, table: str
) -> None:
    with psycopg.connect(host_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create table public.{} (id bigint)").format(sql.Identifier(table)))
    before = state(host_url)
    result = push(host_url, project_dir)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"public.{table} already exists" in output
    assert "Adopting an existing customer table" in output
    assert state(host_url) == before
