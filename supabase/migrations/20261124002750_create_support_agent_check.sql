-- Support agents: Supabase Auth users whose app_metadata.role is 'support'. An admin sets
-- it (app_metadata, unlike user_metadata, is not editable by the user). The auth.users row
-- is read at each call rather than the token's copy, so revoking the role or banning the
-- agent takes effect at once.

create function customer_management.is_support_agent(
    caller customer_management.api_caller
) returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    if caller.role is distinct from 'authenticated' or caller.uid is null then
        return false;
    end if;
    return exists (
        select 1 from auth.users as u
        where
            u.id = caller.uid
            and u.raw_app_meta_data ->> 'role' = 'support'
            and u.deleted_at is null
            and (u.banned_until is null or u.banned_until <= now())
    );
end;
$$;

comment on function customer_management.is_support_agent(customer_management.api_caller) is
'Whether the caller is a signed-in support agent (app_metadata.role = support, not deleted '
'or banned): support may resolve conflicts, undo merges and export any customer.';

revoke all on function customer_management.is_support_agent(customer_management.api_caller)
from public, anon, authenticated, service_role;
