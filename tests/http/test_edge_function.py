"""The Deno Edge Function answers exactly like the proxy's own ``/functions/v1`` route.

Two fresh databases are prepared identically (same auth users, same ids). Database A is
served by a proxy whose ``/functions/v1/customer-management`` route is the reference;
database B by a second proxy behind the real Edge Function, run with ``deno serve`` and
``SUPABASE_URL`` pointing at that proxy. Every request goes to both, in the same order, so
both databases pass through the same states; each pair of answers must have the same
status and the same JSON, once generated ids (customer and conflict ids, which differ
between databases) are replaced by their order of appearance.

Deno comes from ``make setup`` (``.local/deno``, or ``$DENO``); without it these tests fail
and say so, they are never skipped.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from customer_management.local import auth_users, keys
from customer_management.proxy import Settings, create_app
from customer_management.proxy.server import BackgroundServer
from support.deno import FUNCTION_DIR, deno_binary, deno_cache_env
from support.helpers import cloned_database
from support.proxy import as_authenticator
from support.security import within_one_clock_minute

REPO = Path(__file__).resolve().parents[2]
FUNCTION_PATH = "/functions/v1/customer-management"
ORIGIN = "https://shop.example"

ANON_KEY = keys.anon_key()
SERVICE_KEY = keys.service_role_key()
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RETRY_RE = re.compile(r"Retry after (\d+) seconds\.")
# Headers whose values must match between the two answers (retry-after is compared apart).
COMPARED_HEADERS = (
    "content-type",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "allow",
    "www-authenticate",
)

Conn = psycopg.Connection[Any]


# --- infrastructure -------------------------------------------------------------------


def deno_env(supabase_url: str) -> dict[str, str]:
    """The function's environment: the API it calls, the project key, the Deno cache."""
    env = deno_cache_env()
    env.update({"SUPABASE_URL": supabase_url, "SUPABASE_ANON_KEY": ANON_KEY})
    return env


@dataclass
class DenoServer:
    """``deno serve`` running the Edge Function; output goes to a log file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_deno(supabase_url: str, log_path: Path, timeout: float = 60.0) -> DenoServer:
    """Serve the function on a free port of 127.0.0.1 and wait until it answers."""
    command = [
        str(deno_binary()),
        "serve",
        "--host=127.0.0.1",
        "--port=0",
        "--cached-only",  # dependencies come from `make setup`, never from the network here
        f"--config={FUNCTION_DIR / 'deno.json'}",
        "--allow-net=127.0.0.1",
        "--allow-env",
        str(FUNCTION_DIR / "index.ts"),
    ]
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=deno_env(supabase_url),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    server = DenoServer(process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"Listening on (http://127\.0\.0\.1:\d+)", server.log())
        if match:
            server.url = match.group(1)
            return server
        if process.poll() is not None:
            break
        time.sleep(0.05)
    server.stop()
    pytest.fail(
        "`deno serve` did not start the Edge Function (run `make setup` if the Deno cache "
        f"is missing):\n{server.log()}",
        pytrace=False,
    )


# --- comparing answers ----------------------------------------------------------------


@dataclass
class Normaliser:
    """Replaces each generated uuid by ``<id-N>``, N its order of first appearance."""

    fixed: dict[str, str] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return UUID_RE.sub(self._replace, value)
        return value

    def _replace(self, match: re.Match[str]) -> str:
        text = match.group(0)
        if text in self.fixed:
            return self.fixed[text]
        return self.seen.setdefault(text, f"<id-{len(self.seen) + 1}>")


@dataclass(frozen=True)
class User:
    """A Supabase Auth user present, with the same id, in both databases."""

    id: str
    email: str | None
    phone: str | None
    token: str


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, parsed JSON (or text) and headers."""

    status: int
    body: Any
    headers: httpx.Headers


@dataclass
class Pair:
    """The reference (proxy A) and the Edge Function (deno, in front of proxy B)."""

    http: httpx.Client
    proxy_url: str
    function_url: str
    conns: tuple[Conn, Conn]
    normalise_proxy: Normaliser = field(default_factory=Normaliser)
    normalise_function: Normaliser = field(default_factory=Normaliser)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        """Run the same statement, as superuser, on both databases."""
        for conn in self.conns:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def user(
        self, email: str | None = None, phone: str | None = None, confirmed: bool = True
    ) -> User:
        """Insert the same auth user (same id) into both databases; sign its token."""
        user_id = uuid.uuid4()
        for conn in self.conns:
            user = auth_users.create_user(
                conn,
                email,
                phone,
                email_confirmed=confirmed,
                phone_confirmed=confirmed,
                user_id=user_id,
            )
        for normalise in (self.normalise_proxy, self.normalise_function):
            normalise.fixed[str(user_id)] = f"<user {email or phone}>"
        return User(str(user_id), email, phone, user.token())

    def code_for(self, email: str) -> dict[str, str]:
        """A verification for ``email`` with the same id and code in both databases (each
        stores it under its own key), as request_verification would have issued it."""
        verification = {"id": str(uuid.uuid4()), "code": f"{secrets.randbelow(10**6):06d}"}
        self.execute(
            "insert into customer_management.verifications (id, identifier_type, "
            "identifier_value, code_hash, expires_at, actor_role) values (%s, 'email', %s, "
            "customer_management.verification_code_hash(%s, %s), now() + interval '10 minutes', "
            "'service_role')",
            (verification["id"], email, verification["id"], verification["code"]),
        )
        return verification

    def send(
        self,
        body: Any = None,
        token: str | None = SERVICE_KEY,
        apikey: str | None = ANON_KEY,
        method: str = "POST",
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Answer, Answer]:
        """Send one request to the proxy, then the same to the function; both answers.

        Requests come from a page's origin, as a browser sends them (CORS answers differ only
        in what a browser never sees: Starlette adds CORS headers to cross-origin requests).
        """
        sent = {"Content-Type": "application/json", "Origin": ORIGIN, **(headers or {})}
        if apikey is not None:
            sent["apikey"] = apikey
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if content is None and body is not None:
            content = json.dumps(body).encode()
        answers = []
        for base in (self.proxy_url, self.function_url):
            response = self.http.request(
                method, base + FUNCTION_PATH, content=content, headers=sent
            )
            try:
                parsed: Any = response.json()
            except ValueError:
                parsed = response.text
            answers.append(Answer(response.status_code, parsed, response.headers))
        return answers[0], answers[1]

    def same(self, body: Any = None, **kwargs: Any) -> Answer:
        """Send to both; assert equal status, JSON and headers; return the proxy's answer."""
        reference, function = self.send(body, **kwargs)
        expected = self.normalise_proxy(reference.body)
        actual = self.normalise_function(function.body)
        expected_hint = _retry_seconds(expected)
        actual_hint = _retry_seconds(actual)
        if expected_hint is not None and actual_hint is not None:
            # Seconds left in the rate-limit window: the databases are a few ms apart.
            assert abs(expected_hint - actual_hint) <= 2, (expected, actual)
            expected = _without_retry_seconds(expected)
            actual = _without_retry_seconds(actual)
        assert (function.status, actual) == (reference.status, expected), (
            f"request {body!r}: the Edge Function answered {function.status} {actual!r}, "
            f"the proxy {reference.status} {expected!r}"
        )
        for name in COMPARED_HEADERS:
            assert function.headers.get(name) == reference.headers.get(name), name
        assert ("retry-after" in function.headers) == ("retry-after" in reference.headers)
        return reference


def _retry_seconds(body: Any) -> int | None:
    if isinstance(body, dict) and isinstance(body.get("hint"), str):
        match = RETRY_RE.fullmatch(body["hint"])
        return int(match.group(1)) if match else None
    return None


def _without_retry_seconds(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "hint": RETRY_RE.sub("Retry after N seconds.", body["hint"])}


@pytest.fixture(scope="module")
def pair(
    server_url: str,
    template_db: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    """Two identical databases, a proxy on each, the Edge Function in front of proxy B."""
    deno_binary()  # fail before building anything when Deno is missing
    servers: list[BackgroundServer] = []
    deno: DenoServer | None = None
    with (
        cloned_database(server_url, template_db, "edge") as url_a,
        cloned_database(server_url, template_db, "edge") as url_b,
    ):
        try:
            for url in (url_a, url_b):
                settings = Settings(db_url=as_authenticator(url), pool_max_size=4)
                server = BackgroundServer(create_app(settings))
                server.start()
                servers.append(server)
            deno = start_deno(servers[1].url, tmp_path_factory.mktemp("deno") / "serve.log")
            with (
                psycopg.connect(url_a, autocommit=True) as conn_a,
                psycopg.connect(url_b, autocommit=True) as conn_b,
                httpx.Client(timeout=60) as http,
            ):
                yield Pair(http, servers[0].url, deno.url, (conn_a, conn_b))
        finally:
            if deno is not None:
                deno.stop()
            for server in servers:
                server.stop()


@pytest.fixture(autouse=True)
def _fresh_id_numbering(request: pytest.FixtureRequest) -> None:
    """Number generated ids per test, so one failure does not shift the next test's ids."""
    if "pair" in request.fixturenames:
        active: Pair = request.getfixturevalue("pair")
        active.normalise_proxy.seen.clear()
        active.normalise_function.seen.clear()


# --- the three scenarios -------------------------------------------------------------


def test_scenario_1_chatbot_first_then_web_app(pair: Pair) -> None:
    """Chatbot creates Alice by phone; her web sign-up lands in the same account."""
    created = pair.same(
        {
            "phone": "555-123-4567",
            "email": "chatbot_temp@temp.local",
            "firstName": "Alice",
            "source": "chatbot",
        }
    )
    assert created.status == 200
    assert created.body["customer"]["isNewAccount"] is True

    alice = pair.user(email="alice@gmail.com", phone="+15551234567")
    merged = pair.same(
        {
            "email": "alice@gmail.com",
            "phone": "555-123-4567",
            "firstName": "Alice",
            "source": "webapp",
            "authUserId": alice.id,
        },
        token=alice.token,
    )
    assert merged.status == 200
    assert merged.body["customer"]["id"] == created.body["customer"]["id"]
    assert merged.body["customer"]["accountSources"] == ["chatbot", "webapp"]


def test_scenario_2_web_app_first_then_chatbot(pair: Pair) -> None:
    """Bob signs up on the web; the chatbot, once he proves his email, adds his line."""
    bob = pair.user(email="bob@gmail.com")
    created = pair.same(
        {"email": "bob@gmail.com", "firstName": "Bob", "source": "webapp", "authUserId": bob.id},
        token=bob.token,
    )
    assert created.status == 200
    # As a chatbot back end calls it: the service-role key as bearer token, no apikey.
    # Bob proves the email he says with the code the chatbot sent him.
    updated = pair.same(
        {
            "phone": "555-555-5678",
            "email": "bob@gmail.com",
            "firstName": "Bob",
            "source": "chatbot",
            "verification": pair.code_for("bob@gmail.com"),
        },
        apikey=None,
    )
    assert updated.status == 200
    assert updated.body["customer"]["accountSources"] == ["webapp", "chatbot"]
    assert updated.body["customer"]["phone"] == "+15555555678"


def test_a_line_on_a_backend_made_account_is_403_second_proof_required(pair: Pair) -> None:
    """Dana's web account, made by the backend with her checkout phone: her first call from
    that phone answers 403 second_proof_required from both (nothing of the account); with
    her email proven by a code the line joins the account."""
    made = pair.same(
        {
            "phone": "415-555-0177",
            "email": "dana@mailbox.org",
            "firstName": "Dana",
            "source": "webapp",
        },
    )
    assert made.status == 200
    asked = pair.same({"phone": "415-555-0177", "source": "chatbot"}, apikey=None)
    assert (asked.status, asked.body["message"]) == (403, "second_proof_required")
    assert "Dana" not in json.dumps(asked.body)
    proven = pair.same(
        {
            "phone": "415-555-0177",
            "email": "dana@mailbox.org",
            "source": "chatbot",
            "verification": pair.code_for("dana@mailbox.org"),
        },
        apikey=None,
    )
    assert proven.status == 200
    assert proven.body["customer"]["id"] == made.body["customer"]["id"]


def test_scenario_3_conflict_is_409_with_the_conflict_body(pair: Pair) -> None:
    """Two accounts, both identifiers: 409 with the conflict shape, for both callers."""
    charlie = pair.user(email="charlie@gmail.com", phone="+15552229999")
    pair.same(
        {"email": "charlie@gmail.com", "source": "webapp", "authUserId": charlie.id},
        token=charlie.token,
    )
    pair.same({"phone": "555-222-9999", "source": "chatbot"})

    body = {"phone": "555-222-9999", "email": "charlie@gmail.com", "source": "chatbot"}
    conflict = pair.same({**body, "verification": pair.code_for("charlie@gmail.com")})
    assert conflict.status == 409
    assert conflict.body["error"] == "Account conflict"
    assert conflict.body["conflicts"]["found"] is True
    again = pair.same({**body, "verification": pair.code_for("charlie@gmail.com")})
    assert again.body == conflict.body  # re-sighting: same conflict, same answer

    # A wrong code: 400 invalid_verification from both (the function passes the status on).
    wrong = pair.code_for("charlie@gmail.com")
    wrong["code"] = f"{(int(wrong['code']) + 1) % 10**6:06d}"
    refused = pair.same({**body, "verification": wrong})
    assert (refused.status, refused.body["message"]) == (400, "invalid_verification")

    # The end user sees the masked conflict shape, also as 409.
    masked = pair.same(
        {
            "email": "charlie@gmail.com",
            "phone": "555-222-9999",
            "source": "webapp",
            "authUserId": charlie.id,
        },
        token=charlie.token,
    )
    assert masked.status == 409

    merged = pair.same(
        {**body, "mergeIfFound": True, "verification": pair.code_for("charlie@gmail.com")}
    )
    assert merged.status == 200


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"phone": "not a phone", "source": "chatbot"}, "invalid_phone"),
        ({"email": "nobody@", "source": "chatbot"}, "invalid_email"),
        ({"phone": "555-123-0000"}, "invalid_source"),
        ({"source": "chatbot"}, "missing_identifier"),
        ({"email": "chatbot_temp@temp.local", "source": "chatbot"}, "missing_identifier"),
        ({"authUserId": "abc123", "source": "webapp"}, "invalid_auth_user_id"),
        ({"phone": 5551230000, "source": "chatbot"}, "invalid_request"),
        ({"firstName": "x" * 201, "phone": "555-123-0001", "source": "chatbot"}, "name_too_long"),
        ([{"phone": "555-123-0002", "source": "chatbot"}], "invalid_request"),
        ("just a string", "invalid_request"),
        (None, None),  # empty body: {} for PostgREST, so the RPC says what is missing
    ],
)
def test_bad_input_is_400_with_the_same_error(pair: Pair, body: Any, message: str | None) -> None:
    """Validation errors come from SQL: same PostgREST body, same status."""
    answer = pair.same(body)
    assert answer.status == 400
    if message is not None:
        assert answer.body["message"] == message


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"phone": "555-123-4567",}', b"\xff\xfe{}", b'{"a": NaN}'],
)
def test_invalid_json_is_400_pgrst102(pair: Pair, content: bytes) -> None:
    answer = pair.same(content=content)
    assert answer.status == 400
    assert answer.body["code"] == "PGRST102"


def test_nul_character_is_refused_by_postgres(pair: Pair) -> None:
    answer = pair.same({"firstName": "a\u0000b", "phone": "555-123-0003", "source": "chatbot"})
    assert answer.status == 400
    assert answer.body["code"] == "22P05"


def test_body_over_16_kb_is_413(pair: Pair) -> None:
    big = {"phone": "555-123-0004", "source": "chatbot", "padding": "x" * 17000}
    answer = pair.same(big)
    assert answer.status == 413
    assert answer.body["message"] == "payload_too_large"


def test_other_methods_are_405(pair: Pair) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = pair.same(method=method)
        assert answer.status == 405


def test_cors_preflight(pair: Pair) -> None:
    headers = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, x-client-info, apikey, content-type",
    }
    proxy, function = pair.send(method="OPTIONS", token=None, apikey=None, headers=headers)
    assert proxy.status == function.status == 200
    for name in COMPARED_HEADERS:
        assert function.headers.get(name) == proxy.headers.get(name), name
    assert proxy.headers["access-control-allow-origin"] == "*"
    assert "POST" in proxy.headers["access-control-allow-methods"]


# --- callers --------------------------------------------------------------------------


def test_missing_token_is_401(pair: Pair) -> None:
    """No Authorization and no apikey: 401 before anything runs."""
    answer = pair.same({"phone": "555-123-4567", "source": "chatbot"}, token=None, apikey=None)
    assert answer.status == 401


def test_anon_key_alone_is_401(pair: Pair) -> None:
    """The anon key is a token, but anon may not call the RPC: 401 from SQL's 42501."""
    answer = pair.same({"phone": "555-123-4567", "source": "chatbot"}, token=None)
    assert answer.status == 401
    answer = pair.same({"phone": "555-123-4567", "source": "chatbot"}, token=ANON_KEY)
    assert answer.status == 401


def test_forged_and_expired_tokens_are_401(pair: Pair) -> None:
    forged = keys.sign({"role": "service_role", "exp": 1983812996}, "not-the-project-secret" * 2)
    assert pair.same({"phone": "555-123-4567", "source": "chatbot"}, token=forged).status == 401
    user_id = str(uuid.uuid4())
    expired = keys.sign(keys.user_claims(user_id, "late@example.com", expires_in=-3600))
    assert pair.same({"email": "late@gmail.com", "source": "webapp"}, token=expired).status == 401
    empty = pair.same({"source": "chatbot"}, token=None, headers={"Authorization": "Bearer"})
    assert (empty.status, empty.body["code"]) == (401, "PGRST301")


def test_another_users_auth_id_is_403(pair: Pair) -> None:
    dana = pair.user(email="dana@gmail.com")
    eve = pair.user(email="eve@gmail.com")
    answer = pair.same(
        {"email": "eve@gmail.com", "source": "webapp", "authUserId": dana.id}, token=eve.token
    )
    assert answer.status == 403
    assert answer.body["message"] == "forbidden"


def test_rate_limited_caller_is_429_with_retry_after(pair: Pair) -> None:
    """Over the per-user limit: 429, rate_limited, Retry-After from the hint."""
    pair.execute("update customer_management.settings set rate_limit_per_user_per_minute = 2")
    try:
        frank = pair.user(email="frank@gmail.com")
        body = {"email": "frank@gmail.com", "source": "webapp", "authUserId": frank.id}
        assert pair.same(body, token=frank.token).status == 200
        assert pair.same(body, token=frank.token).status == 200
        limited = pair.same(body, token=frank.token)
        assert limited.status == 429
        assert limited.body["message"] == "rate_limited"
        assert limited.headers["retry-after"].isdigit()
    finally:
        pair.execute("update customer_management.settings set rate_limit_per_user_per_minute = 20")


def test_a_backends_requester_header_reaches_the_rate_limit(pair: Pair) -> None:
    """X-Customer-Requester goes through the function: a backend's user who types someone
    else's email spends only his own allowance."""
    pair.execute("update customer_management.settings set rate_limit_per_requester_per_minute = 2")
    try:
        within_one_clock_minute()
        body = {"email": "gina@gmail.com", "source": "webapp"}
        mallory = {"X-Customer-Requester": "session-mallory"}
        for _ in range(2):
            assert pair.same(body, token=SERVICE_KEY, headers=mallory).status == 200
        limited = pair.same(body, token=SERVICE_KEY, headers=mallory)
        assert (limited.status, limited.body["message"]) == (429, "rate_limited")
        gina = {"X-Customer-Requester": "session-gina"}
        assert pair.same(body, token=SERVICE_KEY, headers=gina).status == 200
    finally:
        pair.execute(
            "update customer_management.settings set rate_limit_per_requester_per_minute = 20"
        )
