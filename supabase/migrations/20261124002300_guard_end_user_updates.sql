-- End users may edit names, allergies and preferences of their own row directly
-- (supabase.from('customers').update(...)). Hold those edits to the same rules the RPC
-- applies, and keep the channel-tracking keys in preferences out of their hands.

-- The RPC's own validation of names and allergies, callable by an end user's edit. It
-- only checks its arguments and reads nothing.
create function customer_management.check_profile_edit(
    first_name text, last_name text, allergies text[], preferences jsonb
) returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform customer_management.clean_name(first_name, 'first_name');
    perform customer_management.clean_name(last_name, 'last_name');
    perform customer_management.clean_allergies(allergies);
    if octet_length(preferences::text) > 16384 then
        perform customer_management.raise_error(
            'invalid_preferences', 'preferences is larger than 16 KB.',
            'Keep preferences to a few settings.'
        );
    end if;
end;
$$;

comment on function customer_management.check_profile_edit(text, text, text[], jsonb) is
'Validates an end user''s direct edit with the RPC''s rules for names and allergies, and '
'the size limit of preferences.';

revoke all on function customer_management.check_profile_edit(text, text, text[], jsonb)
from public, anon, authenticated, service_role;
grant execute on function customer_management.check_profile_edit(text, text, text[], jsonb)
to authenticated;

-- Runs with the privileges of the statement's role: current_user is 'authenticated' for a
-- direct edit and the kit's owner when the RPC writes, which is how the two are told apart.
create function customer_management.guard_end_user_update() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_user <> 'authenticated' then
        return new;
    end if;
    perform customer_management.check_profile_edit(
        new.first_name, new.last_name, new.allergies, new.preferences
    );
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

comment on function customer_management.guard_end_user_update() is
'Trigger: end-user edits follow the RPC''s rules; channel-tracking preferences stay as recorded.';

revoke all on function customer_management.guard_end_user_update()
from public, anon, authenticated, service_role;

create trigger customers_guard_end_user_update
before update on public.customers
for each row execute function customer_management.guard_end_user_update();
