-- One row per customer account. A merged account stays as a tombstone whose
-- merged_into points at the survivor, so nothing is ever lost by a merge.

create table public.customers (
    id uuid primary key default gen_random_uuid(),
    first_name text check (char_length(first_name) <= 200),
    last_name text check (char_length(last_name) <= 200),
    phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
    email text check (char_length(email) <= 254),
    auth_user_id uuid references auth.users (id) on delete set null,
    allergies text[] not null default '{}',
    preferences jsonb not null default '{}'::jsonb check (
        jsonb_typeof(preferences) = 'object' and octet_length(preferences::text) <= 16384
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    merged_into uuid references public.customers (id),
    merged_at timestamptz,
    check ((merged_into is null) = (merged_at is null)),
    check (merged_into is distinct from id)
);

comment on table public.customers is
'Customer accounts shared by the chatbot and the web app. Identity lives in '
'customer_management.customer_identifiers; phone and email here are the primary display '
'values.';
comment on column public.customers.auth_user_id is
'The Supabase Auth user this account belongs to, if the customer has signed in on the web.';
comment on column public.customers.preferences is
'Free-form preferences (at most 16 KB) plus account_sources, created_via and '
'last_updated_via.';
comment on column public.customers.merged_into is
'Set when this account was merged: the surviving account. Tombstones are never deleted.';

-- One live account per auth user; tombstones keep their history.
create unique index customers_auth_user_id_key on public.customers (auth_user_id)
where merged_into is null;
create index customers_auth_user_id_idx on public.customers (auth_user_id);
create index customers_merged_into_idx on public.customers (merged_into);
create index customers_created_at_idx on public.customers (created_at);

-- Supabase grants every new public table to the API roles; RLS is on and end users get
-- only what the end-user policies migration grants.
alter table public.customers enable row level security;
revoke all on public.customers from public, anon, authenticated;
grant all on public.customers to service_role;
