-- Free text about a person outlives no erasure. The words a caller or an agent gives as the
-- reason of a resolution or an undo (an escalation may hold "I am Zoe, my other number is
-- ...") are kept in customer_management.notes, sealed with the key of every person they
-- are about, and everything else (the conflict, the merge log, the undo log, the audit
-- trail) holds only a reference, 'note:<id>'. Erasing any of those people deletes the note
-- and the key. The reason given for an erasure is not stored at all. Reasons already stored
-- in clear by earlier releases are sealed the same way, once.

create table customer_management.notes (
    id bigint generated always as identity primary key,
    customer_ids uuid[] not null check (cardinality(customer_ids) >= 1),
    sealed bytea not null,
    created_at timestamptz not null default now()
);

comment on table customer_management.notes is
'Free text about people (reasons of resolutions and undos), sealed with the key of each '
'person it is about; other tables refer to a note as ''note:<id>''. Erasure deletes the '
'notes of the erased person.';

create index notes_customer_ids_idx on customer_management.notes using gin (customer_ids);

alter table customer_management.notes enable row level security;
revoke all on customer_management.notes from public, anon, authenticated, service_role;

-- Seals a text with the key of each person it is about, one layer per person (reading it
-- needs every key, so erasing any of them makes it unreadable), and returns the reference
-- to store instead of the text. Null, and nothing stored, for no text, when nobody is
-- named, or when one of the people named was erased (their key must never come back).
create function customer_management.keep_note(customer_ids uuid[], note text) returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    named uuid[] := array(
        select distinct x from unnest(customer_ids) as x where x is not null order by x
    );
    owners uuid[] := array(
        select c.id from public.customers as c where c.id = any(named) order by c.id
    );
    document jsonb := to_jsonb(note);
    sealed bytea;
    note_id bigint;
begin
    if note is null or cardinality(owners) = 0 or cardinality(owners) < cardinality(named) then
        return null;
    end if;
    for i in 1 .. cardinality(owners) loop
        sealed := customer_management.seal(owners[i], document);
        document := to_jsonb(encode(sealed, 'base64'));
    end loop;
    insert into customer_management.notes (customer_ids, sealed)
    values (owners, sealed)
    returning id into note_id;
    return 'note:' || note_id;
end;
$$;

comment on function customer_management.keep_note(uuid[], text) is
'Seals a free text with the key of each person it is about and returns the reference '
'''note:<id>'' to store instead of the text.';

revoke all on function customer_management.keep_note(uuid[], text)
from public, anon, authenticated, service_role;

-- The text behind a reference, or the value itself when it is not a reference (a kit code
-- such as mergeIfFound); null when the note is gone or a person it is about was erased.
-- With readers, only a note about none but them is read (a person's export never shows
-- words about someone else).
create function customer_management.read_note(reference text, readers uuid[] default null)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    note customer_management.notes;
    document jsonb;
begin
    if reference is null or reference !~ '^note:[0-9]{1,18}$' then
        return reference;
    end if;
    select * into note from customer_management.notes as n
    where n.id = substr(reference, 6)::bigint;
    if note.id is null or (readers is not null and not note.customer_ids <@ readers) then
        return null;
    end if;
    document := customer_management.unseal(
        note.customer_ids[cardinality(note.customer_ids)], note.sealed
    );
    for i in reverse cardinality(note.customer_ids) - 1 .. 1 loop
        exit when document is null;
        document := customer_management.unseal(
            note.customer_ids[i], decode(document #>> '{}', 'base64')
        );
    end loop;
    return document #>> '{}';
end;
$$;

comment on function customer_management.read_note(text, uuid[]) is
'The text a ''note:<id>'' reference stands for (null once a person it is about was erased, '
'or when readers are given and it is about someone else too); any other value as it is.';

revoke all on function customer_management.read_note(text, uuid[])
from public, anon, authenticated, service_role;

-- The state of a conflict as an answer shows it: the reason read from its note.
create or replace function customer_management.conflict_state(conflict_id uuid, unmasked boolean)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    conflict customer_management.customer_conflicts;
begin
    select * into strict conflict
    from customer_management.customer_conflicts as cc where cc.id = conflict_id;
    return jsonb_strip_nulls(jsonb_build_object(
        'id', conflict.id,
        'kind', conflict.kind,
        'status', conflict.status,
        'accounts', customer_management.conflict_accounts(conflict.customer_ids, unmasked),
        'identifierTypes', to_jsonb(conflict.identifier_types),
        'occurrences', conflict.occurrences,
        'createdAt', conflict.created_at,
        'lastSeenAt', conflict.last_seen_at,
        'resolvedAt', conflict.resolved_at,
        'resolvedBy', case when conflict.resolved_by_role is not null then jsonb_build_object(
            'role', conflict.resolved_by_role,
            'userId', case when unmasked then conflict.resolved_by_uid end
        ) end,
        'reason', case
            when unmasked then customer_management.read_note(conflict.resolution_reason)
        end
    ));
end;
$$;

create or replace function customer_management.resolve_conflict_for_caller(
    conflict_id uuid, action text, survivor_id uuid, reason text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    privileged boolean;
    conflict customer_management.customer_conflicts;
    source text;
    survivor uuid;
    merge_ids bigint[];
    signed_in customer_management.resolution_request;
    opened uuid[];
    customer public.customers;
    response jsonb;
    notices jsonb := '[]'::jsonb;
begin
    privileged := caller.trusted or customer_management.is_support_agent(caller);
    source := case when privileged then 'support' else 'webapp' end;
    if action is null or action not in ('merge', 'keep_separate', 'escalate') then
        perform customer_management.raise_error(
            'invalid_action', 'action must be merge, keep_separate or escalate.',
            'Send one of the three actions.'
        );
    end if;
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    if survivor_id is not null and action <> 'merge' then
        perform customer_management.raise_error(
            'invalid_survivor', 'survivor_id only goes with action merge.',
            'Leave survivor_id out for keep_separate and escalate.'
        );
    end if;

    -- Locks in the order every merge takes them: the accounts (in id order), then the
    -- conflict. Only the accounts of a conflict this caller may still resolve.
    if action <> 'escalate' then
        perform 1 from public.customers as c
        where c.id in (
            select unnest(cc.customer_ids)
            from customer_management.customer_conflicts as cc
            where
                cc.id = conflict_id
                and (
                    cc.status = 'open'
                    or (privileged and cc.status in ('escalated', 'kept_separate'))
                )
                and (privileged or caller.uid = any(cc.raised_by))
        )
        order by c.id
        for update;
    end if;
    select * into conflict
    from customer_management.customer_conflicts as cc
    where cc.id = conflict_id
    for update;
    -- An end user learns nothing about a conflict that is not theirs, not even whether
    -- it exists.
    if not privileged and (conflict.id is null or not caller.uid = any(conflict.raised_by)) then
        perform customer_management.raise_error(
            'forbidden', 'You may resolve only a conflict your own request raised.',
            'Contact support.', '42501'
        );
    end if;
    if conflict.id is null then
        perform customer_management.raise_error(
            'not_found', 'There is no conflict with this id.', 'Check conflict_id.', 'PT404'
        );
    end if;
    if not (
        conflict.status = 'open'
        or (privileged and conflict.status = 'escalated')
        or (privileged and conflict.status = 'kept_separate' and action = 'merge')
    ) then
        perform customer_management.raise_error(
            'conflict_closed',
            format('The conflict is %s.', replace(conflict.status, '_', ' ')),
            case when conflict.status = 'escalated' then 'Support is handling it.'
                else 'A request that still meets these accounts raises a new conflict.' end,
            'PT409'
        );
    end if;
    -- The reason is the caller's own words about these people: kept sealed with their keys.
    reason := customer_management.keep_note(conflict.customer_ids, reason);

    if action = 'escalate' then
        update customer_management.customer_conflicts as cc
        set status = 'escalated', resolved_at = now(), resolved_by_role = caller.role,
            resolved_by_uid = caller.uid, resolution_reason = reason
        where cc.id = conflict.id;
    else
        -- The accounts, locked above, are re-checked.
        if not customer_management.conflict_still_stands(conflict) then
            update customer_management.customer_conflicts as cc
            set status = 'outdated', resolved_at = now(), resolved_by_role = caller.role,
                resolved_by_uid = caller.uid,
                resolution_reason = 'accounts changed before ' || action
            where cc.id = conflict.id;
            notices := jsonb_build_array(jsonb_build_object(
                'code', 'conflict_outdated',
                'message', 'The accounts changed since this conflict was recorded; nothing '
                || 'was applied. A request that still meets them raises a new conflict.'
            ));
        elsif action = 'keep_separate' then
            update customer_management.customer_conflicts as cc
            set status = 'kept_separate', resolved_at = now(),
                resolved_by_role = caller.role, resolved_by_uid = caller.uid,
                resolution_reason = reason
            where cc.id = conflict.id;
        else
            if customer_management.choose_survivor(conflict.customer_ids) is null then
                perform customer_management.raise_error(
                    'merge_blocked',
                    'The accounts belong to different sign-in users and are never merged.',
                    'Keep them separate, or delete one of the logins first.', 'PT409'
                );
            end if;
            if not privileged then
                signed_in.source := 'webapp';
                opened := (customer_management.identifier_strength_rule(
                    caller, signed_in, customer_management.signed_in_claims(caller), null
                )).matched;
                if not conflict.customer_ids <@ opened then
                    perform customer_management.raise_error(
                        'forbidden',
                        'You may merge only accounts your sign-in, confirmed email or '
                        || 'confirmed phone opens.',
                        'Confirm the email or phone in your profile, or contact support.',
                        '42501'
                    );
                end if;
            end if;
            survivor := customer_management.live_customer_id(survivor_id);
            if survivor_id is not null
                and (survivor is null or not survivor = any(conflict.customer_ids)) then
                perform customer_management.raise_error(
                    'invalid_survivor', 'survivor_id is not one of the conflict''s accounts.',
                    'Pick the survivor among the conflict''s accounts.'
                );
            end if;
            if conflict.status = 'kept_separate' then
                -- Support overrides its earlier decision: the set may be merged now.
                update customer_management.customer_conflicts as cc
                set status = 'escalated'
                where cc.id = conflict.id;
            end if;
            merge_ids := customer_management.merge_opened_accounts(
                conflict.customer_ids, caller, source,
                coalesce(reason, 'resolve_conflict'), survivor, conflict.id
            );
            select m.survivor_id into survivor
            from customer_management.merge_log as m where m.id = merge_ids[1];
        end if;
    end if;

    perform customer_management.write_audit(
        'resolve', conflict.customer_ids[1], conflict.customer_ids[2], caller, source,
        jsonb_build_object(
            'conflict_id', conflict.id, 'action', action, 'reason', reason,
            'merge_log_ids', to_jsonb(coalesce(merge_ids, '{}'))
        )
    );

    response := jsonb_build_object(
        'conflict', customer_management.conflict_state(conflict.id, privileged),
        'mergeIds', to_jsonb(coalesce(merge_ids, '{}'))
    );
    if merge_ids is not null then
        select * into strict customer from public.customers as c where c.id = survivor;
        response := customer_management.success_response(
            customer, false, null, '[]'::jsonb, '[]'::jsonb
        ) || response;
    end if;
    if jsonb_array_length(notices) > 0 then
        response := response || jsonb_build_object('notices', notices);
    end if;
    return response;
end;
$$;

comment on function customer_management.resolve_conflict_for_caller(uuid, text, uuid, text) is
'Definer behind public.resolve_conflict: checks who may, re-checks the accounts, then '
'merges, keeps separate or escalates, and audits it.';

create or replace function customer_management.undo_merge_for_caller(
    requested_merge_id bigint, with_cascade boolean, reason text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    later bigint[];
    undone bigint[] := '{}'::bigint[];
    later_id bigint;
    accounts uuid[];
begin
    if not (caller.trusted or customer_management.is_support_agent(caller)) then
        perform customer_management.raise_error(
            'forbidden', 'Only the service role and support agents may undo merges.',
            'Contact support.', '42501'
        );
    end if;
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    -- One undo at a time: undos never race each other, only merges and erasures.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('merge_undo', 0));
    if not exists (
        select 1 from customer_management.merge_log as m where m.id = requested_merge_id
    ) then
        perform customer_management.raise_error(
            'not_found', 'There is no merge with this id.', 'Check merge_id.', 'PT404'
        );
    end if;
    if exists (
        select 1 from customer_management.merge_undos as u where u.merge_id = requested_merge_id
    ) then
        perform customer_management.raise_error(
            'merge_already_undone', format('Merge %s was already undone.', requested_merge_id),
            'Nothing to do.', 'PT409'
        );
    end if;
    -- The reason is about the merge's two people: kept sealed with their keys.
    reason := customer_management.keep_note(
        (
            select array[m.survivor_id, m.merged_id] from customer_management.merge_log as m
            where m.id = requested_merge_id
        ),
        reason
    );
    -- Lock every account of this merge and of the merges built on it, then look again: a
    -- merge on those accounts that committed while this one waited builds on it too. Then
    -- let go of those locks and start over, locking the whole list in id order (as merges
    -- lock), so two requests that both grew their lists never hold each other's rows; a
    -- deadlock with another request starts over the same way. Once the list read after
    -- locking is the list locked, no new merge can join it.
    for attempt in 1 .. 5 loop
        begin
            later := customer_management.merges_built_on(requested_merge_id);
            perform 1 from public.customers as c
            where c.id in (
                select unnest(array[m.survivor_id, m.merged_id])
                from customer_management.merge_log as m
                where m.id = requested_merge_id or m.id = any(later)
            )
            order by c.id
            for update;
            if customer_management.merges_built_on(requested_merge_id) <> later then
                raise exception using
                    errcode = '40001', message = 'merges built on this one meanwhile';
            end if;
            if cardinality(later) > 0 and not coalesce(with_cascade, false) then
                perform customer_management.raise_error(
                    'undo_blocked_by_later_merges',
                    format(
                        'Later merges build on merge %s: %s.',
                        requested_merge_id, array_to_string(later, ', ')
                    ),
                    'Undo them first, newest first, or call again with cascade => true.',
                    'PT409'
                );
            end if;
            undone := '{}'::bigint[];
            foreach later_id in array later loop
                perform customer_management.undo_one_merge(
                    later_id, caller, reason, requested_merge_id
                );
                undone := undone || later_id;
            end loop;
            perform customer_management.undo_one_merge(requested_merge_id, caller, reason, null);
            undone := undone || requested_merge_id;
            exit;
        exception when serialization_failure or deadlock_detected then
            -- This attempt's locks and undos are rolled back with it; look again.
            undone := null;
        end;
    end loop;
    if undone is null then
        perform customer_management.raise_error(
            'try_again', 'The merge''s accounts were being changed by other requests.',
            'Retry the request.', 'PT503'
        );
    end if;

    select array_agg(distinct x) into accounts
    from customer_management.merge_log as m
    cross join lateral unnest(array[m.survivor_id, m.merged_id]) as x
    where m.id = any(undone);
    return jsonb_build_object(
        'undoneMergeIds', to_jsonb(undone),
        'accounts', (
            select jsonb_agg(
                customer_management.success_response(
                    c, false, null, '[]'::jsonb, '[]'::jsonb
                ) -> 'customer'
                order by c.created_at, c.id
            )
            from public.customers as c where c.id = any(accounts)
        )
    );
end;
$$;

comment on function customer_management.undo_merge_for_caller(bigint, boolean, text) is
'Definer behind public.undo_merge: service role or support only; refuses or cascades over '
'later merges built on this one.';

create or replace function customer_management.erase_customer_for_caller(
    customer_id uuid, reason text
)
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
        -- The reason given is checked but not stored: the person leaves no words behind.
        'erasure_request'
    );
end;
$$;

comment on function customer_management.erase_customer_for_caller(uuid, text) is
'Definer behind public.erase_customer: an end user their own account, the service role '
'anyone''s; the reason given is not stored.';

-- Erases a person whose accounts (ids) the caller has locked; returns what went.
create or replace function customer_management.erase_locked_person(
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

    -- Their notes go, and their key: what is sealed with it anywhere is unreadable for good.
    delete from customer_management.notes as n where n.customer_ids && ids;
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
'Deletes a person''s accounts, identifiers, claims, codes, counters, notes and key; unlinks '
'their orders; audits with keyed hashes only; emits erased.';


-- Reasons earlier releases stored in clear: sealed once, under the accounts each row names.
-- The audit tables are append-only; this one rewrite runs with their guards paused.
alter table customer_management.audit_log disable trigger audit_log_append_only;
alter table customer_management.merge_log disable trigger merge_log_append_only;
alter table customer_management.merge_undos disable trigger merge_undos_append_only;

create temporary table kit_code_reasons (reason text primary key) on commit drop;
insert into kit_code_reasons (reason)
values
('mergeIfFound'), ('dedupe'), ('resolve_conflict'), ('undo_merge'), ('erasure request'),
('customer erased'), ('auth_user_deleted'), ('verified_owner'), ('import_hold_settled'),
('accounts changed before merge'), ('accounts changed before keep_separate'),
('contested'), ('opened_through_vouched_identifier'), ('erasure_request'), ('reason_not_kept');

update customer_management.merge_log as m
set
    reason = coalesce(
        customer_management.keep_note(array[m.survivor_id, m.merged_id], m.reason),
        'reason_not_kept'
    )
where m.reason not in (select k.reason from kit_code_reasons as k);

update customer_management.merge_undos as u
set
    reason = coalesce(
        customer_management.keep_note(array[m.survivor_id, m.merged_id], u.reason),
        'reason_not_kept'
    )
from customer_management.merge_log as m
where u.merge_id = m.id and u.reason not in (select k.reason from kit_code_reasons as k);

update customer_management.customer_conflicts as cc
set resolution_reason = customer_management.keep_note(cc.customer_ids, cc.resolution_reason)
where
    cc.resolution_reason not in (select k.reason from kit_code_reasons as k)
    and cc.resolution_reason !~ '^merge [0-9]+ undone$'
    and cc.resolution_reason !~ '^note:[0-9]+$';

update customer_management.audit_log as a
set
    details = a.details || jsonb_build_object(
        'reason', case
            when a.action = 'erasure' then to_jsonb('erasure_request'::text)
            else to_jsonb(customer_management.keep_note(
                array[a.customer_id, a.related_customer_id], a.details ->> 'reason'
            ))
        end
    )
where
    a.details ->> 'reason' is not null
    and a.details ->> 'reason' not in (select k.reason from kit_code_reasons as k)
    and a.details ->> 'reason' !~ '^note:[0-9]+$';

alter table customer_management.audit_log enable trigger audit_log_append_only;
alter table customer_management.merge_log enable trigger merge_log_append_only;
alter table customer_management.merge_undos enable trigger merge_undos_append_only;
