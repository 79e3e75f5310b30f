-- Deleting a Supabase Auth user (dashboard, auth.admin.deleteUser) must work and must not
-- leave the customer matching a login that no longer exists. By default the customer
-- account stays (its orders and history are the business's records) and its link to the
-- login ends; with settings.erase_on_auth_user_delete the person is erased, as
-- erase_customer does.

create function customer_management.release_deleted_auth_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    released_id bigint;
    system_caller customer_management.api_caller := (session_user, null, true);
    owner_id uuid;
begin
    if (select s.erase_on_auth_user_delete from customer_management.settings as s) then
        select c.id into owner_id from public.customers as c
        where c.auth_user_id = old.id and c.merged_into is null;
        if owner_id is not null then
            begin
                perform customer_management.erase_person(
                    owner_id, system_caller, null, 'auth_user_deleted'
                );
            exception when sqlstate 'PT404' then
                -- Erased by another request meanwhile: the login may go all the same.
                null;
            end;
        end if;
    end if;
    for released_id in
        select ci.id from customer_management.customer_identifiers as ci
        where ci.type = 'auth_user' and ci.value = old.id::text and ci.status = 'active'
    loop
        perform customer_management.release_identifier(
            released_id, system_caller, null,
            'auth_user_deleted'
        );
    end loop;
    return old;
end;
$$;

comment on function customer_management.release_deleted_auth_user() is
'Trigger on auth.users: a deleted login stops matching its customer; the account stays, or '
'is erased when settings.erase_on_auth_user_delete says so.';

revoke all on function customer_management.release_deleted_auth_user()
from public, anon, authenticated, service_role;

create trigger customer_management_release_deleted_user
before delete on auth.users
for each row execute function customer_management.release_deleted_auth_user();
