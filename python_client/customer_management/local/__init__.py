"""The local stack: a Supabase-compatible PostgreSQL on this machine, without Docker.

Modules, one concern each (they import only each other, never the proxy or the client):

``paths``        where the bundled SQL is, where local state goes
``osuser``       running the server as an unprivileged OS user when we are root
``server``       ``LocalPostgres``: initdb, start, stop, status of one cluster
``throwaway``    a fresh migrated server in a temporary directory (demo, pgTAP, bench)
``sqlsplit``     splitting a script into statements, as the Supabase CLI records them
``migrations``   applying the shim, the migrations and the seed like ``supabase db push``
``keys``         the local JWT secret, API keys and user tokens
``auth_users``   the one way to make a Supabase Auth user locally (CLI, demo, tests)
``rpc_session``  the one way to act as an API role on a connection, as PostgREST does
``uninstall``    removing everything the kit created, and nothing else
"""
