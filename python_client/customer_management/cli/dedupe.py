"""``customer-management dedupe``: find accounts that share a phone or email and merge them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from customer_management.cli.target import add_db_url, database_url, describe_failure

PLANNED_WORDS = {
    "merge": "merge",
    "conflict": "conflict (different logins)",
    "contested": "contested (held with different strengths): for support",
    "kept_separate": "kept separate by support",
    "undone_before": "a merge of them was undone",
    "escalated": "escalated to support",
    "too_large": "too large (a shared placeholder?)",
}


def register(subparsers: Any) -> None:
    """Add ``dedupe``."""
    parser = subparsers.add_parser(
        "dedupe",
        help="merge live accounts that share a phone or email (dry run unless --apply)",
        description="Groups live accounts that share a normalised phone or email, "
        "transitively (blocked values skipped), and prints the plan. --apply merges each "
        "group into the survivor the fixed rule picks, as the online path merges (merge "
        "log, undo_merge), committing in batches; groups whose accounts belong to different "
        "logins become conflicts, and so does a tie between accounts that hold the value with "
        "different strengths (verified, vouched, claimed).",
    )
    parser.add_argument("--apply", action="store_true", help="merge (default: a dry run)")
    parser.add_argument(
        "--max-group-size",
        type=int,
        default=10,
        help="larger groups are listed, not merged (default 10)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=100, help="groups per transaction (default 100)"
    )
    parser.add_argument(
        "--limit", type=int, default=20, help="groups listed in the text output (default 20)"
    )
    parser.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    add_db_url(parser)
    parser.set_defaults(func=cmd_dedupe, parser=parser)


def cmd_dedupe(args: argparse.Namespace) -> int:
    """Print the plan (dry run) or apply it; 1 when the database refused."""
    import psycopg

    from customer_management.batch import dedupe
    from customer_management.batch.progress import Progress

    if args.max_group_size < 2:
        args.parser.error("--max-group-size must be at least 2")
    if args.batch_size < 1:
        args.parser.error("--batch-size must be at least 1")
    url = database_url(args)
    try:
        if args.apply:
            with Progress(enabled=not args.json) as progress:
                result = dedupe.apply(url, progress, args.max_group_size, args.batch_size)
        else:
            result = dedupe.dry_run(url, args.max_group_size)
    except psycopg.Error as exc:
        print(f"dedupe failed: {describe_failure(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
        return 0
    print_plan(result.plan, result.groups, args.limit)
    if args.apply:
        totals = result.totals
        outcomes = {k: v for k, v in totals.get("outcomes", {}).items() if v}
        print(
            f"applied: {totals.get('merges', 0)} merges in "
            f"{outcomes.get('merged', 0)} groups; "
            + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in outcomes.items() if k != "merged")
        )
        print(
            f"held imported identifiers made active: {totals.get('identifiersActivated', 0)}; "
            f"every merge is in the merge log and can be undone with undo_merge"
        )
    else:
        print("dry run: nothing was changed; run again with --apply to merge")
    return 0


def print_plan(plan: dict[str, Any], groups: list[dict[str, Any]], limit: int) -> None:
    """The plan: counts, then the first ``limit`` groups with survivor, members and ties."""
    planned = plan.get("planned", {})
    print(
        f"{plan['groups']} groups of {plan['accounts']} accounts, tied by "
        f"{plan['identifiers']} shared identifiers; {plan['mergesPlanned']} merges planned"
    )
    for key, words in PLANNED_WORDS.items():
        if planned.get(key):
            print(f"  {words}: {planned[key]} groups")
    for group in groups[:limit]:
        members = [m for m in group["memberIds"] if m != group["survivorId"]]
        ties = ", ".join(
            f"{t['type']} {t['value']} ({' / '.join(t['strengths'])})" for t in group["ties"]
        )
        head = f"group {group['group']}: {PLANNED_WORDS[group['planned']]}"
        if group.get("outcome"):
            head += f" -> {group['outcome']}"
        print(head)
        if group["survivorId"]:
            print(f"  survivor {group['survivorId']} <- {', '.join(members)}")
        else:
            print(f"  accounts {', '.join(group['memberIds'])}")
        print(f"  tied by {ties}")
        if group.get("mergeIds"):
            print(f"  merge ids {', '.join(str(m) for m in group['mergeIds'])}")
    if len(groups) > limit:
        print(f"... {len(groups) - limit} more groups (--limit, or --json for all)")
