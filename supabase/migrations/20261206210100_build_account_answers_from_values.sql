-- The success shape is built in one place from the values it shows, so that the read path's
-- common case (the chatbot's returning caller, answered from one read) and every other
-- answer share it: success_response reads the account's order summary and calls it. The
-- summary sentence (customer_summary before) is part of it: one expression, no call of its
-- own.

create function customer_management.account_answer(
    account_id uuid,
    first_name text,
    last_name text,
    phone text,
    email text,
    allergies text[],
    account_sources jsonb,
    is_new boolean,
    order_count bigint,
    recent_orders jsonb,
    source_added text,
    verification_required jsonb,
    notices jsonb
) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
    verify text;
    answer jsonb;
begin
    if jsonb_array_length(coalesce(verification_required, '[]'::jsonb)) > 0 then
        verify := 'Please verify your ' || (
            select string_agg(distinct v ->> 'type', ' and ')
            from jsonb_array_elements(verification_required) as v
        ) || ' to link it to this account.';
    end if;
    answer := jsonb_build_object(
        'customer', jsonb_build_object(
            'id', account_id,
            'name', nullif(concat_ws(' ', first_name, last_name), ''),
            'phone', phone,
            'email', email,
            'allergies', to_jsonb(allergies),
            'isNewAccount', is_new,
            'accountSources', coalesce(account_sources, '[]'::jsonb),
            '_internalId', account_id
        ),
        'orderHistory', coalesce(recent_orders, '[]'::jsonb),
        -- A sentence a chatbot can say as it is: greeting, orders, what changed, what to
        -- verify.
        'summary', concat_ws(' ',
            case
                when is_new and first_name is not null
                    then format('Welcome %s! I''ve created your account.', first_name)
                when is_new then 'Welcome! I''ve created your account.'
                when first_name is not null then format('Welcome back %s!', first_name)
                else 'Welcome back!'
            end,
            case
                when is_new then null
                when coalesce(order_count, 0) = 0 then 'You have no previous orders yet.'
                when order_count = 1 then 'You have 1 previous order.'
                else format('You have %s previous orders.', order_count)
            end,
            case source_added
                when 'webapp' then 'Account updated with web app access.'
                when 'chatbot' then 'Account updated with chatbot access.'
            end,
            verify
        )
    );
    -- Keys with nothing to say are left out; most answers have neither, and adding a key
    -- rebuilds the whole document (the order history included).
    if jsonb_array_length(coalesce(verification_required, '[]'::jsonb)) > 0 then
        answer := answer || jsonb_build_object('verificationRequired', verification_required);
    end if;
    if jsonb_array_length(coalesce(notices, '[]'::jsonb)) > 0 then
        answer := answer || jsonb_build_object('notices', notices);
    end if;
    return answer;
end;
$$;

comment on function customer_management.account_answer(
    uuid, text, text, text, text, text[], jsonb, boolean, bigint, jsonb, text, jsonb, jsonb
) is
'The contract''s success shape and its summary sentence (greeting, order count, what '
'changed, what to verify), from the values shown; verificationRequired and notices only when '
'they have entries.';

revoke all on function customer_management.account_answer(
    uuid, text, text, text, text, text[], jsonb, boolean, bigint, jsonb, text, jsonb, jsonb
) from public, anon, authenticated, service_role;

-- The success shape for one account: its order summary read, the answer built.
create or replace function customer_management.success_response(
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
begin
    select s.order_count, s.recent_orders into order_count, recent_orders
    from customer_management.order_summaries as s
    where s.customer_id = customer.id;
    return customer_management.account_answer(
        customer.id, customer.first_name, customer.last_name, customer.phone, customer.email,
        customer.allergies, customer.preferences -> 'account_sources', is_new, order_count,
        recent_orders, source_added, verification_required, notices
    );
end;
$$;

comment on function customer_management.success_response(
    public.customers, boolean, text, jsonb, jsonb
) is
'Builds the contract''s success shape for one account (its order summary read).';

drop function customer_management.customer_summary(
    public.customers, boolean, bigint, text, jsonb
);
