-- Text similarity for possible duplicates, from the extensions Supabase ships: fuzzystrmatch
-- (Double Metaphone, Levenshtein distance) and pg_trgm (trigram similarity). On Supabase
-- they live in the extensions schema. Elsewhere they may live in any schema, or be missing:
-- a missing one is created in extensions (or, without that schema, in the kit's own); one
-- the project already has is used where it is, never moved or altered.
--
-- An extension the kit created is recorded in shared_objects, so that uninstalling the kit
-- drops it again (unless the project has come to use it meanwhile).
--
-- The kit calls them through three small SQL functions with fully qualified bodies, created
-- against wherever the extensions are: being plain SQL without settings, the planner
-- inlines them, so comparing millions of pairs costs no extra function call per pair.

alter table customer_management.shared_objects
drop constraint shared_objects_kind_check;
-- Every kind shared_objects may hold (the functions and tables the kit records outside its
-- schema among them), and now extensions.
alter table customer_management.shared_objects
add constraint shared_objects_kind_check check (
    kind in (
        'role', 'schema', 'schema_usage', 'table', 'view', 'function', 'trigger', 'extension'
    )
);

do $migration$
declare
    extension_name text;
    found_schema text;
    schemas jsonb := '{}'::jsonb;
begin
    foreach extension_name in array array['fuzzystrmatch', 'pg_trgm'] loop
        select n.nspname into found_schema
        from pg_catalog.pg_extension as e
        inner join pg_catalog.pg_namespace as n on e.extnamespace = n.oid
        where e.extname = extension_name;
        if found_schema is null then
            found_schema := case
                when exists (select 1 from pg_catalog.pg_namespace where nspname = 'extensions')
                    then 'extensions'
                else 'customer_management'
            end;
            execute format(
                'create extension %I with schema %I', extension_name, found_schema
            );
            insert into customer_management.shared_objects (kind, name)
            values ('extension', extension_name);
        end if;
        schemas := schemas || jsonb_build_object(extension_name, found_schema);
    end loop;

    execute format($function$
        create function customer_management.name_sound(name text) returns text
        language sql
        immutable
        parallel safe
        as $body$
            select %1$I.dmetaphone(name)
        $body$
    $function$, schemas ->> 'fuzzystrmatch');

    execute format($function$
        create function customer_management.edit_distance(a text, b text) returns integer
        language sql
        immutable
        parallel safe
        as $body$
            select %1$I.levenshtein(a, b)
        $body$
    $function$, schemas ->> 'fuzzystrmatch');

    execute format($function$
        create function customer_management.trigram_similarity(a text, b text) returns real
        language sql
        immutable
        parallel safe
        as $body$
            select %1$I.similarity(a, b)
        $body$
    $function$, schemas ->> 'pg_trgm');
end;
$migration$;

comment on function customer_management.name_sound(text) is
'How a name sounds (fuzzystrmatch''s Double Metaphone): Allen, Alan and Alen sound alike.';
comment on function customer_management.edit_distance(text, text) is
'Levenshtein distance (fuzzystrmatch): the characters to insert, drop or change.';
comment on function customer_management.trigram_similarity(text, text) is
'Trigram similarity (pg_trgm), from 0 (nothing shared) to 1 (the same).';

revoke all on function customer_management.name_sound(text)
from public, anon, authenticated, service_role;
revoke all on function customer_management.edit_distance(text, text)
from public, anon, authenticated, service_role;
revoke all on function customer_management.trigram_similarity(text, text)
from public, anon, authenticated, service_role;
