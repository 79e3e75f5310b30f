-- Deleting a Supabase Auth user (dashboard, auth.admin.deleteUser) must work and must not
-- leave the customer matching a login that no longer exists. The customer account stays
-- (its orders and history are the business's records); its link to the login ends.

create function customer_management.release_deleted_auth_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    released_id bigint;
begin
    for released_id in
        select ci.id from customer_management.customer_identifiers as ci
        where ci.type = 'auth_user' and ci.value = old.id::text and ci.status = 'active'
    loop
        perform customer_management.release_identifier(
            released_id, (session_user, null, true)::customer_management.api_caller, null,
            'auth_user_deleted'
        );
    end loop;
    return old;
end;
$$;

comment on function customer_management.release_deleted_auth_user() is
'Trigger on auth.users: a deleted login stops matching its customer (the account stays).';

revoke all on function customer_management.release_deleted_auth_user()
from public, anon, authenticated, service_role;

create trigger customer_management_release_deleted_user
before delete on auth.users
for each row execute function customer_management.release_deleted_auth_user();
