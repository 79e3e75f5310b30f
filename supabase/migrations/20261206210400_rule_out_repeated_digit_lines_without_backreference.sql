-- A well-formed North American line (what the chatbot's telephony sends) is ruled out as a
-- placeholder by comparing it with its first digit repeated, instead of a regular expression
-- with a back-reference, which PostgreSQL evaluates with its slower engine. The same numbers
-- are placeholders; every returning caller's lookup normalises its line.

create or replace function customer_management.normalize_phone(raw_phone text) returns text
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
    if raw_phone ~ '^\+1[2-9][0-9]{9}$'
        and substr(raw_phone, 3) <> repeat(substr(raw_phone, 3, 1), 10) then
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
