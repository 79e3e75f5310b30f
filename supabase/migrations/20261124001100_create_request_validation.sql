-- Reading the caller and validating the request body. Both raise stable error codes and
-- run before anything is written.

-- The caller, from the role PostgREST switched to (SET LOCAL ROLE) and its JWT claims.
-- A direct session with no role switched falls back to the claims, then to the session
-- user, so a DBA's psql session is trusted and a test may impersonate an end user.
create function private.current_caller() returns private.api_caller
language plpgsql
stable
set search_path = ''
as $$
declare
    caller private.api_caller;
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

    if caller.role = 'anon' then
        perform private.raise_error(
            'not_authenticated', 'Sign in, or call with the service role key.',
            'Send Authorization: Bearer <user access token>.', 'PT401'
        );
    elsif caller.role = 'authenticated' then
        if caller.uid is null then
            perform private.raise_error(
                'not_authenticated', 'The access token carries no user id (sub claim).',
                'Send a Supabase Auth access token.', 'PT401'
            );
        end if;
        caller.trusted := false;
    elsif caller.role = 'service_role' then
        caller.trusted := true;
    else
        select r.rolsuper or r.rolname = 'postgres' into is_admin
        from pg_catalog.pg_roles as r
        where r.rolname = caller.role;
        if not coalesce(is_admin, false) then
            perform private.raise_error(
                'forbidden', format('Role %s may not resolve customers.', caller.role),
                'Call as an end user or with the service role.', '42501'
            );
        end if;
        caller.trusted := true;
    end if;
    return caller;
end;
$$;

comment on function private.current_caller() is
'The calling role and auth.uid(); raises not_authenticated for anon, forbidden for others.';

-- A text field of the request: absent, null or blank is null; any other JSON type is
-- invalid_request.
create function private.request_text(request jsonb, field text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    if request -> field is null or jsonb_typeof(request -> field) = 'null' then
        return null;
    end if;
    if jsonb_typeof(request -> field) <> 'string' then
        perform private.raise_error(
            'invalid_request', format('%s must be a string.', field),
            'See the request format in the README.'
        );
    end if;
    return nullif(btrim(request ->> field), '');
end;
$$;

comment on function private.request_text(jsonb, text) is
'Reads an optional string field; blank means absent; raises invalid_request on other types.';

-- A first or last name: at most 200 characters, no control characters.
create function private.clean_name(name text, field text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    if name is null then
        return null;
    end if;
    if char_length(name) > 200 then
        perform private.raise_error(
            'name_too_long', format('%s has %s characters; at most 200 are kept.',
                field, char_length(name)),
            'Send a shorter name.'
        );
    end if;
    if name ~ '[[:cntrl:]]' then
        perform private.raise_error(
            'invalid_name', format('%s contains control characters.', field),
            'Send the name as plain text.'
        );
    end if;
    return name;
end;
$$;

comment on function private.clean_name(text, text) is
'Validates a name field: raises name_too_long over 200 characters, invalid_name on controls.';

-- Validates and normalises a request body. Raises a stable code for every kind of bad
-- input; unknown keys are ignored and reported in notices.
create function private.parse_request(request jsonb) returns private.resolution_request
language plpgsql
stable
set search_path = ''
as $$
declare
    parsed private.resolution_request;
    raw_phone text;
    raw_email text;
    raw_auth_user_id text;
    allergy jsonb;
    allergy_text text;
    unknown_keys text [];
begin
    if request is null or jsonb_typeof(request) <> 'object' then
        perform private.raise_error(
            'invalid_request', 'The request body must be a JSON object.',
            'Send {"phone": "...", "source": "chatbot"} or similar.'
        );
    end if;
    if octet_length(request::text) > 16384 then
        perform private.raise_error(
            'payload_too_large', 'The request body is larger than 16 KB.',
            'Send only the documented fields.', 'PT413'
        );
    end if;

    parsed.notices := '[]'::jsonb;
    select array_agg(k order by k) into unknown_keys
    from jsonb_object_keys(request) as k
    where k not in (
        'phone', 'email', 'firstName', 'lastName', 'source', 'authUserId', 'mergeIfFound',
        'allergies'
    );
    if unknown_keys is not null then
        parsed.notices := parsed.notices || jsonb_build_array(jsonb_build_object(
            'code', 'unknown_fields_ignored',
            'message', 'Fields the kit does not know were ignored.',
            'fields', to_jsonb(unknown_keys[1:20])
        ));
    end if;

    parsed.source := private.request_text(request, 'source');
    if parsed.source is null or parsed.source not in ('chatbot', 'webapp') then
        perform private.raise_error(
            'invalid_source', 'source must be "chatbot" or "webapp".',
            'Every request says which channel it comes from.'
        );
    end if;

    parsed.first_name := private.clean_name(private.request_text(request, 'firstName'), 'firstName');
    parsed.last_name := private.clean_name(private.request_text(request, 'lastName'), 'lastName');

    raw_phone := private.request_text(request, 'phone');
    raw_email := private.request_text(request, 'email');
    raw_auth_user_id := private.request_text(request, 'authUserId');

    if raw_phone is not null and char_length(raw_phone) > 64 then
        perform private.raise_error(
            'invalid_phone', 'A phone number is at most 64 characters.',
            'Send the number in E.164 form, for example +15551234567.'
        );
    end if;
    parsed.phone := private.normalize_phone(raw_phone);
    if raw_phone is not null and parsed.phone is null then
        parsed.notices := parsed.notices || jsonb_build_array(jsonb_build_object(
            'code', 'placeholder_ignored', 'field', 'phone',
            'message', 'The phone is a placeholder and was not used.'
        ));
    end if;

    if raw_email is not null and char_length(raw_email) > 320 then
        perform private.raise_error(
            'invalid_email', 'An email address is at most 254 characters.',
            'Send an address of the form name@example.com.'
        );
    end if;
    parsed.email := private.normalize_email(raw_email);
    parsed.email_display := case when parsed.email is not null then raw_email end;
    if raw_email is not null and parsed.email is null then
        parsed.notices := parsed.notices || jsonb_build_array(jsonb_build_object(
            'code', 'placeholder_ignored', 'field', 'email',
            'message', 'The email is a placeholder address and was not used.'
        ));
    end if;

    if raw_auth_user_id is not null then
        if raw_auth_user_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            perform private.raise_error(
                'invalid_auth_user_id', 'authUserId must be a Supabase Auth user id (a UUID).',
                'Send user.id from supabase.auth.getUser().'
            );
        end if;
        parsed.auth_user_id := lower(raw_auth_user_id)::uuid;
    end if;

    if request -> 'mergeIfFound' is not null
        and jsonb_typeof(request -> 'mergeIfFound') not in ('boolean', 'null') then
        perform private.raise_error(
            'invalid_request', 'mergeIfFound must be true or false.',
            'See the request format in the README.'
        );
    end if;
    parsed.merge_if_found := coalesce((request ->> 'mergeIfFound')::boolean, false);

    parsed.allergies := '{}';
    if request -> 'allergies' is not null and jsonb_typeof(request -> 'allergies') <> 'null' then
        if jsonb_typeof(request -> 'allergies') <> 'array'
            or jsonb_array_length(request -> 'allergies') > 50 then
            perform private.raise_error(
                'invalid_allergies', 'allergies must be an array of at most 50 strings.',
                'Send for example ["nuts", "dairy"].'
            );
        end if;
        for allergy in select value from jsonb_array_elements(request -> 'allergies') loop
            allergy_text := case when jsonb_typeof(allergy) = 'string'
                then btrim(allergy #>> '{}') end;
            if allergy_text is null or allergy_text = '' or char_length(allergy_text) > 100
                or allergy_text ~ '[[:cntrl:]]' then
                perform private.raise_error(
                    'invalid_allergies',
                    'Each allergy must be a non-empty string of at most 100 characters.',
                    'Send for example ["nuts", "dairy"].'
                );
            end if;
            if not lower(allergy_text) = any (
                select lower(a) from unnest(parsed.allergies) as a
            ) then
                parsed.allergies := parsed.allergies || allergy_text;
            end if;
        end loop;
    end if;

    return parsed;
end;
$$;

comment on function private.parse_request(jsonb) is
'Validates a customer_management body and normalises its identifiers; raises stable codes.';
