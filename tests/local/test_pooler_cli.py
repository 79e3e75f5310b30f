"""The kit's commands through PgBouncer in transaction mode, as a DBA on Supabase might run
them against the pooler's URL (port 6543): ``import``, ``dedupe`` (the plan and
``--apply`` in one-group batches, each its own transaction) and ``report``. Nothing they do
may lean on the session between transactions: each ends as the same command run on a
direct connection.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_batch_cli import cli, dbname, merge_state

from bench import legacy
from bench.pgbouncer import Pooler
from support.helpers import cloned_database

pytest_plugins = ["support.pooler_fixtures"]


def test_import_dedupe_and_report_through_pgbouncer(
    server_url: str, template_db: str, pgbouncer: Pooler, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.csv"
    legacy.write_csv(customers, 80)
    with cloned_database(server_url, template_db, "pooled_import") as imported_pooled:
        through = json.loads(
            cli("import", str(customers), "--json", url=pgbouncer.url_for(imported_pooled)).stdout
        )
    with cloned_database(server_url, template_db, "direct") as direct:
        imported = json.loads(cli("import", str(customers), "--json", url=direct).stdout)
        assert through["customers"] == imported["customers"]
        assert through["customers"]["imported"] > 0

        # The same imported database twice: one deduplicated through PgBouncer.
        with cloned_database(server_url, dbname(direct), "pooled") as copy:
            pooled = pgbouncer.url_for(copy)
            planned = json.loads(cli("dedupe", "--json", url=pooled).stdout)
            assert len(planned["groups"]) == len(legacy.true_groups(80))
            applied = json.loads(
                cli("dedupe", "--apply", "--json", "--batch-size", "1", url=pooled).stdout
            )
            assert applied["totals"]["outcomes"]["merged"] == len(planned["groups"])
            assert len(applied["mergeIds"]) == planned["plan"]["mergesPlanned"]
            cli("dedupe", "--apply", "--batch-size", "1", url=direct)
            assert merge_state(copy) == merge_state(direct)
            assert json.loads(cli("dedupe", "--json", url=pooled).stdout)["groups"] == []

            report = json.loads(cli("report", "--json", url=pooled).stdout)
            merges = {row["source"]: row["merge_count"] for row in report["merge_activity"]}
            assert merges == {"dedupe": len(applied["mergeIds"])}
            analyst = json.loads(cli("report", "--json", "--as-role", "analyst", url=pooled).stdout)
            assert analyst["customer_journey"] == report["customer_journey"]
