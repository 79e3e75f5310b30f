-- The private schema holds what end users must never reach directly: identifiers, the
-- merge log, conflicts, configuration and the SECURITY DEFINER functions. PostgREST does
-- not expose it; the API roles get USAGE only so the public RPC can call into it.

create schema if not exists private;

comment on schema private is
'Customer management internals: not exposed by the API, reached only through public RPCs.';

revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

-- Nothing created in private is usable by the API roles unless a migration grants it.
alter default privileges in schema private revoke all on tables from public;
alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema private revoke all on sequences from public;
