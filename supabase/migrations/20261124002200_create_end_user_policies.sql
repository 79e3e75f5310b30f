-- Direct table access for signed-in end users (supabase.from('customers') in a web app):
-- they read their own live account and its orders, and may edit only harmless fields.
-- Accounts are created only by the RPC; no end user inserts or deletes rows.

grant select on public.customers to authenticated;
grant update (first_name, last_name, allergies, preferences) on public.customers
to authenticated;
grant select on public.orders to authenticated;

create policy "Customers read their own account"
on public.customers for select to authenticated
using (auth_user_id = (select auth.uid()) and merged_into is null);

comment on policy "Customers read their own account" on public.customers is
'An end user sees only the live account linked to their auth user.';

create policy "Customers edit their own account"
on public.customers for update to authenticated
using (auth_user_id = (select auth.uid()) and merged_into is null)
with check (auth_user_id = (select auth.uid()) and merged_into is null);

comment on policy "Customers edit their own account" on public.customers is
'An end user may change names, allergies and preferences of their own account only '
'(column grants keep identity, links and timestamps out of reach).';

create policy "Customers read their own orders"
on public.orders for select to authenticated
using (
    customer_id in (
        select c.id from public.customers as c
        where c.auth_user_id = (select auth.uid()) and c.merged_into is null
    )
);

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
