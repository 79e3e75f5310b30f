-- The masks apply the one masking rule of the contract (contract.schema.json, x-masks),
-- the same regular expressions the Python package applies for the chatbot tools, instead
-- of a second wording of it. What they return is unchanged for every phone and email the
-- kit stores; a value the rule does not fit is hidden whole.

create or replace function customer_management.mask_email(email text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    return case
        when email is null then null
        when email ~ '^(.)[^@]*@(.*)$'
            then regexp_replace(email, '^(.)[^@]*@(.*)$', '\1***@\2')
        else '***'
    end;
end;
$$;

comment on function customer_management.mask_email(text) is
'Masks an email for end users by the contract''s rule (x-masks.email): first letter and '
'domain only; the hidden part has no length.';

revoke all on function customer_management.mask_email(text)
from public, anon, authenticated, service_role;

create or replace function customer_management.mask_phone(phone text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    return case
        when phone is null then null
        when phone ~ '^(.{2}).*(.{4})$'
            then regexp_replace(phone, '^(.{2}).*(.{4})$', '\1******\2')
        else '******'
    end;
end;
$$;

comment on function customer_management.mask_phone(text) is
'Masks a phone for end users by the contract''s rule (x-masks.phone): first digit and last '
'four only; the hidden part has no length.';

revoke all on function customer_management.mask_phone(text)
from public, anon, authenticated, service_role;
