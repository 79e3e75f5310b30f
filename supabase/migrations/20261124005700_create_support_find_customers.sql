-- Finding a customer for support: by phone or email, normalised by the same functions the
-- RPC uses (so "(555) 123-4567" finds +15551234567 and " John@Email.com" finds
-- john@email.com), matched exactly against the identifiers table, never fuzzily. The
-- answer is the live account each match leads to (a merged-away account's identifier
-- leads to its survivor), with how it matched: an active identifier is the account's own,
-- a pending one only a claim someone made and nobody proved yet.

-- Pending claims are looked up by value too (the active ones already are, by the unique
-- index of active identifiers).
create index customer_identifiers_pending_value_idx
on customer_management.customer_identifiers (value, type)
where status = 'pending';

-- How support's answers show an account: enough to recognise it, nothing of its history.
create function customer_management.support_account_card(account_id uuid) returns jsonb
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
begin
    return (
        select jsonb_build_object(
            'id', c.id,
            'firstName', c.first_name,
            'lastName', c.last_name,
            'phone', c.phone,
            'email', c.email,
            'authUserId', c.auth_user_id,
            'source', c.preferences ->> 'created_via',
            'accountSources', coalesce(c.preferences -> 'account_sources', '[]'::jsonb),
            'orderCount', coalesce((
                select s.order_count from customer_management.order_summaries as s
                where s.customer_id = c.id
            ), 0),
            'createdAt', c.created_at,
            'mergedInto', c.merged_into,
            'mergedAt', c.merged_at
        )
        from public.customers as c
        where c.id = account_id
    );
end;
$$;

comment on function customer_management.support_account_card(uuid) is
'An account as support''s answers show it: id, name, phone, email, login, channels, order '
'count and, for a tombstone, where it was merged.';

revoke all on function customer_management.support_account_card(uuid)
from public, anon, authenticated, service_role;

create function customer_management.support_find_customers_for_caller(
    phone text, email text
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
set timezone = 'UTC'
as $$
declare
    phone_key text;
    email_key text;
begin
    perform customer_management.support_caller();
    if nullif(btrim(phone), '') is null and nullif(btrim(email), '') is null then
        perform customer_management.raise_error(
            'invalid_request', 'Give a phone or an email to search for.',
            'Send phone, email or both.'
        );
    end if;
    phone_key := customer_management.normalize_phone(phone);
    email_key := customer_management.normalize_email(email);

    return jsonb_build_object(
        'phone', phone_key,
        'email', email_key,
        'customers', coalesce((
            select jsonb_agg(
                customer_management.support_account_card(m.live_id)
                || jsonb_build_object('matchedBy', m.matched_by)
                order by live.created_at, live.id
            )
            from (
                select
                    x.live_id,
                    jsonb_agg(
                        jsonb_build_object(
                            'type', x.type, 'status', x.status, 'onAccount', x.customer_id
                        )
                        order by x.type, x.status, x.customer_id
                    ) as matched_by
                from (
                    -- Active and pending rows apart, so each reads its own index.
                    select
                        customer_management.live_customer_id(ci.customer_id) as live_id,
                        ci.customer_id,
                        ci.type,
                        ci.status
                    from customer_management.customer_identifiers as ci
                    where
                        ci.status = 'active'
                        and (
                            (ci.type = 'phone' and ci.value = phone_key)
                            or (ci.type = 'email' and ci.value = email_key)
                        )
                    union all
                    select
                        customer_management.live_customer_id(ci.customer_id) as live_id,
                        ci.customer_id,
                        ci.type,
                        ci.status
                    from customer_management.customer_identifiers as ci
                    where
                        ci.status = 'pending'
                        and (
                            (ci.type = 'phone' and ci.value = phone_key)
                            or (ci.type = 'email' and ci.value = email_key)
                        )
                ) as x
                where x.live_id is not null
                group by x.live_id
            ) as m
            inner join public.customers as live on m.live_id = live.id
        ), '[]'::jsonb)
    );
end;
$$;

comment on function customer_management.support_find_customers_for_caller(text, text) is
'Definer behind public.support_find_customers: the live accounts whose identifiers equal the '
'normalised phone or email; service role and support agents only.';

revoke all on function customer_management.support_find_customers_for_caller(text, text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.support_find_customers_for_caller(text, text)
to authenticated, service_role;

create function public.support_find_customers(
    phone text default null,
    email text default null
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_find_customers_for_caller(phone, email);
end;
$$;

comment on function public.support_find_customers(text, text) is
'Support''s customer search: the live accounts holding exactly this phone or email '
'(normalised like customer_management), with how each matched. Service role and support '
'agents only. See docs/console.md.';

revoke all on function public.support_find_customers(text, text) from public, anon;
grant execute on function public.support_find_customers(text, text)
to authenticated, service_role;
