-- The resolution under the identifier-strength rule. Decision table, once the caller-proof
-- rule has said what the request proves and the identifier-strength rule which accounts
-- that opens:
--
--   outcome of the rule                  caller                      action
--   a second proof is required           the chatbot                 answer second_proof_required
--   no account opened                    anyone allowed              create one
--   one account opened                   anyone allowed              update it (a pure lookup
--                                                                    writes nothing)
--   several accounts opened              trusted, with mergeIfFound  merge them, then update
--   several accounts opened              otherwise                   record a conflict, answer it
--
-- Then, whenever the request has its account: identifiers held by accounts the rule refused
-- are set aside there and given to it, each refused account is recorded with it as a
-- contested-identifier conflict for support (the caller's answer is as if nobody had held
-- them), the proofs make the identifiers they reached verified, and an account opened only
-- through vouched identifiers has its never-verified ones demoted to claimed.

-- The answer when the chatbot's line reaches an account that holds it less than verified and
-- nothing else in the request opened an account: nothing personal, nothing created. It is
-- returned (with response.status 403, as PostgREST allows) rather than raised, so that the
-- call stays counted against the line's rate limit.
create function customer_management.second_proof_required() returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform pg_catalog.set_config('response.status', '403', true);
    return jsonb_build_object(
        'code', 'PT403',
        'message', 'second_proof_required',
        'details', 'This line is on an account that asks for a second proof before it is '
        || 'opened: an email or another phone of that account, confirmed with a code.',
        'hint', 'Ask the caller for the email on their account, send it a code with '
        || 'request_verification and call again with the email and the verification; or '
        || 'send "withoutSecondProof": true to serve the caller on an account of their own.'
    );
end;
$$;

comment on function customer_management.second_proof_required() is
'The second_proof_required error body, returned with response.status 403 so the call stays '
'counted: the line alone does not open the account it reached.';

revoke all on function customer_management.second_proof_required()
from public, anon, authenticated, service_role;

drop function customer_management.resolve_claims(
    customer_management.resolution_request,
    customer_management.api_caller,
    customer_management.identifier_claim[]
);

-- The write path: resolves one validated request under the identifier locks and returns
-- the response.
create function customer_management.resolve_claims(
    request customer_management.resolution_request,
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[],
    code_verified text
) returns jsonb
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    outcome customer_management.proof_outcome;
    demoted_ids bigint[];
    target_customer_id uuid;
    is_new boolean := false;
    sources_before jsonb;
    claim customer_management.identifier_claim;
    held_id bigint;
    refused_id uuid;
    attached text;
    changed text [] := '{}'::text [];
    customer public.customers;
    verification_required jsonb := '[]'::jsonb;
    notices jsonb := request.notices;
    merge_ids bigint[];
begin
    perform customer_management.lock_identifiers(claims);
    outcome := customer_management.identifier_strength_rule(caller, request, claims, code_verified);
    if outcome.second_proof then
        return customer_management.second_proof_required();
    end if;
    -- What a proof opening an account only through vouched identifiers demotes: read before
    -- any merge mixes that account's identifiers with another's.
    select coalesce(array_agg(ci.id order by ci.id), '{}') into demoted_ids
    from customer_management.customer_identifiers as ci
    where ci.customer_id = any(outcome.demoted_accounts)
        and ci.status = 'active' and ci.strength = 'vouched'
        and ci.id <> all(outcome.promoted);

    if cardinality(outcome.matched) = 1 then
        target_customer_id := outcome.matched[1];
    elsif cardinality(outcome.matched) > 1 and caller.trusted and request.merge_if_found then
        merge_ids := customer_management.merge_opened_accounts(
            outcome.matched, caller, request.source, 'mergeIfFound'
        );
        if merge_ids is not null then
            select m.survivor_id into target_customer_id
            from customer_management.merge_log as m where m.id = merge_ids[1];
        end if;
        notices := notices || jsonb_build_array(case
            when merge_ids is null and customer_management.kept_separate(outcome.matched)
                then jsonb_build_object(
                    'code', 'kept_separate',
                    'message', 'These accounts were judged to belong to different people; '
                    || 'only a conflict resolution can merge them.'
                )
            when merge_ids is null then jsonb_build_object(
                'code', 'merge_blocked',
                'message', 'The accounts belong to different sign-in users; '
                || 'support must resolve this conflict.'
            )
            else jsonb_build_object(
                'code', 'accounts_merged',
                'message', format(
                    '%s accounts were merged into this one.', cardinality(outcome.matched)
                ),
                'mergeIds', to_jsonb(merge_ids)
            )
        end);
    elsif cardinality(outcome.matched) > 1 and request.merge_if_found then
        notices := notices || jsonb_build_array(jsonb_build_object(
            'code', 'merge_requires_service_role',
            'message', 'Only the service role may merge accounts; the conflict was recorded.'
        ));
    end if;

    if cardinality(outcome.matched) > 1 and target_customer_id is null then
        return customer_management.conflict_response(
            customer_management.record_conflict(
                outcome.matched, claims, caller, request.source
            ),
            outcome.matched, caller, notices
        );
    end if;

    -- The request has its account: what refused accounts hold of its proofs is set aside
    -- there before this account takes it.
    foreach held_id in array outcome.refused_holdings loop
        perform customer_management.release_identifier(
            held_id, caller, request.source, 'contested'
        );
    end loop;

    if target_customer_id is null then
        target_customer_id := customer_management.create_customer(request, claims);
        is_new := true;
        select coalesce(jsonb_agg(
            jsonb_build_object('type', c.type, 'value', c.display_value)
            order by array_position(array['auth_user', 'email', 'phone'], c.type)
        ), '[]'::jsonb) into verification_required
        from unnest(claims) as c
        where not c.proven;
        perform customer_management.write_audit(
            'create', target_customer_id, null, caller, request.source,
            jsonb_build_object('identifiers', (
                select coalesce(jsonb_agg(jsonb_build_object(
                    'type', c.type,
                    'digest', customer_management.identifier_digest(c.type, c.value),
                    'status', case when c.proven then 'active' else 'pending' end
                )), '[]'::jsonb)
                from unnest(claims) as c
            ))
        );
    else
        select c.preferences -> 'account_sources' into sources_before
        from public.customers as c where c.id = target_customer_id;
        for claim in
            select * from unnest(claims) as c
            order by array_position(array['auth_user', 'email', 'phone'], c.type)
        loop
            attached := customer_management.attach_identifier(
                target_customer_id, claim, request.source
            );
            if attached = 'pending' then
                verification_required := verification_required || jsonb_build_array(
                    jsonb_build_object('type', claim.type, 'value', claim.display_value)
                );
            elsif attached = 'limit_reached' then
                notices := notices || jsonb_build_array(jsonb_build_object(
                    'code', 'identifier_limit_reached', 'field', claim.type,
                    'message', format(
                        'This account already holds the most %s identifiers allowed; '
                        || 'the new one was not added.', claim.type
                    )
                ));
            elsif attached = 'attached' then
                perform customer_management.write_audit(
                    'link', target_customer_id, null, caller, request.source,
                    jsonb_build_object(
                        'identifier_type', claim.type,
                        'identifier', customer_management.identifier_digest(
                            claim.type, claim.value
                        )
                    )
                );
            end if;
        end loop;
        if cardinality(demoted_ids) > 0 then
            update customer_management.customer_identifiers as ci
            set strength = 'claimed'
            where ci.id = any(demoted_ids) and ci.status = 'active' and ci.strength = 'vouched';
            perform customer_management.write_audit(
                'update', target_customer_id, null, caller, request.source,
                jsonb_build_object(
                    'demoted_identifiers', customer_management.identifier_digests(demoted_ids),
                    'reason', 'opened_through_vouched_identifier'
                )
            );
        end if;
        changed := customer_management.refresh_customer(target_customer_id, request);
        if cardinality(changed) > 0 then
            perform customer_management.write_audit(
                'update', target_customer_id, null, caller, request.source,
                jsonb_build_object('fields', to_jsonb(changed))
            );
        end if;
    end if;

    -- Each refused account, with the account the request has, is a conflict for support.
    foreach refused_id in array outcome.refused loop
        perform customer_management.record_conflict(
            array[refused_id, target_customer_id], claims, caller, request.source,
            'contested_identifier',
            array(
                select ci.id from customer_management.customer_identifiers as ci
                where ci.id = any(outcome.refused_holdings) and ci.customer_id = refused_id
                union
                select ci.id
                from customer_management.customer_identifiers as ci
                inner join customer_management.customer_identifiers as r
                    on ci.value = r.value and ci.type = r.type
                where r.id = any(outcome.refused_holdings) and r.customer_id = refused_id
                    and ci.customer_id = target_customer_id
            )
        );
    end loop;

    -- Anything written above holds a lock that keeps a concurrent merge or erasure off
    -- this account until commit; one that committed first, even after the row was read,
    -- shows in the check after the read, and we start over.
    select * into customer from public.customers where id = target_customer_id;
    perform customer_management.ensure_live_customers(array[target_customer_id]);
    return customer_management.success_response(
        customer,
        is_new,
        case
            when not is_new and not coalesce(sources_before, '[]'::jsonb) ? request.source
                then request.source
        end,
        verification_required,
        notices
    );
end;
$$;

comment on function customer_management.resolve_claims(
    customer_management.resolution_request,
    customer_management.api_caller,
    customer_management.identifier_claim[],
    text
) is
'The write path of the decision table: create, update, merge or flag a conflict under '
'identifier locks; sets aside and records what refused accounts held; promotes and demotes.';

revoke all on function customer_management.resolve_claims(
    customer_management.resolution_request,
    customer_management.api_caller,
    customer_management.identifier_claim[],
    text
) from public, anon, authenticated, service_role;

-- Entry point behind the RPC: reads the caller, validates the body, checks a verification
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
    parsed customer_management.resolution_request
        := customer_management.parse_request(request);
    code_check text;
    code_verified text;
    claims customer_management.identifier_claim [];
    outcome customer_management.proof_outcome;
    customer public.customers;
    response jsonb;
    attempt integer := 0;
begin
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
'Definer behind public.customer_management: caller, validation, codes, proof, the '
'identifier-strength rule, then the read path or the write path with retry on races.';
