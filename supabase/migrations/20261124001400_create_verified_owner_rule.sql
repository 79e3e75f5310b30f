-- The verified-owner rule: which accounts a request opens, and which identifiers its
-- proof takes from other accounts.
--
-- A proven identifier that is only vouched for (a trusted backend passing on what a user
-- typed) opens every account that holds it. A verified one (the chatbot's line, an address
-- confirmed in auth.users, a verification code) opens only an account that holds it as
-- verified, belongs to no other login, and, for a phone, has used that line within
-- settings.line_dormant_after (numbers are recycled). Anywhere else the verified owner
-- wins: an account that holds the identifier only as asserted, as another login's, or as a
-- dormant line keeps it as pending and loses it as primary contact, and the caller's
-- answer is the same as if nobody had held it. A dormant line still belongs to its account
-- when the same request proves another identifier of that account.

create function customer_management.verified_owner_wins(
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[]
) returns customer_management.identifier_owners
language sql
stable
set search_path = ''
as $$
    with held as (
        select
            ci.id,
            ci.customer_id,
            ci.type,
            c.verified,
            not c.verified or (
                ci.verified_at is not null
                and (caller.uid is null or cu.auth_user_id is null or cu.auth_user_id = caller.uid)
                and (
                    ci.type <> 'phone'
                    or coalesce(ci.last_used_at, ci.verified_at) > now() - s.line_dormant_after
                )
            ) as opens,
            ci.verified_at is not null or not c.verified as verified_enough,
            ci.type = 'phone' and c.verified
            and coalesce(ci.last_used_at, ci.verified_at) < now() - interval '1 day' as stale_line
        from unnest(claims) as c
        inner join customer_management.customer_identifiers as ci
            on c.value = ci.value and c.type = ci.type and ci.status = 'active'
        inner join public.customers as cu on ci.customer_id = cu.id
        cross join customer_management.settings as s
        where c.proven
    ),

    opened as (
        select coalesce(array_agg(distinct h.customer_id) filter (where h.opens), '{}') as ids
        from held as h
    )

    select row(
        o.ids,
        coalesce((
            select array_agg(h.id order by h.id) from held as h
            where
                not h.opens and h.verified and h.type <> 'auth_user'
                and h.customer_id <> all(o.ids)
        ), '{}'),
        cardinality(o.ids) = 1 and (
            select count(*) from held as h
            where h.verified_enough and h.customer_id = o.ids[1]
        ) = cardinality(claims),
        coalesce((
            select array_agg(h.id order by h.id) from held as h
            where h.stale_line and h.customer_id = any(o.ids)
        ), '{}')
    )::customer_management.identifier_owners
    from opened as o
$$;

comment on function customer_management.verified_owner_wins(
    customer_management.api_caller, customer_management.identifier_claim[]
) is
'The verified-owner rule: the accounts a request opens, the identifiers its proof takes '
'from other holders, whether the request is a pure lookup of one account, and the lines '
'whose use should be recorded.';

revoke all on function customer_management.verified_owner_wins(
    customer_management.api_caller, customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;
