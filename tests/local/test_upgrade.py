"""An upgrade from the last release, the way a DBA does it.

A database gets release 0.1.0's migrations with the real Supabase CLI (from the git tag, or
from today's files checked against ``supabase/releases/0.1.0.sha256`` in a clone without
tags) and real traffic: accounts on both channels, a conflict, a merge, verification
codes, an import. Two copies of it are upgraded to this checkout's migrations, one with
``supabase db push`` and one with ``customer-management migrate``; a third stays as
released. Then, on each upgraded copy: ``check_invariants()`` finds nothing, the data
0.1.0 wrote is still there, the schema is the one a fresh install gives, and the same
requests get the same answers as on the copy that was not upgraded, except where a
CHANGELOG entry says why (``DOCUMENTED_DIFFERENCES``).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from customer_management.local import migrations
from support.catalog import catalog_state, difference
from support.helpers import new_database
from support.releases import REPO, manifest
from support.supabase_cli import current_project, push, release_project
from support.upgrade_traffic import PROBES, Facts, known_uuids, put_traffic, run_probes

RELEASE = "0.1.0"

# What this version changes on purpose since the release, one row each:
#     "<a probe's name (support/upgrade_traffic.PROBES) or a table (public.customers)>":
#         "<words of the CHANGELOG entry, after the release's, that says why>",
# A probe named here may answer differently; a table, change rows the release wrote. The
# test fails on a row whose answer is the same again, or whose words the CHANGELOG lacks.
DOCUMENTED_DIFFERENCES: dict[str, str] = {
    "a line reaching an account whose phone the web backend vouched": (
        "`second_proof_required` (HTTP 403; nothing read, nothing written)"
    ),
    "the conflict queue": "carry a `kind`",
    "a merge preview": "carry a `kind`",
    "a conflict kept separate": "carry a `kind`",
    "the analytics views, as the analyst reads them": (
        "exactly what each live account holds active"
    ),
}

AS_RELEASED = "as released"
UPGRADES = ("supabase db push", "customer-management migrate")
# Not the kit's: the CLI's history and the legacy table the import read from.
NOT_THE_KITS = ("supabase_migrations", "legacy")

Conn = psycopg.Connection[Any]


@dataclass
class World:
    """One copy of the released database, and what the test saw there."""

    url: str
    applied: str = ""
    rows: dict[str, set[str]] = field(default_factory=dict)
    invariants_before: list[Any] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    invariants_after: list[Any] = field(default_factory=list)


@dataclass
class Released:
    """The database at 0.1.0 after its traffic: its name, what the probes refer to, the ids
    it holds, and its tables' columns and rows."""

    name: str
    facts: Facts
    known: set[str]
    columns: dict[str, list[str]]
    rows: dict[str, set[str]]


KIT_TABLES = """
select format('%I.%I', n.nspname, c.relname), array_agg(a.attname::text order by a.attnum)
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
inner join pg_catalog.pg_attribute as a on a.attrelid = c.oid
where c.relkind = 'r' and c.relpersistence = 'p' and a.attnum > 0 and not a.attisdropped
    and (
        c.relnamespace = 'customer_management'::regnamespace
        or c.oid in (
            'public.customers'::regclass, 'public.orders'::regclass,
            'public.customer_events'::regclass
        )
    )
group by n.nspname, c.relname
"""


def kit_tables(conn: Conn) -> dict[str, list[str]]:
    """The kit's logged tables and their columns (unlogged ones are counters and staging)."""
    return {str(table): list(cols) for table, cols in conn.execute(KIT_TABLES).fetchall()}


def rows_in(conn: Conn, tables: dict[str, list[str]]) -> dict[str, set[str]]:
    """Each table's rows, read in the given columns."""
    rows: dict[str, set[str]] = {}
    for table, cols in tables.items():
        query = sql.SQL("select row({})::text from {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.SQL(table)
        )
        rows[table] = {str(row[0]) for row in conn.execute(query)}
    return rows


def invariants(conn: Conn) -> list[Any]:
    """What ``check_invariants()`` reports (nothing, when every promise holds)."""
    return conn.execute("select * from customer_management.check_invariants()").fetchall()


def url_of(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the session's server (the CLI takes URLs only)."""
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def released(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    """0.1.0 installed with the Supabase CLI on a Supabase-like database, then traffic."""
    with new_database(server_url, "upgrade_base") as url:
        migrations.apply_shim(url)
        project = release_project(tmp_path_factory.mktemp("release"), RELEASE)
        installed = push(url, project)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        with psycopg.connect(url, autocommit=True) as conn:
            facts = put_traffic(conn)
            columns = kit_tables(conn)
            released = Released(
                url.rsplit("/", 1)[1], facts, known_uuids(conn), columns, rows_in(conn, columns)
            )
        yield released


def upgrade(way: str, url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Apply this checkout's migrations the way named; return what the tool printed."""
    if way == "supabase db push":
        result = push(url, current_project(tmp_path_factory.mktemp("current")))
    else:
        command = [sys.executable, "-m", "customer_management", "migrate", "--db-url", url]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{way}: {result.stdout}{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def worlds(
    server_url: str, released: Released, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, World]]:
    """Three copies of the released database, as released and upgraded both ways, each
    read (rows, invariants), probed, and its invariants checked again."""
    with contextlib.ExitStack() as stack:
        found = {
            way: World(stack.enter_context(new_database(server_url, "upgrade", released.name)))
            for way in (AS_RELEASED, *UPGRADES)
        }
        for way in UPGRADES:
            found[way].applied = upgrade(way, found[way].url, tmp_path_factory)
        for world in found.values():
            with psycopg.connect(world.url, autocommit=True) as conn:
                world.rows = rows_in(conn, released.columns)
                world.invariants_before = invariants(conn)
                world.answers = run_probes(conn, released.facts, released.known)
                world.invariants_after = invariants(conn)
        yield found


def test_each_way_applies_exactly_the_new_migrations(worlds: dict[str, World]) -> None:
    released = manifest(RELEASE)
    new = [m for m in migrations.discover() if m.path.name not in released]
    assert new, "nothing to upgrade to: this checkout has no migration after the release"
    for migration in new:
        assert f"applied migration {migration.path.name}" in (
            worlds["customer-management migrate"].applied
        )
        assert migration.path.name in worlds["supabase db push"].applied
    assert "20261124000100" not in worlds["supabase db push"].applied
    for way in UPGRADES:
        with psycopg.connect(worlds[way].url, autocommit=True) as conn:
            recorded = [
                row[0]
                for row in conn.execute(
                    "select version from supabase_migrations.schema_migrations order by 1"
                )
            ]
        assert recorded == [m.version for m in migrations.discover()], way


def test_the_invariants_hold_after_the_upgrade_and_after_more_traffic(
    worlds: dict[str, World],
) -> None:
    for way, world in worlds.items():
        assert world.invariants_before == [], way
        assert world.invariants_after == [], way


def test_the_rows_of_the_release_keep_their_values(
    released: Released, worlds: dict[str, World]
) -> None:
    assert worlds[AS_RELEASED].rows == released.rows
    assert sum(map(len, released.rows.values())) > 50
    for way in UPGRADES:
        # Rows may be added (a migration records something); none may change or go.
        changed = sorted(t for t, rows in released.rows.items() if rows - worlds[way].rows[t])
        undocumented = [t for t in changed if t not in DOCUMENTED_DIFFERENCES]
        assert undocumented == [], f"{way} changed rows 0.1.0 wrote in {undocumented}"


def test_the_same_requests_get_the_same_answers(worlds: dict[str, World]) -> None:
    before = worlds[AS_RELEASED].answers
    assert list(before) == list(PROBES)
    for way in UPGRADES:
        after = worlds[way].answers
        changed = [name for name in PROBES if after[name] != before[name]]
        undocumented = {
            name: {"0.1.0": before[name], way: after[name]}
            for name in changed
            if name not in DOCUMENTED_DIFFERENCES
        }
        assert undocumented == {}, json.dumps(undocumented, indent=2, default=str)
    stale = [
        name
        for name in DOCUMENTED_DIFFERENCES
        if name in PROBES and all(worlds[way].answers[name] == before[name] for way in UPGRADES)
    ]
    assert stale == [], f"documented as different, but the answers are the same: {stale}"


def test_both_ways_give_the_same_database(worlds: dict[str, World]) -> None:
    cli, migrate = (worlds[way] for way in UPGRADES)
    assert cli.answers == migrate.answers
    with (
        psycopg.connect(cli.url, autocommit=True) as one,
        psycopg.connect(migrate.url, autocommit=True) as other,
    ):
        assert (
            difference(catalog_state(one, NOT_THE_KITS), catalog_state(other, NOT_THE_KITS)) == {}
        )


def test_an_upgraded_database_has_the_schema_of_a_fresh_install(
    worlds: dict[str, World], server_url: str, template_db: str
) -> None:
    fresh_url = url_of(server_url, template_db)
    with (
        psycopg.connect(worlds["supabase db push"].url, autocommit=True) as upgraded,
        psycopg.connect(fresh_url, autocommit=True) as fresh,
    ):
        assert (
            difference(catalog_state(fresh, NOT_THE_KITS), catalog_state(upgraded, NOT_THE_KITS))
            == {}
        )


def test_each_documented_difference_names_its_changelog_entry() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    since_the_release = changelog.split(f"\n## {RELEASE}\n")[0]
    for name, entry in DOCUMENTED_DIFFERENCES.items():
        assert name in PROBES or "." in name, f"{name}: neither a probe nor a table"
        assert entry in since_the_release, f"{name}: no CHANGELOG entry says {entry!r}"


def test_the_probes_meet_every_kind_of_answer(worlds: dict[str, World]) -> None:
    """The requests are worth comparing: new and returning accounts, a conflict, errors."""
    answers = json.dumps(worlds[AS_RELEASED].answers)
    for seen in (
        '"isNewAccount": true',
        '"isNewAccount": false',
        '"error": "Account conflict"',
        '"phone": "+1******0008"',
        '"message": "invalid_phone"',
        '"sqlstate": "42501"',
        '"status": "kept_separate"',
        '"undoneMergeIds": [1]',
        '"erased": true',
    ):
        assert seen in answers, seen
