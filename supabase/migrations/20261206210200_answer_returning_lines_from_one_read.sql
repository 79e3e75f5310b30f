-- The read path's common case in one function: the chatbot's backend passing on the line of
-- a returning caller, {"phone": "+1...", "source": "chatbot"}, answered from one read, one
-- count and one answer. Every PL/pgSQL function call and every statement is paid again in
-- each transaction (its expressions compiled, its plan's executor state built), and the
-- general path calls nine rules in turn; this one does what they would do for that body, and
-- only where their outcome is forced:
--
--   validation   the body holds the line and the channel only, the line already in the
--                form normalize_phone gives it (what parse_request takes as it is);
--   proof        the chatbot's line is proven and verified (the caller-proof rule);
--   the rule     the line is held verified by one live account and was used within the
--                day, and nothing else holds or claims that number: under the
--                identifier-strength rule such a line opens that account and nothing else
--                (a verified holding opens for a proof unless the line is dormant, and a
--                line used within the day is not: line_dormant_after is at least a day),
--                nothing is promoted, refused or to be touched, and no second proof is
--                asked;
--   refresh      the account already lists the chatbot among its sources and as its last
--                channel (refreshed_customer would change nothing);
--   count        the call is counted against the line, as apply_rate_limit does for a
--                verified identifier, and refused over the limit with the same error;
--   answer       account_answer, which every success answer is built with.
--
-- Anything else (another body, another caller, a line held less than verified, dormant or
-- stale, contested, pending anywhere, an account to refresh) returns null without reading
-- further or writing anything, and resolve_customer takes the general path, which applies
-- every rule. tests/sql/test_returning_line.py checks that both paths agree.

create function customer_management.answer_returning_line(request jsonb) returns jsonb
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    line text := request ->> 'phone';
    held record;
    calls integer;
begin
    -- In this order: an operator on the body's keys would raise for a body that is not an
    -- object, before parse_request says invalid_request.
    if not coalesce(case
        when jsonb_typeof(request) = 'object' and request ->> 'source' = 'chatbot'
            then request - '{phone,source}'::text [] = '{}'::jsonb
            and jsonb_typeof(request -> 'phone') = 'string'
            and char_length(line) <= 16
    end, false) or customer_management.normalize_phone(line) is distinct from line then
        return null;
    end if;

    select
        cu.id, cu.first_name, cu.last_name, cu.phone, cu.email, cu.allergies,
        cu.preferences -> 'account_sources' as account_sources,
        s.order_count, s.recent_orders,
        ci.strength = 'verified'
        and coalesce(ci.last_used_at, ci.verified_at) > now() - interval '1 day'
        and cu.merged_into is null
        and cu.preferences -> 'account_sources' @> '["chatbot"]'::jsonb
        and cu.preferences -> 'created_via' is not null
        and cu.preferences -> 'last_updated_via' = '"chatbot"'::jsonb
        and not exists (
            select 1 from customer_management.customer_identifiers as p
            where p.value = line and p.type = 'phone' and p.status = 'pending'
        ) as forced,
        (
            select st.rate_limit_per_identifier_per_minute from customer_management.settings as st
        ) as calls_per_minute
    into held
    from customer_management.customer_identifiers as ci
    inner join public.customers as cu on ci.customer_id = cu.id
    left join customer_management.order_summaries as s on cu.id = s.customer_id
    where ci.value = line and ci.type = 'phone' and ci.status = 'active';
    if not coalesce(held.forced, false) then
        return null;
    end if;

    insert into customer_management.rate_limit_counters as r (bucket, window_start, calls)
    values ('identifier:phone:' || line, date_trunc('minute', now()), 1)
    on conflict (bucket, window_start) do update set calls = r.calls + 1
    returning r.calls into calls;
    if calls > held.calls_per_minute then
        perform customer_management.raise_error(
            'rate_limited',
            format('Too many requests: at most %s per minute.', held.calls_per_minute),
            format(
                'Retry after %s seconds.',
                greatest(1, ceil(extract(
                    epoch from date_trunc('minute', now()) + interval '1 minute' - now()
                )))
            ),
            'PT429'
        );
    end if;
    return customer_management.account_answer(
        held.id, held.first_name, held.last_name, held.phone, held.email, held.allergies,
        held.account_sources, false, held.order_count, held.recent_orders, null,
        '[]'::jsonb, '[]'::jsonb
    );
end;
$$;

comment on function customer_management.answer_returning_line(jsonb) is
'The read path''s common case: the chatbot''s returning caller by the line alone, answered '
'from one read where every rule''s outcome is forced (a verified line used within the day, '
'one live holder, nothing pending, nothing to refresh); null otherwise, for the general path.';

revoke all on function customer_management.answer_returning_line(jsonb)
from public, anon, authenticated, service_role;

-- Entry point behind the RPC: reads the caller, answers the chatbot's returning caller from
-- one read when answer_returning_line can, else validates the body, checks a verification
-- code, applies the caller-proof rule and the rate limit, then answers. A returning
-- customer whose request adds nothing is answered from one read (no lock, no
-- subtransaction; a line's use is written at most once a day); a line that needs a second
-- proof is answered without a write; anything else takes the write path, where a lost race
-- (unique violation, deadlock, a concurrent merge) is retried and never reaches the caller.
create or replace function customer_management.resolve_customer(request jsonb) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    parsed customer_management.resolution_request;
    code_check text;
    code_verified text;
    claims customer_management.identifier_claim [];
    outcome customer_management.proof_outcome;
    customer public.customers;
    response jsonb;
    attempt integer := 0;
begin
    if caller.role = 'service_role' then
        response := customer_management.answer_returning_line(request);
        if response is not null then
            return response;
        end if;
    end if;
    parsed := customer_management.parse_request(request);
    if parsed.verification_id is not null then
        code_check := customer_management.check_verification(
            parsed.verification_id, parsed.verification_code, parsed
        );
        if code_check <> 'ok' then
            return customer_management.verification_failed(code_check);
        end if;
        select v.identifier_type into code_verified
        from customer_management.verifications as v
        where v.id = parsed.verification_id;
    end if;
    claims := customer_management.caller_proof(caller, parsed, code_verified);
    perform customer_management.apply_rate_limit(caller, claims);

    outcome := customer_management.identifier_strength_rule(caller, parsed, claims, code_verified);
    if outcome.second_proof then
        return customer_management.second_proof_required();
    end if;
    if outcome.complete then
        customer := outcome.account;
        if customer.merged_into is null
            and customer_management.refreshed_customer(customer, parsed) = customer then
            if cardinality(outcome.lines_to_touch) > 0 then
                update customer_management.customer_identifiers set last_used_at = now()
                where id = any(outcome.lines_to_touch);
            end if;
            return customer_management.success_response(
                customer, false, null, '[]'::jsonb, parsed.notices
            );
        end if;
    end if;

    loop
        attempt := attempt + 1;
        begin
            response := customer_management.resolve_claims(parsed, caller, claims, code_verified);
            exit;
        exception when unique_violation or deadlock_detected or serialization_failure then
            if attempt >= 3 then
                perform customer_management.raise_error(
                    'try_again', 'The account was being changed by another request.',
                    'Retry the request.', 'PT503'
                );
            end if;
        end;
    end loop;
    return response;
end;
$$;

comment on function customer_management.resolve_customer(jsonb) is
'Definer behind public.customer_management: caller, the returning line''s one-read answer, '
'validation, codes, proof, the identifier-strength rule, then the read path or the write '
'path with retry on races.';
