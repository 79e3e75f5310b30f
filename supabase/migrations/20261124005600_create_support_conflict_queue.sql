-- The conflict queue support works through: the conflicts of one status, oldest first, with
-- their age, how often requests met them, and their accounts unmasked (support must see
-- what it resolves: each account's id, email, phone and channel). Paged by keyset: the
-- next page starts after the last conflict of this one, so conflicts recorded meanwhile
-- neither shift nor repeat rows.

-- The queue reads one status in (created_at, id) order.
create index customer_conflicts_queue_idx
on customer_management.customer_conflicts (status, created_at, id);

create function customer_management.support_conflict_queue_for_caller(
    queue_status text, page_size integer, after_conflict_id uuid
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
set timezone = 'UTC'
as $$
declare
    after_created timestamptz;
    page_ids uuid[];
    total bigint;
begin
    perform customer_management.support_caller();
    if queue_status is null
        or queue_status not in ('open', 'escalated', 'merged', 'kept_separate', 'outdated') then
        perform customer_management.raise_error(
            'invalid_request',
            'status must be open, escalated, merged, kept_separate or outdated.',
            'Send one of the five statuses (default open).'
        );
    end if;
    if page_size is null or page_size < 1 or page_size > 200 then
        perform customer_management.raise_error(
            'invalid_page', 'page_size must be between 1 and 200.', 'Send a smaller page_size.'
        );
    end if;
    if after_conflict_id is not null then
        select cc.created_at into after_created
        from customer_management.customer_conflicts as cc
        where cc.id = after_conflict_id;
        if after_created is null then
            perform customer_management.raise_error(
                'not_found', 'There is no conflict with this id.',
                'Send the nextAfter of the previous page, or leave after_conflict_id out.',
                'PT404'
            );
        end if;
    end if;

    select coalesce(array_agg(p.id order by p.created_at, p.id), '{}') into page_ids
    from (
        select cc.id, cc.created_at
        from customer_management.customer_conflicts as cc
        where
            cc.status = queue_status
            and (
                after_created is null
                or (cc.created_at, cc.id) > (after_created, after_conflict_id)
            )
        order by cc.created_at, cc.id
        limit page_size + 1
    ) as p;
    select count(*) into total
    from customer_management.customer_conflicts as cc
    where cc.status = queue_status;

    return jsonb_build_object(
        'status', queue_status,
        'total', total,
        'conflicts', coalesce((
            select jsonb_agg(
                customer_management.conflict_state(cc.id, true) || jsonb_build_object(
                    'ageSeconds', floor(extract(epoch from now() - cc.created_at))::bigint
                )
                order by cc.created_at, cc.id
            )
            from customer_management.customer_conflicts as cc
            where cc.id = any(page_ids[1:page_size])
        ), '[]'::jsonb),
        'nextAfter', case
            when cardinality(page_ids) > page_size then to_jsonb(page_ids[page_size])
            else 'null'::jsonb
        end
    );
end;
$$;

comment on function customer_management.support_conflict_queue_for_caller(text, integer, uuid) is
'Definer behind public.support_conflict_queue: one page of conflicts of a status, oldest '
'first, accounts unmasked; service role and support agents only.';

revoke all on function customer_management.support_conflict_queue_for_caller(text, integer, uuid)
from public, anon, authenticated, service_role;
grant execute on function customer_management.support_conflict_queue_for_caller(
    text, integer, uuid
) to authenticated, service_role;

create function public.support_conflict_queue(
    status text default 'open',
    page_size integer default 50,
    after_conflict_id uuid default null
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_conflict_queue_for_caller(
        status, page_size, after_conflict_id
    );
end;
$$;

comment on function public.support_conflict_queue(text, integer, uuid) is
'Support''s conflict queue: conflicts of a status (default open), oldest first, with age, '
'occurrences and unmasked accounts; next page with after_conflict_id = nextAfter. Service '
'role and support agents only. See docs/console.md.';

revoke all on function public.support_conflict_queue(text, integer, uuid) from public, anon;
grant execute on function public.support_conflict_queue(text, integer, uuid)
to authenticated, service_role;
