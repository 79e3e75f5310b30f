"""``customer-management undo MERGE_ID [--cascade]``: undo a merge exactly, from the shell.

It calls ``public.undo_merge`` (the RPC support uses), as the DBA. A merge that later merges
build on is refused unless ``--cascade``; ``--cascade`` first lists what it would undo as
well (each merge with its accounts' legacy ids and names) and goes on only with ``--yes``
or when the person at the terminal says yes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from customer_management.cli.target import add_db_url, database_url, describe_failure

MERGES_QUERY = """
select m.id, m.survivor_id::text, m.merged_id::text, m.created_at, m.source, m.reason
from customer_management.merge_log as m
where m.id = any(%s)
order by m.id desc
"""


def register(subparsers: Any) -> None:
    """Add ``undo``."""
    parser = subparsers.add_parser(
        "undo",
        help="undo a merge exactly (--cascade: and the later merges built on it)",
        description="Undo a merge exactly: both accounts as they were, identifiers and orders "
        "back, the conflicts it closed reopened (public.undo_merge). Later merges of the same "
        "accounts build on it: the undo is refused unless --cascade, which lists them first "
        "and undoes them, newest first, before this one.",
    )
    parser.add_argument("merge_id", type=int, metavar="MERGE_ID", help="the merge log id")
    parser.add_argument(
        "--cascade", action="store_true", help="also undo the later merges built on this one"
    )
    parser.add_argument("--yes", action="store_true", help="with --cascade: do not ask")
    parser.add_argument("--reason", default=None, help="why (kept in the merge log's undo)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    add_db_url(parser)
    parser.set_defaults(func=cmd_undo)


def cmd_undo(args: argparse.Namespace) -> int:
    """List (with --cascade), then undo; 1 when the database refused."""
    import psycopg

    from customer_management.batch.accounts import read_accounts

    url = database_url(args)
    try:
        with psycopg.connect(url, prepare_threshold=None) as conn:
            if args.cascade:
                row = conn.execute(
                    "select customer_management.merges_built_on(%s)", (args.merge_id,)
                ).fetchone()
                later: list[int] = list(row[0]) if row and row[0] else []
                merges = conn.execute(MERGES_QUERY, ([*later, args.merge_id],)).fetchall()
                accounts = read_accounts(conn, (m[i] for m in merges for i in (1, 2)))
                print(f"undoing merge {args.merge_id} undoes, newest first:", file=sys.stderr)
                for merge_id, survivor, merged, at, source, reason in merges:
                    cause = "" if merge_id == args.merge_id else " (built on it)"
                    print(
                        f"  merge {merge_id}{cause}, {at:%Y-%m-%d %H:%M} by {source} ({reason}):",
                        file=sys.stderr,
                    )
                    for role, account in (("survivor", survivor), ("merged", merged)):
                        known = accounts.get(account)
                        label = known.label() if known else account
                        print(f"    {role}: {label}", file=sys.stderr)
                if not args.yes and not _confirmed():
                    print("nothing was undone (--yes undoes without asking)", file=sys.stderr)
                    return 2
            row = conn.execute(
                "select public.undo_merge(%s, %s, %s)",
                (args.merge_id, args.cascade, args.reason),
            ).fetchone()
            assert row is not None
            answer: dict[str, Any] = row[0]
    except psycopg.Error as exc:
        print(f"undo failed: {describe_failure(exc)}", file=sys.stderr)
        if "undo_blocked_by_later_merges" in str(exc):
            print(
                f"see what it would also undo: customer-management undo {args.merge_id} --cascade",
                file=sys.stderr,
            )
        return 1
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    undone = ", ".join(str(m) for m in answer["undoneMergeIds"])
    print(f"undone: merge {undone}")
    for account in answer.get("accounts") or []:
        contact = " ".join(c for c in (account.get("email"), account.get("phone")) if c)
        print(f"  account {account.get('id')}: {account.get('name') or '(no name)'} {contact}")
    return 0


def _confirmed() -> bool:
    """Ask the person at the terminal; no terminal means no."""
    if not sys.stdin.isatty():
        return False
    return input("undo all of these? [y/N] ").strip().lower() in ("y", "yes")
