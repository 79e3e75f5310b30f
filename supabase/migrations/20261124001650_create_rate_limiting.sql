-- Rate limiting in SQL, so the limit holds however many proxies or Edge Function
-- instances run: per end user (auth.uid()) and, for the service role, per identifier
-- (a loop on one phone). Fixed one-minute windows; limits live in private.settings.

alter table private.settings
add column rate_limit_per_user_per_minute integer not null default 20
check (rate_limit_per_user_per_minute >= 1),
add column rate_limit_per_identifier_per_minute integer not null default 20
check (rate_limit_per_identifier_per_minute >= 1);

comment on column private.settings.rate_limit_per_user_per_minute is
'Calls per minute one signed-in end user may make to customer_management.';
comment on column private.settings.rate_limit_per_identifier_per_minute is
'Calls per minute the service role may make for one phone, email or auth user.';

-- Unlogged: a counter bump writes no WAL, so a returning customer's lookup (which
-- otherwise writes nothing) commits without waiting on a WAL flush. Counters are lost on
-- a crash, which only resets the current minute.
create unlogged table private.rate_limit_counters (
    bucket text primary key,
    window_started_at timestamptz not null,
    calls integer not null check (calls >= 1)
);

comment on table private.rate_limit_counters is
'Calls per bucket (user:<uid> or identifier:<type>:<value>) in the current one-minute window.';

alter table private.rate_limit_counters enable row level security;

-- Counts one call against each bucket; raises rate_limited (PT429, HTTP 429) with the
-- seconds to wait when a bucket is over its limit. Raising rolls the counts back.
create function private.enforce_rate_limit(buckets text[], calls_per_minute integer)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    bucket_key text;
    window_calls integer;
    window_start timestamptz;
    wait_seconds integer;
begin
    for bucket_key in select distinct b from unnest(buckets) as b order by 1 loop
        insert into private.rate_limit_counters as r (bucket, window_started_at, calls)
        values (bucket_key, now(), 1)
        on conflict (bucket) do update
        set window_started_at = case
                when r.window_started_at <= now() - interval '1 minute' then now()
                else r.window_started_at
            end,
            calls = case
                when r.window_started_at <= now() - interval '1 minute' then 1
                else r.calls + 1
            end
        returning r.calls, r.window_started_at into window_calls, window_start;

        if window_calls > calls_per_minute then
            wait_seconds := greatest(1, ceil(extract(
                epoch from window_start + interval '1 minute' - now()
            ))::integer);
            perform private.raise_error(
                'rate_limited',
                format('Too many requests: at most %s per minute.', calls_per_minute),
                format('Retry after %s seconds.', wait_seconds),
                'PT429'
            );
        end if;
    end loop;
end;
$$;

comment on function private.enforce_rate_limit(text[], integer) is
'Counts a call per bucket; raises rate_limited (PT429) with seconds to wait when over.';

-- The limit that applies to this caller and request. Administrator sessions (a DBA's
-- psql, imports) are not API traffic and are not limited.
create function private.apply_rate_limit(
    caller private.api_caller,
    claims private.identifier_claim[]
) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    limits private.settings;
begin
    select * into strict limits from private.settings;
    if caller.role = 'authenticated' then
        perform private.enforce_rate_limit(
            array['user:' || caller.uid::text], limits.rate_limit_per_user_per_minute
        );
    elsif caller.role = 'service_role' then
        perform private.enforce_rate_limit(
            (select array_agg('identifier:' || c.type || ':' || c.value) from unnest(claims) as c),
            limits.rate_limit_per_identifier_per_minute
        );
    end if;
end;
$$;

comment on function private.apply_rate_limit(private.api_caller, private.identifier_claim[]) is
'Per-user limit for end users, per-identifier limit for the service role.';

-- Removes windows that ended long ago; safe to run from pg_cron.
create function private.prune_rate_limit_counters() returns integer
language sql
volatile
set search_path = ''
as $$
    with pruned as (
        delete from private.rate_limit_counters
        where window_started_at < now() - interval '10 minutes'
        returning 1
    )
    select count(*)::integer from pruned
$$;

comment on function private.prune_rate_limit_counters() is
'Deletes rate-limit windows older than ten minutes; returns how many.';
