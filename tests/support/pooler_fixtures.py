"""PgBouncer in transaction mode in front of the session's server (``bench.pgbouncer``).

Load with ``pytest_plugins = ["support.pooler_fixtures"]``. ``pgbouncer`` starts one for the
whole session (two server connections per database and login, so consecutive transactions
of one client land on different server connections) and skips, saying how to install it,
where Debian's ``pgbouncer`` is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import testing.postgresql

from bench import pgbouncer as bouncer


@pytest.fixture(scope="session")
def pgbouncer(pg_server: testing.postgresql.Postgresql) -> Iterator[bouncer.Pooler]:
    """PgBouncer (transaction mode) in front of the session's server."""
    if bouncer.binary() is None:
        pytest.skip(f"PgBouncer is not installed: {bouncer.INSTALL_HINT}")
    with bouncer.running(pg_server.settings["port"]) as pooler:
        yield pooler
