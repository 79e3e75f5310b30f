"""``customer-management dedupe``: find accounts that share a phone or email and merge them;
``--suggest`` lists possible duplicates (no shared identifier) for people to decide."""

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
        "--suggest",
        action="store_true",
        help="list possible duplicates instead: accounts that are probably one person "
        "although no identifier ties them (a typo in the email, a phone one digit off, the "
        "same name); kept for support to decide, never merged by this command",
    )
    parser.add_argument(
        "--min-score",
        type=int,
        default=80,
        help="with --suggest: propose pairs scoring at least this (default 80)",
    )
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
    if args.suggest and args.apply:
        args.parser.error("--suggest lists possible duplicates; it never merges: drop --apply")
    url = database_url(args)
    if args.suggest:
        return cmd_suggest(args, url)
    try:
        if args.apply:
            with Progress(enabled=not args.json) as progress:
                result = dedupe.apply(url, progress, args.max_group_size, args.batch_size)
        else:
            result = dedupe.dry_run(url, args.max_group_size)
        dedupe.describe(url, result)
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
        others = ", ".join(
            f"{k.replace('_', ' ')}: {v}" for k, v in outcomes.items() if k != "merged"
        )
        print(
            f"applied: {totals.get('merges', 0)} merges in {outcomes.get('merged', 0)} groups"
            + (f"; {others}" if others else "")
        )
        print(
            f"held imported identifiers made active: {totals.get('heldIdentifiersActive', 0)}; "
            "every merge is in the merge log and can be undone: "
            "customer-management undo MERGE_ID"
        )
    else:
        print("dry run: nothing was changed; run again with --apply to merge")
    return 0


def print_plan(plan: dict[str, Any], groups: list[dict[str, Any]], limit: int) -> None:
    """The plan: counts, then the first ``limit`` groups with survivor (and the rule that
    chose it), members (legacy ids, names) and ties."""
    planned = plan.get("planned", {})
    print(
        f"{plan['groups']} groups of {plan['accounts']} accounts, tied by "
        f"{plan['identifiers']} shared identifiers; {plan['mergesPlanned']} merges planned"
    )
    for key, words in PLANNED_WORDS.items():
        if planned.get(key):
            print(f"  {words}: {planned[key]} groups")
    for group in groups[:limit]:
        labels = {a["id"]: a for a in group.get("accounts", [])}
        ties = ", ".join(
            f"{t['type']} {t['value']} ({' / '.join(t['strengths'])})" for t in group["ties"]
        )
        head = f"group {group['group']}: {PLANNED_WORDS[group['planned']]}"
        if group.get("outcome"):
            head += f" -> {group['outcome']}"
        print(head)
        survivor = group["survivorId"]
        if survivor:
            rule = f" ({group['survivorRule']})" if group.get("survivorRule") else ""
            print(f"  survivor{rule}: {_label(labels, survivor)}")
            for member in group["memberIds"]:
                if member != survivor:
                    print(f"  merged into it: {_label(labels, member)}")
        else:
            for member in group["memberIds"]:
                print(f"  account: {_label(labels, member)}")
        print(f"  tied by {ties}")
        if group.get("mergeIds"):
            print(f"  merge ids {', '.join(str(m) for m in group['mergeIds'])}")
    if len(groups) > limit:
        print(f"... {len(groups) - limit} more groups (--limit, or --json for all)")


def _label(labels: dict[str, dict[str, Any]], account_id: str) -> str:
    """An account as one line: legacy ids, name and contact data, else its id alone."""
    account = labels.get(account_id)
    if account is None:
        return account_id
    legacy = ", ".join(account["legacyIds"]) or "no legacy id"
    name = " ".join(n for n in (account["firstName"], account["lastName"]) if n) or "(no name)"
    contact = " ".join(c for c in (account["email"], account["phone"]) if c)
    return f"{legacy}: {name}{', ' + contact if contact else ''} ({account_id})"


REASON_WORDS = {
    "phone_one_digit_off": "phone one digit off",
    "email_one_character_dropped_or_doubled": "email one character dropped or doubled",
    "email_one_character_moved": "email one character moved",
    "email_one_character_changed": "email one character changed",
    "emails_differ_in_digits_only": "(in digits only)",
    "same_name": "same name",
    "names_swapped": "first and last name swapped",
    "similar_names": "similar names",
    "similar_names_swapped": "similar names, swapped",
    "surname_missing": "surname missing on one",
    "name_missing": "name missing on one",
    "rare_name": "a rare name",
    "different_emails": "other emails differ",
    "different_phones": "phones differ",
}


def cmd_suggest(args: argparse.Namespace, url: str) -> int:
    """Find the possible duplicates afresh (kept for support) and print them."""
    import psycopg

    from customer_management.batch import suggest

    try:
        result = suggest.find(url, args.min_score)
    except psycopg.Error as exc:
        print(f"dedupe --suggest failed: {describe_failure(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
        return 0
    found = result.summary
    print(
        f"possible duplicates (score {found['minScore']} or more): {found['groups']} groups "
        f"of {found['accounts']} accounts, {found['pairs']} pairs; nothing was merged"
    )
    letters = "abcdefghijklmnopqrstuvwxyz"
    for group in result.groups[: args.limit]:
        members = group["accountIds"]
        print(f"group {group['group']} (best score {group['score']}): {len(members)} accounts")
        for index, member in enumerate(members):
            account = result.accounts.get(member)
            print(f"  {letters[index % 26]} {account.label() if account else member}")
        for pair in group["pairs"]:
            words = ", ".join(REASON_WORDS.get(r, r) for r in pair["reasons"])
            a = letters[members.index(pair["accountA"]) % 26]
            b = letters[members.index(pair["accountB"]) % 26]
            print(f"    {a}~{b} score {pair['score']}: {words}")
    if len(result.groups) > args.limit:
        print(f"... {len(result.groups) - args.limit} more groups (--limit, or --json for all)")
    print(
        "support decides in the console (Possible duplicates), or with "
        "support_merge_duplicates / support_keep_duplicates_apart; see docs/adoption.md"
    )
    return 0
