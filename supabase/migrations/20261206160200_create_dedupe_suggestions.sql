-- Finding possible duplicates among the live accounts, in one pass, for a million accounts.
--
-- Blocking: each account is given keys, and only accounts that share a key are compared.
--   - an email: itself and each variant with one character of its local part dropped. Two
--     addresses one character dropped, doubled, moved or changed apart share a variant (a
--     moved character: dropping it from both leaves the same text), and which variants they
--     share says which typo it is;
--   - a phone: each variant with one digit of its national number masked. Two numbers one
--     digit off share exactly one, the same number all of them;
--   - a name: how the first and last names sound (Double Metaphone), in either order, when
--     at most 30 accounts sound alike (the name of thousands decides nothing alone).
-- Scoring: points for each piece of evidence, against for each contradiction; a pair is
-- proposed from min_score on (80 by default):
--   phone one digit off 60; email one character dropped, doubled or moved 60 (20 when the
--   two differ only in digits or separators: john.smith12 and john.smith21 are usually two
--   people; 50 when the names are only alike or one lacks its surname and no phone is
--   near: daniel@ and danielw@, jon_lopez@ and john_lopez@ differ by what tells two people
--   apart), one character changed 15 (not in digits); the same name or the names swapped 30
--   and, when the name is rare (the first name's and the surname's counts among the live
--   accounts predict fewer than 0.2 people of that name), 50 more; similar names 25
--   (one letter apart each, or trigram similarity of the whole name from 0.7); the surname
--   missing on one side with the first names alike 20; different names -100; both hold
--   emails none of which is near the other's -15, the same for phones -15.
-- Left out: pairs that share an identifier exactly (the exact plan's: `dedupe`), pairs of
-- two different logins (never merged), pairs support kept separate, and pairs a merge of
-- which was undone.
--
-- The points were set on one generated table with known truth and checked on others; see
-- docs/adoption.md for what they reach and where they miss.

create function customer_management.find_possible_duplicates(min_score integer default 80)
returns table (account_a uuid, account_b uuid, score integer, reasons text[])
language plpgsql
stable
set search_path = ''
set work_mem = '256MB'
set jit = off
set max_parallel_workers_per_gather = 0
set enable_mergejoin = off
as $$
declare
    live_accounts bigint;
begin
    if min_score is null then
        perform customer_management.raise_error(
            'invalid_min_score', 'min_score is required.',
            'Pairs scoring at least min_score are proposed (80 by default).'
        );
    end if;
    select count(*) into live_accounts from public.customers as c where c.merged_into is null;

    return query
    with accounts as materialized (
        select
            c.id,
            c.auth_user_id,
            regexp_replace(lower(coalesce(c.first_name, '')), '[[:space:][:punct:]]+', '', 'g')
            as fn,
            regexp_replace(lower(coalesce(c.last_name, '')), '[[:space:][:punct:]]+', '', 'g')
            as ln
        from public.customers as c
        where c.merged_into is null
    ),

    identifiers as materialized (
        select ci.customer_id as id, ci.type, ci.value
        from customer_management.customer_identifiers as ci
        inner join public.customers as c on ci.customer_id = c.id
        where
            c.merged_into is null
            and ci.type in ('phone', 'email')
            and ci.status in ('active', 'pending')
    ),

    -- Per account: which kinds of identifier it holds, and its emails' letters alone.
    holdings as materialized (
        select
            i.id,
            bool_or(i.type = 'email') as has_email,
            bool_or(i.type = 'phone') as has_phone,
            array_agg(regexp_replace(i.value, '[^a-z@]+', '', 'g')) filter (
                where i.type = 'email'
            ) as email_letters
        from identifiers as i
        group by i.id
    ),

    emails as (
        select i.id, split_part(i.value, '@', 1) as local_part, split_part(i.value, '@', 2) as domain
        from identifiers as i
        where i.type = 'email'
    ),

    identifier_keys as materialized (
        select e.id, 'e' as kind, 0 as position,
            hashtextextended('e' || e.local_part || '@' || e.domain, 0) as key
        from emails as e
        union all
        select e.id, 'e', d.position,
            hashtextextended(
                'e' || left(e.local_part, d.position - 1) || substr(e.local_part, d.position + 1)
                || '@' || e.domain,
                0
            )
        from emails as e
        cross join lateral generate_series(1, char_length(e.local_part)) as d (position)
        where char_length(e.local_part) >= 4
        union all
        select i.id, 'p', d.position,
            hashtextextended('p' || overlay(i.value placing '_' from d.position for 1), 0)
        from identifiers as i
        cross join lateral generate_series(
            greatest(2, char_length(i.value) - 9), char_length(i.value)
        ) as d (position)
        where i.type = 'phone'
    ),

    name_keys as materialized (
        select
            a.id,
            hashtextextended(least(s.first_sound, s.last_sound) || '|'
                || greatest(s.first_sound, s.last_sound), 0) as key
        from accounts as a
        cross join lateral (
            select
                customer_management.name_sound(a.fn) as first_sound,
                customer_management.name_sound(a.ln) as last_sound
        ) as s
        where a.fn <> '' and a.ln <> ''
    ),

    small_name_blocks as (
        select k.key from name_keys as k group by k.key having count(*) between 2 and 30
    ),

    -- Most keys are one account's alone: the shared ones are found first (counting only),
    -- and only their accounts are joined.
    shared_keys as (
        select k.key from identifier_keys as k group by k.key having count(*) between 2 and 50
    ),

    linked_keys as materialized (
        select k.* from identifier_keys as k
        where k.key in (select s.key from shared_keys as s)
    ),

    links as (
        select x.id as a_id, y.id as b_id, x.kind, x.position as a_position,
            y.position as b_position
        from linked_keys as x
        inner join linked_keys as y on x.key = y.key and x.id < y.id
        union all
        select x.id, y.id, 'n', 0, 0
        from name_keys as x
        inner join name_keys as y on x.key = y.key and x.id < y.id
        where x.key in (select b.key from small_name_blocks as b)
    ),

    pairs as (
        select
            l.a_id,
            l.b_id,
            bool_or(l.kind = 'e' and l.a_position = 0 and l.b_position = 0) as same_email,
            bool_or(l.kind = 'e' and (l.a_position = 0) <> (l.b_position = 0)) as email_dropped,
            bool_or(
                l.kind = 'e' and l.a_position > 0 and l.b_position > 0
                and l.a_position <> l.b_position
            ) as email_moved,
            bool_or(l.kind = 'e' and l.a_position > 0 and l.a_position = l.b_position)
            as email_changed,
            count(*) filter (where l.kind = 'p') as phone_keys
        from links as l
        group by l.a_id, l.b_id
    ),

    first_counts as (
        select a.fn, count(*) as n from accounts as a where a.fn <> '' group by a.fn
    ),

    last_counts as (
        select a.ln, count(*) as n from accounts as a where a.ln <> '' group by a.ln
    ),

    decided as (
        select least(x.a, x.b) as a, greatest(x.a, x.b) as b
        from (
            select
                customer_management.live_customer_id(d.account_a) as a,
                customer_management.live_customer_id(d.account_b) as b
            from customer_management.duplicate_decisions as d
            union all
            select
                customer_management.live_customer_id(m.survivor_id),
                customer_management.live_customer_id(m.merged_id)
            from customer_management.merge_undos as u
            inner join customer_management.merge_log as m on u.merge_id = m.id
        ) as x
        where x.a <> x.b
    ),

    compared as (
        select
            p.*,
            case
                when x.fn = '' and x.ln = '' or y.fn = '' and y.ln = '' then 'name_missing'
                when x.fn <> '' and x.ln <> '' and x.fn = y.fn and x.ln = y.ln then 'same_name'
                when x.fn <> '' and x.ln <> '' and x.fn = y.ln and x.ln = y.fn
                    then 'names_swapped'
                when x.fn <> '' and x.ln <> '' and y.fn <> '' and y.ln <> '' and (
                    customer_management.edit_distance(x.fn, y.fn) <= 1
                    and customer_management.edit_distance(x.ln, y.ln) <= 1
                    or customer_management.trigram_similarity(
                        x.fn || ' ' || x.ln, y.fn || ' ' || y.ln
                    ) >= 0.7
                ) then 'similar_names'
                when x.fn <> '' and x.ln <> '' and y.fn <> '' and y.ln <> '' and (
                    customer_management.edit_distance(x.fn, y.ln) <= 1
                    and customer_management.edit_distance(x.ln, y.fn) <= 1
                ) then 'similar_names_swapped'
                when (x.ln = '' or y.ln = '') and (
                    x.fn = y.fn and x.fn <> ''
                    or x.ln = '' and x.fn = y.ln
                    or y.ln = '' and y.fn = x.ln
                ) then 'surname_missing'
                else 'different_names'
            end as names,
            greatest(
                coalesce(fx.n, 0) * coalesce(lx.n, 0), coalesce(fy.n, 0) * coalesce(ly.n, 0)
            )::double precision / greatest(live_accounts, 1) < 0.2 as rare_name,
            hx.email_letters && hy.email_letters as email_letters_alike,
            hx.has_email and hy.has_email as both_email,
            hx.has_phone and hy.has_phone as both_phone
        from pairs as p
        inner join accounts as x on p.a_id = x.id
        inner join accounts as y on p.b_id = y.id
        left join holdings as hx on p.a_id = hx.id
        left join holdings as hy on p.b_id = hy.id
        left join first_counts as fx on x.fn = fx.fn
        left join last_counts as lx on x.ln = lx.ln
        left join first_counts as fy on y.fn = fy.fn
        left join last_counts as ly on y.ln = ly.ln
        where
            not p.same_email
            and p.phone_keys < 2
            and not (x.auth_user_id is distinct from y.auth_user_id
                and x.auth_user_id is not null and y.auth_user_id is not null)
            and not exists (
                select 1 from decided as d where d.a = p.a_id and d.b = p.b_id
            )
    ),

    scored as (
        select
            c.a_id,
            c.b_id,
            (case when c.phone_keys = 1 then 60 else 0 end)
            + (case
                when (c.email_dropped or c.email_moved) and c.email_letters_alike then 20
                when (c.email_dropped or c.email_moved)
                    and (c.names in ('same_name', 'names_swapped') or c.phone_keys = 1)
                    then 60
                when c.email_dropped or c.email_moved then 50
                when c.email_changed and not coalesce(c.email_letters_alike, false) then 15
                else 0
            end)
            + (case c.names
                when 'same_name' then 30 + case when c.rare_name then 50 else 0 end
                when 'names_swapped' then 30 + case when c.rare_name then 50 else 0 end
                when 'similar_names' then 25
                when 'similar_names_swapped' then 25
                when 'surname_missing' then 20
                when 'name_missing' then 0
                else -100
            end)
            - (case
                when c.both_email and not (c.email_dropped or c.email_moved or c.email_changed)
                    then 15
                else 0
            end)
            - (case when c.both_phone and c.phone_keys = 0 then 15 else 0 end) as score,
            array_remove(array[
                case when c.phone_keys = 1 then 'phone_one_digit_off' end,
                case
                    when c.email_dropped then 'email_one_character_dropped_or_doubled'
                    when c.email_moved then 'email_one_character_moved'
                    when c.email_changed then 'email_one_character_changed'
                end,
                case
                    when (c.email_dropped or c.email_moved or c.email_changed)
                        and c.email_letters_alike then 'emails_differ_in_digits_only'
                end,
                c.names,
                case when c.names in ('same_name', 'names_swapped') and c.rare_name
                    then 'rare_name' end,
                case
                    when c.both_email and not (c.email_dropped or c.email_moved or c.email_changed)
                        then 'different_emails'
                end,
                case when c.both_phone and c.phone_keys = 0 then 'different_phones' end
            ], null) as reasons
        from compared as c
    )

    select s.a_id, s.b_id, s.score, s.reasons
    from scored as s
    where s.score >= min_score;
end;
$$;

comment on function customer_management.find_possible_duplicates(integer) is
'Pairs of live accounts that are probably one person although no identifier ties them '
'(emails a typo apart, phones a digit apart, names alike), with score and reasons; pairs '
'kept separate, undone before or of two logins are left out. Reads only.';

revoke all on function customer_management.find_possible_duplicates(integer)
from public, anon, authenticated, service_role;
