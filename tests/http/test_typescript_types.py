"""The TypeScript types a web app gives supabase-js, checked by Deno's type checker.

docs/http.md shows a typed ``supabase.rpc('customer_management', ...)``: its ``ts`` block is
written, as a web app would have it, next to a copy of ``supabase/functions/_shared/
contract.ts`` and type-checked (``deno check``) against the supabase-js the Edge Function
pins, so the example cannot rot. Calls the types must refuse (a ``source`` off the
enumeration, a ``page_size`` as text, an unknown RPC) are checked too: each is marked
``@ts-expect-error``, which is itself an error when the call compiles.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support.deno import FUNCTION_DIR, REPO, deno_binary, deno_cache_env

DOC = REPO / "docs" / "http.md"
TYPES = REPO / "supabase" / "functions" / "_shared" / "contract.ts"
# What the example leaves to the app.
PRELUDE = """\
import type { Conflicts, Customer, Order } from "./customer-management.ts";
declare const SUPABASE_URL: string;
declare const SUPABASE_ANON_KEY: string;
declare function showAccount(customer: Customer, orders: Order[]): void;
declare function showAccountMergeDialog(conflicts: Conflicts): void;
declare function showMoreButton(): void;
"""
REFUSED = """
// @ts-expect-error source is "chatbot" or "webapp"
await supabase.rpc("customer_management", { source: "fax" });
// @ts-expect-error page_size is a number
await supabase.rpc("customer_orders", { page_size: "20" });
// @ts-expect-error resolve_conflict needs action
await supabase.rpc("resolve_conflict", { conflict_id: "x" });
// @ts-expect-error not an RPC of the kit
await supabase.rpc("drop_everything", {});
const answer = await supabase.rpc("current_customer_id", { customer_id: null });
// @ts-expect-error the answer is a string or null
const wrong: number = answer.data;
export { wrong };
"""


def typed_example() -> str:
    """The ``ts`` block of docs/http.md."""
    blocks = re.findall(r"^```ts\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert len(blocks) == 1, "docs/http.md shows one typed example"
    return str(blocks[0])


def deno_check(source: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """``deno check`` of ``source`` beside a copy of the types, with the Edge Function's
    import map and lock file (supabase-js from the cache ``make setup`` filled)."""
    (workdir / "customer-management.ts").write_text(TYPES.read_text(encoding="utf-8"))
    (workdir / "deno.json").write_text((FUNCTION_DIR / "deno.json").read_text())
    (workdir / "deno.lock").write_text((FUNCTION_DIR / "deno.lock").read_text())
    (workdir / "app.ts").write_text(source)
    return subprocess.run(
        [str(deno_binary()), "check", "--frozen", "--config", "deno.json", "app.ts"],
        cwd=workdir,
        env=deno_cache_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_documented_call_type_checks(tmp_path: Path) -> None:
    checked = deno_check(PRELUDE + typed_example() + REFUSED, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_wrong_call_does_not(tmp_path: Path) -> None:
    """The check can fail: an argument the types refuse, without the marker, is an error."""
    wrong = typed_example().replace('source: "webapp"', 'source: "fax"')
    checked = deno_check(PRELUDE + wrong, tmp_path)
    assert checked.returncode != 0
    assert "fax" in checked.stdout + checked.stderr
