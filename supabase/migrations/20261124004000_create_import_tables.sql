-- Bringing a shop's existing customers in: which legacy record became which account (so a
-- rerun adds nothing twice), which imported identifiers wait for deduplication, and the
-- staging tables an import loads into with COPY before the rows reach the kit's tables.

create table customer_management.legacy_ids (
    legacy_id text primary key check (char_length(legacy_id) between 1 and 200),
    customer_id uuid references public.customers (id) on delete set null,
    imported_at timestamptz not null default now(),
    orders_load_id uuid
);

comment on table customer_management.legacy_ids is
'The id each imported record had in the shop''s old system, and the account it became. An '
'import skips a legacy_id listed here; customer_id is null once that account was erased, '
'so an old file never brings an erased person back.';
comment on column customer_management.legacy_ids.orders_load_id is
'The import that brought this record''s orders: a record''s orders come in once, with the '
'first import that has any for it.';

create index legacy_ids_customer_id_idx on customer_management.legacy_ids (customer_id);

alter table customer_management.legacy_ids enable row level security;
revoke all on customer_management.legacy_ids from public, anon, authenticated, service_role;

create table customer_management.import_held_identifiers (
    identifier_id bigint primary key
    references customer_management.customer_identifiers (id) on delete cascade,
    held_at timestamptz not null default now()
);

comment on table customer_management.import_held_identifiers is
'Imported identifiers stored as pending because another account already held them active: '
'they match nothing, yet tie their account to that other one for deduplication, which '
'activates them once the accounts are one. A row leaves this table when its identifier '
'becomes active.';

alter table customer_management.import_held_identifiers enable row level security;
revoke all on customer_management.import_held_identifiers
from public, anon, authenticated, service_role;

-- Staging: raw text as it came from the file or legacy table, one row per line, and the
-- verdict the import reached for it. Unlogged (no WAL): rows live only inside the import's
-- own transaction, which deletes them before it commits.
create unlogged table customer_management.import_customer_rows (
    load_id uuid not null,
    line bigint not null,
    legacy_id text,
    first_name text,
    last_name text,
    phone text,
    email text,
    allergies text,
    created_at text,
    outcome text check (outcome in ('imported', 'skipped', 'rejected')),
    customer_id uuid,
    clean_first_name text,
    clean_last_name text,
    phone_value text,
    email_value text,
    email_display text,
    allergy_list text[],
    created_at_value timestamptz,
    placeholders integer not null default 0,
    reject_column text,
    reject_code text,
    reject_detail text,
    primary key (load_id, line)
);

comment on table customer_management.import_customer_rows is
'Staged legacy customer rows of running imports (raw text) and their verdicts: imported, '
'skipped (legacy_id imported before) or rejected (column, code, detail).';

create index import_customer_rows_legacy_id_idx
on customer_management.import_customer_rows (load_id, legacy_id);

alter table customer_management.import_customer_rows enable row level security;
revoke all on customer_management.import_customer_rows
from public, anon, authenticated, service_role;

create unlogged table customer_management.import_order_rows (
    load_id uuid not null,
    line bigint not null,
    legacy_customer_id text,
    total text,
    currency text,
    status text,
    delivery_date text,
    created_at text,
    items text,
    outcome text check (outcome in ('imported', 'skipped', 'rejected')),
    customer_id uuid,
    total_value numeric(12, 2),
    currency_value text,
    status_value text,
    delivery_date_value date,
    created_at_value timestamptz,
    items_value jsonb,
    reject_column text,
    reject_code text,
    reject_detail text,
    primary key (load_id, line)
);

comment on table customer_management.import_order_rows is
'Staged legacy order rows of running imports (raw text) and their verdicts.';

alter table customer_management.import_order_rows enable row level security;
revoke all on customer_management.import_order_rows
from public, anon, authenticated, service_role;
