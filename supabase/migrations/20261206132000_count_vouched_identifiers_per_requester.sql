-- The service role's per-identifier limit counted every proven identifier, so a web
-- backend that forwards what its users type let one user spend another's allowance: type
-- her email twenty times a minute and her own requests were refused. Only verified
-- identifiers (the chatbot's line, a code, the user a backend names, an address that
-- user's login confirmed) are counted per identifier now: spending that allowance takes
-- the proof. Identifiers the backend only vouches for are counted against the backend's
-- requester, named in the X-Customer-Requester header (PostgREST hands request headers to
-- the database in request.headers), or against the user the request names (authUserId,
-- already counted as a verified identifier). A backend that names neither spends nobody's
-- allowance with what it vouches for: the kit cannot tell its users apart.

alter table customer_management.settings
add column rate_limit_per_requester_per_minute integer not null default 20
check (rate_limit_per_requester_per_minute >= 1);

comment on column customer_management.settings.rate_limit_per_identifier_per_minute is
'Calls per minute the service role may make for one verified phone, email or auth user (the '
'chatbot''s line, a code, the user a backend names).';
comment on column customer_management.settings.rate_limit_per_requester_per_minute is
'Calls per minute the service role may make with vouched (unverified) identifiers for one '
'requester named in the X-Customer-Requester header.';

-- Counts the call against the caller's buckets: the end user's own; for the service role
-- each verified identifier of the request, and the requester its backend names when the
-- request vouches for anything. Claims spend nobody's allowance. Raises rate_limited
-- (PT429, HTTP 429) with the seconds to the next minute when a bucket is over its limit;
-- raising rolls the counts back. Administrator sessions (a DBA's psql, imports) are not API
-- traffic and are not limited.
create or replace function customer_management.apply_rate_limit(
    caller customer_management.api_caller,
    claims customer_management.identifier_claim[]
) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    claim customer_management.identifier_claim;
    buckets text [] := '{}'::text [];
    bucket_limits integer [] := '{}'::integer [];
    vouched boolean := false;
    requester text;
    per_identifier integer;
    per_requester integer;
    calls integer;
    current_minute timestamptz := date_trunc('minute', now());
begin
    if caller.role = 'authenticated' then
        buckets := array['user:' || caller.uid::text];
        select array[s.rate_limit_per_user_per_minute] into bucket_limits
        from customer_management.settings as s;
    elsif caller.role = 'service_role' then
        select s.rate_limit_per_identifier_per_minute, s.rate_limit_per_requester_per_minute
        into per_identifier, per_requester
        from customer_management.settings as s;
        -- Claims come sorted by type (auth_user, email, phone) and the requester comes last,
        -- so buckets are bumped in the same order by every request: no deadlock.
        foreach claim in array claims loop
            if claim.proven and claim.verified then
                buckets := buckets || ('identifier:' || claim.type || ':' || claim.value);
                bucket_limits := bucket_limits || per_identifier;
            elsif claim.proven then
                vouched := true;
            end if;
        end loop;
        if vouched then
            requester := nullif(btrim(
                nullif(current_setting('request.headers', true), '')::jsonb
                ->> 'x-customer-requester'
            ), '');
            if requester is not null then
                buckets := buckets || (
                    'requester:' || customer_management.identifier_digest('requester', requester)
                );
                bucket_limits := bucket_limits || per_requester;
            end if;
        end if;
    end if;
    for bucket_number in 1 .. coalesce(cardinality(buckets), 0) loop
        insert into customer_management.rate_limit_counters as r (bucket, window_start, calls)
        values (buckets[bucket_number], current_minute, 1)
        on conflict (bucket, window_start) do update set calls = r.calls + 1
        returning r.calls into calls;
        if calls > bucket_limits[bucket_number] then
            perform customer_management.raise_error(
                'rate_limited',
                format('Too many requests: at most %s per minute.', bucket_limits[bucket_number]),
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
'Per-user limit for end users; for the service role per verified identifier, and per '
'requester (X-Customer-Requester) for vouched ones; raises rate_limited (PT429) when over.';

comment on table customer_management.rate_limit_counters is
'Calls per bucket (user:<uid>, identifier:<type>:<value> or requester:<keyed hash of the '
'X-Customer-Requester header>) and clock minute; past minutes are pruned by '
'prune_rate_limit_counters.';
