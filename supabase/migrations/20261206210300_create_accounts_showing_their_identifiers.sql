-- A new account is written showing the phone, email and login its proven identifiers hold,
-- which is what the contact-column sync would derive from them: the sync, still the one
-- owner of those columns, then finds nothing to change, and the create writes the account
-- once instead of inserting it and updating it (a second row version, its index entries and
-- the account's update triggers) in the same transaction. The identifiers' insert keeps one
-- plan: planned for the number of claims it was given, it was planned again at every call.

create or replace function customer_management.create_customer(
    request customer_management.resolution_request,
    claims customer_management.identifier_claim[]
) returns uuid
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    new_customer_id uuid;
    claim customer_management.identifier_claim;
    shown_phone text;
    shown_email text;
    shown_auth_user_id uuid;
begin
    -- What the sync shows for a new account: the first active identifier of each type,
    -- and an identifier is active when the request proved it.
    foreach claim in array claims loop
        if claim.proven and claim.type = 'phone' and shown_phone is null then
            shown_phone := claim.display_value;
        elsif claim.proven and claim.type = 'email' and shown_email is null then
            shown_email := claim.display_value;
        elsif claim.proven and claim.type = 'auth_user' and shown_auth_user_id is null then
            shown_auth_user_id := claim.value::uuid;
        end if;
    end loop;
    insert into public.customers (
        first_name, last_name, phone, email, auth_user_id, allergies, preferences
    )
    values (
        request.first_name,
        request.last_name,
        shown_phone,
        shown_email,
        shown_auth_user_id,
        request.allergies,
        jsonb_build_object(
            'account_sources', jsonb_build_array(request.source),
            'created_via', request.source,
            'last_updated_via', request.source
        )
    )
    returning id into new_customer_id;
    insert into customer_management.customer_identifiers (
        customer_id, type, value, display_value, status, strength, verified_at, last_used_at,
        source
    )
    select
        new_customer_id, c.type, c.value, c.display_value,
        case when c.proven then 'active' else 'pending' end,
        case when c.proven and c.verified then 'verified' when c.proven then 'vouched'
            else 'claimed' end,
        case when c.proven and c.verified then now() end,
        case when c.proven and c.verified then now() end,
        request.source
    from unnest(claims) as c;
    -- Audited by the caller.
    return new_customer_id;
end;
$$;

comment on function customer_management.create_customer(
    customer_management.resolution_request, customer_management.identifier_claim[]
) is
'Inserts a new account showing its proven identifiers, and the identifiers (proven active, '
'claimed pending), its channel recorded as created_via and account_sources.';
