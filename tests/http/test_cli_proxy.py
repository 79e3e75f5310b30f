"""``customer-management token`` and ``run``: what a developer types on a fresh machine."""

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

import httpx
import jwt
import psycopg
import pytest

from customer_management import cli
from customer_management.cli.serve import CHATBOT_LOOKUP, banner
from customer_management.local import keys
from customer_management.local.server import LocalPostgres, free_port
from support.proxy import ANON_KEY, Proxy, as_authenticator
from support.running import Running, curl_from, run_command

pytest_plugins = ["support.proxy_fixtures"]


def run_token(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """Run the token command in-process; return (stdout, stderr)."""
    assert cli.main(["token", *args]) == 0
    captured = capsys.readouterr()
    return captured.out.strip(), captured.err


def test_token_creates_then_reuses_a_user(
    db_url: str, conn: psycopg.Connection[Any], proxy: Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    """A signed user token on stdout; the same user the second time; it works on the proxy."""
    token, err = run_token(
        capsys,
        "--email",
        "Web@Example.com",
        "--phone",
        "+15555550123",
        "--confirmed",
        "--db-url",
        db_url,
    )
    assert err.startswith("created auth user")
    claims = jwt.decode(
        token, keys.DEFAULT_JWT_SECRET, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["role"] == "authenticated"
    assert claims["email"] == "Web@Example.com"
    assert claims["phone"] == "15555550123"
    row = conn.execute(
        "select phone, email_confirmed_at is not null, phone_confirmed_at is not null "
        "from auth.users where id = %s",
        (claims["sub"],),
    ).fetchone()
    assert row == ("15555550123", True, True)

    again, err = run_token(capsys, "--email", "web@example.com", "--db-url", db_url)
    assert err.startswith("reusing auth user")
    assert jwt.decode(again, options={"verify_signature": False})["sub"] == claims["sub"]

    response = proxy.function(
        {"email": "web@example.com", "phone": "+15555550123", "source": "webapp"},
        token=token,
        apikey=ANON_KEY,
    )
    assert response.status_code == 200, response.text
    assert response.json()["customer"]["email"] == "web@example.com"
    assert "verificationRequired" not in response.json()


def test_token_needs_an_identifier(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --email or --phone the command explains itself."""
    assert cli.main(["token"]) == 2
    assert "--email" in capsys.readouterr().err


def test_banner_has_keys_and_a_working_curl() -> None:
    """The banner shows the URL, both keys and the chatbot's lookup."""
    text = banner(
        "http://127.0.0.1:54321",
        "postgresql://postgres@127.0.0.1:54322/postgres",
        keys.DEFAULT_JWT_SECRET,
    )
    assert "API URL: http://127.0.0.1:54321" in text
    assert keys.anon_key() in text and keys.service_role_key() in text
    assert CHATBOT_LOOKUP in text
    assert "/functions/v1/customer-management" in text


def test_run_serves_stops_cleanly_and_keeps_data(run_dir: Path) -> None:
    """`run` twice on one data dir: the printed curl finds the seeded customer, Ctrl-C /
    SIGTERM stop both proxy and database, and the second run still has the first run's data."""
    data_dir = run_dir
    db_port, api_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    new_customer = {"phone": "+15555550999", "firstName": "Nia", "source": "chatbot"}
    service = {"Authorization": f"Bearer {keys.service_role_key()}"}

    first = Running(run_command(data_dir, db_port, api_port))
    try:
        text = first.banner()
        assert api in text
        seeded = json.loads(
            subprocess.run(
                curl_from(text), capture_output=True, text=True, check=True, timeout=30
            ).stdout
        )
        assert seeded["customer"]["phone"] == "+15551234567"
        assert seeded["summary"].startswith("Welcome back John!")
        assert len(seeded["orderHistory"]) == 2
        created = httpx.post(
            f"{api}/functions/v1/customer-management", json=new_customer, headers=service
        ).json()
        assert created["customer"]["isNewAccount"] is True
        assert httpx.get(f"{api}/health").json() == {"status": "ok"}
    finally:
        status = first.stop(signal.SIGINT)
    assert status in (0, 130), "".join(first.stderr)
    assert not LocalPostgres(data_dir, port=db_port).is_running()

    second = Running(run_command(data_dir, db_port, api_port))
    try:
        second.banner()
        found = httpx.post(
            f"{api}/functions/v1/customer-management", json=new_customer, headers=service
        ).json()
        assert found["customer"]["id"] == created["customer"]["id"]
        assert found["customer"]["isNewAccount"] is False
    finally:
        status = second.stop(signal.SIGTERM)
    assert status in (0, 130), "".join(second.stderr)
    assert "stopped PostgreSQL" in "".join(second.stderr)
    assert not re.search(r"Traceback", "".join(first.stderr + second.stderr))
    assert not LocalPostgres(data_dir, port=db_port).is_running()


def test_serve_uses_an_existing_database(db_url: str) -> None:
    """`serve --db-url` is the proxy alone; SIGTERM stops it cleanly."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "customer_management",
            "serve",
            "--db-url",
            as_authenticator(db_url),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        answer = httpx.post(
            f"http://127.0.0.1:{port}/functions/v1/customer-management",
            json={"phone": "+15551234567", "source": "chatbot"},
            headers={"Authorization": f"Bearer {keys.service_role_key()}"},
        )
        assert answer.status_code == 200, answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    access = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(e["path"], e["status"]) for e in access][-1] == (
        "/functions/v1/customer-management",
        200,
    )


def test_serve_forward_needs_an_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --forward` without SUPABASE_URL / key explains what is missing."""
    env_backup = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SUPABASE_")}
    try:
        assert cli.main(["serve", "--forward"]) == 2
    finally:
        os.environ.update(env_backup)
    assert "SUPABASE_URL" in capsys.readouterr().err
