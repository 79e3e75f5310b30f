"""One applying dedupe run at a time, held by a lease row rather than a session lock.

``start_dedupe`` takes the lease and returns its holder id; each batch renews it;
``finish_dedupe`` gives it back. While a run holds it, another start is refused with
``dedupe_running`` (the CLI waits and asks again). A run whose connection is gone, or whose
lease lapsed (a pooler keeps the connection alive), is taken over, and a run that lost its
lease stops with ``dedupe_lease_lost`` instead of touching the new run's work.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

Conn = psycopg.Connection[Any]


def start(conn: Conn) -> Any:
    """start_dedupe() on ``conn``: the holder id."""
    row = conn.execute("select customer_management.start_dedupe()").fetchone()
    assert row is not None
    return row[0]


def refused(conn: Conn, statement: str, params: tuple[Any, ...] = ()) -> tuple[str, str]:
    """The SQLSTATE and message of a statement expected to fail."""
    with pytest.raises(psycopg.Error) as failure:
        conn.execute(statement, params)
    return failure.value.diag.sqlstate or "", failure.value.diag.message_primary or ""


def test_a_second_run_waits_for_the_first(conn: Conn, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as first:
        holder = start(first)
        assert refused(conn, "select customer_management.start_dedupe()") == (
            "PT409",
            "dedupe_running",
        )
        first.execute("select customer_management.renew_dedupe_lease(%s)", (holder,))
        assert refused(conn, "select customer_management.start_dedupe()")[1] == "dedupe_running"
        totals = first.execute(
            "select customer_management.finish_dedupe(gen_random_uuid(), %s)", (holder,)
        ).fetchone()
        assert totals is not None and totals[0]["groups"] == 0
    assert conn.execute("select count(*) from customer_management.dedupe_lease").fetchone() == (0,)
    assert start(conn) != holder


def test_a_run_whose_connection_is_gone_is_taken_over(conn: Conn, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as dying:
        lost = start(dying)
        pid = dying.info.backend_pid
    # The server notices the closed connection at once; give it a moment if not.
    for _ in range(50):
        gone = conn.execute("select count(*) = 0 from pg_stat_activity where pid = %s", (pid,))
        row = gone.fetchone()
        if row and row[0]:
            break
        conn.execute("select pg_sleep(0.05)")
    holder = start(conn)
    assert holder != lost
    assert refused(conn, "select customer_management.renew_dedupe_lease(%s)", (lost,)) == (
        "PT409",
        "dedupe_lease_lost",
    )
    assert (
        refused(conn, "select customer_management.finish_dedupe(gen_random_uuid(), %s)", (lost,))[1]
        == "dedupe_lease_lost"
    )
    lease = conn.execute("select holder from customer_management.dedupe_lease").fetchone()
    assert lease == (holder,), "the lost run left the new run's lease alone"


def test_a_lapsed_lease_is_taken_over_though_its_connection_lives(conn: Conn, db_url: str) -> None:
    """Behind a pooler the last renewal's server connection lives on: the lease's age
    decides."""
    with psycopg.connect(db_url, autocommit=True) as pooled:
        old = start(pooled)
        assert refused(conn, "select customer_management.start_dedupe()")[1] == "dedupe_running"
        conn.execute(
            "update customer_management.dedupe_lease set renewed_at = now() - "
            "make_interval(secs => (select dedupe_lease_seconds + 1 "
            "from customer_management.settings))"
        )
        holder = start(conn)
        assert holder != old
        assert (
            refused(pooled, "select customer_management.renew_dedupe_lease(%s)", (old,))[1]
            == "dedupe_lease_lost"
        )


def test_starting_clears_what_an_interrupted_run_left(conn: Conn) -> None:
    conn.execute(
        "insert into customer_management.dedupe_groups (run_id, group_no, planned, "
        "member_ids, ties) values (gen_random_uuid(), 1, 'merge', array[gen_random_uuid(), "
        "gen_random_uuid()], '{}')"
    )
    start(conn)
    assert conn.execute("select count(*) from customer_management.dedupe_groups").fetchone() == (0,)
