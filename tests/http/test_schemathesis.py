"""schemathesis, an independent OpenAPI fuzzer, against the proxy's own document.

The schemathesis command line runs as an API consumer would run it: it loads ``GET
/rest/v1/`` with the service-role key and tests every operation in it (its examples,
coverage, fuzzing and stateful phases: bodies that follow the schema and bodies that break
it, missing and unknown keys, every unlisted HTTP method, requests without or with a wrong
key) with these checks:

    not_a_server_error, status_code_conformance, content_type_conformance,
    response_headers_conformance, response_schema_conformance, negative_data_rejection,
    missing_required_header, unsupported_method, allow_header_conformance, ignored_auth

once with the service-role key, and once with the anon key on the same document (anon's own
document lists no RPC: anon may execute none, and schemathesis never tests the URL its
document came from). The database is seeded (customers with orders, conflicts, a merge),
so valid requests find something.

``make test`` runs a fixed seed and a few examples per operation (about half a minute);
``make schemathesis`` a long run: ``CUSTOMER_MANAGEMENT_SCHEMATHESIS_EXAMPLES`` examples per
operation, ``CUSTOMER_MANAGEMENT_SCHEMATHESIS_SEED``, and the JSON reports (the numbers of
docs/reliability.md) in ``CUSTOMER_MANAGEMENT_SCHEMATHESIS_REPORTS``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from customer_management.proxy import Settings
from support.contract_world import build_contract_world
from support.helpers import cloned_database
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, as_authenticator, serving

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
)
EXAMPLES = int(os.environ.get("CUSTOMER_MANAGEMENT_SCHEMATHESIS_EXAMPLES", "8"))
SEED = int(os.environ.get("CUSTOMER_MANAGEMENT_SCHEMATHESIS_SEED", "20261206"))
REPORTS = os.environ.get("CUSTOMER_MANAGEMENT_SCHEMATHESIS_REPORTS")
# The command line, from this interpreter's environment.
COMMAND = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis as s; s()"]


@pytest.fixture(scope="module")
def api(server_url: str, template_db: str) -> Iterator[Proxy]:
    """The proxy on a database of its own, seeded."""
    with (
        cloned_database(server_url, template_db, "schemathesis") as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        build_contract_world(conn)
        with serving(Settings(db_url=as_authenticator(url), pool_max_size=4)) as proxy:
            yield proxy


def run(location: str, key: str, workdir: Path, name: str, *extra: str) -> dict[str, Any]:
    """One schemathesis run; its JSON report (the run must pass)."""
    report_dir = Path(REPORTS) if REPORTS else workdir
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"schemathesis-{name}.json"
    argv = [
        *COMMAND,
        "run",
        location,
        *extra,
        "--header",
        f"apikey: {key}",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    finished = subprocess.run(
        argv, cwd=workdir, capture_output=True, text=True, timeout=7200, check=False
    )
    output = finished.stdout + finished.stderr
    if REPORTS:
        (report_dir / f"schemathesis-{name}.log").write_text(output)
    assert finished.returncode == 0, output[-8000:]
    result: dict[str, Any] = json.loads(report.read_text())
    cases = result["test_cases"]
    print(
        f"\nschemathesis {name}: seed {result['seed']}, {result['operations']['tested']} "
        f"operations, {cases['generated']} test cases, {cases['with_failures']} failing, "
        f"{result['running_time']:.0f} s"
    )
    return result


def assert_thorough(result: dict[str, Any], operations: int) -> None:
    """Every operation tested, by every phase that applies, and nothing failed."""
    assert result["operations"]["tested"] == operations, result["operations"]
    assert result["phases"]["coverage"]["status"] == "success", result["phases"]
    assert result["phases"]["fuzzing"]["status"] == "success", result["phases"]
    assert result["test_cases"]["generated"] >= operations * EXAMPLES
    assert result["test_cases"]["with_failures"] == 0
    assert result["failures"] == [] and result["errors"] == []


def rpc_count(proxy: Proxy) -> int:
    document = proxy.http.get(proxy.url + "/rest/v1/", headers={"apikey": SERVICE_KEY}).json()
    return sum(1 for path in document["paths"] if path.startswith("/rpc/"))


def test_service_role(api: Proxy, tmp_path: Path) -> None:
    """The service role's document, exercised with the service-role key."""
    result = run(api.url + "/rest/v1/", SERVICE_KEY, tmp_path, "service_role")
    assert_thorough(result, rpc_count(api))


def test_anon_on_the_service_role_document(api: Proxy, tmp_path: Path) -> None:
    """Every RPC called with the anon key: refused (401), as the document says. Loaded from
    a file, the document's own operation (``GET /``) is tested too."""
    document = api.http.get(api.url + "/rest/v1/", headers={"apikey": SERVICE_KEY})
    schema_file = tmp_path / "openapi.json"
    schema_file.write_bytes(document.content)
    result = run(str(schema_file), ANON_KEY, tmp_path, "anon", "--url", api.url + "/rest/v1")
    assert_thorough(result, rpc_count(api) + 1)
