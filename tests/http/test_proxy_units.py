"""Pure pieces of the HTTP layer: the status table, keys, settings, body and catalog parsing."""

from __future__ import annotations

import pytest

from customer_management import statuses
from customer_management.local import keys
from customer_management.proxy import bodies, catalog, errors
from customer_management.proxy.auth import bearer_token
from customer_management.proxy.settings import Settings

# The keys `supabase start` prints for every local project.
CLI_ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJl"
    "eHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
CLI_SERVICE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vf"
    "cm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
)


def test_local_keys_are_the_supabase_cli_keys() -> None:
    """Same secret, same claims: tools that hard-code the CLI's keys work locally."""
    assert keys.anon_key() == CLI_ANON_KEY
    assert keys.service_role_key() == CLI_SERVICE_KEY
    assert keys.jwt_secret_from_env({}) == keys.DEFAULT_JWT_SECRET
    assert keys.jwt_secret_from_env({"SUPABASE_JWT_SECRET": "s" * 40}) == "s" * 40


@pytest.mark.parametrize(
    ("sqlstate", "role", "status"),
    [
        ("P0001", "service_role", 400),
        ("PT413", "service_role", 413),
        ("PT429", "authenticated", 429),
        ("PT503", "service_role", 503),
        ("PT999", "service_role", 500),  # not an HTTP status
        ("42501", "anon", 401),
        ("42501", "authenticated", 403),
        ("42501", "service_role", 403),
        ("23505", "service_role", 409),
        ("23503", "service_role", 409),
        ("25006", "anon", 405),
        ("22P05", "service_role", 400),
        ("22P02", "service_role", 400),
        ("42883", "anon", 404),
        ("42P01", "anon", 404),
        ("08006", "anon", 503),
        ("40001", "service_role", 500),
        ("40P01", "service_role", 500),
        ("53400", "anon", 500),
        ("53300", "anon", 503),
        ("57014", "anon", 500),
        ("57P01", "anon", 503),
        ("P0002", "anon", 500),
        ("XX000", "anon", 500),
        ("28P01", "anon", 403),
    ],
)
def test_sqlstate_table_matches_postgrest(sqlstate: str, role: str, status: int) -> None:
    """PostgREST's mapSQLtoHTTP, code by code."""
    assert statuses.status_for_sqlstate(sqlstate, role) == status


def test_special_cases_and_pgrst_codes() -> None:
    """Messages that change the status, PGRST codes, bare statuses, missing codes."""
    assert statuses.status_for_sqlstate("22023", "anon", 'role "x" does not exist') == 401
    assert statuses.status_for_sqlstate("22023", "anon", "invalid value") == 400
    assert statuses.status_for_sqlstate("21000", "anon", "UPDATE requires a WHERE clause") == 400
    assert statuses.status_for_sqlstate("21000", "anon", "more than one row") == 500
    assert statuses.status_for_code("PGRST202", "anon") == 404
    assert statuses.status_for_code("PGRST301", "anon") == 401
    assert statuses.status_for_code("PGRST303", "anon") == 401
    assert statuses.status_for_code("PGRST999", "anon") == 500
    assert statuses.status_for_code("502", "anon") == 502
    assert statuses.status_for_code(None, "anon") == 500


def test_function_status_is_409_only_for_the_conflict_shape() -> None:
    """The Edge Function answers 409 for exactly the conflict body."""
    assert statuses.function_status({"error": "Account conflict", "conflicts": {}}) == 409
    assert statuses.function_status({"customer": {}, "summary": ""}) == 200
    assert statuses.function_status({"error": "Account conflict"}) == 200
    assert statuses.function_status(None) == 200


@pytest.mark.parametrize(
    ("hint", "seconds"),
    [("Retry after 42 seconds.", 42), ("Retry after 1 second.", 1), ("soon", None), (None, None)],
)
def test_retry_after(hint: str | None, seconds: int | None) -> None:
    """Seconds come from the kit's hint."""
    assert statuses.retry_after_seconds(hint) == seconds


def test_error_body_and_headers() -> None:
    """Alphabetical keys like PostgREST; Retry-After on 429; WWW-Authenticate on 401."""
    limited = errors.from_fields(
        "PT429", "rate_limited", "Too many", "Retry after 9 seconds.", "service_role", None
    )
    assert limited.status == 429
    assert limited.response_headers()["retry-after"] == "9"
    assert list(limited.body()) == ["code", "details", "hint", "message"]
    anon = errors.from_fields("42501", "permission denied", None, None, "anon", None)
    assert anon.status == 401
    assert anon.response_headers()["www-authenticate"] == "Bearer"
    assert anon.response_headers()["proxy-status"] == "PostgREST; error=42501"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Bearer", ""),
        ("Basic dXNlcjpwYXNz", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    """Only the Bearer scheme carries a JWT."""
    assert bearer_token(header) == token


def test_parse_json() -> None:
    """UTF-8 JSON only; empty is {}; BOM tolerated; NaN refused."""
    assert bodies.parse_json(b"").value == {}
    assert bodies.parse_json(b"  ").text == "{}"
    assert bodies.parse_json('\ufeff{"a": 1}'.encode()).value == {"a": 1}
    for raw in (b"NaN", b"[Infinity]", b"\xff", b"{", b"{'a': 1}"):
        with pytest.raises(errors.ApiError) as raised:
            bodies.parse_json(raw)
        assert raised.value.code == "PGRST102"


def test_catalog_matching() -> None:
    """Whole-body functions, named parameters with defaults, overload ambiguity."""
    whole = catalog.parse_row(
        "public", (1, "customer_management", [], [], ["jsonb"], 0, "jsonb", False)
    )
    named = catalog.parse_row(
        "public",
        (
            2,
            "greet",
            ["name", "times", "out"],
            ["i", "i", "o"],
            ["text", "integer"],
            1,
            "text",
            False,
        ),
    )
    assert whole.takes_whole_body
    assert [(p.name, p.type, p.has_default) for p in named.parameters] == [
        ("name", "text", False),
        ("times", "integer", True),
    ]
    cat = catalog.Catalog([whole, named])
    assert cat.match("customer_management", {"anything": 1}) is whole
    assert cat.match("customer_management", [1, 2]) is whole
    assert cat.match("greet", {"name": "a"}) is named
    assert cat.match("greet", {"name": "a", "times": 2}) is named
    assert cat.match("greet", {"times": 2}) is None
    assert cat.match("greet", {"name": "a", "x": 1}) is None
    assert cat.match("nope", {}) is None
    twin = catalog.parse_row("public", (3, "greet", ["name"], [], ["varchar"], 0, "text", False))
    with pytest.raises(errors.ApiError) as raised:
        catalog.Catalog([named, twin]).match("greet", {"name": "a"})
    assert raised.value.status == 300


def test_catalog_defaults_and_argument_types() -> None:
    """Literal defaults are read from pg_get_expr; a value must have its parameter's JSON
    type (null is any parameter's), where PostgreSQL would cast it."""
    assert catalog._split_top_level("NULL::uuid, 'a, b'::text, 10") == [
        "NULL::uuid",
        "'a, b'::text",
        "10",
    ]
    literals = ["NULL::uuid", "'it''s'::text", "false", "'{}'::jsonb", "'-5'::integer", "7"]
    assert [catalog.literal_default(e) for e in literals] == [None, "it's", False, {}, -5, 7]
    assert catalog.literal_default("now()") is catalog.UNKNOWN_DEFAULT
    orders = catalog.parse_row(
        "public",
        (
            4,
            "customer_orders",
            ["customer_id", "page_size", "page"],
            [],
            ["uuid", "integer", "integer"],
            3,
            "jsonb",
            False,
            None,
            "NULL::uuid, 10, 1",
        ),
    )
    assert [p.default for p in orders.parameters] == [None, 10, 1]
    assert orders.argument_error({"customer_id": None, "page_size": 20}) is None
    assert orders.argument_error({"page_size": "20"}) == (
        "page_size must be a JSON integer (integer), not a string."
    )
    assert orders.argument_error({"customer_id": 5}) == (
        "customer_id must be a JSON string (uuid), not a number."
    )
    assert orders.argument_error({"page": 1.5}) is not None
    assert orders.argument_error({"page": True}) is not None
    whole = catalog.parse_row(
        "public", (1, "customer_management", [], [], ["jsonb"], 0, "jsonb", False)
    )
    assert whole.argument_error({"phone": 5}) is None  # the function checks its own body


def test_settings_validation_and_env() -> None:
    """Exactly one mode; forward mode without key material leaves verification upstream."""
    with pytest.raises(ValueError):
        Settings()
    with pytest.raises(ValueError):
        Settings(db_url="postgresql://x", upstream_url="http://y", upstream_key="k")
    with pytest.raises(ValueError):
        Settings(upstream_url="http://y")
    local = Settings.from_env({"CUSTOMER_MANAGEMENT_DB_URL": "postgresql://x@127.0.0.1/db"})
    assert local.verify_jwt and local.jwt_secret == keys.DEFAULT_JWT_SECRET
    # The local secret is public: never for a database elsewhere, never beside a JWKS.
    with pytest.raises(ValueError, match="well-known local JWT secret"):
        Settings.from_env({"CUSTOMER_MANAGEMENT_DB_URL": "postgresql://x@db.example.com/db"})
    remote = Settings.from_env(
        {
            "CUSTOMER_MANAGEMENT_DB_URL": "postgresql://x@db.example.com/db",
            "SUPABASE_JWKS": '{"keys": []}',
        }
    )
    assert remote.jwt_secret is None
    forward = Settings.from_env(
        {
            "CUSTOMER_MANAGEMENT_UPSTREAM_URL": "https://abc.supabase.co",
            "CUSTOMER_MANAGEMENT_UPSTREAM_KEY": "anon",
            "SUPABASE_URL": "http://127.0.0.1:54321",
        }
    )
    assert forward.forwarding and not forward.verify_jwt and forward.db_url is None
    with_jwks = Settings.from_env(
        {
            "CUSTOMER_MANAGEMENT_UPSTREAM_URL": "https://abc.supabase.co",
            "CUSTOMER_MANAGEMENT_UPSTREAM_KEY": "anon",
            "SUPABASE_JWKS_URL": "https://abc.supabase.co/auth/v1/.well-known/jwks.json",
        }
    )
    assert with_jwks.verify_jwt and with_jwks.jwt_secret is None
