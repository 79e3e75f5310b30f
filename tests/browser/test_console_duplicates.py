"""Possible duplicates in the support console, in a real browser against the real proxy.

Three imported records of one person that no identifier ties (an email with a character
doubled, phones a digit apart, first and last name swapped on one) are found by the DBA's
refresh. The agent sees them as one group with the reasons of each pair, merges two of them
after a preview, and keeps the third apart; both decisions hold: the merge is in the merge
log (undoable), and a fresh refresh proposes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_console import agent_token, sign_in

from customer_management.batch.importer import Source, run_import
from customer_management.batch.progress import Progress
from support.browser import DESKTOP, PHONE, record_traffic, screenshot, sideways_overflow
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy

pytest_plugins = ["support.proxy_fixtures", "support.browser_fixtures"]

Conn = psycopg.Connection[Any]
ROWS = (
    "legacy_id,first_name,last_name,phone,email\n"
    "H1,Hyacinth,Bucketworth,+15556667701,hyacinth.bw@mail.com\n"
    "H2,Hyacinth,Bucketworth,+15556667702,hyacinth.bww@mail.com\n"
    "H3,Bucketworth,Hyacinth,+15556667703,\n"
)
DUPLICATE_RPCS = {
    "support_conflict_queue",
    "support_possible_duplicates",
    "support_duplicate_merge_preview",
    "support_merge_duplicates",
    "support_keep_duplicates_apart",
    "support_customer_view",
}


def found(conn: Conn, db_url: str, tmp_path: Path) -> dict[str, str]:
    """Import the three records, refresh the possible duplicates; legacy id -> account."""
    path = tmp_path / "customers.csv"
    path.write_text(ROWS, encoding="utf-8")
    with Progress(enabled=False) as progress:
        run_import(db_url, Source(path=path), None, tmp_path / "rejects.csv", progress)
    conn.execute("select customer_management.refresh_possible_duplicates()")
    conn.commit()
    rows = conn.execute(
        "select legacy_id, customer_id::text from customer_management.legacy_ids"
    ).fetchall()
    return {str(a): str(b) for a, b in rows}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def test_agent_merges_two_and_keeps_the_third_apart(
    proxy: Proxy, conn: Conn, db_url: str, page: Any, tmp_path: Path
) -> None:
    accounts = found(conn, db_url, tmp_path)
    token, _ = agent_token(db_url)
    traffic = record_traffic(page)
    sign_in(page, proxy, token)
    page.get_by_role("heading", name="Conflict queue").wait_for()

    page.get_by_role("link", name="Possible duplicates").click()
    page.get_by_role("heading", name="Possible duplicates").wait_for()
    groups = page.locator("#duplicate-groups tbody tr")
    groups.first.wait_for()
    assert groups.count() == 1
    assert "Hyacinth Bucketworth" in groups.first.inner_text()
    screenshot(page, "13-possible-duplicates")

    groups.first.get_by_role("link").click()
    pairs = page.locator("#duplicate-pairs tbody")
    pairs.wait_for()
    reasons = pairs.inner_text()
    assert "email: one character dropped or doubled" in reasons
    assert "phone one digit off" in reasons and "first and last name swapped" in reasons
    # All three are picked at first; H3 is someone else: unpick it, the preview follows.
    page.locator(f"#pick-{accounts['H3']}").uncheck()
    preview = page.locator("#merge-preview")
    page.locator(f'article[data-account="{accounts["H3"]}"]').wait_for(state="detached")
    preview.get_by_text("stays, by the fixed rule").wait_for()
    assert "+15556667703" not in preview.inner_text()
    screenshot(page, "14-possible-duplicates-preview")
    page.get_by_label("Reason (kept on record)").fill("Same person: confirmed both addresses")
    page.get_by_role("button", name="Merge 2 accounts into Hyacinth Bucketworth").click()

    page.get_by_role("heading", name="Profile").wait_for()
    assert "Merged (merge #1)" in page.locator("#status").inner_text()
    assert page.get_by_role("button", name="Undo merge #1…").is_visible()

    # What is left of the group: the survivor and H3; the agent keeps H3 apart.
    page.get_by_role("link", name="Possible duplicates").click()
    page.locator("#duplicate-groups tbody tr").first.get_by_role("link").click()
    page.locator("#duplicate-pairs tbody").wait_for()
    survivor = next(
        a for a in (accounts["H1"], accounts["H2"]) if page.locator(f"#pick-{a}").count()
    )
    page.locator(f"#pick-{survivor}").uncheck()
    page.get_by_label("Reason (kept on record)").fill("Another person: different birthday")
    page.get_by_role("button", name="Keep the picked accounts apart from the rest").click()
    page.get_by_text("Kept apart (1 pairs)").wait_for()
    assert "No possible duplicates" in page.locator("#duplicates-summary").inner_text()

    with psycopg.connect(db_url) as check:
        merged = check.execute(
            "select count(*) from public.customers where merged_into is not null"
        ).fetchone()
        assert merged == (1,)
        again = check.execute("select customer_management.refresh_possible_duplicates()")
        assert again.fetchone()[0]["pairs"] == 0  # type: ignore[index]
    for sent in traffic.calls:
        assert sent["function"] in DUPLICATE_RPCS, sent["function"]
        assert sent["headers"]["apikey"] == ANON_KEY
        assert SERVICE_KEY not in json.dumps(sent)


def test_possible_duplicates_read_on_a_phone(
    proxy: Proxy, conn: Conn, db_url: str, browser: Any, tmp_path: Path
) -> None:
    """At 390 px wide the list and the group do not scroll sideways."""
    found(conn, db_url, tmp_path)
    token, _ = agent_token(db_url)
    context = browser.new_context(viewport=PHONE, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    try:
        sign_in(page, proxy, token)
        page.get_by_role("heading", name="Conflict queue").wait_for()
        page.goto(f"{proxy.url}/console/#/duplicates")
        page.locator("#duplicate-groups tbody tr").first.wait_for()
        assert sideways_overflow(page) == []
        page.locator("#duplicate-groups tbody tr").first.get_by_role("link").click()
        page.locator("#merge-preview").get_by_text("stays, by the fixed rule").wait_for()
        assert sideways_overflow(page) == []
        screenshot(page, "15-possible-duplicates-phone")
    finally:
        context.close()
