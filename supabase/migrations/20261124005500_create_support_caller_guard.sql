-- The door of the support tools (the conflict queue, the customer search, a customer's full
-- view, the merge preview): the service role and signed-in support agents pass; anyone
-- else is refused with forbidden before any argument is read, so an end user learns
-- nothing from these RPCs, not even whether an id exists. The agent's role is read from
-- auth.users at each call (is_support_agent), so revoking it takes effect at once.

create function customer_management.support_caller()
returns customer_management.api_caller
language plpgsql
stable
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
begin
    if not (caller.trusted or customer_management.is_support_agent(caller)) then
        perform customer_management.raise_error(
            'forbidden', 'Only support agents and the service role may use the support tools.',
            'Ask an admin to set app_metadata.role = support on your user.', '42501'
        );
    end if;
    return caller;
end;
$$;

comment on function customer_management.support_caller() is
'The caller of a support RPC, if it is the service role or a support agent; raises '
'forbidden (42501) for anyone else before anything is read.';

revoke all on function customer_management.support_caller()
from public, anon, authenticated, service_role;
