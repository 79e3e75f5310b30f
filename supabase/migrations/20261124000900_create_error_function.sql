-- One way to fail. message is the stable code callers switch on; detail says what was
-- wrong and hint what to do. PostgREST maps the SQLSTATE to HTTP: P0001 is 400, PTxyz is
-- xyz, 42501 is 401 for anon and 403 otherwise. Raising rolls back everything the
-- request did, so a refused request changes nothing.

create function customer_management.raise_error(
    code text, detail text, hint text default null, sqlstate text default 'P0001'
) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    raise exception using
        errcode = sqlstate,
        message = code,
        detail = detail,
        hint = coalesce(hint, '');
end;
$$;

comment on function customer_management.raise_error(text, text, text, text) is
'Raises a kit error: message = stable code, detail = what was wrong, hint = what to do.';

revoke all on function customer_management.raise_error(text, text, text, text)
from public, anon, authenticated, service_role;
