-- Configuration the resolution functions read: how to read national phone numbers, the
-- identifier limits per customer and the rate limits. One row, edited by a DBA.

create table customer_management.phone_countries (
    country_code text primary key check (country_code ~ '^[A-Z]{2}$'),
    calling_code text not null check (calling_code ~ '^[1-9][0-9]{0,2}$'),
    trunk_prefix text check (trunk_prefix ~ '^[0-9]{1,2}$'),
    min_national_digits integer not null check (min_national_digits between 4 and 14),
    max_national_digits integer not null check (max_national_digits between 4 and 14),
    check (min_national_digits <= max_national_digits)
);

comment on table customer_management.phone_countries is
'How to read a national phone number (no + or 00) typed in a given country.';

create index phone_countries_calling_code_idx
on customer_management.phone_countries (calling_code);

alter table customer_management.phone_countries enable row level security;
revoke all on customer_management.phone_countries from public, anon, authenticated, service_role;

insert into customer_management.phone_countries
(country_code, calling_code, trunk_prefix, min_national_digits, max_national_digits)
values
('US', '1', '1', 10, 10),
('CA', '1', '1', 10, 10),
('GB', '44', '0', 9, 10),
('IE', '353', '0', 7, 9),
('DE', '49', '0', 6, 11),
('FR', '33', '0', 9, 9),
('ES', '34', null, 9, 9),
('IT', '39', null, 6, 11),
('NL', '31', '0', 9, 9),
('AU', '61', '0', 9, 9),
('NZ', '64', '0', 8, 10),
('IN', '91', '0', 10, 10),
('MX', '52', null, 10, 10),
('BR', '55', '0', 10, 11);

create table customer_management.settings (
    singleton boolean primary key default true check (singleton),
    default_phone_country text not null default 'US'
    references customer_management.phone_countries (country_code),
    max_auth_users_per_customer integer not null default 1
    check (max_auth_users_per_customer = 1),
    max_emails_per_customer integer not null default 3
    check (max_emails_per_customer between 1 and 50),
    max_phones_per_customer integer not null default 3
    check (max_phones_per_customer between 1 and 50),
    rate_limit_per_user_per_minute integer not null default 20
    check (rate_limit_per_user_per_minute >= 1),
    rate_limit_per_identifier_per_minute integer not null default 20
    check (rate_limit_per_identifier_per_minute >= 1),
    line_dormant_after interval not null default interval '365 days'
    check (line_dormant_after >= interval '1 day'),
    verification_code_ttl interval not null default interval '10 minutes'
    check (verification_code_ttl between interval '1 minute' and interval '1 day'),
    verification_max_attempts integer not null default 5
    check (verification_max_attempts between 1 and 20),
    verification_codes_per_identifier_per_hour integer not null default 5
    check (verification_codes_per_identifier_per_hour >= 1),
    pending_identifier_retention interval not null default interval '90 days'
    check (pending_identifier_retention >= interval '1 day'),
    verification_retention interval not null default interval '7 days'
    check (verification_retention >= interval '1 hour'),
    erase_on_auth_user_delete boolean not null default false
);

comment on table customer_management.settings is
'Single-row configuration: phone country, identifier and rate limits, line dormancy, codes, '
'retention and what a deleted login does to its customer.';
comment on column customer_management.settings.rate_limit_per_user_per_minute is
'Calls per minute one signed-in end user may make to customer_management.';
comment on column customer_management.settings.rate_limit_per_identifier_per_minute is
'Calls per minute the service role may make for one proven phone, email or auth user.';
comment on column customer_management.settings.line_dormant_after is
'A phone line unused for longer no longer opens its account by itself (numbers are recycled).';
comment on column customer_management.settings.verification_code_ttl is
'How long a verification code stays valid.';
comment on column customer_management.settings.verification_max_attempts is
'Wrong codes after which a verification is burned.';
comment on column customer_management.settings.verification_codes_per_identifier_per_hour is
'Verification codes one phone or email may be sent per hour.';
comment on column customer_management.settings.pending_identifier_retention is
'Maintenance deletes a claimed (pending) identifier nobody proved within this age.';
comment on column customer_management.settings.verification_retention is
'Maintenance deletes verification records this long after they expired.';
comment on column customer_management.settings.erase_on_auth_user_delete is
'When a Supabase Auth user is deleted: false unlinks their customer (the account stays), '
'true erases it as erase_customer does.';

create index settings_default_phone_country_idx
on customer_management.settings (default_phone_country);

alter table customer_management.settings enable row level security;
revoke all on customer_management.settings from public, anon, authenticated, service_role;

insert into customer_management.settings (singleton) values (true);
