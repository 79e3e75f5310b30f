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
--
-- One query reads the holdings; the decision is made on those (at most three) rows. Its
-- plan is the generic one (plan_cache_mode): the number of claims would otherwise make
-- PostgreSQL plan it anew on every call.

create function customer_management.verified_owner_wins(
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[]
) returns customer_management.identifier_owners
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    ids bigint[];
    types text[];
    owners uuid[];
    accounts public.customers[];
    opens boolean[];
    verified boolean[];
    enough boolean[];
    stale boolean[];
    result customer_management.identifier_owners;
begin
    -- Who holds the request's proven identifiers (at most three rows), read at once.
    select
        array_agg(ci.id), array_agg(ci.type), array_agg(ci.customer_id), array_agg(cu),
        array_agg(c.verified),
        array_agg(
            not c.verified or (
                ci.verified_at is not null
                and (caller.uid is null or cu.auth_user_id is null or cu.auth_user_id = caller.uid)
                and (
                    ci.type <> 'phone'
                    or coalesce(ci.last_used_at, ci.verified_at) > now() - s.line_dormant_after
                )
            )
        ),
        array_agg(ci.verified_at is not null or not c.verified),
        array_agg(
            ci.type = 'phone' and c.verified
            and coalesce(ci.last_used_at, ci.verified_at) < now() - interval '1 day'
        )
    into ids, types, owners, accounts, verified, opens, enough, stale
    from unnest(claims) as c
    inner join customer_management.customer_identifiers as ci
        on c.value = ci.value and c.type = ci.type and ci.status = 'active'
    inner join public.customers as cu on ci.customer_id = cu.id
    cross join customer_management.settings as s
    where c.proven;

    result.matched := '{}';
    result.released := '{}';
    result.lines_to_touch := '{}';
    for i in 1 .. coalesce(cardinality(ids), 0) loop
        if opens[i] and owners[i] <> all(result.matched) then
            result.matched := result.matched || owners[i];
            result.account := accounts[i];
        end if;
    end loop;
    for i in 1 .. coalesce(cardinality(ids), 0) loop
        -- The proof takes what is held elsewhere than in an opened account (never a login).
        if not opens[i] and verified[i] and types[i] <> 'auth_user'
            and owners[i] <> all(result.matched) then
            result.released := result.released || ids[i];
        end if;
        if stale[i] and owners[i] = any(result.matched) then
            result.lines_to_touch := result.lines_to_touch || ids[i];
        end if;
    end loop;
    -- A pure lookup: one account, holding every claim as proven and verified as it is.
    result.complete := cardinality(result.matched) = 1
        and cardinality(ids) = cardinality(claims)
        and owners <@ result.matched
        and false <> all(enough);
    if cardinality(result.matched) <> 1 then
        result.account := null;
    end if;
    return result;
end;
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
