"""pgbench workloads: the kit's RPCs called as PostgREST calls them, beside pgbench's own
baselines, on one server in one run.

A PostgREST request is one transaction: ``BEGIN``, the settings it puts in place (search
path, role, JWT claims, method and path, all local to the transaction), the function
call, ``COMMIT``. Every RPC script below has exactly that shape; ``noop`` calls a function
that returns its argument, so the difference between ``noop`` and ``lookup`` is what the
kit itself costs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import data

POSTGREST_SETTINGS = (
    "SELECT set_config('search_path', 'public, extensions', true), "
    "set_config('role', 'service_role', true), "
    "set_config('request.jwt.claims', '{\"role\":\"service_role\"}', true), "
    "set_config('request.method', 'POST', true), "
    "set_config('request.path', '/rpc/customer_management', true);"
)

NOOP_SQL = """
create schema if not exists bench;
create or replace function bench.noop(jsonb) returns jsonb
language sql volatile security invoker set search_path = '' as 'select $1';
grant usage on schema bench to service_role;
grant execute on function bench.noop(jsonb) to service_role;
"""
# The no-op plus the one write every lookup makes: the kit's own apply_rate_limit counting
# the call against the caller's line (the service role's per-identifier limit). Between
# ``noop`` and ``counted-noop`` is what that write costs; between ``counted-noop`` and
# ``lookup``, everything else the lookup does.
COUNTED_NOOP_SQL = """
create or replace function bench.counted_noop(request jsonb) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
begin
    perform customer_management.apply_rate_limit(
        row('service_role', null, true)::customer_management.api_caller,
        array[row(
            'phone', request ->> 'phone', request ->> 'phone', true, true
        )::customer_management.identifier_claim]
    );
    return request;
end;
$$;
revoke all on function bench.counted_noop(jsonb) from public;
grant execute on function bench.counted_noop(jsonb) to service_role;
"""
# The floor of a create, measured the way the counted no-op measures the count: the rows a
# create writes and nothing else, with their indexes and triggers. A new caller's create
# writes the account (showing its line), the line's identifier (its triggers: the default
# strength, the contact-column sync), an audit row and the count; it writes no outbox
# event (public.customer_events records merges, undos and erasures only).
CREATE_FLOOR_SQL = """
create or replace function bench.create_floor(request jsonb) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
    line text := request ->> 'phone';
    new_customer_id uuid;
begin
    perform customer_management.apply_rate_limit(
        row('service_role', null, true)::customer_management.api_caller,
        array[row('phone', line, line, true, true)::customer_management.identifier_claim]
    );
    insert into public.customers (first_name, phone, preferences)
    values (
        request ->> 'firstName', line,
        '{"account_sources": ["chatbot"], "created_via": "chatbot", "last_updated_via": "chatbot"}'
    )
    returning id into new_customer_id;
    insert into customer_management.customer_identifiers (
        customer_id, type, value, display_value, status, strength, verified_at, last_used_at,
        source
    ) values (
        new_customer_id, 'phone', line, line, 'active', 'verified', now(), now(), 'chatbot'
    )
    -- A line drawn twice across runs: written once, so pgbench never loses the client.
    on conflict (value, type) where status = 'active' do nothing;
    insert into customer_management.audit_log (action, customer_id, actor_role, source, details)
    values ('create', new_customer_id, 'service_role', 'chatbot', '{}');
    return jsonb_build_object('id', new_customer_id);
end;
$$;
revoke all on function bench.create_floor(jsonb) from public;
grant execute on function bench.create_floor(jsonb) to service_role;
"""


def _rpc_script(pick: str, call: str) -> str:
    """One PostgREST-shaped transaction: pick a customer, set the context, call."""
    return f"{pick}\nBEGIN;\n{POSTGREST_SETTINGS}\nSELECT {call};\nEND;\n"


def lookup_body(n: str) -> str:
    """A returning customer's chatbot lookup: the line they call from."""
    return f"jsonb_build_object('phone', {data.phone_sql(n)}, 'source', 'chatbot')"


def scripts(customers: int) -> dict[str, str]:
    """pgbench script text by workload name (``select-only`` and ``tpcb-like`` are
    pgbench's built-ins and have no text here)."""
    pick = f"\\set n random(0, {customers - 1})"
    new = "\\set n random(0, 23999999)"
    pair = f"\\set n random(0, {customers - 2})\n\\set m :n + 1"
    created = (
        f"jsonb_build_object('phone', {data.new_caller_phone_sql(':n')}, 'firstName', 'Nia', "
        "'source', 'chatbot')"
    )
    return {
        "noop": _rpc_script(pick, f"bench.noop({lookup_body(':n')})"),
        "counted-noop": _rpc_script(pick, f"bench.counted_noop({lookup_body(':n')})"),
        "lookup": _rpc_script(pick, f"public.customer_management({lookup_body(':n')})"),
        "create": _rpc_script(new, f"public.customer_management({created})"),
        "create-floor": _rpc_script(new, f"bench.create_floor({created})"),
        # A backend passing on one customer's phone and the next one's email: a conflict
        # when the next one has an email (60%), else the email joins the first account.
        "conflict": _rpc_script(
            pair,
            "public.customer_management(jsonb_build_object("
            f"'phone', {data.phone_sql(':n')}, 'email', {data.email_sql(':m')}, "
            "'source', 'webapp'))",
        ),
    }


@dataclass(frozen=True)
class Run:
    """One pgbench run: which workload(s), clients, and what it measured."""

    workload: str
    clients: int
    seconds: float
    transactions: int
    failed: int
    tps: float
    p50_ms: float
    p99_ms: float


def pgbench_binary() -> str:
    """pgbench from PATH or the PostgreSQL binaries the kit runs the server with."""
    from customer_management.local.server import pg_bindir

    found = shutil.which("pgbench")
    return found or str(pg_bindir() / "pgbench")


def initialise_baselines(url: str, scale: int) -> None:
    """pgbench's own tables (for ``-S`` and TPC-B-like), the no-op RPC, the counted no-op
    and the create floor."""
    subprocess.run(
        [pgbench_binary(), "-i", "-q", "-s", str(scale), url],
        check=True,
        capture_output=True,
        text=True,
    )
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(NOOP_SQL)
        conn.execute(COUNTED_NOOP_SQL)
        conn.execute(CREATE_FLOOR_SQL)


def run(
    url: str,
    workload: str,
    clients: int,
    seconds: int,
    customers: int,
    weights: dict[str, int] | None = None,
    protocol: str = "prepared",
) -> Run:
    """Run one workload (or a weighted mix of scripts) and read every transaction's latency
    from pgbench's log. Prepared statements, as PostgREST uses them on a direct connection;
    ``protocol="extended"`` sends them unprepared, as behind a pooler in transaction mode."""
    texts = scripts(customers)
    workdir = Path(tempfile.mkdtemp(prefix="cm-pgbench-"))
    try:
        command = [
            pgbench_binary(),
            "-n",
            "-M",
            protocol,
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(seconds),
            "-l",
            "--log-prefix",
            str(workdir / "tx"),
        ]
        if workload == "select-only":
            command += ["-b", "select-only"]
        elif workload == "tpcb-like":
            command += ["-b", "tpcb-like"]
        else:
            for name, weight in (weights or {workload: 1}).items():
                path = workdir / f"{name}.sql"
                path.write_text(texts[name], encoding="utf-8")
                command += ["-f", f"{path}@{weight}"]
        result = subprocess.run(
            [*command, url], capture_output=True, text=True, check=False, cwd=workdir
        )
        # pgbench stops a client at its first error (exit 2): its remaining time would be
        # missing from the throughput, so a run that lost a client is not a measure.
        if result.returncode != 0:
            raise RuntimeError(f"pgbench {workload} failed:\n{result.stderr[-2000:]}")
        latencies = sorted(_latencies(workdir))
        failed = _failed(result.stdout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not latencies:
        raise RuntimeError(f"pgbench {workload}: no transaction completed\n{result.stderr}")
    return Run(
        workload=workload,
        clients=clients,
        seconds=seconds,
        transactions=len(latencies),
        failed=failed,
        tps=round(len(latencies) / seconds, 1),
        p50_ms=round(statistics.median(latencies) / 1000, 3),
        p99_ms=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000, 3),
    )


def _latencies(workdir: Path) -> list[int]:
    """Transaction latencies in microseconds from pgbench's per-transaction logs."""
    values: list[int] = []
    for log in workdir.glob("tx.*"):
        for line in log.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[2].isdigit():
                values.append(int(fields[2]))
    return values


def _failed(stdout: str) -> int:
    """Failed transactions as pgbench reports them (0 when it does not)."""
    for line in stdout.splitlines():
        if line.startswith("number of failed transactions:"):
            return int(line.split(":")[1].split()[0])
    return 0
