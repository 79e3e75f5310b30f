-- The verified-owner rule: which accounts a request opens, and which identifiers its
-- proof takes from other accounts.
--
-- A trusted caller opens every account holding an identifier it has proven. An end user
-- opens only accounts that hold their proven identifiers as verified and belong to no
-- other login. When an end user proves an identifier that another account holds only as
-- asserted (typed into the chatbot, passed on by a backend) or that an account of another
-- login holds (a recycled number: Supabase Auth lets one login confirm it at a time), the
-- verified owner wins: that account keeps it as pending and loses it as primary contact,
-- and the caller's answer is the same as if nobody had held it.

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
            caller.trusted or (
                ci.verified_at is not null
                and (cu.auth_user_id is null or cu.auth_user_id = caller.uid)
            ) as opens,
            ci.verified_at is not null or not c.verified as verified_enough
        from unnest(claims) as c
        inner join customer_management.customer_identifiers as ci
            on c.value = ci.value and c.type = ci.type and ci.status = 'active'
        inner join public.customers as cu on ci.customer_id = cu.id
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
            where h.opens and h.verified_enough and h.customer_id = o.ids[1]
        ) = cardinality(claims)
    )::customer_management.identifier_owners
    from opened as o
$$;

comment on function customer_management.verified_owner_wins(
    customer_management.api_caller, customer_management.identifier_claim[]
) is
'The verified-owner rule: the accounts a request opens, the identifiers its proof takes '
'from other holders, and whether the request is a pure lookup of one account.';

revoke all on function customer_management.verified_owner_wins(
    customer_management.api_caller, customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;
