-- Normalisation in SQL, so every caller (RPC, import, support tools) agrees on what a
-- phone or email is. Each function returns null for a blocked placeholder and raises a
-- stable error code for malformed input.

-- True when a trimmed, lower-cased raw value is a generic placeholder such as "unknown".
create function customer_management.is_placeholder(raw_value text) returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select exists (
            select 1 from customer_management.blocked_values as b
            where b.kind = 'any' and b.value = lower(btrim(raw_value))
        )
    );
end;
$$;

comment on function customer_management.is_placeholder(text) is
'True for placeholder values (unknown, none, n/a, ...) that are ignored, never stored.';

revoke all on function customer_management.is_placeholder(text)
from public, anon, authenticated, service_role;

-- Phone to E.164. "+" kept, "00" read as "+", spaces, dots, dashes and brackets removed;
-- a national number is read in the configured default country. Returns null for a
-- placeholder or an all-same-digit number; raises invalid_phone for anything else.
create function customer_management.normalize_phone(raw_phone text) returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    compact text;
    digits text;
    national text;
    country customer_management.phone_countries;
begin
    -- Already a well-formed North American E.164 number (what the chatbot's telephony
    -- sends): nothing to rewrite, only the one-repeated-digit placeholder to rule out.
    if raw_phone ~ '^\+1[2-9][0-9]{9}$' and substr(raw_phone, 3) !~ '^([0-9])\1*$' then
        return raw_phone;
    end if;
    if raw_phone is null or btrim(raw_phone) = ''
        or (raw_phone !~ '[0-9]' and customer_management.is_placeholder(raw_phone)) then
        return null;
    end if;

    -- A tel: link, and "+44 (0)20 ...", the trunk 0 in brackets after the country code.
    compact := regexp_replace(btrim(raw_phone), '^tel:', '', 'i');
    compact := regexp_replace(compact, '^((\+|00)\s*[1-9][0-9]{0,2})\s*\(0\)', '\1');
    -- Separators, including the no-break and thin spaces that copy-paste brings along.
    compact := regexp_replace(
        compact, '[\s.()\[\]/\u00a0\u2000-\u200b\u202f\u2010-\u2015-]', '', 'g'
    );
    if compact like '00%' then
        compact := '+' || substr(compact, 3);
    end if;
    -- 000-000-0000, 555-555-5555 and the like are what people type when they will not
    -- say: a placeholder, whatever shape it has.
    if compact ~ '^(\+|00)?1?([0-9])\2{6,}$' then
        return null;
    end if;

    if compact ~ '^\+[0-9]+$' then
        digits := substr(compact, 2);
        if digits !~ '^[1-9][0-9]{7,14}$' then
            perform customer_management.raise_error(
                'invalid_phone', 'An international phone number needs 8 to 15 digits after +.',
                'Send the number in E.164 form, for example +15551234567.'
            );
        end if;
        -- North American numbers have a fixed shape; check it so typos are caught.
        if digits like '1%' and digits !~ '^1[2-9][0-9]{9}$' then
            perform customer_management.raise_error(
                'invalid_phone', 'A +1 number needs a 10-digit national number.',
                'Send the number in E.164 form, for example +15551234567.'
            );
        end if;
        -- "+44 020 ..." keeps the national trunk 0 by mistake: drop it where the country
        -- code is known to use one.
        select pc.* into country
        from customer_management.phone_countries as pc
        where digits like pc.calling_code || pc.trunk_prefix || '%' and pc.trunk_prefix = '0'
        order by length(pc.calling_code) desc
        limit 1;
        if country.calling_code is not null then
            digits := country.calling_code || substr(digits, length(country.calling_code) + 2);
        end if;
        national := coalesce((
            select substr(digits, length(pc.calling_code) + 1)
            from customer_management.phone_countries as pc
            where digits like pc.calling_code || '%'
            order by length(pc.calling_code) desc
            limit 1
        ), digits);
    elsif compact ~ '^[0-9]+$' then
        select pc.* into country
        from customer_management.settings as s
        inner join customer_management.phone_countries as pc
            on s.default_phone_country = pc.country_code;

        national := compact;
        -- Drop a trunk prefix (the 1 of "1 555 ...", the 0 of "020 ...") when what
        -- follows is still a whole national number.
        if country.trunk_prefix is not null
            and national like country.trunk_prefix || '%'
            and length(national) - length(country.trunk_prefix)
            >= country.min_national_digits then
            national := substr(national, length(country.trunk_prefix) + 1);
        end if;
        if length(national) not between country.min_national_digits
            and country.max_national_digits
            or national like '0%'
            or (country.calling_code = '1' and national !~ '^[2-9]') then
            perform customer_management.raise_error(
                'invalid_phone',
                format('Not a valid %s phone number.', country.country_code),
                'Include the area code, or send the number in E.164 form (+15551234567).'
            );
        end if;
        digits := country.calling_code || national;
        if length(digits) > 15 then
            perform customer_management.raise_error(
                'invalid_phone', 'A phone number has at most 15 digits.',
                'Send the number in E.164 form, for example +15551234567.'
            );
        end if;
    else
        perform customer_management.raise_error(
            'invalid_phone',
            'A phone number may hold only digits, a leading + and spaces, dots, dashes '
            || 'or brackets.',
            'Send the number in E.164 form, for example +15551234567.'
        );
    end if;

    -- The same after the country code or trunk prefix: +1 555 555 5555, 07777 777777.
    if national ~ '^([0-9])\1*$' then
        return null;
    end if;
    return '+' || digits;
end;
$$;

comment on function customer_management.normalize_phone(text) is
'Phone to E.164 in the default country; null for placeholders; raises invalid_phone.';

revoke all on function customer_management.normalize_phone(text)
from public, anon, authenticated, service_role;

-- Email to its match key: trimmed and case-folded. Returns null for placeholders and
-- blocked domains (chatbot_temp@temp.local); raises invalid_email when malformed.
create function customer_management.normalize_email(raw_email text) returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    email text;
    local_part text;
    domain text;
begin
    if raw_email is null or btrim(raw_email) = ''
        or customer_management.is_placeholder(raw_email) then
        return null;
    end if;

    -- ASCII only, checked before case folding: lower() maps some non-ASCII letters
    -- (the dotted capital I, the Kelvin sign) onto ASCII ones, which would let two
    -- different addresses share one match key.
    if btrim(raw_email) ~ '[^[:ascii:]]' then
        perform customer_management.raise_error(
            'invalid_email', 'Only ASCII email addresses are accepted.',
            'Send an internationalised domain in its xn-- form.'
        );
    end if;
    email := lower(btrim(raw_email));
    local_part := substring(email from '^(.*)@[^@]*$');
    domain := substring(email from '@([^@]*)$');

    -- Placeholders first: some blocked domains (localhost) are not valid domains at all.
    if exists (
        select 1 from customer_management.blocked_values as b
        where (b.kind = 'email' and b.value = email)
            or (b.kind = 'email_domain' and (domain = b.value or domain like '%.' || b.value))
    ) then
        return null;
    end if;

    if local_part is null
        or length(email) > 254
        or length(local_part) not between 1 and 64
        or local_part !~ '^[a-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&''*+/=?^_`{|}~-]+)*$'
        or domain !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'
        then
        perform customer_management.raise_error(
            'invalid_email', 'Not a valid email address.',
            'Send an address of the form name@example.com.'
        );
    end if;

    return email;
end;
$$;

comment on function customer_management.normalize_email(text) is
'Email to its trimmed, case-folded match key; null for placeholders; raises invalid_email.';

revoke all on function customer_management.normalize_email(text)
from public, anon, authenticated, service_role;
