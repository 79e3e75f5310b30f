-- The resolution itself and the public RPC PostgREST exposes.
--
-- Decision table, once the caller-proof and verified-owner rules have said which accounts
-- the request opens:
--
--   accounts opened   caller                        action
--   none              anyone allowed                create one
--   one               anyone allowed                update it (a pure lookup writes nothing)
--   several           trusted, with mergeIfFound    merge them, then update the survivor
--   several           otherwise                     record a conflict, answer with it

-- Raises serialization_failure when one of the accounts was merged away or erased by a
-- request that committed after this one matched: resolve_customer then resolves again.
create function customer_management.ensure_live_customers(customer_ids uuid[]) returns void
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    if exists (
        select 1 from public.customers as c
        where c.id = any(customer_ids) and c.merged_into is not null
    ) or exists (
        select 1 from unnest(customer_ids) as x (id)
        where not exists (select 1 from public.customers as c where c.id = x.id)
    ) then
        raise exception using
            errcode = '40001',
            message = 'customer merged concurrently',
            detail = 'An account this request matched was merged or erased by another request.';
    end if;
end;
$$;

comment on function customer_management.ensure_live_customers(uuid[]) is
'Raises 40001 if an account was merged by a concurrent request, so the request is retried.';

revoke all on function customer_management.ensure_live_customers(uuid[])
from public, anon, authenticated, service_role;

-- Merges accounts into one survivor: the one asked for, else the one the fixed rule picks
-- (the auth-linked account, else the oldest). Returns the merge-log ids, or null when two
-- of them belong to different logins (never merged) or were kept separate. Raises
-- serialization_failure when one was merged away or erased meanwhile (the caller starts
-- over).
create function customer_management.merge_opened_accounts(
    opened uuid[],
    caller customer_management.api_caller,
    source text,
    reason text,
    requested_survivor uuid default null,
    conflict_id uuid default null
) returns bigint[]
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    survivor_id uuid;
    merged_id uuid;
    open_conflict_id uuid := conflict_id;
    merge_ids bigint[] := '{}'::bigint[];
begin
    perform 1 from public.customers where id = any(opened) order by id for update;
    perform customer_management.ensure_live_customers(opened);
    survivor_id := customer_management.choose_survivor(opened);
    if survivor_id is null or customer_management.kept_separate(opened) then
        return null;
    end if;
    survivor_id := coalesce(requested_survivor, survivor_id);
    if open_conflict_id is null then
        select cc.id into open_conflict_id
        from customer_management.customer_conflicts as cc
        where cc.status in ('open', 'escalated')
            and cc.customer_ids = (select array_agg(x order by x) from unnest(opened) as x);
    end if;
    for merged_id in
        select c.id from public.customers as c
        where c.id = any(opened) and c.id <> survivor_id
        order by c.created_at, c.id
    loop
        merge_ids := merge_ids || customer_management.merge_customer(
            survivor_id, merged_id, caller, source, reason, open_conflict_id
        );
    end loop;
    return merge_ids;
end;
$$;

comment on function customer_management.merge_opened_accounts(
    uuid[], customer_management.api_caller, text, text, uuid, uuid
) is
'Merges accounts into the requested or rule-chosen survivor; returns the merge ids, or null '
'if two logins own them or they were kept separate.';

revoke all on function customer_management.merge_opened_accounts(
    uuid[], customer_management.api_caller, text, text, uuid, uuid
) from public, anon, authenticated, service_role;

-- The write path: resolves one validated request under the identifier locks and returns
-- the response.
create function customer_management.resolve_claims(
    request customer_management.resolution_request,
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[]
) returns jsonb
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    owners customer_management.identifier_owners;
    target_customer_id uuid;
    is_new boolean := false;
    sources_before jsonb;
    claim customer_management.identifier_claim;
    released_id bigint;
    outcome text;
    changed text [] := '{}'::text [];
    customer public.customers;
    verification_required jsonb := '[]'::jsonb;
    notices jsonb := request.notices;
    held customer_management.identifier_claim[] := '{}'::customer_management.identifier_claim[];
    merge_ids bigint[];
begin
    perform customer_management.lock_identifiers(claims);
    owners := customer_management.verified_owner_wins(caller, claims);
    foreach released_id in array owners.released loop
        perform customer_management.release_identifier(
            released_id, caller, request.source, 'verified_owner'
        );
    end loop;

    if cardinality(owners.matched) = 0 then
        target_customer_id := customer_management.create_customer(request, claims);
        is_new := true;
    elsif cardinality(owners.matched) = 1 then
        target_customer_id := owners.matched[1];
    elsif caller.trusted and request.merge_if_found then
        merge_ids := customer_management.merge_opened_accounts(
            owners.matched, caller, request.source, 'mergeIfFound'
        );
        if merge_ids is not null then
            select m.survivor_id into target_customer_id
            from customer_management.merge_log as m where m.id = merge_ids[1];
        end if;
        notices := notices || jsonb_build_array(case
            when merge_ids is null and customer_management.kept_separate(owners.matched)
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
                    '%s accounts were merged into this one.', cardinality(owners.matched)
                ),
                'mergeIds', to_jsonb(merge_ids)
            )
        end);
    elsif request.merge_if_found then
        notices := notices || jsonb_build_array(jsonb_build_object(
            'code', 'merge_requires_service_role',
            'message', 'Only the service role may merge accounts; the conflict was recorded.'
        ));
    end if;

    if target_customer_id is null then
        return customer_management.conflict_response(
            customer_management.record_conflict(
                owners.matched, claims, caller, request.source
            ),
            owners.matched, caller, notices
        );
    end if;

    select c.preferences -> 'account_sources' into sources_before
    from public.customers as c where c.id = target_customer_id;

    for claim in
        select * from unnest(claims) as c
        order by array_position(array['auth_user', 'email', 'phone'], c.type)
    loop
        outcome := customer_management.attach_identifier(
            target_customer_id, claim, request.source
        );
        if outcome in ('present', 'attached') then
            held := held || claim;
        end if;
        if outcome = 'pending' then
            verification_required := verification_required || jsonb_build_array(
                jsonb_build_object('type', claim.type, 'value', claim.display_value)
            );
        elsif outcome = 'limit_reached' then
            notices := notices || jsonb_build_array(jsonb_build_object(
                'code', 'identifier_limit_reached', 'field', claim.type,
                'message', format('This account already holds the most %s identifiers allowed; '
                    || 'the new one was not added.', claim.type)
            ));
        elsif outcome = 'attached' and not is_new then
            perform customer_management.write_audit(
                'link', target_customer_id, null, caller, request.source,
                jsonb_build_object(
                    'identifier_type', claim.type,
                    'identifier', customer_management.identifier_digest(claim.type, claim.value)
                )
            );
        end if;
    end loop;
    if is_new then
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
    end if;

    -- A new account was written complete; an existing one gets what the request adds.
    if not is_new then
        changed := customer_management.refresh_customer(target_customer_id, request, held);
    end if;
    if cardinality(changed) > 0 then
        perform customer_management.write_audit(
            'update', target_customer_id, null, caller, request.source,
            jsonb_build_object('fields', to_jsonb(changed))
        );
    end if;
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
    customer_management.identifier_claim[]
) is
'The write path of the decision table: create, update, merge or flag a conflict, under '
'identifier locks.';

revoke all on function customer_management.resolve_claims(
    customer_management.resolution_request,
    customer_management.api_caller,
    customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;

-- A failed verification is answered, not raised: the wrong attempt it records must be
-- committed (enough of them burn the code), so the error body is returned with
-- response.status 400, which PostgREST (and the kit's proxy) send as the HTTP status.
-- Nothing else of the request has been written at that point.
create function customer_management.verification_failed(reason text) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform pg_catalog.set_config('response.status', '400', true);
    return jsonb_build_object(
        'code', 'P0001',
        'message', 'invalid_verification',
        'details', case reason
            when 'wrong' then 'The code is wrong.'
            when 'mismatch' then 'The code was sent to another phone or email.'
            when 'expired' then 'The code has expired.'
            when 'used' then 'The code has already been used.'
            when 'burned' then 'Too many wrong codes: this verification can no longer be used.'
            else 'There is no such verification.'
        end,
        'hint', case
            when reason in ('wrong', 'mismatch') then 'Ask the customer to read the code again.'
            else 'Request a new code with request_verification.'
        end
    );
end;
$$;

comment on function customer_management.verification_failed(text) is
'The invalid_verification error body, returned with response.status 400 so the failed '
'attempt it follows stays recorded.';

revoke all on function customer_management.verification_failed(text)
from public, anon, authenticated, service_role;

-- Entry point behind the RPC: reads the caller, validates the body, checks a verification
-- code, applies the caller-proof rule and the rate limit, then answers. A returning
-- customer whose request adds nothing is answered from one read (no lock, no
-- subtransaction; a line's use is written at most once a day); anything else takes the
-- write path, where a lost race (unique violation, deadlock, a concurrent merge) is
-- retried and never reaches the caller.
create function customer_management.resolve_customer(request jsonb) returns jsonb
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
    owners customer_management.identifier_owners;
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

    owners := customer_management.verified_owner_wins(caller, claims);
    if owners.complete and cardinality(owners.released) = 0 then
        customer := owners.account;
        if customer.merged_into is null
            and customer_management.refreshed_customer(customer, parsed, claims) = customer then
            if cardinality(owners.lines_to_touch) > 0 then
                update customer_management.customer_identifiers set last_used_at = now()
                where id = any(owners.lines_to_touch);
            end if;
            return customer_management.success_response(
                customer, false, null, '[]'::jsonb, parsed.notices
            );
        end if;
    end if;

    loop
        attempt := attempt + 1;
        begin
            response := customer_management.resolve_claims(parsed, caller, claims);
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
'Definer behind public.customer_management: caller, validation, codes, proof, then the read '
'path or the write path with retry on races.';

revoke all on function customer_management.resolve_customer(jsonb)
from public, anon, authenticated, service_role;
grant execute on function customer_management.resolve_customer(jsonb)
to authenticated, service_role;

-- The RPC. A single unnamed jsonb parameter, so PostgREST passes the request body as it
-- is: supabase.rpc('customer_management', {...}) sends the contract's body unchanged.
-- PL/pgSQL rather than SQL: PostgreSQL 15 plans a SQL function's body at every call.
create function public.customer_management(jsonb) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.resolve_customer($1);
end;
$$;

comment on function public.customer_management(jsonb) is
'Find, create, update or merge the customer for a phone / email / auth user. See README.';

revoke all on function public.customer_management(jsonb) from public, anon;
grant execute on function public.customer_management(jsonb) to authenticated, service_role;
