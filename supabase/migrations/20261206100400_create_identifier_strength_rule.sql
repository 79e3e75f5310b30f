-- The identifier-strength rule: which accounts a request opens, which it must not open, and
-- when the caller must prove one thing more. It replaces the verified-owner rule, which let
-- any proof take an identifier a trusted backend had vouched for and so split a web customer
-- from her first call to the chatbot.
--
-- Each proven identifier of a request reaches the accounts that hold it (active; for the
-- chatbot's line also the accounts whose own login claimed that phone). How it reaches:
--
--   the caller                          holding      reach
--   web backend (service role, vouch)   any active   opens (the backend is trusted)
--   any proof                           a login      opens (auth user ids are always proven)
--   a proof (line, code, confirmed      verified     opens; not for another login's account
--   login identity)                                  (refused); a line unused for
--                                                    settings.line_dormant_after: weak
--   a code or a confirmed login         vouched      opens, unless the account belongs to a
--   identity                                         login that is not the caller's (weak)
--   the chatbot's line                  vouched      weak
--   any proof                           claimed      weak
--
-- An account opens when some identifier reaches it with "opens"; the identifiers that reach
-- it weakly in the same request ride along (the request proved the account another way:
-- they become verified there). An account reached only weakly is not opened. If nothing
-- opens and the chatbot's line reached such an account, which has a second identifier to
-- prove (another phone or email it holds verified, or vouched when no login owns it), the
-- caller is asked for that second proof and nothing happens; otherwise, or when the caller
-- declines (withoutSecondProof), or when the request opened another account, the account
-- is refused: the caller is answered as if nobody held the identifier, it is set aside on
-- that account, and a conflict records it for support. An account with no second
-- identifier is refused at once: a line alone never reads someone else's account.
--
-- When a proof opens an account only through vouched identifiers, they become verified
-- there and the account's other identifiers that nobody ever verified are demoted to claimed:
-- they stop opening it until proven (the pre-hijacking defence Supabase Auth applies when it
-- drops unconfirmed identities on linking).
--
-- One query reads the holdings (a handful of rows); the decision is taken on those. The
-- plan is the generic one: the number of claims would otherwise re-plan it at every call.

create type customer_management.proof_outcome as (
    matched uuid [],
    account public.customers,
    complete boolean,
    lines_to_touch bigint [],
    promoted bigint [],
    demoted_accounts uuid [],
    refused uuid [],
    refused_holdings bigint [],
    second_proof boolean
);

comment on type customer_management.proof_outcome is
'What the identifier-strength rule decided: the accounts opened (and the one, if one), '
'whether the request is a pure lookup, lines whose use to record, holdings to make verified, '
'accounts whose never-verified identifiers to demote, accounts refused with the holdings '
'that reached them, and whether a second proof is required.';

-- Whether an account has an identifier besides the line that a code could prove and that
-- would open it: another phone or email held verified, or vouched when no login owns it.
create function customer_management.has_second_identifier(
    customer_ids uuid[], line text
) returns boolean
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    return exists (
        select 1
        from customer_management.customer_identifiers as ci
        inner join public.customers as cu on ci.customer_id = cu.id
        where
            ci.customer_id = any(customer_ids)
            and ci.status = 'active'
            and ci.type in ('email', 'phone')
            and ci.value is distinct from line
            and (ci.strength = 'verified' or (ci.strength = 'vouched' and cu.auth_user_id is null))
    );
end;
$$;

comment on function customer_management.has_second_identifier(uuid[], text) is
'True when one of the accounts holds a phone or email other than the line that a code '
'could prove to open it (verified, or vouched without a login).';

revoke all on function customer_management.has_second_identifier(uuid[], text)
from public, anon, authenticated, service_role;

create function customer_management.identifier_strength_rule(
    caller customer_management.api_caller,
    request customer_management.resolution_request,
    claims customer_management.identifier_claim[],
    code_verified text
) returns customer_management.proof_outcome
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    line text := case when caller.trusted and request.source = 'chatbot' then request.phone end;
    ids bigint[];
    owners uuid[];
    accounts public.customers[];
    reaches text[];
    by_line boolean[];
    stale boolean[];
    firmly uuid[] := '{}'::uuid[];
    through_vouched uuid[] := '{}'::uuid[];
    asked uuid[] := '{}'::uuid[];
    result customer_management.proof_outcome;
begin
    select
        array_agg(h.id), array_agg(h.customer_id), array_agg(h.account), array_agg(h.reach),
        array_agg(h.by_line), array_agg(h.stale)
    into ids, owners, accounts, reaches, by_line, stale
    from (
        select
            ci.id,
            ci.customer_id,
            cu as account,
            case
                when not c.verified or ci.type = 'auth_user' then 'opens'
                when ci.strength = 'verified'
                    and caller.uid is not null and cu.auth_user_id <> caller.uid
                    then 'refused'
                when ci.strength = 'verified' and ci.type = 'phone'
                    and code_verified is distinct from 'phone'
                    and coalesce(ci.last_used_at, ci.verified_at) <= now() - s.line_dormant_after
                    then 'weak'
                when ci.strength = 'verified' then 'opens'
                when ci.strength = 'vouched' and c.value is distinct from line
                    and (cu.auth_user_id is null or cu.auth_user_id = caller.uid)
                    then 'opens through vouched'
                else 'weak'
            end as reach,
            c.type = 'phone' and c.value = line as by_line,
            ci.type = 'phone' and ci.strength = 'verified' and c.verified
            and coalesce(ci.last_used_at, ci.verified_at) < now() - interval '1 day' as stale
        from unnest(claims) as c
        inner join customer_management.customer_identifiers as ci
            on c.value = ci.value and c.type = ci.type and ci.status = 'active'
        inner join public.customers as cu on ci.customer_id = cu.id
        cross join customer_management.settings as s
        where c.proven
        union all
        -- The line also reaches accounts whose own login claimed that phone.
        select ci.id, ci.customer_id, cu, 'weak', true, false
        from unnest(claims) as c
        inner join customer_management.customer_identifiers as ci
            on c.value = ci.value and c.type = ci.type and ci.status = 'pending'
        inner join public.customers as cu on ci.customer_id = cu.id
        where
            c.value = line and c.type = 'phone' and ci.strength = 'claimed'
            and cu.merged_into is null and cu.auth_user_id is not null
            and ci.source = 'webapp'
    ) as h;

    result.matched := '{}';
    result.lines_to_touch := '{}';
    result.promoted := '{}';
    result.demoted_accounts := '{}';
    result.refused := '{}';
    result.refused_holdings := '{}';
    result.second_proof := false;
    for i in 1 .. coalesce(cardinality(ids), 0) loop
        if reaches[i] in ('opens', 'opens through vouched') then
            if owners[i] <> all(result.matched) then
                result.matched := result.matched || owners[i];
                result.account := accounts[i];
            end if;
            if reaches[i] = 'opens' then
                firmly := firmly || owners[i];
            else
                through_vouched := through_vouched || owners[i];
                result.promoted := result.promoted || ids[i];
            end if;
        end if;
    end loop;
    for i in 1 .. coalesce(cardinality(ids), 0) loop
        if owners[i] = any(result.matched) then
            if reaches[i] = 'weak' then
                result.promoted := result.promoted || ids[i];
            elsif stale[i] then
                result.lines_to_touch := result.lines_to_touch || ids[i];
            end if;
        elsif reaches[i] <> 'refused' and by_line[i] then
            asked := asked || owners[i];
        else
            result.refused_holdings := result.refused_holdings || ids[i];
        end if;
    end loop;

    -- A line that reached accounts nothing else opened: ask for a second proof, unless the
    -- caller declined or those accounts have nothing a code could prove.
    if cardinality(asked) > 0 then
        if cardinality(result.matched) = 0 and not coalesce(request.without_second_proof, false)
            and customer_management.has_second_identifier(asked, line) then
            result.second_proof := true;
        else
            for i in 1 .. cardinality(ids) loop
                if owners[i] = any(asked) then
                    result.refused_holdings := result.refused_holdings || ids[i];
                end if;
            end loop;
        end if;
    end if;
    if not result.second_proof then
        for i in 1 .. coalesce(cardinality(ids), 0) loop
            if ids[i] = any(result.refused_holdings) and owners[i] <> all(result.refused) then
                result.refused := result.refused || owners[i];
            end if;
        end loop;
    end if;
    result.demoted_accounts := array(
        select distinct x from unnest(through_vouched) as x where x <> all(firmly)
    );

    -- A pure lookup: one account, opened firmly by every claim, nothing to change anywhere.
    result.complete := cardinality(result.matched) = 1
        and cardinality(ids) = cardinality(claims)
        and owners <@ result.matched
        and cardinality(result.promoted) = 0
        and cardinality(result.refused) = 0
        and not result.second_proof;
    if cardinality(result.matched) <> 1 then
        result.account := null;
    end if;
    return result;
end;
$$;

comment on function customer_management.identifier_strength_rule(
    customer_management.api_caller, customer_management.resolution_request,
    customer_management.identifier_claim[], text
) is
'The identifier-strength rule: which accounts a request''s proofs open (verified or vouched '
'holdings), which they refuse, what becomes verified or demoted, and whether the chatbot''s '
'line needs a second proof.';

revoke all on function customer_management.identifier_strength_rule(
    customer_management.api_caller, customer_management.resolution_request,
    customer_management.identifier_claim[], text
) from public, anon, authenticated, service_role;
