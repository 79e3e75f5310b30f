-- Supabase compatibility shim for plain PostgreSQL.
--
-- Makes a local PostgreSQL look like a Supabase database so the kit's migrations, RLS
-- policies and tests run unchanged: the API roles, the `auth` schema with `auth.users`
-- and the claim helpers (`auth.uid()` and friends), the `extensions` schema, and the
-- default privileges Supabase grants on `public`.
--
-- Local databases only. Never run this on a Supabase project: the real objects exist
-- there already. Every statement is idempotent, so applying it twice changes nothing.

-- API roles, with the attributes Supabase gives them.
do $roles$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
end
$roles$;

do $membership$
declare
    api_role text;
begin
    foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
        if not pg_catalog.pg_has_role('authenticator', api_role, 'member') then
            execute format('grant %I to authenticator', api_role);
        end if;
    end loop;
end
$membership$;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;

-- Supabase Auth's schema, reduced to what the kit reads.
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
    instance_id uuid default '00000000-0000-0000-0000-000000000000',
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change varchar(255),
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text unique default null,
    phone_confirmed_at timestamptz,
    phone_change text default '',
    confirmed_at timestamptz generated always as (
        least(email_confirmed_at, phone_confirmed_at)
    ) stored,
    banned_until timestamptz,
    is_sso_user boolean not null default false,
    deleted_at timestamptz,
    is_anonymous boolean not null default false
);

comment on table auth.users is
'Local stand-in for Supabase Auth users: one row per login (email and/or phone).';

create index if not exists users_email_idx on auth.users (email);
-- As in Supabase Auth's schema.
create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower(email));

-- The claim helpers, as current Supabase defines them: they read the claims PostgREST
-- puts in `request.jwt.claims` (and the older per-claim settings).
create or replace function auth.uid() returns uuid
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

grant execute on function auth.uid() to anon, authenticated, service_role;
grant execute on function auth.role() to anon, authenticated, service_role;
grant execute on function auth.email() to anon, authenticated, service_role;
grant execute on function auth.jwt() to anon, authenticated, service_role;

-- Supabase's default privileges on `public`: every new table, function and sequence is
-- granted to the API roles, so RLS and explicit revokes are what protect data. The kit's
-- migrations are written against exactly this starting point.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public
grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public
grant all on sequences to anon, authenticated, service_role;
