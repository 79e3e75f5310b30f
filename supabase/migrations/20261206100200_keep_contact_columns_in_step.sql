-- One truth for contact data. public.customers.phone, email and auth_user_id show what an
-- account holds; customer_identifiers decides what finds it. Instead of every writer (create,
-- update, release, merge, undo, import, deduplication, erasure) keeping the two in step by
-- hand, the identifiers own the columns: after any change to a live account's identifiers,
-- its phone, email and login are derived from its active identifiers (the value shown stays
-- while the account still holds it; otherwise the first one it holds, by age; none when it
-- holds none). A tombstone keeps what it showed when it was merged. Nothing else may change
-- those columns of a live account.

-- Derives the contact columns of the given live accounts from their active identifiers and
-- writes the ones that differ.
create function customer_management.sync_contact_columns(customer_ids uuid[]) returns void
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
            case
                when bool_or(ci.type = 'phone' and ci.value = cu.phone) then cu.phone
                else (array_agg(ci.display_value order by ci.id) filter (
                    where ci.type = 'phone'
                ))[1]
            end as phone,
            case
                when bool_or(
                    ci.type = 'email'
                    and (ci.display_value = cu.email or ci.value = lower(btrim(cu.email)))
                ) then cu.email
                else (array_agg(ci.display_value order by ci.id) filter (
                    where ci.type = 'email'
                ))[1]
            end as email,
            case
                when bool_or(ci.type = 'auth_user' and ci.value = cu.auth_user_id::text)
                    then cu.auth_user_id
                else ((array_agg(ci.value order by ci.id) filter (
                    where ci.type = 'auth_user'
                ))[1])::uuid
            end as auth_user_id
        from public.customers as cu
        left join customer_management.customer_identifiers as ci
            on cu.id = ci.customer_id and ci.status = 'active'
        where cu.id = any(customer_ids) and cu.merged_into is null
        group by cu.id
    ) as derived
    where
        c.id = derived.id
        and (c.phone, c.email, c.auth_user_id)
        is distinct from (derived.phone, derived.email, derived.auth_user_id);
    perform pg_catalog.set_config('customer_management.syncing_contact_columns', 'off', true);
end;
$$;

comment on function customer_management.sync_contact_columns(uuid[]) is
'Shows on each live account the phone, email and login its active identifiers hold (the '
'shown one while still held, else the oldest); the only writer of those columns.';

revoke all on function customer_management.sync_contact_columns(uuid[])
from public, anon, authenticated, service_role;

-- After each statement that changes identifiers: the accounts whose active identifiers may
-- have changed are brought in step. A row's use being recorded (last_used_at) changes
-- nothing shown.
create function customer_management.sync_contact_columns_of_changed_identifiers()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform customer_management.sync_contact_columns(
            array(select distinct n.customer_id from changed_rows as n where n.status = 'active')
        );
    elsif tg_op = 'DELETE' then
        perform customer_management.sync_contact_columns(
            array(select distinct o.customer_id from removed_rows as o where o.status = 'active')
        );
    else
        perform customer_management.sync_contact_columns(array(
            select n.customer_id
            from changed_rows as n
            inner join removed_rows as o on n.id = o.id
            where (n.customer_id, n.status, n.display_value)
                is distinct from (o.customer_id, o.status, o.display_value)
            union
            select o.customer_id
            from changed_rows as n
            inner join removed_rows as o on n.id = o.id
            where (n.customer_id, n.status, n.display_value)
                is distinct from (o.customer_id, o.status, o.display_value)
        ));
    end if;
    return null;
end;
$$;

comment on function customer_management.sync_contact_columns_of_changed_identifiers() is
'Statement trigger on customer_identifiers: re-derives the contact columns of the accounts '
'whose active identifiers changed.';

revoke all on function customer_management.sync_contact_columns_of_changed_identifiers()
from public, anon, authenticated, service_role;

create trigger customer_identifiers_sync_contact_after_insert
after insert on customer_management.customer_identifiers
referencing new table as changed_rows
for each statement execute function
customer_management.sync_contact_columns_of_changed_identifiers();

create trigger customer_identifiers_sync_contact_after_update
after update on customer_management.customer_identifiers
referencing old table as removed_rows new table as changed_rows
for each statement execute function
customer_management.sync_contact_columns_of_changed_identifiers();

create trigger customer_identifiers_sync_contact_after_delete
after delete on customer_management.customer_identifiers
referencing old table as removed_rows
for each statement execute function
customer_management.sync_contact_columns_of_changed_identifiers();

-- An account that comes back from a tombstone (an undone merge) shows what it holds again.
create function customer_management.sync_contact_columns_of_revived_account()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform customer_management.sync_contact_columns(array[new.id]);
    return null;
end;
$$;

comment on function customer_management.sync_contact_columns_of_revived_account() is
'Row trigger on customers: an account made live again (undo) shows the identifiers it holds.';

revoke all on function customer_management.sync_contact_columns_of_revived_account()
from public, anon, authenticated, service_role;

create trigger customers_sync_contact_on_revival
after update of merged_into on public.customers
for each row
when (old.merged_into is not null and new.merged_into is null)
execute function customer_management.sync_contact_columns_of_revived_account();

-- A direct edit of a live account's phone, email or login would show something no
-- identifier backs (the account would not be found by it) or hide what finds it: refused
-- with a stable code. The one exception is PostgreSQL's own foreign-key action clearing the
-- login of a deleted Supabase Auth user.
create function customer_management.guard_contact_columns() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if current_setting('customer_management.syncing_contact_columns', true) = 'on' then
        return new;
    end if;
    if new.auth_user_id is null
        and (new.phone, new.email) is not distinct from (old.phone, old.email)
        and not exists (select 1 from auth.users as u where u.id = old.auth_user_id) then
        return new;
    end if;
    perform customer_management.raise_error(
        'contact_follows_identifiers',
        'phone, email and auth_user_id show the identifiers the account holds and are not '
        || 'edited directly.',
        'Send the change through customer_management (or resolve_conflict, undo_merge, '
        || 'erase_customer), which changes the identifiers.'
    );
    return null;
end;
$$;

comment on function customer_management.guard_contact_columns() is
'Trigger: a live account''s phone, email and login change only with its identifiers.';

revoke all on function customer_management.guard_contact_columns()
from public, anon, authenticated, service_role;

create trigger customers_guard_contact_columns
before update of phone, email, auth_user_id on public.customers
for each row
when (
    old.merged_into is null and new.merged_into is null
    and (old.phone, old.email, old.auth_user_id)
    is distinct from (new.phone, new.email, new.auth_user_id)
)
execute function customer_management.guard_contact_columns();

-- Accounts written before this release are brought in step once.
select customer_management.sync_contact_columns(array(
    select c.id from public.customers as c
    where c.merged_into is null
));
