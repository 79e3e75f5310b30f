-- End users may edit names, allergies and preferences of their own row directly
-- (supabase.from('customers').update(...)). Hold those edits to the same rules the RPC
-- applies, and keep the channel-tracking keys in preferences out of their hands.

-- Runs with the privileges of the statement's role: current_user is 'authenticated' for a
-- direct edit and the kit's owner when the RPC writes, which is how the two are told apart.
create function private.guard_end_user_update() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_user <> 'authenticated' then
        return new;
    end if;

    if new.first_name ~ '[[:cntrl:]]' or new.last_name ~ '[[:cntrl:]]' then
        raise exception using
            errcode = 'P0001',
            message = 'invalid_name',
            detail = 'A name contains control characters.',
            hint = 'Send the name as plain text.';
    end if;
    if cardinality(new.allergies) > 50 or exists (
        select 1 from unnest(new.allergies) as a
        where a is null or btrim(a) = '' or char_length(a) > 100 or a ~ '[[:cntrl:]]'
    ) then
        raise exception using
            errcode = 'P0001',
            message = 'invalid_allergies',
            detail = 'allergies must hold at most 50 non-empty strings of at most 100 '
            || 'characters.',
            hint = 'Send for example {nuts,dairy}.';
    end if;

    -- account_sources, created_via and last_updated_via record what the kit saw.
    new.preferences := (
        new.preferences - array['account_sources', 'created_via', 'last_updated_via']
    ) || jsonb_strip_nulls(jsonb_build_object(
        'account_sources', old.preferences -> 'account_sources',
        'created_via', old.preferences -> 'created_via',
        'last_updated_via', old.preferences -> 'last_updated_via'
    ));
    return new;
end;
$$;

comment on function private.guard_end_user_update() is
'Trigger: end-user edits follow the RPC''s rules; channel-tracking preferences stay as recorded.';

create trigger customers_guard_end_user_update
before update on public.customers
for each row execute function private.guard_end_user_update();
