-- Composite types the resolution functions pass between them.

create type customer_management.api_caller as (
    role text,
    uid uuid,
    trusted boolean
);

comment on type customer_management.api_caller is
'Who is calling: the database role PostgREST switched to, auth.uid(), and whether the '
'role may act for any customer (service_role, or an administrator session).';

create type customer_management.identifier_claim as (
    type text,
    value text,
    display_value text,
    proven boolean,
    verified boolean
);

comment on type customer_management.identifier_claim is
'A normalised identifier from a request, as the caller-proof rule judged it. proven: the '
'caller may find, open, extend or merge accounts with it. verified: ownership is '
'established (an auth id, an address confirmed in auth.users, the chatbot''s line), as '
'opposed to merely asserted.';

create type customer_management.resolution_request as (
    phone text,
    email text,
    email_display text,
    first_name text,
    last_name text,
    source text,
    auth_user_id uuid,
    merge_if_found boolean,
    allergies text [],
    notices jsonb,
    verification_id uuid,
    verification_code text
);

comment on type customer_management.resolution_request is
'A validated customer_management request body: normalised identifiers and clean fields.';

create type customer_management.identifier_owners as (
    matched uuid [],
    released bigint [],
    complete boolean,
    lines_to_touch bigint [],
    account public.customers
);

comment on type customer_management.identifier_owners is
'What the verified-owner rule decided: the accounts the request opens, the identifier '
'rows its proof takes from other accounts, whether the one matched account already holds '
'every claim exactly (a pure lookup), the phone lines whose last use is over a day old, and '
'the row of the one opened account.';
