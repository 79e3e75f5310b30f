-- The caller is the role in effect, never what the JWT claims say. Any role may set
-- request.jwt.claims, so a database login that inherits authenticated could otherwise set
-- {"role": "service_role"} and be trusted. PostgreSQL lets a session SET ROLE only to a
-- role it is a member of, so the role setting (what PostgREST switches to) is proof;
-- without a switch the caller is the login itself (session_user). Both stay what they are
-- inside SECURITY DEFINER functions, where current_user is the owner instead.

create or replace function customer_management.current_caller()
returns customer_management.api_caller
language plpgsql
stable
set search_path = ''
as $$
declare
    caller customer_management.api_caller;
    subject text;
    is_admin boolean;
begin
    caller.role := coalesce(
        nullif(nullif(current_setting('role', true), 'none'), ''),
        session_user::text
    );
    -- The user id is read from the claims only once the role says an end user calls:
    -- PostgREST sets both together. auth.uid() would fail on a malformed sub; such a token
    -- simply names no user.
    if caller.role = 'authenticated' then
        subject := coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            auth.jwt() ->> 'sub'
        );
        if subject ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            caller.uid := subject::uuid;
        end if;
    end if;

    if caller.role = 'service_role' then
        caller.trusted := true;
    elsif caller.role = 'authenticated' then
        if caller.uid is null then
            perform customer_management.raise_error(
                'not_authenticated', 'The access token carries no user id (sub claim).',
                'Send a Supabase Auth access token.', 'PT401'
            );
        end if;
        caller.trusted := false;
    elsif caller.role = 'anon' then
        perform customer_management.raise_error(
            'not_authenticated', 'Sign in, or call with the service role key.',
            'Send Authorization: Bearer <user access token>.', 'PT401'
        );
    else
        select r.rolsuper or r.rolname = 'postgres' into is_admin
        from pg_catalog.pg_roles as r
        where r.rolname = caller.role;
        if not coalesce(is_admin, false) then
            perform customer_management.raise_error(
                'forbidden', format('Role %s may not resolve customers.', caller.role),
                'Call as an end user or with the service role (SET ROLE, as PostgREST does).',
                '42501'
            );
        end if;
        caller.trusted := true;
    end if;
    return caller;
end;
$$;

comment on function customer_management.current_caller() is
'The role in effect (SET ROLE, else the login; never the JWT claims) and, for end users, '
'auth.uid(); raises not_authenticated for anon, forbidden for other non-administrators.';

revoke all on function customer_management.current_caller()
from public, anon, authenticated, service_role;
