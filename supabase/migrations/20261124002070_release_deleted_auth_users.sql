-- Deleting a Supabase Auth user (dashboard, auth.admin.deleteUser) must work and must not
-- leave the customer matching a login that no longer exists. The customer account stays
-- (its orders and history are the business's records); its link to the login ends.

create function private.release_deleted_auth_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    released record;
begin
    for released in
        update private.customer_identifiers as ci
        set status = 'pending'
        where ci.type = 'auth_user' and ci.value = old.id::text and ci.status = 'active'
        returning ci.customer_id
    loop
        insert into private.audit_log (
            action, customer_id, actor_role, actor_uid, source, details
        ) values (
            'update', released.customer_id, session_user, null, null,
            jsonb_build_object('released_identifier_type', 'auth_user',
                'reason', 'auth_user_deleted')
        );
    end loop;
    return old;
end;
$$;

comment on function private.release_deleted_auth_user() is
'Trigger on auth.users: a deleted login stops matching its customer (the account stays).';

create trigger customer_management_release_deleted_user
before delete on auth.users
for each row execute function private.release_deleted_auth_user();
