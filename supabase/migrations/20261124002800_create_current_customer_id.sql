-- Ids that outlive a merge: other systems keep customer ids, and a merge turns one of
-- them into a tombstone. Every RPC that takes a customer id follows it to the account that
-- now holds that person, and current_customer_id answers the question directly.

-- The live account an id now stands for: itself, the survivor its merges lead to, or null
-- when no such account exists (never did, or erased).
create function customer_management.live_customer_id(customer_id uuid) returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
    current_id uuid := customer_id;
    next_id uuid;
begin
    -- A chain is as long as the merges made on it; the kit cannot build a cycle, and the
    -- bound keeps a hand-made one from looping.
    for hop in 1 .. 1000 loop
        select c.merged_into into next_id from public.customers as c where c.id = current_id;
        if not found then
            return null;
        end if;
        if next_id is null then
            return current_id;
        end if;
        current_id := next_id;
    end loop;
    return null;
end;
$$;

comment on function customer_management.live_customer_id(uuid) is
'Follows merged_into from an id to the live account; null for an unknown or erased id.';

revoke all on function customer_management.live_customer_id(uuid)
from public, anon, authenticated, service_role;

-- Behind current_customer_id. The service role learns where any id went; an end user only
-- their own account's ids (anything else answers null, as an unknown id does).
create function customer_management.current_customer_id_for_caller(customer_id uuid)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    live_id uuid := customer_management.live_customer_id(customer_id);
begin
    if caller.trusted or customer_management.is_support_agent(caller) then
        return live_id;
    end if;
    if live_id is not null and live_id = customer_management.signed_in_customer_id() then
        return live_id;
    end if;
    return null;
end;
$$;

comment on function customer_management.current_customer_id_for_caller(uuid) is
'Definer behind public.current_customer_id: the live account for any id (service role, '
'support), or for the end user''s own ids only.';

revoke all on function customer_management.current_customer_id_for_caller(uuid)
from public, anon, authenticated, service_role;
grant execute on function customer_management.current_customer_id_for_caller(uuid)
to authenticated, service_role;

create function public.current_customer_id(customer_id uuid) returns uuid
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.current_customer_id_for_caller(customer_id);
end;
$$;

comment on function public.current_customer_id(uuid) is
'The account a customer id now stands for: itself, its survivor after merges, or null when '
'it is unknown or erased (or, for an end user, not theirs).';

revoke all on function public.current_customer_id(uuid) from public, anon;
grant execute on function public.current_customer_id(uuid) to authenticated, service_role;
