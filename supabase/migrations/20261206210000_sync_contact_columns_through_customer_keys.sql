-- The contact-column sync planned for any number of accounts. Its plan is the generic one,
-- cached per session; made while the tables held few rows (the first batch of a bulk load,
-- before any analyze), it read the accounts through a bitmap of every live account
-- (customers_auth_user_id_key covers merged_into is null) and each account's identifiers
-- through a bitmap of every active identifier (customer_identifiers_active_key), once per
-- account: a load of 50,000 accounts into a million took a quarter of an hour. Now the
-- accounts are reached from their ids and their identifiers by customer alone, with no
-- condition a partial index could serve: liveness and status are read in the aggregate.

create or replace function customer_management.sync_contact_columns(customer_ids uuid[])
returns void
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    perform pg_catalog.set_config('customer_management.syncing_contact_columns', 'on', true);
    update public.customers as c
    set phone = derived.phone,
        email = derived.email,
        auth_user_id = derived.auth_user_id,
        updated_at = now()
    from (
        select
            cu.id,
            -- An aggregate, so that the planner keeps it off the scan of customers.
            bool_and(cu.merged_into is null) as live,
            case
                when bool_or(ci.status = 'active' and ci.type = 'phone' and ci.value = cu.phone)
                    then cu.phone
                else (array_agg(ci.display_value order by ci.id) filter (
                    where ci.status = 'active' and ci.type = 'phone'
                ))[1]
            end as phone,
            case
                when bool_or(
                    ci.status = 'active' and ci.type = 'email'
                    and (ci.display_value = cu.email or ci.value = lower(btrim(cu.email)))
                ) then cu.email
                else (array_agg(ci.display_value order by ci.id) filter (
                    where ci.status = 'active' and ci.type = 'email'
                ))[1]
            end as email,
            case
                when bool_or(
                    ci.status = 'active' and ci.type = 'auth_user'
                    and ci.value = cu.auth_user_id::text
                ) then cu.auth_user_id
                else ((array_agg(ci.value order by ci.id) filter (
                    where ci.status = 'active' and ci.type = 'auth_user'
                ))[1])::uuid
            end as auth_user_id
        from (select distinct k.id from unnest(customer_ids) as k (id)) as keys
        inner join public.customers as cu on keys.id = cu.id
        left join customer_management.customer_identifiers as ci on cu.id = ci.customer_id
        group by cu.id
    ) as derived
    where
        c.id = derived.id
        and derived.live
        and (c.phone, c.email, c.auth_user_id)
        is distinct from (derived.phone, derived.email, derived.auth_user_id);
    perform pg_catalog.set_config('customer_management.syncing_contact_columns', 'off', true);
end;
$$;

comment on function customer_management.sync_contact_columns(uuid[]) is
'Shows on each live account the phone, email and login its active identifiers hold (the '
'shown one while still held, else the oldest); the only writer of those columns.';
