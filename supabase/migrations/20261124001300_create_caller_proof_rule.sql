-- The caller-proof rule: which identifiers of a request the caller has proven (they may
-- find, open, extend or merge accounts) and which are verified (ownership established).
--
--   caller                      auth user id      email                   phone
--   end user (authenticated)    own id: proven,   confirmed in            confirmed in
--                               verified          auth.users: proven,     auth.users: proven,
--                                                 verified; else claimed  verified; else claimed
--   chatbot (service role,      refused           claimed                 the line it talks to:
--   source chatbot)                                                       proven, verified
--   backend (service role,      named user:       proven (vouched)        proven (vouched)
--   source webapp)              proven, verified
--
-- For every caller, an email or phone proven by a verification code in the same request
-- is proven and verified. A claimed identifier is stored as pending on the account the
-- request resolves to and listed in verificationRequired; it never finds, opens, extends
-- or merges an account, whoever else holds it. An email that two logins have confirmed (as
-- Supabase allows for SSO users) proves nothing for either.

create function customer_management.caller_proof(
    caller customer_management.api_caller,
    request customer_management.resolution_request,
    code_verified text
) returns customer_management.identifier_claim[]
language plpgsql
stable
set search_path = ''
as $$
declare
    chatbot boolean := caller.trusted and request.source = 'chatbot';
    user_id uuid := case when caller.trusted then request.auth_user_id else caller.uid end;
    account auth.users;
    email_confirmed boolean := false;
    phone_confirmed boolean := false;
    email_proven boolean;
    phone_proven boolean;
    claims customer_management.identifier_claim[] := '{}'::customer_management.identifier_claim[];
begin
    if not caller.trusted and request.source = 'chatbot' then
        perform customer_management.raise_error(
            'forbidden', 'source "chatbot" is for the chatbot''s own backend (service role).',
            'Send source "webapp" with the signed-in user''s token.', '42501'
        );
    end if;
    if not caller.trusted and request.auth_user_id <> caller.uid then
        perform customer_management.raise_error(
            'forbidden', 'authUserId must be the signed-in user''s own id.',
            'Leave authUserId out, or send the id of the user whose token you use.', '42501'
        );
    end if;
    if chatbot and request.auth_user_id is not null then
        perform customer_management.raise_error(
            'forbidden', 'On the chatbot channel authUserId proves nothing.',
            'Call with the signed-in user''s access token instead.', '42501'
        );
    end if;
    if user_id is not null then
        select u.* into account from auth.users as u
        where u.id = user_id and u.deleted_at is null;
        if account.id is null and caller.trusted then
            perform customer_management.raise_error(
                'unknown_auth_user', 'authUserId is not a user of this project.',
                'Send user.id of an existing Supabase Auth user.'
            );
        elsif account.id is null then
            perform customer_management.raise_error(
                'not_authenticated', 'The signed-in user no longer exists.',
                'Sign in again.', 'PT401'
            );
        elsif account.banned_until > now() then
            perform customer_management.raise_error(
                'forbidden', 'This login is banned.', 'Contact support.', '42501'
            );
        end if;
        -- What that auth user has confirmed (Supabase Auth stores phones as digits).
        email_confirmed := request.email is not null
            and account.email_confirmed_at is not null
            and lower(btrim(account.email)) = request.email
            and btrim(account.email) !~ '[^[:ascii:]]'
            and not exists (
                -- Another login confirmed it too. Supabase indexes (instance_id, lower(email)).
                select 1 from auth.users as other
                where
                    other.instance_id = account.instance_id
                    and lower(other.email) = request.email and other.id <> account.id
                    and other.email_confirmed_at is not null and other.deleted_at is null
            );
        phone_confirmed := request.phone is not null
            and account.phone_confirmed_at is not null
            and '+' || regexp_replace(account.phone, '[^0-9]', '', 'g') = request.phone;
    end if;

    -- Built with plain expressions (no query): this runs on every request.
    email_proven := (caller.trusted and not chatbot) or email_confirmed
        or code_verified is not distinct from 'email';
    phone_proven := caller.trusted or phone_confirmed
        or code_verified is not distinct from 'phone';
    if account.id is not null then
        claims := claims || row(
            'auth_user', account.id::text, account.id::text, true, true
        )::customer_management.identifier_claim;
    end if;
    if request.email is not null then
        claims := claims || row(
            'email', request.email, request.email_display, email_proven,
            email_confirmed or code_verified is not distinct from 'email'
        )::customer_management.identifier_claim;
    end if;
    if request.phone is not null then
        claims := claims || row(
            'phone', request.phone, request.phone, phone_proven,
            chatbot or phone_confirmed or code_verified is not distinct from 'phone'
        )::customer_management.identifier_claim;
    end if;

    if cardinality(claims) = 0 then
        perform customer_management.raise_error(
            'missing_identifier', 'Send a phone, an email or an authUserId.',
            'Placeholder values such as chatbot_temp@temp.local do not count.'
        );
    end if;
    if account.id is null
        and not (request.email is not null and email_proven)
        and not (request.phone is not null and phone_proven) then
        perform customer_management.raise_error(
            'verification_required',
            'Nothing in this request is proven: the chatbot proves the line it talks to, '
            || 'or an email or phone confirmed with a verification code.',
            'Send the caller''s phone line, or request_verification and send the code.'
        );
    end if;
    return claims;
end;
$$;

comment on function customer_management.caller_proof(
    customer_management.api_caller, customer_management.resolution_request, text
) is
'The caller-proof rule: each identifier of a request as proven (may open accounts) and '
'verified (ownership established), or merely claimed. Raises missing_identifier, '
'verification_required when nothing is proven, and forbidden, not_authenticated or '
'unknown_auth_user for an auth user id or a channel the caller may not use.';

revoke all on function customer_management.caller_proof(
    customer_management.api_caller, customer_management.resolution_request, text
) from public, anon, authenticated, service_role;
