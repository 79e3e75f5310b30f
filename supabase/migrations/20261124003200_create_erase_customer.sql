-- Erasure on request (GDPR Art. 17): the only way the kit deletes a person's data, and it
-- is logged. Gone: the profile and every tombstone merged into it, their identifiers, the
-- pending claims of their identifiers held on other accounts, their verification records
-- and rate-limit counters, and the key that sealed their merge-log before-images (so those
-- stay in the append-only log, unreadable: crypto-shredding). Kept: their orders, for
-- accounting, with no customer; the merge log (still undoable for everyone else); the
-- audit trail, which names identifiers only by keyed hash, so it can be checked against a
-- phone or email someone presents later. An erased phone or email can create a fresh
-- account afterwards.

-- Erases a person whose accounts (ids) the caller has locked; returns what went.
create function customer_management.erase_locked_person(
    person_id uuid,
    ids uuid[],
    caller customer_management.api_caller,
    source text,
    reason text
) returns jsonb
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    own_types text[];
    own_values text[];
    user_buckets text[];
    digests jsonb;
    erased_identifiers integer;
    orders_kept integer;
begin
    -- Their identifiers: every row on their accounts; the values that are theirs (active),
    -- whose claims elsewhere, codes and counters go too.
    select
        coalesce(array_agg(ci.type) filter (where ci.status = 'active'), '{}'),
        coalesce(array_agg(ci.value) filter (where ci.status = 'active'), '{}'),
        coalesce(array_agg('user:' || ci.value) filter (where ci.type = 'auth_user'), '{}'),
        coalesce(jsonb_agg(jsonb_build_object(
            'type', ci.type,
            'digest', customer_management.identifier_digest(ci.type, ci.value),
            'status', ci.status
        ) order by ci.id), '[]'::jsonb)
    into own_types, own_values, user_buckets, digests
    from customer_management.customer_identifiers as ci
    where ci.customer_id = any(ids);

    delete from customer_management.customer_identifiers as ci
    where ci.customer_id = any(ids)
        or (ci.status = 'pending' and (ci.value, ci.type) in (
            select o.value, o.type from unnest(own_types, own_values) as o (type, value)
        ));
    get diagnostics erased_identifiers = row_count;
    delete from customer_management.verifications as v
    where (v.identifier_value, v.identifier_type) in (
        select o.value, o.type from unnest(own_types, own_values) as o (type, value)
    );
    delete from customer_management.rate_limit_counters as r
    where r.bucket = any(user_buckets)
        or r.bucket in (
            select 'identifier:' || o.type || ':' || o.value
            from unnest(own_types, own_values) as o (type, value)
        );

    update public.orders as o
    set customer_id = null, customer_erased_at = now()
    where o.customer_id = any(ids);
    get diagnostics orders_kept = row_count;

    update customer_management.customer_conflicts as cc
    set status = 'outdated', resolved_at = now(), resolved_by_role = caller.role,
        resolved_by_uid = caller.uid, resolution_reason = 'customer erased'
    where cc.status in ('open', 'escalated') and cc.customer_ids && ids;

    delete from customer_management.customer_keys as k where k.customer_id = any(ids);
    delete from public.customers as c where c.id = any(ids);

    perform customer_management.write_audit(
        'erasure', person_id, null, caller, source,
        jsonb_build_object(
            'reason', reason,
            'accounts', to_jsonb(ids),
            'identifiers', digests,
            'orders_kept', orders_kept
        )
    );
    perform customer_management.emit_event('erased', ids);
    return jsonb_build_object(
        'erased', true,
        'customerIds', to_jsonb(ids),
        'identifiersErased', erased_identifiers,
        'ordersKept', orders_kept
    );
end;
$$;

comment on function customer_management.erase_locked_person(
    uuid, uuid[], customer_management.api_caller, text, text
) is
'Deletes a person''s accounts, identifiers, claims, codes, counters and key; unlinks their '
'orders; audits with keyed hashes only; emits erased.';

revoke all on function customer_management.erase_locked_person(
    uuid, uuid[], customer_management.api_caller, text, text
) from public, anon, authenticated, service_role;

-- Erases the person an account belongs to (followed through merges); returns what went.
-- Each attempt follows account_id to its live account, lists that person's accounts, locks
-- them in id order (as merges lock), then looks again: when a merge, an undo or an erasure
-- of the same person committed while it waited, the attempt is rolled back (its locks go
-- with it) and the next one starts over from account_id, so two requests that both grew
-- their lists never hold each other's rows; a deadlock with another request starts over
-- the same way. An erasure that committed meanwhile leaves nothing to erase: not_found.
create function customer_management.erase_person(
    account_id uuid,
    caller customer_management.api_caller,
    source text,
    reason text
) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    person_id uuid;
    followed uuid;
    ids uuid[];
    erased jsonb;
begin
    for attempt in 1 .. 5 loop
        begin
            person_id := customer_management.live_customer_id(account_id);
            ids := customer_management.person_accounts(person_id);
            perform 1 from public.customers as c where c.id = any(ids) order by c.id for update;
            followed := customer_management.live_customer_id(account_id);
            if followed is null then
                perform customer_management.raise_error(
                    'not_found', 'There is no customer with this id.', 'Check customer_id.',
                    'PT404'
                );
            end if;
            if followed <> person_id or customer_management.person_accounts(person_id) <> ids then
                raise exception using
                    errcode = '40001', message = 'person changed while this request waited';
            end if;
            erased := customer_management.erase_locked_person(
                person_id, ids, caller, source, reason
            );
            exit;
        exception when serialization_failure or deadlock_detected then
            -- This attempt's locks are released with it; look again.
            null;
        end;
    end loop;
    if erased is null then
        perform customer_management.raise_error(
            'try_again', 'The person was being changed by other requests.',
            'Retry the request.', 'PT503'
        );
    end if;
    return erased;
end;
$$;

comment on function customer_management.erase_person(
    uuid, customer_management.api_caller, text, text
) is
'Locks a person''s accounts (looking again until the list is stable) and erases them; '
'not_found when they were erased meanwhile.';

revoke all on function customer_management.erase_person(
    uuid, customer_management.api_caller, text, text
) from public, anon, authenticated, service_role;

create function customer_management.erase_customer_for_caller(customer_id uuid, reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    target uuid;
begin
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    target := customer_management.target_customer(customer_id, caller.trusted);
    -- The service role erases the person of the id it names, followed at each attempt (a
    -- concurrent undo may split it from the account it was merged into); an end user only
    -- their own live account.
    return customer_management.erase_person(
        case when caller.trusted then customer_id else target end,
        caller,
        case when caller.trusted then 'support' else 'webapp' end,
        coalesce(reason, 'erasure request')
    );
end;
$$;

comment on function customer_management.erase_customer_for_caller(uuid, text) is
'Definer behind public.erase_customer: an end user their own account, the service role '
'anyone''s.';

revoke all on function customer_management.erase_customer_for_caller(uuid, text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.erase_customer_for_caller(uuid, text)
to authenticated, service_role;

create function public.erase_customer(customer_id uuid default null, reason text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.erase_customer_for_caller(customer_id, reason);
end;
$$;

comment on function public.erase_customer(uuid, text) is
'Erase a person (GDPR erasure): an end user their own account, the service role anyone''s. '
'Orders stay without a customer. See docs/lifecycle.md.';

revoke all on function public.erase_customer(uuid, text) from public, anon;
grant execute on function public.erase_customer(uuid, text) to authenticated, service_role;
