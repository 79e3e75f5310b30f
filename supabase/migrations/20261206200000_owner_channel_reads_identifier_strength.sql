-- The owner's own channel for verification codes reads identifier strengths: the line is
-- one its account holds verified, and the identifier one that account holds verified or
-- vouched (a claim, even on the caller's own account, makes nobody its owner).

-- Whether a requester is the identifier's owner's own proven channel: a line the account
-- holding the identifier holds verified and has used within settings.line_dormant_after
-- (numbers are recycled), or a signed-in user whose login confirmed the identifier (as
-- the caller-proof rule reads auth.users) or whose account holds it. Either way the account
-- holds the identifier verified or vouched, never merely claimed. A session proves nothing
-- and is never the owner.
create or replace function customer_management.verification_owner_channel(
    identifier_type text, identifier_value text, requester_line text, requester_user_id uuid
) returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
    dormant_after interval;
begin
    if requester_line is not null then
        select s.line_dormant_after into strict dormant_after
        from customer_management.settings as s;
        if exists (
            select 1
            from customer_management.customer_identifiers as line
            inner join customer_management.customer_identifiers as held
                on line.customer_id = held.customer_id
            where
                line.value = requester_line and line.type = 'phone'
                and line.status = 'active' and line.strength = 'verified'
                and coalesce(line.last_used_at, line.verified_at) > now() - dormant_after
                and held.value = identifier_value
                and held.type = verification_owner_channel.identifier_type
                and held.status = 'active' and held.strength <> 'claimed'
        ) then
            return true;
        end if;
    end if;
    if requester_user_id is not null then
        if exists (
            select 1 from auth.users as u
            where
                u.id = requester_user_id and u.deleted_at is null
                and (u.banned_until is null or u.banned_until <= now())
                and case verification_owner_channel.identifier_type
                    when 'email' then
                        u.email_confirmed_at is not null
                        and lower(btrim(u.email)) = identifier_value
                    else
                        u.phone_confirmed_at is not null
                        and '+' || regexp_replace(u.phone, '[^0-9]', '', 'g') = identifier_value
                end
        ) or exists (
            select 1
            from customer_management.customer_identifiers as login
            inner join customer_management.customer_identifiers as held
                on login.customer_id = held.customer_id
            where
                login.value = requester_user_id::text and login.type = 'auth_user'
                and login.status = 'active'
                and held.value = identifier_value
                and held.type = verification_owner_channel.identifier_type
                and held.status = 'active' and held.strength <> 'claimed'
        ) then
            return true;
        end if;
    end if;
    return false;
end;
$$;

comment on function customer_management.verification_owner_channel(text, text, text, uuid) is
'True when a code requester is the identifier''s owner''s proven channel: its account''s '
'verified line in use, or the login that confirmed it or whose account holds it.';
