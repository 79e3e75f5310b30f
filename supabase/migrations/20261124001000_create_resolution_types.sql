-- Composite types the resolution functions pass between them.

create type private.api_caller as (
    role text,
    uid uuid,
    trusted boolean
);

comment on type private.api_caller is
'Who is calling: the database role PostgREST switched to, auth.uid(), and whether the '
'role may act for any customer (service_role, or an administrator session).';

create type private.identifier_claim as (
    type text,
    value text,
    display_value text,
    proven boolean,
    verified boolean
);

comment on type private.identifier_claim is
'A normalised identifier from a request. proven: the caller may match on it (trusted '
'caller, or the end user''s own auth id, confirmed email or confirmed phone). verified: '
'ownership is established (an auth id, an address confirmed in auth.users, or the phone '
'line the chatbot is talking to), as opposed to merely asserted.';

create type private.resolution_request as (
    phone text,
    email text,
    email_display text,
    first_name text,
    last_name text,
    source text,
    auth_user_id uuid,
    merge_if_found boolean,
    allergies text [],
    notices jsonb
);

comment on type private.resolution_request is
'A validated customer_management request body: normalised identifiers and clean fields.';
