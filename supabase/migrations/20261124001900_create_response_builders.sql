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
language sql
immutable
set search_path = ''
as $$
    select concat_ws(' ',
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
        case
            when jsonb_array_length(coalesce(verification_required, '[]'::jsonb)) > 0
                then 'Please verify your ' || (
                    select string_agg(distinct v ->> 'type', ' and ')
                    from jsonb_array_elements(verification_required) as v
                ) || ' to link it to this account.'
        end
    )
$$;

comment on function customer_management.customer_summary(public.customers, boolean, bigint, text, jsonb) is
'The summary sentence of a success response: greeting, order count, what changed.';

revoke all on function customer_management.customer_summary(
    public.customers, boolean, bigint, text, jsonb
) from public, anon, authenticated, service_role;

-- The success shape: customer, orderHistory (newest first, at most 10) and summary, with
-- verificationRequired and notices added only when they have entries. One statement.
create function customer_management.success_response(
    customer public.customers,
    is_new boolean,
    source_added text,
    verification_required jsonb,
    notices jsonb
) returns jsonb
language sql
stable
set search_path = ''
as $$
    select jsonb_build_object(
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
        'orderHistory', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', o.id,
                'items', o.items,
                'total', o.total,
                'currency', o.currency,
                'status', o.status,
                'deliveryDate', o.delivery_date,
                'createdAt', o.created_at
            ) order by o.created_at desc, o.id desc)
            from (
                select * from public.orders
                where customer_id = customer.id
                order by created_at desc, id desc
                limit 10
            ) as o
        ), '[]'::jsonb),
        'summary', customer_management.customer_summary(
            customer, is_new,
            (select count(*) from public.orders where customer_id = customer.id),
            source_added, verification_required
        )
    )
    || case
        when jsonb_array_length(coalesce(verification_required, '[]'::jsonb)) > 0
            then jsonb_build_object('verificationRequired', verification_required)
        else '{}'::jsonb
    end
    || case
        when jsonb_array_length(coalesce(notices, '[]'::jsonb)) > 0
            then jsonb_build_object('notices', notices)
        else '{}'::jsonb
    end
$$;

comment on function customer_management.success_response(
    public.customers, boolean, text, jsonb, jsonb
) is
'Builds the contract''s success shape for one account.';

revoke all on function customer_management.success_response(
    public.customers, boolean, text, jsonb, jsonb
) from public, anon, authenticated, service_role;

-- The conflict shape. A trusted caller sees each account's id, contact data and channel;
-- an end user sees masked contact data and the channel only.
create function customer_management.conflict_response(
    conflict_id uuid,
    customer_ids uuid[],
    caller customer_management.api_caller,
    notices jsonb
) returns jsonb
language sql
stable
set search_path = ''
as $$
    select jsonb_build_object(
        'error', 'Account conflict',
        'conflicts', jsonb_build_object(
            'found', true,
            'accounts', (
                select jsonb_agg(
                    case when caller.trusted then jsonb_strip_nulls(jsonb_build_object(
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
                )
                from public.customers as c
                where c.id = any(customer_ids)
            ),
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
$$;

comment on function customer_management.conflict_response(uuid, uuid[], customer_management.api_caller, jsonb) is
'Builds the contract''s conflict shape; masks the accounts for end users.';

revoke all on function customer_management.conflict_response(
    uuid, uuid[], customer_management.api_caller, jsonb
) from public, anon, authenticated, service_role;
