-- The list of possible duplicates support works through: found afresh by
-- refresh_possible_duplicates (what `customer-management dedupe --suggest` runs), kept in
-- possible_duplicates, read a page of groups at a time. Pairs that share an account are
-- one group: when A resembles B and B resembles C, support sees A, B and C together with
-- the reasons of each pair, and can split the group.

-- Numbers the groups of a set of pairs of accounts (accounts given as numbers 1..n):
-- union-find over the pairs, each group numbered from first_group on in the order of its
-- first pair. Returns (pair index, group) for every pair.
create function customer_management.number_duplicate_groups(
    node_a integer[], node_b integer[], first_group integer
) returns table (pair_index integer, group_no integer)
language plpgsql
immutable
set search_path = ''
as $$
declare
    parent integer[];
    group_of integer[];
    next_group integer := first_group;
    a integer;
    b integer;
begin
    parent := array(
        select g from generate_series(
            1, greatest(
                coalesce((select max(x) from unnest(node_a) as x), 0),
                coalesce((select max(x) from unnest(node_b) as x), 0)
            )
        ) as g
    );
    for i in 1..coalesce(cardinality(node_a), 0) loop
        a := node_a[i];
        b := node_b[i];
        while parent[a] <> a loop
            parent[a] := parent[parent[a]];
            a := parent[a];
        end loop;
        while parent[b] <> b loop
            parent[b] := parent[parent[b]];
            b := parent[b];
        end loop;
        if a < b then
            parent[b] := a;
        elsif b < a then
            parent[a] := b;
        end if;
    end loop;
    group_of := array_fill(0, array[greatest(cardinality(parent), 1)]);
    for i in 1..coalesce(cardinality(node_a), 0) loop
        a := node_a[i];
        while parent[a] <> a loop
            a := parent[a];
        end loop;
        if group_of[a] = 0 then
            group_of[a] := next_group;
            next_group := next_group + 1;
        end if;
        pair_index := i;
        group_no := group_of[a];
        return next;
    end loop;
end;
$$;

comment on function customer_management.number_duplicate_groups(integer[], integer[], integer) is
'Groups pairs of accounts (numbered 1..n) transitively, union-find: for each pair, the number '
'of its group, groups numbered from first_group in the order of their first pair.';

revoke all on function customer_management.number_duplicate_groups(integer[], integer[], integer)
from public, anon, authenticated, service_role;

-- The pairs given (in that order) with their group numbers from first_group on.
create function customer_management.group_duplicate_pairs(
    pair_a uuid[], pair_b uuid[], first_group integer
) returns table (account_a uuid, account_b uuid, group_no integer)
language plpgsql
stable
set search_path = ''
as $$
begin
    return query
    with pairs as (
        select p.a, p.b, p.i
        from unnest(pair_a, pair_b) with ordinality as p (a, b, i)
    ),

    nodes as (
        select x.id, (row_number() over (order by x.id))::integer as node
        from (select p.a as id from pairs as p union select p.b from pairs as p) as x
    ),

    numbered as (
        select
            array_agg(na.node order by p.i) as node_a,
            array_agg(nb.node order by p.i) as node_b
        from pairs as p
        inner join nodes as na on p.a = na.id
        inner join nodes as nb on p.b = nb.id
    )

    select pair_a[g.pair_index], pair_b[g.pair_index], g.group_no
    from numbered as n
    cross join lateral customer_management.number_duplicate_groups(
        n.node_a, n.node_b, first_group
    ) as g;
end;
$$;

comment on function customer_management.group_duplicate_pairs(uuid[], uuid[], integer) is
'The pairs of accounts given, each with the number of its group (pairs sharing an account, '
'transitively), groups numbered from first_group in the order of their first pair.';

revoke all on function customer_management.group_duplicate_pairs(uuid[], uuid[], integer)
from public, anon, authenticated, service_role;

-- Finds the possible duplicates afresh and keeps them, grouped, for support; the list before
-- is replaced. Only one refresh runs at a time. Returns counts.
create function customer_management.refresh_possible_duplicates(min_score integer default 80)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('customer_management:possible_duplicates', 0)
    );
    delete from customer_management.possible_duplicates;
    -- Strongest pairs first: groups are numbered in the order of their strongest pair.
    with found as materialized (
        select f.* from customer_management.find_possible_duplicates(min_score) as f
    ),

    ordered as (
        select
            coalesce(array_agg(f.account_a order by f.score desc, f.account_a, f.account_b), '{}')
            as pair_a,
            coalesce(array_agg(f.account_b order by f.score desc, f.account_a, f.account_b), '{}')
            as pair_b
        from found as f
    ),

    grouped as (
        select g.*
        from ordered as o
        cross join lateral customer_management.group_duplicate_pairs(o.pair_a, o.pair_b, 1) as g
    )

    insert into customer_management.possible_duplicates (
        account_a, account_b, group_no, score, reasons
    )
    select f.account_a, f.account_b, g.group_no, f.score, f.reasons
    from found as f
    inner join grouped as g on f.account_a = g.account_a and f.account_b = g.account_b;

    return (
        select jsonb_build_object(
            'pairs', count(*),
            'groups', count(distinct p.group_no),
            'accounts', (
                select count(*) from (
                    select d.account_a from customer_management.possible_duplicates as d
                    union
                    select d.account_b from customer_management.possible_duplicates as d
                ) as x
            ),
            'minScore', min_score
        )
        from customer_management.possible_duplicates as p
    );
end;
$$;

comment on function customer_management.refresh_possible_duplicates(integer) is
'Finds the possible duplicates afresh (find_possible_duplicates), groups them and keeps '
'them for support, replacing the list before; returns counts. Changes no account.';

revoke all on function customer_management.refresh_possible_duplicates(integer)
from public, anon, authenticated, service_role;

-- One group as support sees it: its accounts (as support's answers show an account) and its
-- pairs with score and reasons; pairs whose accounts were merged or erased since, or that
-- support decided about, are left out. Null when nothing of the group stands any more.
create function customer_management.possible_duplicate_group(group_number integer)
returns jsonb
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    pairs jsonb;
    members uuid[];
begin
    select
        jsonb_agg(jsonb_build_object(
            'accountA', x.a, 'accountB', x.b, 'score', x.score, 'reasons', to_jsonb(x.reasons)
        ) order by x.score desc, x.a, x.b),
        array(select distinct m from unnest(array_agg(x.a) || array_agg(x.b)) as m)
    into pairs, members
    from (
        select p.account_a as a, p.account_b as b, p.score, p.reasons
        from customer_management.possible_duplicates as p
        inner join public.customers as ca on p.account_a = ca.id
        inner join public.customers as cb on p.account_b = cb.id
        where
            p.group_no = group_number
            and ca.merged_into is null
            and cb.merged_into is null
            and not exists (
                select 1 from customer_management.duplicate_decisions as d
                where d.account_a = p.account_a and d.account_b = p.account_b
            )
    ) as x;
    if pairs is null then
        return null;
    end if;
    return jsonb_build_object(
        'group', group_number,
        'score', (select max((e ->> 'score')::integer) from jsonb_array_elements(pairs) as e),
        'accounts', (
            select jsonb_agg(
                customer_management.support_account_card(c.id) order by c.created_at, c.id
            )
            from public.customers as c
            where c.id = any(members)
        ),
        'pairs', pairs
    );
end;
$$;

comment on function customer_management.possible_duplicate_group(integer) is
'A group of possible duplicates for support: its live accounts and its undecided pairs with '
'score and reasons; null when none stands any more.';

revoke all on function customer_management.possible_duplicate_group(integer)
from public, anon, authenticated, service_role;

-- A page of groups, strongest first (group order), from after_group on.
create function customer_management.possible_duplicate_page(
    page_size integer, after_group integer
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    groups jsonb := '[]'::jsonb;
    candidate integer;
    found jsonb;
    last_group integer;
    more boolean := false;
begin
    if page_size is null or page_size < 1 or page_size > 200 then
        perform customer_management.raise_error(
            'invalid_page', 'page_size must be between 1 and 200.', 'Send a smaller page_size.'
        );
    end if;
    for candidate in
        select distinct p.group_no from customer_management.possible_duplicates as p
        where after_group is null or p.group_no > after_group
        order by p.group_no
    loop
        found := customer_management.possible_duplicate_group(candidate);
        continue when found is null;
        if jsonb_array_length(groups) = page_size then
            more := true;
            exit;
        end if;
        groups := groups || jsonb_build_array(found);
        last_group := candidate;
    end loop;
    return jsonb_build_object(
        'groups', groups,
        'total', (select count(distinct p.group_no) from customer_management.possible_duplicates as p),
        'refreshedAt', (select max(p.found_at) from customer_management.possible_duplicates as p),
        'nextAfter', case when more then to_jsonb(last_group) else 'null'::jsonb end
    );
end;
$$;

comment on function customer_management.possible_duplicate_page(integer, integer) is
'A page of possible-duplicate groups after after_group (keyset), each as '
'possible_duplicate_group shows it; nextAfter names the next page.';

revoke all on function customer_management.possible_duplicate_page(integer, integer)
from public, anon, authenticated, service_role;
