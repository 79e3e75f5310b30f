-- Rate limiting in SQL, so the limit holds however many proxies or Edge Function
-- instances run: per end user (auth.uid()) and, for the service role, per identifier
-- (a loop on one phone). Fixed one-minute windows; limits live in customer_management.settings.

-- Unlogged: a counter bump writes no WAL, so a returning customer's lookup (which
-- otherwise writes nothing) commits without waiting on a WAL flush. Counters are lost on
-- a crash, which only resets the current minute.
create unlogged table customer_management.rate_limit_counters (
    bucket text primary key,
    window_started_at timestamptz not null,
    calls integer not null check (calls >= 1)
);

comment on table customer_management.rate_limit_counters is
'Calls per bucket (user:<uid> or identifier:<type>:<value>) in the current one-minute window.';

alter table customer_management.rate_limit_counters enable row level security;
revoke all on customer_management.rate_limit_counters
from public, anon, authenticated, service_role;

-- Counts one call against each bucket in one statement; raises rate_limited (PT429, HTTP
-- 429) with the seconds to wait when a bucket is over its limit. Raising rolls the counts
-- back. Buckets are bumped in sorted order so two requests cannot deadlock.
create function customer_management.enforce_rate_limit(buckets text[], calls_per_minute integer)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    wait_seconds integer;
begin
    with bumped as (
        insert into customer_management.rate_limit_counters as r (bucket, window_started_at, calls)
        select distinct b, now(), 1 from unnest(buckets) as b order by 1
        on conflict (bucket) do update
        set window_started_at = case
                when r.window_started_at <= now() - interval '1 minute' then now()
                else r.window_started_at
            end,
            calls = case
                when r.window_started_at <= now() - interval '1 minute' then 1
                else r.calls + 1
            end
        returning r.calls, r.window_started_at
    )
    select ceil(extract(epoch from max(b.window_started_at) + interval '1 minute' - now()))
    into wait_seconds
    from bumped as b
    where b.calls > calls_per_minute;

    if wait_seconds is not null then
        perform customer_management.raise_error(
            'rate_limited',
            format('Too many requests: at most %s per minute.', calls_per_minute),
            format('Retry after %s seconds.', greatest(1, wait_seconds)),
            'PT429'
        );
    end if;
end;
$$;

comment on function customer_management.enforce_rate_limit(text[], integer) is
'Counts a call per bucket; raises rate_limited (PT429) with seconds to wait when over.';

revoke all on function customer_management.enforce_rate_limit(text[], integer)
from public, anon, authenticated, service_role;

-- The limit that applies to this caller and request. Administrator sessions (a DBA's
-- psql, imports) are not API traffic and are not limited.
create function customer_management.apply_rate_limit(
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[]
) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    limits customer_management.settings;
begin
    select * into strict limits from customer_management.settings;
    if caller.role = 'authenticated' then
        perform customer_management.enforce_rate_limit(
            array['user:' || caller.uid::text], limits.rate_limit_per_user_per_minute
        );
    elsif caller.role = 'service_role' then
        perform customer_management.enforce_rate_limit(
            (
                select array_agg('identifier:' || c.type || ':' || c.value)
                from unnest(claims) as c where c.proven
            ),
            limits.rate_limit_per_identifier_per_minute
        );
    end if;
end;
$$;

comment on function customer_management.apply_rate_limit(customer_management.api_caller, customer_management.identifier_claim[]) is
'Per-user limit for end users, per-identifier limit for the service role.';

revoke all on function customer_management.apply_rate_limit(
    customer_management.api_caller, customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;

-- Removes windows that ended long ago; safe to run from pg_cron.
create function customer_management.prune_rate_limit_counters() returns integer
language sql
volatile
set search_path = ''
as $$
    with pruned as (
        delete from customer_management.rate_limit_counters
        where window_started_at < now() - interval '10 minutes'
        returning 1
    )
    select count(*)::integer from pruned
$$;

comment on function customer_management.prune_rate_limit_counters() is
'Deletes rate-limit windows older than ten minutes; returns how many.';

revoke all on function customer_management.prune_rate_limit_counters()
from public, anon, authenticated, service_role;
