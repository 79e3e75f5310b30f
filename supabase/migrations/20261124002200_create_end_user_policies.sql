-- Direct table access for signed-in end users (supabase.from('customers') in a web app):
-- they read their own live account and its orders, and may edit only harmless fields.
-- Accounts are created only by the RPC; no end user inserts or deletes rows.

grant select on public.customers to authenticated;
grant update (first_name, last_name, allergies, preferences) on public.customers
to authenticated;
grant select on public.orders to authenticated;

-- The live account of the signed-in user, while that login is active: a deleted (also
-- soft-deleted) or banned Supabase Auth user reaches nothing. SECURITY DEFINER because end
-- users cannot read auth.users; it returns one id and nothing else.
create function customer_management.signed_in_customer_id() returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select c.id
        from public.customers as c
        inner join auth.users as u on c.auth_user_id = u.id
        where
            c.auth_user_id = auth.uid()
            and c.merged_into is null
            and u.deleted_at is null
            and (u.banned_until is null or u.banned_until <= now())
    );
end;
$$;

comment on function customer_management.signed_in_customer_id() is
'The signed-in user''s live account, or null when there is none or the login is deleted or '
'banned; the end-user policies compare rows against it.';

revoke all on function customer_management.signed_in_customer_id()
from public, anon, authenticated, service_role;
grant execute on function customer_management.signed_in_customer_id() to authenticated;

create policy "Customers read their own account"
on public.customers for select to authenticated
using (id = (select customer_management.signed_in_customer_id()));

comment on policy "Customers read their own account" on public.customers is
'An end user sees only the live account linked to their active auth user.';

create policy "Customers edit their own account"
on public.customers for update to authenticated
using (id = (select customer_management.signed_in_customer_id()))
with check (id = (select customer_management.signed_in_customer_id()));

comment on policy "Customers edit their own account" on public.customers is
'An end user may change names, allergies and preferences of their own account only '
'(column grants keep identity, links and timestamps out of reach).';

create policy "Customers read their own orders"
on public.orders for select to authenticated
using (customer_id = (select customer_management.signed_in_customer_id()));

comment on policy "Customers read their own orders" on public.orders is
'An end user sees the orders of their own live account only.';

-- Keeps updated_at honest when an end user edits their row directly.
create function customer_management.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

comment on function customer_management.touch_updated_at() is
'Trigger: sets updated_at on every update of a customer row.';

revoke all on function customer_management.touch_updated_at()
from public, anon, authenticated, service_role;

create trigger customers_touch_updated_at
before update on public.customers
for each row execute function customer_management.touch_updated_at();
