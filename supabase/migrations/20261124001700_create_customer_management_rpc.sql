-- The resolution itself and the public RPC PostgREST exposes.
--
-- Decision table: no account matches -> create one; one matches -> update it; several
-- match -> record a conflict and answer with the conflict shape, or, for a trusted
-- caller that sent mergeIfFound, merge them into one.

-- Raises serialization_failure when one of the accounts was merged away by a request
-- that committed after this one matched: resolve_customer then resolves again.
create function private.ensure_live_customers(customer_ids uuid[]) returns void
language plpgsql
stable
set search_path = ''
as $$
begin
    if exists (
        select 1 from public.customers as c
        where c.id = any(customer_ids) and c.merged_into is not null
    ) then
        raise exception using
            errcode = '40001',
            message = 'customer merged concurrently',
            detail = 'An account this request matched was merged by another request.';
    end if;
end;
$$;

comment on function private.ensure_live_customers(uuid[]) is
'Raises 40001 if an account was merged by a concurrent request, so the request is retried.';

-- Resolves one validated request under the identifier locks. Returns the response.
create function private.resolve_claims(
    request private.resolution_request,
    caller private.api_caller,
    claims private.identifier_claim[]
) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    matched uuid [];
    other_login_accounts uuid [];
    target_customer_id uuid;
    survivor_id uuid;
    merged_id uuid;
    open_conflict_id uuid;
    is_new boolean := false;
    sources_before jsonb;
    claim private.identifier_claim;
    released_id bigint;
    outcome text;
    changed text [];
    verification_required jsonb := '[]'::jsonb;
    notices jsonb := request.notices;
begin
    perform private.lock_identifiers(claims);

    -- An end user matches only identifiers whose ownership was established: an email
    -- someone typed into the chatbot does not hand its account to whoever confirms that
    -- address later (pre-account takeover).
    select coalesce(array_agg(distinct ci.customer_id), '{}') into matched
    from private.customer_identifiers as ci
    inner join unnest(claims) as c on c.type = ci.type and c.value = ci.value
    where ci.status = 'active' and c.proven
        and (caller.trusted or ci.verified_at is not null);

    -- An end user never lands in an account that belongs to another login, and the
    -- verified owner wins: an identifier the caller has proven (auth.users confirms it
    -- for them, so no other login can) is released by any other account that holds it,
    -- either merely asserted (an email typed into the chatbot) or tied to another login
    -- (a recycled phone number). That account keeps it as pending and loses it as
    -- primary contact. The caller's answer is the same as if nobody had held it.
    if not caller.trusted then
        select coalesce(array_agg(c.id), '{}') into other_login_accounts
        from public.customers as c
        where c.id = any(matched) and c.auth_user_id is distinct from caller.uid
            and c.auth_user_id is not null;
        select coalesce(array_agg(m), '{}') into matched
        from unnest(matched) as m
        where m <> all(other_login_accounts);

        for released_id in
            select ci.id
            from private.customer_identifiers as ci
            inner join unnest(claims) as c on c.type = ci.type and c.value = ci.value
            where c.proven and c.type <> 'auth_user' and ci.status = 'active'
                and ci.customer_id <> all(matched)
                and (ci.verified_at is null or ci.customer_id = any(other_login_accounts))
        loop
            perform private.release_identifier(
                released_id, caller, request.source, 'verified_owner'
            );
        end loop;
    end if;

    if cardinality(matched) = 0 then
        target_customer_id := private.create_customer(request, caller);
        is_new := true;
    elsif cardinality(matched) = 1 then
        target_customer_id := matched[1];
    elsif caller.trusted and request.merge_if_found then
        perform 1 from public.customers where id = any(matched) order by id for update;
        perform private.ensure_live_customers(matched);
        survivor_id := private.choose_survivor(matched);
        if survivor_id is null then
            notices := notices || jsonb_build_array(jsonb_build_object(
                'code', 'merge_blocked',
                'message', 'The accounts belong to different sign-in users; '
                || 'support must resolve this conflict.'
            ));
        else
            select cc.id into open_conflict_id
            from private.customer_conflicts as cc
            where cc.status = 'open'
                and cc.customer_ids = (select array_agg(x order by x) from unnest(matched) as x);
            for merged_id in
                select c.id from public.customers as c
                where c.id = any(matched) and c.id <> survivor_id
                order by c.created_at, c.id
            loop
                perform private.merge_customer(
                    survivor_id, merged_id, caller, request.source, 'mergeIfFound',
                    open_conflict_id
                );
            end loop;
            target_customer_id := survivor_id;
            notices := notices || jsonb_build_array(jsonb_build_object(
                'code', 'accounts_merged',
                'message', format('%s accounts were merged into this one.', cardinality(matched))
            ));
        end if;
    elsif request.merge_if_found then
        notices := notices || jsonb_build_array(jsonb_build_object(
            'code', 'merge_requires_service_role',
            'message', 'Only the service role may merge accounts; the conflict was recorded.'
        ));
    end if;

    if target_customer_id is null then
        return private.conflict_response(
            private.record_conflict(
                matched,
                (select array_agg(c.type) from unnest(claims) as c where c.proven),
                caller, request.source
            ),
            matched, caller, notices
        );
    end if;

    select c.preferences -> 'account_sources' into sources_before
    from public.customers as c where c.id = target_customer_id;

    for claim in
        select * from unnest(claims) as c
        order by array_position(array['auth_user', 'email', 'phone'], c.type)
    loop
        outcome := private.attach_identifier(target_customer_id, claim, request.source);
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
            perform private.write_audit(
                'link', target_customer_id, null, caller, request.source,
                jsonb_build_object('identifier_type', claim.type)
            );
        end if;
    end loop;

    changed := private.refresh_customer(target_customer_id, request);
    if not is_new and cardinality(changed) > 0 then
        perform private.write_audit(
            'update', target_customer_id, null, caller, request.source,
            jsonb_build_object('fields', to_jsonb(changed))
        );
    end if;
    -- Anything written above holds a lock that keeps a concurrent merge off this
    -- account until commit; one that committed first shows here, and we start over.
    perform private.ensure_live_customers(array[target_customer_id]);

    return private.success_response(
        target_customer_id,
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

comment on function private.resolve_claims(
    private.resolution_request, private.api_caller, private.identifier_claim[]
) is
'The decision table: create, update, merge or flag a conflict, under identifier locks.';

-- Entry point behind the RPC: reads the caller, validates the body, decides which
-- identifiers the caller has proven, applies the rate limit, then resolves. A lost race (unique violation or
-- deadlock) is retried; it never reaches the caller.
create function private.resolve_customer(request jsonb) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller private.api_caller := private.current_caller();
    parsed private.resolution_request := private.parse_request(request);
    claims private.identifier_claim [] := '{}'::private.identifier_claim [];
    auth_user auth.users;
    email_confirmed boolean;
    phone_confirmed boolean;
    attempt integer := 0;
    response jsonb;
begin
    if caller.trusted then
        if parsed.auth_user_id is not null then
            select * into auth_user from auth.users as u
            where u.id = parsed.auth_user_id and u.deleted_at is null;
            if auth_user.id is null then
                perform private.raise_error(
                    'unknown_auth_user', 'authUserId is not a user of this project.',
                    'Send user.id of an existing Supabase Auth user.'
                );
            end if;
        end if;
    else
        if parsed.auth_user_id is not null and parsed.auth_user_id <> caller.uid then
            perform private.raise_error(
                'forbidden', 'authUserId must be the signed-in user''s own id.',
                'Leave authUserId out, or send the id of the user whose token you use.', '42501'
            );
        end if;
        select * into auth_user from auth.users as u
        where u.id = caller.uid and u.deleted_at is null;
        if auth_user.id is null then
            perform private.raise_error(
                'not_authenticated', 'The signed-in user no longer exists.',
                'Sign in again.', 'PT401'
            );
        end if;
    end if;

    -- What the auth user (the caller, or the one a trusted caller names) has confirmed.
    email_confirmed := parsed.email is not null
        and auth_user.email_confirmed_at is not null
        and lower(btrim(auth_user.email)) = parsed.email
        and btrim(auth_user.email) !~ '[^[:ascii:]]';
    phone_confirmed := parsed.phone is not null
        and auth_user.phone_confirmed_at is not null
        and '+' || regexp_replace(auth_user.phone, '[^0-9]', '', 'g') = parsed.phone;

    if auth_user.id is not null then
        claims := claims || (
            'auth_user', auth_user.id::text, auth_user.id::text, true, true
        )::private.identifier_claim;
    end if;
    if parsed.email is not null then
        claims := claims || (
            'email', parsed.email, parsed.email_display,
            caller.trusted or email_confirmed, email_confirmed
        )::private.identifier_claim;
    end if;
    -- The chatbot's phone is the line it is talking to; a phone a backend merely passes
    -- on (source webapp) is asserted, not verified. A phone is displayed in E.164.
    if parsed.phone is not null then
        claims := claims || (
            'phone', parsed.phone, parsed.phone,
            caller.trusted or phone_confirmed,
            phone_confirmed or (caller.trusted and parsed.source = 'chatbot')
        )::private.identifier_claim;
    end if;

    if cardinality(claims) = 0 then
        perform private.raise_error(
            'missing_identifier', 'Send a phone, an email or an authUserId.',
            'Placeholder values such as chatbot_temp@temp.local do not count.'
        );
    end if;

    perform private.apply_rate_limit(caller, claims);

    loop
        attempt := attempt + 1;
        begin
            response := private.resolve_claims(parsed, caller, claims);
            exit;
        exception when unique_violation or deadlock_detected or serialization_failure then
            if attempt >= 3 then
                perform private.raise_error(
                    'try_again', 'The account was being changed by another request.',
                    'Retry the request.', 'PT503'
                );
            end if;
        end;
    end loop;
    return response;
end;
$$;

comment on function private.resolve_customer(jsonb) is
'Definer behind public.customer_management: caller, validation, proof, retry on races.';

revoke all on function private.resolve_customer(jsonb) from public;
grant execute on function private.resolve_customer(jsonb) to authenticated, service_role;

-- The RPC. A single unnamed jsonb parameter, so PostgREST passes the request body as it
-- is: supabase.rpc('customer_management', {...}) sends the contract's body unchanged.
create function public.customer_management(jsonb) returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
    select private.resolve_customer($1)
$$;

comment on function public.customer_management(jsonb) is
'Find, create, update or merge the customer for a phone / email / auth user. See README.';

revoke all on function public.customer_management(jsonb) from public, anon;
grant execute on function public.customer_management(jsonb) to authenticated, service_role;
