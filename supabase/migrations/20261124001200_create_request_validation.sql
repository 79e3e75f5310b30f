-- Reading the caller and validating the request body. Both raise stable error codes and
-- run before anything is written.

-- The caller, from the role PostgREST switched to (SET LOCAL ROLE) and its JWT claims.
-- A direct session with no role switched falls back to the claims, then to the session
-- user, so a DBA's psql session is trusted and a test may impersonate an end user.
create function customer_management.current_caller() returns customer_management.api_caller
language plpgsql
stable
set search_path = ''
as $$
declare
    caller customer_management.api_caller;
    subject text;
    is_admin boolean;
begin
    caller.role := coalesce(
        nullif(nullif(current_setting('role', true), 'none'), ''),
        nullif(auth.role(), ''),
        session_user::text
    );
    -- auth.uid() would fail on a malformed sub; such a token simply names no user.
    subject := coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        auth.jwt() ->> 'sub'
    );
    if subject ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        caller.uid := subject::uuid;
    end if;

    if caller.role = 'service_role' then
        caller.trusted := true;
    elsif caller.role = 'authenticated' then
        if caller.uid is null then
            perform customer_management.raise_error(
                'not_authenticated', 'The access token carries no user id (sub claim).',
                'Send a Supabase Auth access token.', 'PT401'
            );
        end if;
        caller.trusted := false;
    elsif caller.role = 'anon' then
        perform customer_management.raise_error(
            'not_authenticated', 'Sign in, or call with the service role key.',
            'Send Authorization: Bearer <user access token>.', 'PT401'
        );
    else
        select r.rolsuper or r.rolname = 'postgres' into is_admin
        from pg_catalog.pg_roles as r
        where r.rolname = caller.role;
        if not coalesce(is_admin, false) then
            perform customer_management.raise_error(
                'forbidden', format('Role %s may not resolve customers.', caller.role),
                'Call as an end user or with the service role.', '42501'
            );
        end if;
        caller.trusted := true;
    end if;
    return caller;
end;
$$;

comment on function customer_management.current_caller() is
'The calling role and auth.uid(); raises not_authenticated for anon, forbidden for others.';

revoke all on function customer_management.current_caller()
from public, anon, authenticated, service_role;

-- A first or last name: at most 200 characters, at least one letter, and nothing that
-- hides or reorders text: no control characters, no zero-width space or other invisible
-- characters, no bidirectional marks, overrides or isolates, no line or paragraph
-- separators. (The zero-width joiner and non-joiner stay: Persian and Indic names and
-- emoji sequences need them.) The summary is
-- spoken to the caller as it is, so a name must not smuggle anything in. The same rule
-- holds for the RPC and for an end user's direct edit of their row.
create function customer_management.clean_name(name text, field text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    if name is null then
        return null;
    end if;
    if char_length(name) > 200 then
        perform customer_management.raise_error(
            'name_too_long', format('%s has %s characters; at most 200 are kept.',
                field, char_length(name)),
            'Send a shorter name.'
        );
    end if;
    if name ~ (
        '[[:cntrl:]\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e'
        || '\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0'
        || '\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e0fff]'
    ) then
        perform customer_management.raise_error(
            'invalid_name',
            format('%s contains control, invisible or direction-changing characters.', field),
            'Send the name as plain text.'
        );
    end if;
    -- Letters of the Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai, Lao,
    -- Georgian, Hangul, Japanese and Chinese scripts (by range: the database's locale may
    -- know only ASCII letters).
    if name !~ (
        '[A-Za-z\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f'
        || '\u0250-\u02af\u0370-\u03ff\u0400-\u052f\u0531-\u058f\u05d0-\u05f2'
        || '\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0900-\u0dff\u0e01-\u0e30'
        || '\u0e81-\u0eb0\u10a0-\u10ff\u1100-\u11ff\u1e00-\u1fff\u3041-\u3096'
        || '\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff]'
    ) then
        perform customer_management.raise_error(
            'invalid_name', format('%s has no letter.', field),
            'Send the name as the customer spells it.'
        );
    end if;
    return name;
end;
$$;

comment on function customer_management.clean_name(text, text) is
'Validates a name: name_too_long over 200 characters; invalid_name without a letter or with '
'control, invisible or direction-changing characters.';

revoke all on function customer_management.clean_name(text, text)
from public, anon, authenticated, service_role;

-- An allergy list: at most 50 non-empty strings of at most 100 characters without
-- control characters. Returns the list trimmed, with case-insensitive repeats dropped
-- (first spelling kept). Shared by the RPC and end users' direct edits.
create function customer_management.clean_allergies(allergies text[]) returns text[]
language plpgsql
immutable
set search_path = ''
as $$
declare
    cleaned text [];
    malformed boolean;
begin
    select
        coalesce(bool_or(
            a.allergy is null or btrim(a.allergy) = '' or char_length(btrim(a.allergy)) > 100
            or a.allergy ~ '[[:cntrl:]]'
        ), false),
        coalesce(array_agg(btrim(a.allergy) order by a.position) filter (
            where a.position = (
                select min(b.position) from unnest(allergies) with ordinality as b (allergy, position)
                where lower(btrim(b.allergy)) = lower(btrim(a.allergy))
            )
        ), '{}')
    into malformed, cleaned
    from unnest(allergies) with ordinality as a (allergy, position);
    if malformed or cardinality(allergies) > 50 then
        perform customer_management.raise_error(
            'invalid_allergies',
            'allergies must hold at most 50 non-empty strings of at most 100 characters.',
            'Send for example ["nuts", "dairy"].'
        );
    end if;
    return cleaned;
end;
$$;

comment on function customer_management.clean_allergies(text[]) is
'Validates an allergy list (raises invalid_allergies); returns it trimmed and de-duplicated.';

revoke all on function customer_management.clean_allergies(text[])
from public, anon, authenticated, service_role;

-- Validates and normalises a request body. Raises a stable code for every kind of bad
-- input; unknown keys are ignored and reported in notices.
create function customer_management.parse_request(request jsonb)
returns customer_management.resolution_request
language plpgsql
stable
set search_path = ''
as $$
declare
    parsed customer_management.resolution_request;
    known_fields constant text [] := array[
        'phone', 'email', 'firstName', 'lastName', 'source', 'authUserId', 'mergeIfFound',
        'allergies', 'verification'
    ];
    field text;
    unknown_keys text [];
    raw_phone text;
    raw_email text;
    raw_auth_user_id text;
begin
    if request is null or jsonb_typeof(request) <> 'object' then
        perform customer_management.raise_error(
            'invalid_request', 'The request body must be a JSON object.',
            'Send {"phone": "...", "source": "chatbot"} or similar.'
        );
    end if;
    if octet_length(request::text) > 16384 then
        perform customer_management.raise_error(
            'payload_too_large', 'The request body is larger than 16 KB.',
            'Send only the documented fields.', 'PT413'
        );
    end if;

    -- A text field that is not a string (absent and null are fine), checked without a
    -- query: this runs on every request.
    foreach field in array array['authUserId', 'email', 'firstName', 'lastName', 'phone', 'source']
    loop
        if jsonb_typeof(request -> field) not in ('string', 'null') then
            perform customer_management.raise_error(
                'invalid_request', format('%s must be a string.', field),
                'See the request format in the README.'
            );
        end if;
    end loop;
    parsed.notices := '[]'::jsonb;
    if request - known_fields <> '{}'::jsonb then
        select array_agg(k order by k) into unknown_keys
        from jsonb_object_keys(request - known_fields) as k;
        parsed.notices := jsonb_build_array(jsonb_build_object(
            'code', 'unknown_fields_ignored',
            'message', 'Fields the kit does not know were ignored.',
            'fields', to_jsonb(unknown_keys[1:20])
        ));
    end if;

    parsed.source := nullif(btrim(request ->> 'source'), '');
    if parsed.source is null or parsed.source not in ('chatbot', 'webapp') then
        perform customer_management.raise_error(
            'invalid_source', 'source must be "chatbot" or "webapp".',
            'Every request says which channel it comes from.'
        );
    end if;

    parsed.first_name := nullif(btrim(request ->> 'firstName'), '');
    if parsed.first_name is not null then
        perform customer_management.clean_name(parsed.first_name, 'firstName');
    end if;
    parsed.last_name := nullif(btrim(request ->> 'lastName'), '');
    if parsed.last_name is not null then
        perform customer_management.clean_name(parsed.last_name, 'lastName');
    end if;

    raw_phone := nullif(btrim(request ->> 'phone'), '');
    if raw_phone is not null then
        if char_length(raw_phone) > 64 then
            perform customer_management.raise_error(
                'invalid_phone', 'A phone number is at most 64 characters.',
                'Send the number in E.164 form, for example +15551234567.'
            );
        end if;
        parsed.phone := customer_management.normalize_phone(raw_phone);
        if parsed.phone is null then
            parsed.notices := parsed.notices || jsonb_build_array(jsonb_build_object(
                'code', 'placeholder_ignored', 'field', 'phone',
                'message', 'The phone is a placeholder and was not used.'
            ));
        end if;
    end if;

    raw_email := nullif(btrim(request ->> 'email'), '');
    if raw_email is not null then
        if char_length(raw_email) > 320 then
            perform customer_management.raise_error(
                'invalid_email', 'An email address is at most 254 characters.',
                'Send an address of the form name@example.com.'
            );
        end if;
        parsed.email := customer_management.normalize_email(raw_email);
        if parsed.email is null then
            parsed.notices := parsed.notices || jsonb_build_array(jsonb_build_object(
                'code', 'placeholder_ignored', 'field', 'email',
                'message', 'The email is a placeholder address and was not used.'
            ));
        else
            parsed.email_display := raw_email;
        end if;
    end if;

    raw_auth_user_id := nullif(btrim(request ->> 'authUserId'), '');
    if raw_auth_user_id is not null then
        if raw_auth_user_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            perform customer_management.raise_error(
                'invalid_auth_user_id', 'authUserId must be a Supabase Auth user id (a UUID).',
                'Send user.id from supabase.auth.getUser().'
            );
        end if;
        parsed.auth_user_id := lower(raw_auth_user_id)::uuid;
    end if;

    if jsonb_typeof(request -> 'mergeIfFound') not in ('boolean', 'null') then
        perform customer_management.raise_error(
            'invalid_request', 'mergeIfFound must be true or false.',
            'See the request format in the README.'
        );
    end if;
    parsed.merge_if_found := coalesce((request ->> 'mergeIfFound')::boolean, false);

    -- {"verification": {"id": "<uuid>", "code": "123456"}}: checked by the RPC, which
    -- then counts the request's email or phone as proven.
    if jsonb_typeof(request -> 'verification') <> 'null' then
        if jsonb_typeof(request -> 'verification') <> 'object'
            or jsonb_typeof(request #> '{verification,id}') is distinct from 'string'
            or jsonb_typeof(request #> '{verification,code}') is distinct from 'string'
            or request #>> '{verification,id}'
            !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            or request #>> '{verification,code}' !~ '^[0-9]{6}$' then
            perform customer_management.raise_error(
                'invalid_verification',
                'verification must be {"id": "<verificationId>", "code": "<six digits>"}.',
                'Send the verificationId from request_verification and the code the '
                || 'customer read back.'
            );
        end if;
        parsed.verification_id := (request #>> '{verification,id}')::uuid;
        parsed.verification_code := request #>> '{verification,code}';
    end if;

    parsed.allergies := '{}';
    if jsonb_typeof(request -> 'allergies') <> 'null' then
        if jsonb_typeof(request -> 'allergies') <> 'array'
            or jsonb_array_length(request -> 'allergies') > 50
            or exists (
                select 1 from jsonb_array_elements(request -> 'allergies') as a
                where jsonb_typeof(a) <> 'string'
            ) then
            perform customer_management.raise_error(
                'invalid_allergies', 'allergies must be an array of at most 50 strings.',
                'Send for example ["nuts", "dairy"].'
            );
        end if;
        parsed.allergies := customer_management.clean_allergies(
            array(select jsonb_array_elements_text(request -> 'allergies'))
        );
    end if;

    return parsed;
end;
$$;

comment on function customer_management.parse_request(jsonb) is
'Validates a customer_management body and normalises its identifiers; raises stable codes.';

revoke all on function customer_management.parse_request(jsonb)
from public, anon, authenticated, service_role;
