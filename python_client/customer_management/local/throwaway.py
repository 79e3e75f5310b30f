"""A throwaway, migrated local database for the demo and the pgTAP run.

Only the standard library and the kit are needed (no test dependencies), so ``demo`` works
from a plain install. The server runs with durability off (``THROWAWAY_SETTINGS``) in a
temporary directory that is removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from customer_management.local import migrations
from customer_management.local.server import THROWAWAY_SETTINGS, LocalPostgres, free_port


@contextmanager
def throwaway_database(seed: bool = False) -> Iterator[str]:
    """Start a fresh server with shim and migrations (and the seed if asked); yield its URL."""
    state_dir = Path(tempfile.mkdtemp(prefix="customer-management-"))
    server = LocalPostgres(state_dir, port=free_port(), settings=THROWAWAY_SETTINGS)
    try:
        server.start()
        url = server.url
        migrations.apply_shim(url)
        migrations.apply_migrations(url)
        if seed:
            migrations.apply_seed(url)
        yield url
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
