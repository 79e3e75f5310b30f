-- Maintenance expires only what nobody ever proved: pending claims (strength claimed) on
-- live accounts. A vouched or verified identifier set aside (a contested proof, a login's
-- deletion, an import held back for deduplication) and anything a merge left on its
-- tombstone stay, so every merge can be undone after any amount of maintenance.

create or replace function customer_management.run_maintenance() returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    settings customer_management.settings;
    pruned integer;
    counters_pruned bigint := 0;
    claims_expired bigint;
    verifications_deleted bigint;
    system_caller customer_management.api_caller := (session_user, null, true);
begin
    select * into strict settings from customer_management.settings;
    loop
        pruned := customer_management.prune_rate_limit_counters(10000);
        counters_pruned := counters_pruned + pruned;
        exit when pruned < 10000;
    end loop;

    -- Expired claims leave a trace per account: how many, of which types, as keyed hashes.
    with expired as (
        delete from customer_management.customer_identifiers as ci
        where ci.status = 'pending'
            and ci.strength = 'claimed'
            and ci.created_at < now() - settings.pending_identifier_retention
            -- An imported copy held back until deduplication is no claim: it ties
            -- duplicates together, and stays until dedupe settles it.
            and not exists (
                select 1 from customer_management.import_held_identifiers as h
                where h.identifier_id = ci.id
            )
            -- What a merge left on its tombstone is what undoing it restores.
            and exists (
                select 1 from public.customers as c
                where c.id = ci.customer_id and c.merged_into is null
            )
        returning ci.customer_id, ci.type, ci.value
    ),
    per_account as (
        insert into customer_management.audit_log (
            action, customer_id, actor_role, source, details
        )
        select
            'expire', e.customer_id, system_caller.role, 'maintenance',
            jsonb_build_object('expired_claims', jsonb_agg(jsonb_build_object(
                'type', e.type,
                'digest', customer_management.identifier_digest(e.type, e.value)
            )))
        from expired as e
        group by e.customer_id
        returning 1
    )
    select count(*) into claims_expired from expired;

    delete from customer_management.verifications as v
    where v.expires_at < now() - settings.verification_retention;
    get diagnostics verifications_deleted = row_count;

    return jsonb_build_object(
        'ranAt', now(),
        'rateLimitCountersPruned', counters_pruned,
        'pendingIdentifiersExpired', claims_expired,
        'verificationsDeleted', verifications_deleted
    );
end;
$$;

comment on function customer_management.run_maintenance() is
'Prunes past rate-limit minutes, expires unproven claims on live accounts and old '
'verification records; returns the counts. Scheduled by pg_cron where installed.';
