-- Rate limiting in SQL, so the limit holds however many proxies or Edge Function
-- instances run: per end user (auth.uid()) and, for the service role, per proven
-- identifier (a loop on one phone). Calls are counted in clock minutes; limits live in
-- customer_management.settings.

-- Unlogged: a counter bump writes no WAL, so a returning customer's lookup (which
-- otherwise writes nothing) commits without waiting on a WAL flush. Counters are lost on
-- a crash, which only resets the current minute. One row per bucket and minute: a past
-- minute's row is never touched again, so pruning it never waits for a request, nor a
-- request for pruning.
create unlogged table customer_management.rate_limit_counters (
    bucket text not null,
    window_start timestamptz not null,
    calls integer not null check (calls >= 1),
    primary key (bucket, window_start)
);

comment on table customer_management.rate_limit_counters is
'Calls per bucket (user:<uid> or identifier:<type>:<value>) and clock minute; past minutes '
'are pruned by prune_rate_limit_counters.';

alter table customer_management.rate_limit_counters enable row level security;
revoke all on customer_management.rate_limit_counters
from public, anon, authenticated, service_role;

-- Counts the call against the caller's buckets in one statement: the end user's own, or
-- for the service role each identifier the request proves (claims spend nobody's
-- allowance). Raises rate_limited (PT429, HTTP 429) with the seconds to the next minute
-- when a bucket is over its limit; raising rolls the counts back. Administrator sessions
-- (a DBA's psql, imports) are not API traffic and are not limited.
create function customer_management.apply_rate_limit(
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[]
) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    claim customer_management.identifier_claim;
    buckets text[] := '{}'::text[];
    bucket_key text;
    calls integer;
    calls_per_minute integer;
    current_minute timestamptz := date_trunc('minute', now());
begin
    if caller.role = 'authenticated' then
        select s.rate_limit_per_user_per_minute into calls_per_minute
        from customer_management.settings as s;
        buckets := array['user:' || caller.uid::text];
    elsif caller.role = 'service_role' then
        select s.rate_limit_per_identifier_per_minute into calls_per_minute
        from customer_management.settings as s;
        -- Claims come sorted by type (auth_user, email, phone), so buckets are bumped in
        -- the same order by every request: two requests cannot deadlock.
        foreach claim in array claims loop
            if claim.proven then
                buckets := buckets || ('identifier:' || claim.type || ':' || claim.value);
            end if;
        end loop;
    end if;
    foreach bucket_key in array buckets loop
        insert into customer_management.rate_limit_counters as r (bucket, window_start, calls)
        values (bucket_key, current_minute, 1)
        on conflict (bucket, window_start) do update set calls = r.calls + 1
        returning r.calls into calls;
        if calls > calls_per_minute then
            perform customer_management.raise_error(
                'rate_limited',
                format('Too many requests: at most %s per minute.', calls_per_minute),
                format(
                    'Retry after %s seconds.',
                    greatest(1, ceil(extract(
                        epoch from current_minute + interval '1 minute' - now()
                    )))
                ),
                'PT429'
            );
        end if;
    end loop;
end;
$$;

comment on function customer_management.apply_rate_limit(
    customer_management.api_caller, customer_management.identifier_claim[]
) is
'Per-user limit for end users, per-proven-identifier limit for the service role; raises '
'rate_limited (PT429) with the seconds to wait when over.';

revoke all on function customer_management.apply_rate_limit(
    customer_management.api_caller, customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;

-- Removes counters of minutes that have passed, at most batch_size at a time. They are
-- never touched again by requests, so this takes no lock a request could wait for. (It
-- scans the table: an index on window_start would cost every request an insertion.)
-- Maintenance calls it on a schedule; returns how many rows went.
create function customer_management.prune_rate_limit_counters(batch_size integer default 10000)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    pruned integer;
begin
    delete from customer_management.rate_limit_counters as r
    where r.ctid = any(array(
        select p.ctid from customer_management.rate_limit_counters as p
        where p.window_start < date_trunc('minute', now())
        limit batch_size
    ));
    get diagnostics pruned = row_count;
    return pruned;
end;
$$;

comment on function customer_management.prune_rate_limit_counters(integer) is
'Deletes up to batch_size counters of past minutes (never waits on a request); returns how '
'many.';

revoke all on function customer_management.prune_rate_limit_counters(integer)
from public, anon, authenticated, service_role;
