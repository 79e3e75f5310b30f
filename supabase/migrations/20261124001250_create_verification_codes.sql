-- Verification codes: how a caller proves an identifier they only said. The service role
-- asks for a code for a phone or email (request_verification) and delivers it out of band
-- (email, SMS); the caller reads it back, and a customer_management request that carries
-- {"verification": {"id", "code"}} has that identifier proven for that request. The kit
-- keeps only a keyed hash of each code.

-- Keys the kit generates for itself at install and never shows: read by kit functions only.
create table customer_management.secrets (
    name text primary key,
    value bytea not null check (octet_length(value) >= 32),
    created_at timestamptz not null default now()
);

comment on table customer_management.secrets is
'Keys generated at install for keyed hashes (verification codes); never leave the database.';

alter table customer_management.secrets enable row level security;
revoke all on customer_management.secrets from public, anon, authenticated, service_role;

insert into customer_management.secrets (name, value)
values (
    'verification_code_key',
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex')
);

create table customer_management.verifications (
    id uuid primary key default gen_random_uuid(),
    identifier_type text not null check (identifier_type in ('phone', 'email')),
    identifier_value text not null check (identifier_value <> ''),
    code_hash bytea not null,
    expires_at timestamptz not null,
    failed_attempts integer not null default 0 check (failed_attempts >= 0),
    consumed_at timestamptz,
    actor_role text not null,
    created_at timestamptz not null default now()
);

comment on table customer_management.verifications is
'One row per code sent: the normalised identifier it proves, a keyed hash of the code, '
'expiry, wrong attempts (too many burn it) and when it was used.';

create index verifications_identifier_created_at_idx
on customer_management.verifications (identifier_value, identifier_type, created_at);

alter table customer_management.verifications enable row level security;
revoke all on customer_management.verifications from public, anon, authenticated, service_role;

-- The stored form of a code: SHA-256 of the verification id, the code and the install's key.
create function customer_management.verification_code_hash(verification_id uuid, code text)
returns bytea
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select pg_catalog.sha256(
            pg_catalog.convert_to(verification_id::text || ':' || code, 'UTF8') || s.value
        )
        from customer_management.secrets as s
        where s.name = 'verification_code_key'
    );
end;
$$;

comment on function customer_management.verification_code_hash(uuid, text) is
'Keyed hash of a verification code; the code itself is never stored.';

revoke all on function customer_management.verification_code_hash(uuid, text)
from public, anon, authenticated, service_role;

-- Issues a six-digit code for a phone or email. Service role only: the backend delivers
-- the code and must be trusted not to read it to the wrong person. Codes per identifier
-- are rate-limited, so nobody can flood a person with them.
create function customer_management.issue_verification(identifier_type text, identifier_value text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    limits customer_management.settings;
    normalised text;
    sent_last_hour integer;
    first_of_hour timestamptz;
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

    select * into strict limits from customer_management.settings;
    -- One request at a time per identifier, so the hourly count is exact.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
        'verification:' || identifier_type || ':' || normalised, 0
    ));
    select count(*), min(v.created_at) into sent_last_hour, first_of_hour
    from customer_management.verifications as v
    where
        v.identifier_value = normalised and v.identifier_type = issue_verification.identifier_type
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

    -- 32 random bits from the server's strong random source, as six digits.
    code := lpad((
        ('x' || left(replace(gen_random_uuid()::text, '-', ''), 8))::bit(32)::bigint % 1000000
    )::text, 6, '0');
    expires_at := now() + limits.verification_code_ttl;
    insert into customer_management.verifications (
        id, identifier_type, identifier_value, code_hash, expires_at, actor_role
    ) values (
        verification_id, identifier_type, normalised,
        customer_management.verification_code_hash(verification_id, code), expires_at,
        caller.role
    );
    return jsonb_build_object(
        'verificationId', verification_id, 'code', code, 'expiresAt', expires_at
    );
end;
$$;

comment on function customer_management.issue_verification(text, text) is
'Definer behind public.request_verification: a six-digit code for a phone or email.';

revoke all on function customer_management.issue_verification(text, text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.issue_verification(text, text)
to authenticated, service_role;

-- Checks the code a request carries against its verification and the request's own email
-- or phone. Returns 'ok' (and marks the code used) or why not: 'unknown', 'burned',
-- 'used', 'expired', 'mismatch' (a code for another identifier) or 'wrong'. A wrong or
-- mismatched code counts against the verification; enough of them burn it. The caller
-- answers a failure with a returned error body (response.status 400), so the count is
-- committed while nothing else is written.
create function customer_management.check_verification(
    verification_id uuid, code text, request customer_management.resolution_request
) returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    verification customer_management.verifications;
    max_attempts integer;
begin
    select * into verification from customer_management.verifications as v
    where v.id = verification_id
    for update;
    if verification.id is null then
        return 'unknown';
    end if;
    select s.verification_max_attempts into strict max_attempts
    from customer_management.settings as s;
    if verification.failed_attempts >= max_attempts then
        return 'burned';
    elsif verification.consumed_at is not null then
        return 'used';
    elsif verification.expires_at <= now() then
        return 'expired';
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
'Checks and uses up a verification code for the request''s email or phone; counts wrong ones.';

revoke all on function customer_management.check_verification(
    uuid, text, customer_management.resolution_request
) from public, anon, authenticated, service_role;

-- The RPC: supabase.rpc('request_verification', {identifier_type, identifier_value}).
create function public.request_verification(identifier_type text, identifier_value text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.issue_verification(identifier_type, identifier_value);
end;
$$;

comment on function public.request_verification(text, text) is
'Service role: a six-digit code (verificationId, code, expiresAt) to deliver to a phone or '
'email; a customer_management request carrying it has that identifier proven.';

revoke all on function public.request_verification(text, text) from public, anon;
grant execute on function public.request_verification(text, text) to authenticated, service_role;
