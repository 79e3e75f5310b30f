-- A request may say that the chatbot's caller declines the second proof the kit asks for
-- when her line is on an account that holds it less than verified (withoutSecondProof):
-- she is then served on an account of her own and the contested phone goes to support.

alter type customer_management.resolution_request
add attribute without_second_proof boolean;

comment on type customer_management.resolution_request is
'A validated customer_management request body: normalised identifiers, clean fields, and '
'whether the caller declines a second proof.';

-- Validates and normalises a request body. Raises a stable code for every kind of bad
-- input; unknown keys are ignored and reported in notices.
create or replace function customer_management.parse_request(request jsonb)
returns customer_management.resolution_request
language plpgsql
stable
set search_path = ''
as $$
declare
    parsed customer_management.resolution_request;
    known_fields constant text [] := array[
        'phone', 'email', 'firstName', 'lastName', 'source', 'authUserId', 'mergeIfFound',
        'allergies', 'verification', 'withoutSecondProof'
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

    -- The chatbot's caller will not (or cannot) prove a second identifier of the account
    -- her line is on: she is served on an account of her own instead.
    if jsonb_typeof(request -> 'withoutSecondProof') not in ('boolean', 'null') then
        perform customer_management.raise_error(
            'invalid_request', 'withoutSecondProof must be true or false.',
            'See the request format in the README.'
        );
    end if;
    parsed.without_second_proof := coalesce(
        (request ->> 'withoutSecondProof')::boolean, false
    );

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
