"""A PostgREST- and Edge-Function-compatible HTTP proxy for the kit, for machines without them.

Modules, one concern each:

``settings``    the ``Settings`` dataclass (environment variables listed there)
``auth``        the apikey gate and JWT verification (HS256 secret, optional JWKS)
``statuses``    the SQLSTATE / error code -> HTTP status table shared with the Edge Function
``errors``      ``ApiError`` and PostgREST's error body
``bodies``      the 16 KB limit and the JSON check
``catalog``     the exposed functions (from pg_catalog) and the SQL that calls them
``backend``     the interface both execution modes implement
``db``          database mode: psycopg pool, one transaction per request with role + claims
``forward``     forward mode: a real Supabase project through supabase-py
``openapi``     the OpenAPI document at ``/rest/v1/``: the catalog and the contract
``swagger``     the contract's JSON Schema as Swagger 2.0 schema objects
``routes``      ``/rest/v1/rpc/{fn}``, ``/functions/v1/customer-management``, ``/health``,
                methods and ``Allow`` as PostgREST answers them
``console``     the support console's static page at ``/console`` and its ``config.json``
``middleware``  CORS and the one-line JSON access log
``app``         ``create_app(settings)``
``server``      running it with uvicorn (foreground or background thread)
"""

from __future__ import annotations

from customer_management.proxy.app import create_app
from customer_management.proxy.settings import Settings

__all__ = ["Settings", "create_app"]
