"""The support console as the proxy serves it at ``/console`` (files, config.json, headers),
and the agent's token from ``customer-management token --support``. What the page does in a
browser is in ``tests/browser``.
"""

from __future__ import annotations

from typing import Any

import jwt
import psycopg
import pytest

from customer_management import cli
from customer_management.local import keys
from customer_management.proxy.console import console_dir
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy

pytest_plugins = ["support.proxy_fixtures"]

Conn = psycopg.Connection[Any]
PAGES = (
    "index.html",
    "app.js",
    "api.js",
    "dom.js",
    "messages.js",
    "signin.js",
    "queue.js",
    "conflict.js",
    "search.js",
    "customer.js",
    "console.css",
)


def test_console_is_served_with_a_config_for_this_proxy(proxy: Proxy) -> None:
    """/console redirects to /console/; the page and its modules are served with a strict
    CSP; config.json points at this origin with the anon key, never the service key."""
    redirect = proxy.http.get(proxy.url + "/console", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/console/"

    index = proxy.http.get(proxy.url + "/console/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert '<script type="module" src="app.js">' in index.text
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert index.headers["referrer-policy"] == "no-referrer"

    for name in PAGES:
        page = proxy.http.get(f"{proxy.url}/console/{name}")
        assert page.status_code == 200, name
        assert page.text == (console_dir() / name).read_text(), name
        if name.endswith(".js"):
            assert "javascript" in page.headers["content-type"], name

    config = proxy.http.get(proxy.url + "/console/config.json")
    assert config.json() == {"supabaseUrl": "", "anonKey": ANON_KEY, "signIn": "token"}
    assert SERVICE_KEY not in config.text
    assert config.headers["content-security-policy"] == csp


def test_the_static_config_is_a_template_without_keys() -> None:
    """The config.json shipped for static hosts holds no key at all: the deployer writes the
    project's URL and anon key into it."""
    shipped = (console_dir() / "config.json").read_text()
    assert '"anonKey": ""' in shipped and "eyJ" not in shipped


def test_supabase_js_is_vendored_by_make_console() -> None:
    """``make console`` (part of ``make setup``) put supabase-js next to the page."""
    bundle = console_dir() / "vendor" / "supabase.js"
    if not bundle.exists():
        pytest.skip("supabase-js is not vendored yet: make console")
    assert "createClient" in bundle.read_text()


def test_forward_mode_points_the_console_at_the_upstream(
    forward_proxy: Proxy, proxy: Proxy
) -> None:
    """In front of a hosted project the page talks to the project itself and signs in with
    Supabase Auth's password flow; CSP allows that origin."""
    config = forward_proxy.http.get(forward_proxy.url + "/console/config.json")
    assert config.json() == {"supabaseUrl": proxy.url, "anonKey": ANON_KEY, "signIn": "password"}
    assert f"connect-src 'self' {proxy.url}" in config.headers["content-security-policy"]


def test_other_methods_and_unknown_files(proxy: Proxy) -> None:
    assert proxy.http.post(proxy.url + "/console/").status_code == 405
    assert proxy.http.get(proxy.url + "/console/nope.js").status_code == 404
    # A path climbing out of the console folder (sent as is, not normalised by the client).
    assert proxy.http.get(proxy.url + "/console/%2e%2e/__init__.py").status_code == 404


def test_token_support_makes_an_agent_the_support_rpcs_accept(
    db_url: str, conn: Conn, proxy: Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    """--support sets app_metadata.role = support on the user (in auth.users and in the
    token); that token opens the support RPCs, a plain user's does not."""
    assert (
        cli.main(["token", "--support", "--email", "agent@shop.example", "--db-url", db_url]) == 0
    )
    captured = capsys.readouterr()
    assert "as a support agent" in captured.err
    token = captured.out.strip()
    claims = jwt.decode(
        token, keys.DEFAULT_JWT_SECRET, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["app_metadata"]["role"] == "support"
    stored = conn.execute(
        "select raw_app_meta_data ->> 'role' from auth.users where id = %s", (claims["sub"],)
    ).fetchone()
    assert stored == ("support",)
    answer = proxy.post("/rest/v1/rpc/support_conflict_queue", {}, token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 0

    assert cli.main(["token", "--email", "someone@shop.example", "--db-url", db_url]) == 0
    plain = capsys.readouterr().out.strip()
    refused = proxy.post("/rest/v1/rpc/support_conflict_queue", {}, plain)
    assert refused.status_code == 403 and refused.json()["message"] == "forbidden"
    anonymous = proxy.post("/rest/v1/rpc/support_conflict_queue", {}, None)
    assert anonymous.status_code == 401


def test_token_support_needs_an_email(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--support", "--phone", "+15555550123"]) == 2
    assert "--support needs --email" in capsys.readouterr().err
