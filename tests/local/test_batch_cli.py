"""``customer-management import``, ``dedupe`` and ``report`` as a DBA runs them: real
subprocesses against real databases.

The interruption test kills ``dedupe --apply`` (SIGKILL) after some of its batches have
committed, runs it again, and compares the result with an uninterrupted run on a copy of
the same database.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench import legacy
from support.helpers import cloned_database

Conn = psycopg.Connection[Any]


def cli(*args: str, url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``customer-management ARGS --db-url URL``."""
    result = subprocess.run(
        [sys.executable, "-m", "customer_management", *args, "--db-url", url],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def dbname(url: str) -> str:
    """The database name of a libpq URL."""
    return str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])


def merge_state(url: str) -> dict[str, Any]:
    """What deduplication decides, without times: who survived whom, every account's
    contact columns and live status, every identifier's owner and status, every order's
    owner, and the merge log's pairs."""
    with psycopg.connect(url) as conn:
        return {
            "customers": conn.execute(
                "select id, merged_into, first_name, phone, email, allergies, "
                "preferences - 'last_updated_via' from public.customers order by id"
            ).fetchall(),
            "identifiers": conn.execute(
                "select id, customer_id, status from customer_management.customer_identifiers "
                "order by id"
            ).fetchall(),
            "orders": conn.execute(
                "select id, customer_id from public.orders order by id"
            ).fetchall(),
            "merges": sorted(
                conn.execute(
                    "select survivor_id, merged_id, source from customer_management.merge_log"
                ).fetchall()
            ),
            "held": conn.execute(
                "select identifier_id from customer_management.import_held_identifiers order by 1"
            ).fetchall(),
        }


def test_import_dedupe_and_report_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    legacy.write_csv(customers, 60)
    with customers.open("a", encoding="utf-8") as out:
        out.write("BAD1,Bad,Phone,12345,,,\n")
    imported = json.loads(cli("import", str(customers), "--json", url=db_url).stdout)
    # The malformed phone is left out; the row, with no email either, comes in unreachable.
    assert imported["customers"]["rejected"] == 0
    assert imported["customers"]["valuesDropped"] == 1
    assert imported["customers"]["unreachable"] == 1
    assert imported["rejectsFile"] == str(customers) + ".rejects.csv"
    assert "invalid_phone" in Path(imported["rejectsFile"]).read_text(encoding="utf-8")
    again = json.loads(cli("import", str(customers), "--json", url=db_url).stdout)
    assert again["customers"]["imported"] == 0
    assert again["customers"]["skipped"] == imported["customers"]["imported"]

    planned = json.loads(cli("dedupe", "--json", url=db_url).stdout)
    assert planned["dryRun"] is True
    assert len(planned["groups"]) == len(legacy.true_groups(60))
    text = cli("dedupe", "--limit", "2", url=db_url).stdout
    assert "dry run: nothing was changed" in text
    assert "survivor" in text and re.search(r"tied by (phone \+1|email )", text)

    applied = json.loads(cli("dedupe", "--apply", "--json", "--batch-size", "5", url=db_url).stdout)
    assert applied["dryRun"] is False
    assert applied["totals"]["outcomes"]["merged"] == len(planned["groups"])
    assert len(applied["mergeIds"]) == planned["plan"]["mergesPlanned"]
    assert all(g["outcome"] == "merged" and g["mergeIds"] for g in applied["groups"])
    assert json.loads(cli("dedupe", "--json", url=db_url).stdout)["groups"] == []

    report = json.loads(cli("report", "--json", url=db_url).stdout)
    assert set(report) == {
        "customer_journey",
        "daily_merge_rate",
        "account_completeness",
        "open_conflicts",
        "merge_activity",
        "resolution_quality",
    }
    assert report["customer_journey"] == [{"sources": [], "customer_count": 61, "avg_platforms": 0}]
    merges = {row["source"]: row["merge_count"] for row in report["merge_activity"]}
    assert merges == {"dedupe": len(applied["mergeIds"])}
    as_analyst = json.loads(cli("report", "--json", "--as-role", "analyst", url=db_url).stdout)
    assert as_analyst["customer_journey"] == report["customer_journey"]

    charts = tmp_path / "charts"
    drawn = cli("report", "--png", str(charts), url=db_url).stdout
    assert "Customers by account sources" in drawn
    for name in ("account_sources.png", "merge_rate.png", "completeness.png"):
        assert (charts / name).read_bytes().startswith(b"\x89PNG"), name


def test_bad_input_gives_a_clear_error_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    missing = cli("import", str(tmp_path / "nope.csv"), url=db_url, check=False)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"legacy_id,phone\n1,201-555-0101\n2,\xff\n")
    failed = cli("import", str(broken), url=db_url, check=False)
    assert failed.returncode == 1
    assert "not UTF-8" in failed.stderr and "nothing was imported" in failed.stderr
    no_table = cli("import", "--from-table", "public.nope", url=db_url, check=False)
    assert no_table.returncode == 1
    assert 'relation "public.nope" does not exist' in no_table.stderr
    both = cli("import", str(broken), "--from-table", "public.x", url=db_url, check=False)
    assert both.returncode == 2
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*) from public.customers").fetchone() == (0,)
    unreachable = cli("dedupe", url="postgresql://nobody@127.0.0.1:1/none", check=False)
    assert unreachable.returncode == 1 and "cannot reach the database" in unreachable.stderr


def test_a_killed_apply_rerun_ends_as_an_uninterrupted_one(
    server_url: str, template_db: str, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.csv"
    legacy.write_csv(customers, 1000)
    with cloned_database(server_url, template_db, "killed") as killed:
        cli("import", str(customers), url=killed)
        # The same database twice: one run is interrupted, the other is not.
        with cloned_database(server_url, dbname(killed), "whole") as whole:
            before = merge_state(killed)
            assert merge_state(whole) == before
            planned = json.loads(cli("dedupe", "--json", url=killed).stdout)
            merges_planned = planned["plan"]["mergesPlanned"]
            assert merges_planned > 100

            run = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "customer_management",
                    "dedupe",
                    "--apply",
                    "--batch-size",
                    "1",
                    "--json",
                    "--db-url",
                    killed,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            committed = 0
            with psycopg.connect(killed, autocommit=True) as watcher:
                deadline = time.monotonic() + 120
                while committed < 20 and time.monotonic() < deadline:
                    time.sleep(0.05)
                    row = watcher.execute(
                        "select count(*) from customer_management.merge_log"
                    ).fetchone()
                    committed = int(row[0]) if row else 0
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
            assert run.returncode == -signal.SIGKILL
            assert 20 <= committed < merges_planned, "killed mid-way"
            interrupted = merge_state(killed)
            assert interrupted != before and len(interrupted["merges"]) < merges_planned

            rerun = json.loads(cli("dedupe", "--apply", "--json", url=killed).stdout)
            assert len(rerun["mergeIds"]) == merges_planned - len(interrupted["merges"])
            cli("dedupe", "--apply", url=whole)
            assert merge_state(killed) == merge_state(whole)
            with psycopg.connect(killed) as conn:
                invariants = "select * from customer_management.check_invariants()"
                assert conn.execute(invariants).fetchall() == []
            assert json.loads(cli("dedupe", "--json", url=killed).stdout)["groups"] == []


@pytest.mark.parametrize("extra", ["matplotlib"])
def test_the_charts_say_which_extra_they_need(db_url: str, tmp_path: Path, extra: str) -> None:
    """With matplotlib missing, ``report --png`` names the extra to install."""
    shadow = tmp_path / "shadow"
    (shadow / extra).mkdir(parents=True)
    (shadow / extra / "__init__.py").write_text("raise ModuleNotFoundError(name=__name__)\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_management",
            "report",
            "--png",
            str(tmp_path / "out"),
            "--db-url",
            db_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(shadow)},
    )
    assert result.returncode == 2
    assert "pip install 'customer-management[bench]'" in result.stderr
    assert not (tmp_path / "out").exists()
