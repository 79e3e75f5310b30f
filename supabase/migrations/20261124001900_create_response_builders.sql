-- The two response shapes of the public contract (see README): the account found or
-- created, and the account conflict.

-- A sentence a chatbot can say as it is.
create function customer_management.customer_summary(
    customer public.customers,
    is_new boolean,
    order_count bigint,
    source_added text,
    verification_required jsonb
) returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
    verify text;
begin
    if jsonb_array_length(coalesce(verification_required, '[]'::jsonb)) > 0 then
        verify := 'Please verify your ' || (
            select string_agg(distinct v ->> 'type', ' and ')
            from jsonb_array_elements(verification_required) as v
        ) || ' to link it to this account.';
    end if;
    return concat_ws(' ',
        case
            when is_new and customer.first_name is not null
                then format('Welcome %s! I''ve created your account.', customer.first_name)
            when is_new then 'Welcome! I''ve created your account.'
            when customer.first_name is not null
                then format('Welcome back %s!', customer.first_name)
            else 'Welcome back!'
        end,
        case
            when is_new then null
            when order_count = 0 then 'You have no previous orders yet.'
            when order_count = 1 then 'You have 1 previous order.'
            else format('You have %s previous orders.', order_count)
        end,
        case source_added
            when 'webapp' then 'Account updated with web app access.'
            when 'chatbot' then 'Account updated with chatbot access.'
        end,
        verify
    );
end;
$$;

comment on function customer_management.customer_summary(
    public.customers, boolean, bigint, text, jsonb
) is
'The summary sentence of a success response: greeting, order count, what changed.';

revoke all on function customer_management.customer_summary(
    public.customers, boolean, bigint, text, jsonb
) from public, anon, authenticated, service_role;

-- The success shape: customer, orderHistory (newest first, at most 10) and summary, with
-- verificationRequired and notices added only when they have entries. The order history
-- and count come from the customer's order summary: one row read.
create function customer_management.success_response(
    customer public.customers,
    is_new boolean,
    source_added text,
    verification_required jsonb,
    notices jsonb
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    order_count bigint;
    recent_orders jsonb;
    response jsonb;
begin
    select s.order_count, s.recent_orders into order_count, recent_orders
    from customer_management.order_summaries as s
    where s.customer_id = customer.id;
    response := jsonb_build_object(
        'customer', jsonb_build_object(
            'id', customer.id,
            'name', nullif(concat_ws(' ', customer.first_name, customer.last_name), ''),
            'phone', customer.phone,
            'email', customer.email,
            'allergies', to_jsonb(customer.allergies),
            'isNewAccount', is_new,
            'accountSources', coalesce(customer.preferences -> 'account_sources', '[]'::jsonb),
            '_internalId', customer.id
        ),
        'orderHistory', coalesce(recent_orders, '[]'::jsonb),
        'summary', customer_management.customer_summary(
            customer, is_new, coalesce(order_count, 0), source_added, verification_required
        )
    );
    if jsonb_array_length(coalesce(verification_required, '[]'::jsonb)) > 0 then
        response := response || jsonb_build_object('verificationRequired', verification_required);
    end if;
    if jsonb_array_length(coalesce(notices, '[]'::jsonb)) > 0 then
        response := response || jsonb_build_object('notices', notices);
    end if;
    return response;
end;
$$;

comment on function customer_management.success_response(
    public.customers, boolean, text, jsonb, jsonb
) is
'Builds the contract''s success shape for one account.';

revoke all on function customer_management.success_response(
    public.customers, boolean, text, jsonb, jsonb
) from public, anon, authenticated, service_role;

-- The accounts of a conflict as a caller may see them: in full for a trusted caller
-- (service role, support), masked otherwise (enough to recognise one's own, no ids).
create function customer_management.conflict_accounts(customer_ids uuid[], unmasked boolean)
returns jsonb
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    return (
        select coalesce(jsonb_agg(
            case when unmasked then jsonb_strip_nulls(jsonb_build_object(
                'id', c.id,
                'email', c.email,
                'phone', c.phone,
                'source', c.preferences ->> 'created_via'
            )) else jsonb_strip_nulls(jsonb_build_object(
                'email', customer_management.mask_email(c.email),
                'phone', customer_management.mask_phone(c.phone),
                'source', c.preferences ->> 'created_via'
            )) end
            order by c.created_at, c.id
        ), '[]'::jsonb)
        from public.customers as c
        where c.id = any(customer_ids)
    );
end;
$$;

comment on function customer_management.conflict_accounts(uuid[], boolean) is
'A conflict''s accounts for an answer: id, email, phone and channel, or masked for end users.';

revoke all on function customer_management.conflict_accounts(uuid[], boolean)
from public, anon, authenticated, service_role;

-- The conflict shape. A trusted caller sees each account's id, contact data and channel;
-- an end user sees masked contact data and the channel only.
create function customer_management.conflict_response(
    conflict_id uuid,
    customer_ids uuid[],
    caller customer_management.api_caller,
    notices jsonb
) returns jsonb
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    return (
        select jsonb_build_object(
            'error', 'Account conflict',
            'conflicts', jsonb_build_object(
                'found', true,
                'accounts', customer_management.conflict_accounts(customer_ids, caller.trusted),
                'suggestedActions', jsonb_build_array(
                    'Link accounts automatically',
                    'Contact customer support',
                    'Use primary email account'
                )
            ),
            'message', 'Multiple accounts found. Please choose how to proceed.',
            'conflictId', conflict_id
        ) || case
            when jsonb_array_length(coalesce(notices, '[]'::jsonb)) > 0
                then jsonb_build_object('notices', notices)
            else '{}'::jsonb
        end
    );
end;
$$;

comment on function customer_management.conflict_response(uuid, uuid[], customer_management.api_caller, jsonb) is
'Builds the contract''s conflict shape; masks the accounts for end users.';

revoke all on function customer_management.conflict_response(
    uuid, uuid[], customer_management.api_caller, jsonb
) from public, anon, authenticated, service_role;
