"""The HTTP suite's core again, with the proxy's database behind PgBouncer in transaction mode.

Supabase projects reach Postgres through a pooler in transaction mode (port 6543): each
transaction may run on another server connection, so nothing may lean on the session (a
``SET``, a session lock, a prepared statement). The guide's scenarios end to end, the thin
client (supabase-py underneath) with every answer and error it maps, the account lifecycle
and identifier strengths over HTTP run here once more, unchanged, with the proxy in
database mode connected through PgBouncer: the proxy keeps four connections open and
PgBouncer gives them two server connections, so consecutive requests share server
connections as they do on Supabase.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_client import (  # noqa: F401  (collected again here, through the pooler)
    test_a_backend_names_its_requester_so_users_cannot_spend_each_other,
    test_a_wrong_code_is_invalid_input_and_counted,
    test_codes_name_their_requester,
    test_conflict_result_and_conflict_exception,
    test_error_mapping_table,
    test_forbidden,
    test_generic_rpc_returns_json,
    test_invalid_input,
    test_not_authenticated,
    test_payload_too_large_and_not_found,
    test_rate_limited,
    test_resolution_with_orders,
    test_verification_required_and_notices,
)
from test_client_lifecycle import (  # noqa: F401
    test_conflict_merge_undo_export_erase,
    test_end_user_reaches_only_their_own,
)
from test_identifier_strength_http import (  # noqa: F401
    test_scenario_3_answers_409_on_the_functions_route,
    test_the_thin_client_raises_second_proof_required_and_can_decline,
    test_the_web_customer_calling_from_her_phone_stays_one_account,
)
from test_proxy_e2e import (  # noqa: F401
    test_proxy_answers_equal_the_rpc_json,
    test_scenario_1_chatbot_first_then_web_app,
    test_scenario_2_web_app_first_then_chatbot,
    test_scenario_3_conflict_then_merge,
)

from bench.pgbouncer import Pooler
from customer_management.proxy import Settings
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, as_authenticator, serving

pytest_plugins = ["support.proxy_fixtures", "support.pooler_fixtures"]


@pytest.fixture
def proxy(db_url: str, pgbouncer: Pooler) -> Iterator[Proxy]:
    """The proxy in database mode on the test's database, through PgBouncer."""
    pooled = pgbouncer.url_for(as_authenticator(db_url))
    with serving(Settings(db_url=pooled, pool_min_size=4, pool_max_size=4)) as pooled_proxy:
        yield pooled_proxy


@pytest.fixture(scope="module")
def shared_proxy(shared_db_url: str, pgbouncer: Pooler) -> Iterator[Proxy]:
    """The proxy in database mode on the module's shared database, through PgBouncer."""
    pooled = pgbouncer.url_for(as_authenticator(shared_db_url))
    with serving(Settings(db_url=pooled, pool_min_size=4, pool_max_size=4)) as pooled_proxy:
        yield pooled_proxy


def test_many_calls_on_few_server_connections(proxy: Proxy) -> None:
    """Forty lookups and creates over two server connections: psycopg would have prepared
    the call after five, and the sixth would have failed on the other connection."""
    for n in range(20):
        body = {"phone": f"+1415555{n:04d}", "source": "chatbot"}
        created = proxy.post("/rest/v1/rpc/customer_management", body)
        assert created.status_code == 200, created.text
        again = proxy.post("/rest/v1/rpc/customer_management", body, SERVICE_KEY, ANON_KEY)
        assert again.status_code == 200, again.text
        assert again.json()["customer"]["isNewAccount"] is False
