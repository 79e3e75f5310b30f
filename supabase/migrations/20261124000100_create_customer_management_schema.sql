-- The kit's own schema. Everything internal (identifiers, merge log, conflicts,
-- configuration, the SECURITY DEFINER functions) lives here; PostgREST does not expose it.
-- The kit grants and revokes only on objects it creates, next to each object, and never
-- touches the host project's own schemas, grants or policies.
--
-- It also refuses to install over a customer table the project already has: the kit
-- creates public.customers and public.orders itself.

do $refuse_existing_tables$
declare
    existing text;
begin
    select string_agg(format('public.%I', c.relname), ' and ' order by c.relname)
    into existing
    from pg_catalog.pg_class as c
    inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
    where n.nspname = 'public' and c.relname in ('customers', 'orders');
    if existing is not null then
        raise exception using
            errcode = '42P07',
            message = format(
                'customer management kit: %s already exists; nothing was installed', existing
            ),
            detail = 'The kit creates public.customers and public.orders itself.',
            hint = 'See "Adopting an existing customer table" in the README: rename the '
            || 'table (alter table public.customers rename to legacy_customers), install '
            || 'the kit, then import the legacy rows.';
    end if;
end
$refuse_existing_tables$;

create schema customer_management;

comment on schema customer_management is
'Customer management kit internals: not exposed by the API, reached only through public RPCs.';

-- The API roles may look up names here so the public RPC can call its definer; every
-- function and table still needs its own grant, and only a few get one.
revoke all on schema customer_management from public;
grant usage on schema customer_management to authenticated, service_role;
