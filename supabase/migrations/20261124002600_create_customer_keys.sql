-- Sealing personal data that must outlive an erasure request without staying readable:
-- each customer gets a random key, the merge log's before-images are encrypted with it
-- (pgcrypto's OpenPGP symmetric encryption, AES-256), and erasing the customer destroys
-- the key (crypto-shredding). The audit trail names identifiers only by a keyed hash
-- (HMAC-SHA-256 with a secret that never leaves the database), so an entry can still be
-- matched against a phone or email someone presents later.
--
-- pgcrypto lives in the extensions schema on Supabase. Elsewhere it may live in any
-- schema, or be missing: the functions below are created against wherever it is, and it
-- is created in extensions (or, without that schema, in the kit's own) when missing.

create table customer_management.customer_keys (
    customer_id uuid primary key,
    key bytea not null check (octet_length(key) = 32),
    created_at timestamptz not null default now()
);

comment on table customer_management.customer_keys is
'One random key per customer that has sealed data (merge-log before-images); erasure '
'deletes the row, which makes that data unreadable for good.';

alter table customer_management.customer_keys enable row level security;
revoke all on customer_management.customer_keys from public, anon, authenticated, service_role;

insert into customer_management.secrets (name, value)
values (
    'identifier_digest_key',
    decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex')
);

do $migration$
declare
    pgcrypto_schema text;
begin
    select n.nspname into pgcrypto_schema
    from pg_catalog.pg_extension as e
    inner join pg_catalog.pg_namespace as n on e.extnamespace = n.oid
    where e.extname = 'pgcrypto';
    if pgcrypto_schema is null then
        pgcrypto_schema := case
            when exists (select 1 from pg_catalog.pg_namespace where nspname = 'extensions')
                then 'extensions'
            else 'customer_management'
        end;
        execute format('create extension pgcrypto with schema %I', pgcrypto_schema);
    end if;

    execute format($function$
        create function customer_management.seal(owner_id uuid, document jsonb)
        returns bytea
        language plpgsql
        volatile
        set search_path = ''
        as $body$
        declare
            owner_key bytea;
        begin
            insert into customer_management.customer_keys (customer_id, key)
            values (owner_id, %1$I.gen_random_bytes(32))
            on conflict (customer_id) do nothing;
            select k.key into strict owner_key
            from customer_management.customer_keys as k where k.customer_id = owner_id;
            return %1$I.pgp_sym_encrypt(
                document::text, encode(owner_key, 'hex'), 'cipher-algo=aes256, s2k-mode=1'
            );
        end;
        $body$
    $function$, pgcrypto_schema);

    execute format($function$
        create function customer_management.unseal(owner_id uuid, sealed bytea)
        returns jsonb
        language plpgsql
        stable
        set search_path = ''
        as $body$
        declare
            owner_key bytea;
        begin
            select k.key into owner_key
            from customer_management.customer_keys as k where k.customer_id = owner_id;
            if owner_key is null then
                return null;
            end if;
            return %1$I.pgp_sym_decrypt(sealed, encode(owner_key, 'hex'))::jsonb;
        end;
        $body$
    $function$, pgcrypto_schema);

    execute format($function$
        create function customer_management.identifier_digest(
            identifier_type text, identifier_value text
        ) returns text
        language plpgsql
        stable
        set search_path = ''
        as $body$
        begin
            return encode(%1$I.hmac(
                convert_to(identifier_type || ':' || identifier_value, 'UTF8'),
                (
                    select s.value from customer_management.secrets as s
                    where s.name = 'identifier_digest_key'
                ),
                'sha256'
            ), 'hex');
        end;
        $body$
    $function$, pgcrypto_schema);
end;
$migration$;

comment on function customer_management.seal(uuid, jsonb) is
'Encrypts a document with its owner''s key (made on first use); erasing the owner destroys '
'the key.';
comment on function customer_management.unseal(uuid, bytea) is
'Decrypts a sealed document, or null when its owner was erased (the key is gone).';
comment on function customer_management.identifier_digest(text, text) is
'The audit trail''s name for an identifier: HMAC-SHA-256 of type:value (normalised) under '
'a secret kept in customer_management.secrets. A DBA checks a presented value with it.';

revoke all on function customer_management.seal(uuid, jsonb)
from public, anon, authenticated, service_role;
revoke all on function customer_management.unseal(uuid, bytea)
from public, anon, authenticated, service_role;
revoke all on function customer_management.identifier_digest(text, text)
from public, anon, authenticated, service_role;
