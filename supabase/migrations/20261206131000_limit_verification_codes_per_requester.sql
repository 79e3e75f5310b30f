-- Verification codes limited so that nobody can spend someone else's allowance.
--
-- Until now one phone or email got five codes an hour whoever asked, so a stranger who
-- said a victim's email twice on the phone locked the owner out of codes for an hour, and
-- five codes of five tries each gave 25 guesses an hour. Now:
--
-- * the service role names who asks (request_verification's requester_line,
--   requester_user_id, requester_session, or the X-Customer-Requester header), and each
--   named requester gets verification_codes_per_requester_per_hour codes, whatever the
--   identifiers;
-- * the owner's own proven channel is counted apart from everyone else: a line held
--   verified (and in use) by an account that holds the identifier, or a signed-in user
--   whose login confirmed it or whose account holds it. Strangers together get
--   verification_codes_per_identifier_per_hour codes for one identifier, and so does its
--   owner's channel, so a flood of strangers never locks the owner out;
-- * wrong codes are capped per identifier and day (verification_guesses_per_identifier_per_day),
--   again for the owner's channel and for everyone else apart: once strangers reached the
--   cap, their codes for that identifier are refused until the day has passed.

alter table customer_management.settings
add column verification_codes_per_requester_per_hour integer not null default 5
check (verification_codes_per_requester_per_hour >= 1),
add column verification_guesses_per_identifier_per_day integer not null default 10
check (verification_guesses_per_identifier_per_day between 1 and 100);

comment on column customer_management.settings.verification_codes_per_identifier_per_hour is
'Verification codes one phone or email may be sent per hour at the request of strangers; '
'its owner''s own proven channel has as many again, counted apart.';
comment on column customer_management.settings.verification_codes_per_requester_per_hour is
'Verification codes one named requester (a line, a signed-in user, a session) may ask for '
'per hour, for any identifiers.';
comment on column customer_management.settings.verification_guesses_per_identifier_per_day is
'Wrong codes one phone or email may receive in a day, counted apart for codes its owner''s '
'channel asked for and codes anyone else asked for; past it that side''s codes are refused.';

alter table customer_management.verifications
add column requesters text[] not null default '{}',
add column owner_channel boolean not null default false;

comment on column customer_management.verifications.requesters is
'Who asked for the code, as keyed hashes (identifier_digest of line / user / session and '
'the value): what the per-requester limit counts. Empty when the caller named nobody.';
comment on column customer_management.verifications.owner_channel is
'True when the identifier''s own proven channel asked (its account''s verified line, or the '
'login that confirmed it): such codes are counted and capped apart from strangers'' codes.';

create index verifications_requesters_idx
on customer_management.verifications using gin (requesters);

-- Whether a requester is the identifier's owner's own proven channel: a line the account
-- holding the identifier holds verified and has used within settings.line_dormant_after
-- (numbers are recycled), or a signed-in user whose login confirmed the identifier (as
-- the caller-proof rule reads auth.users) or whose account holds it. A session proves
-- nothing and is never the owner.
create function customer_management.verification_owner_channel(
    identifier_type text, identifier_value text, requester_line text, requester_user_id uuid
) returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
    dormant_after interval;
begin
    if requester_line is not null then
        select s.line_dormant_after into strict dormant_after
        from customer_management.settings as s;
        if exists (
            select 1
            from customer_management.customer_identifiers as line
            inner join customer_management.customer_identifiers as held
                on line.customer_id = held.customer_id
            where
                line.value = requester_line and line.type = 'phone'
                and line.status = 'active' and line.verified_at is not null
                and coalesce(line.last_used_at, line.verified_at) > now() - dormant_after
                and held.value = identifier_value
                and held.type = verification_owner_channel.identifier_type
                and held.status = 'active'
        ) then
            return true;
        end if;
    end if;
    if requester_user_id is not null then
        if exists (
            select 1 from auth.users as u
            where
                u.id = requester_user_id and u.deleted_at is null
                and (u.banned_until is null or u.banned_until <= now())
                and case verification_owner_channel.identifier_type
                    when 'email' then
                        u.email_confirmed_at is not null
                        and lower(btrim(u.email)) = identifier_value
                    else
                        u.phone_confirmed_at is not null
                        and '+' || regexp_replace(u.phone, '[^0-9]', '', 'g') = identifier_value
                end
        ) or exists (
            select 1
            from customer_management.customer_identifiers as login
            inner join customer_management.customer_identifiers as held
                on login.customer_id = held.customer_id
            where
                login.value = requester_user_id::text and login.type = 'auth_user'
                and login.status = 'active'
                and held.value = identifier_value
                and held.type = verification_owner_channel.identifier_type
                and held.status = 'active'
        ) then
            return true;
        end if;
    end if;
    return false;
end;
$$;

comment on function customer_management.verification_owner_channel(text, text, text, uuid) is
'True when a code requester is the identifier''s owner''s proven channel: its account''s '
'verified line in use, or the login that confirmed it or whose account holds it.';

revoke all on function customer_management.verification_owner_channel(text, text, text, uuid)
from public, anon, authenticated, service_role;

-- Wrong codes one identifier received today on one side (its owner's channel or everyone
-- else), and the seconds until the oldest of them is a day old.
create function customer_management.verification_guesses_today(
    identifier_type text, identifier_value text, owner_channel boolean,
    out guesses integer, out retry_after integer
)
language plpgsql
stable
set search_path = ''
as $$
begin
    select
        coalesce(sum(v.failed_attempts), 0)::integer,
        greatest(1, ceil(extract(epoch from
            min(v.created_at) filter (where v.failed_attempts > 0) + interval '1 day' - now()
        )))::integer
    into guesses, retry_after
    from customer_management.verifications as v
    where
        v.identifier_value = verification_guesses_today.identifier_value
        and v.identifier_type = verification_guesses_today.identifier_type
        and v.owner_channel = verification_guesses_today.owner_channel
        and v.created_at > now() - interval '1 day';
end;
$$;

comment on function customer_management.verification_guesses_today(text, text, boolean) is
'Wrong codes an identifier received in the last day on one side (owner''s channel or not), '
'and the seconds until the oldest counted one is a day old.';

revoke all on function customer_management.verification_guesses_today(text, text, boolean)
from public, anon, authenticated, service_role;

drop function public.request_verification(text, text);
drop function customer_management.issue_verification(text, text);

-- Issues a six-digit code for a phone or email. Service role only: the backend delivers
-- the code and must be trusted not to read it to the wrong person, and it names who asks.
create function customer_management.issue_verification(
    identifier_type text,
    identifier_value text,
    requester_line text,
    requester_user_id uuid,
    requester_session text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    limits customer_management.settings;
    normalised text;
    line text;
    session_key text := coalesce(
        requester_session,
        nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-customer-requester'
    );
    requester_keys text [] := '{}'::text [];
    from_owner boolean;
    sent_last_hour integer;
    first_of_hour timestamptz;
    guesses integer;
    guesses_retry integer;
    verification_id uuid := gen_random_uuid();
    code text;
    expires_at timestamptz;
begin
    if not caller.trusted then
        perform customer_management.raise_error(
            'forbidden', 'Only the service role may request verification codes.',
            'Request the code from your backend, which delivers it to the customer.', '42501'
        );
    end if;
    if identifier_type is null or identifier_type not in ('email', 'phone') then
        perform customer_management.raise_error(
            'invalid_request', 'identifier_type must be "email" or "phone".',
            'Send identifier_type and identifier_value.'
        );
    end if;
    normalised := case identifier_type
        when 'email' then customer_management.normalize_email(left(identifier_value, 320))
        else customer_management.normalize_phone(left(identifier_value, 64))
    end;
    if normalised is null then
        perform customer_management.raise_error(
            'invalid_' || identifier_type, 'A placeholder cannot be verified.',
            'Send the customer''s real ' || identifier_type || '.'
        );
    end if;

    if requester_line is not null then
        begin
            line := customer_management.normalize_phone(left(requester_line, 64));
        exception when raise_exception then
            line := null;
        end;
        if line is null then
            perform customer_management.raise_error(
                'invalid_requester', 'requester_line must be the caller''s phone line.',
                'Send the line the call comes from in E.164 form, for example +15551234567.'
            );
        end if;
        requester_keys := requester_keys || customer_management.identifier_digest('line', line);
    end if;
    if requester_user_id is not null then
        requester_keys := requester_keys
            || customer_management.identifier_digest('user', requester_user_id::text);
    end if;
    if session_key is not null then
        if btrim(session_key) = '' or char_length(session_key) > 200 then
            perform customer_management.raise_error(
                'invalid_requester', 'requester_session must be 1 to 200 characters.',
                'Send an id of the session or visitor the request is for.'
            );
        end if;
        requester_keys := requester_keys
            || customer_management.identifier_digest('session', session_key);
    end if;

    select * into strict limits from customer_management.settings;
    -- One request at a time per identifier, so the counts are exact.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
        'verification:' || identifier_type || ':' || normalised, 0
    ));
    from_owner := customer_management.verification_owner_channel(
        identifier_type, normalised, line, requester_user_id
    );

    if cardinality(requester_keys) > 0 then
        select count(*), min(v.created_at) into sent_last_hour, first_of_hour
        from customer_management.verifications as v
        where v.requesters && requester_keys and v.created_at > now() - interval '1 hour';
        if sent_last_hour >= limits.verification_codes_per_requester_per_hour then
            perform customer_management.raise_error(
                'rate_limited',
                format(
                    'At most %s codes per hour for one requester.',
                    limits.verification_codes_per_requester_per_hour
                ),
                format(
                    'Retry after %s seconds.',
                    greatest(1, ceil(extract(epoch from first_of_hour + interval '1 hour' - now())))
                ),
                'PT429'
            );
        end if;
    end if;

    select count(*), min(v.created_at) into sent_last_hour, first_of_hour
    from customer_management.verifications as v
    where
        v.identifier_value = normalised and v.identifier_type = issue_verification.identifier_type
        and v.owner_channel = from_owner
        and v.created_at > now() - interval '1 hour';
    if sent_last_hour >= limits.verification_codes_per_identifier_per_hour then
        perform customer_management.raise_error(
            'rate_limited',
            format(
                'At most %s codes per hour for one %s.',
                limits.verification_codes_per_identifier_per_hour, identifier_type
            ),
            format(
                'Retry after %s seconds.',
                greatest(1, ceil(extract(epoch from first_of_hour + interval '1 hour' - now())))
            ),
            'PT429'
        );
    end if;

    select g.guesses, g.retry_after into guesses, guesses_retry
    from customer_management.verification_guesses_today(
        identifier_type, normalised, from_owner
    ) as g;
    if guesses >= limits.verification_guesses_per_identifier_per_day then
        perform customer_management.raise_error(
            'rate_limited',
            format(
                'At most %s wrong codes per day for one %s.',
                limits.verification_guesses_per_identifier_per_day, identifier_type
            ),
            format('Retry after %s seconds.', guesses_retry),
            'PT429'
        );
    end if;

    -- 32 random bits from the server's strong random source, as six digits.
    code := lpad((
        ('x' || left(replace(gen_random_uuid()::text, '-', ''), 8))::bit(32)::bigint % 1000000
    )::text, 6, '0');
    expires_at := now() + limits.verification_code_ttl;
    insert into customer_management.verifications (
        id, identifier_type, identifier_value, code_hash, expires_at, actor_role, requesters,
        owner_channel
    ) values (
        verification_id, identifier_type, normalised,
        customer_management.verification_code_hash(verification_id, code), expires_at,
        caller.role, requester_keys, from_owner
    );
    return jsonb_build_object(
        'verificationId', verification_id, 'code', code, 'expiresAt', expires_at
    );
end;
$$;

comment on function customer_management.issue_verification(text, text, text, uuid, text) is
'Definer behind public.request_verification: a six-digit code for a phone or email, within '
'the limits per requester, per identifier (owner''s channel apart) and wrong codes per day.';

revoke all on function customer_management.issue_verification(text, text, text, uuid, text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.issue_verification(text, text, text, uuid, text)
to authenticated, service_role;

-- The RPC: supabase.rpc('request_verification', {identifier_type, identifier_value}) as
-- before, plus who asks: requester_line (the chatbot's caller), requester_user_id (the
-- signed-in user a backend acts for), requester_session (any other session or visitor;
-- the X-Customer-Requester header when absent).
create function public.request_verification(
    identifier_type text,
    identifier_value text,
    requester_line text default null,
    requester_user_id uuid default null,
    requester_session text default null
) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.issue_verification(
        identifier_type, identifier_value, requester_line, requester_user_id, requester_session
    );
end;
$$;

comment on function public.request_verification(text, text, text, uuid, text) is
'Service role: a six-digit code (verificationId, code, expiresAt) to deliver to a phone or '
'email; a customer_management request carrying it has that identifier proven. Name who asks '
'(requester_line, requester_user_id or requester_session) so strangers cannot spend the '
'owner''s codes.';

revoke all on function public.request_verification(text, text, text, uuid, text)
from public, anon;
grant execute on function public.request_verification(text, text, text, uuid, text)
to authenticated, service_role;

-- Checks the code a request carries against its verification and the request's own email
-- or phone. Returns 'ok' (and marks the code used) or why not: 'unknown', 'burned',
-- 'used', 'expired', 'mismatch' (a code for another identifier), 'wrong', or
-- 'guess_limit:<seconds>' when the identifier received its day's wrong codes on the
-- verification's side (then even a right code is refused). A wrong or mismatched code
-- counts against the verification and the day; enough of them burn it. The caller
-- answers a failure with a returned error body, so the count is committed while nothing
-- else is written.
create or replace function customer_management.check_verification(
    verification_id uuid, code text, request customer_management.resolution_request
) returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    verification customer_management.verifications;
    max_attempts integer;
    guesses_per_day integer;
    guesses integer;
    guesses_retry integer;
begin
    select * into verification from customer_management.verifications as v
    where v.id = verification_id
    for update;
    if verification.id is null then
        return 'unknown';
    end if;
    select s.verification_max_attempts, s.verification_guesses_per_identifier_per_day
    into strict max_attempts, guesses_per_day
    from customer_management.settings as s;
    if verification.failed_attempts >= max_attempts then
        return 'burned';
    elsif verification.consumed_at is not null then
        return 'used';
    elsif verification.expires_at <= now() then
        return 'expired';
    end if;

    -- The day's count is exact: checks and issues for one identifier run one at a time.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
        'verification:' || verification.identifier_type || ':' || verification.identifier_value,
        0
    ));
    select g.guesses, g.retry_after into guesses, guesses_retry
    from customer_management.verification_guesses_today(
        verification.identifier_type, verification.identifier_value, verification.owner_channel
    ) as g;
    if guesses >= guesses_per_day then
        return 'guess_limit:' || guesses_retry;
    end if;

    if verification.code_hash
        is distinct from customer_management.verification_code_hash(verification.id, code)
        or verification.identifier_value is distinct from (
            case verification.identifier_type when 'email' then request.email else request.phone end
        ) then
        update customer_management.verifications
        set failed_attempts = failed_attempts + 1
        where id = verification.id;
        if verification.failed_attempts + 1 >= max_attempts then
            return 'burned';
        end if;
        if verification.code_hash
            = customer_management.verification_code_hash(verification.id, code) then
            return 'mismatch';
        end if;
        return 'wrong';
    end if;

    update customer_management.verifications set consumed_at = now()
    where id = verification.id;
    return 'ok';
end;
$$;

comment on function customer_management.check_verification(
    uuid, text, customer_management.resolution_request
) is
'Checks and uses up a verification code for the request''s email or phone; counts wrong ones '
'per code and per identifier and day.';

-- A failed verification is answered, not raised: the wrong attempt it records must be
-- committed (enough of them burn the code), so the error body is returned with
-- response.status, which PostgREST (and the kit's proxy) send as the HTTP status: 400
-- invalid_verification, or 429 rate_limited once the identifier received its day's wrong
-- codes. Nothing else of the request has been written at that point.
create or replace function customer_management.verification_failed(reason text) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    if reason like 'guess\_limit:%' then
        perform pg_catalog.set_config('response.status', '429', true);
        return jsonb_build_object(
            'code', 'PT429',
            'message', 'rate_limited',
            'details', 'Too many wrong codes for this phone or email today.',
            'hint', format('Retry after %s seconds.', substr(reason, 13))
        );
    end if;
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
'The invalid_verification error body (or rate_limited past the day''s wrong codes), returned '
'with response.status so the failed attempt it follows stays recorded.';
