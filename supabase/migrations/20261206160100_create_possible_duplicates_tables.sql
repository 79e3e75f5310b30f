-- Possible duplicates: pairs of live accounts that are probably one person although no
-- identifier ties them (an email one character apart, a phone one digit off, the same name
-- with nothing against it). They are only ever proposed: a person decides. The last list
-- found is kept here (support works through it in the console); what support decided about
-- a pair is kept apart, so a pair kept separate is not proposed again.

create table customer_management.possible_duplicates (
    account_a uuid not null references public.customers (id) on delete cascade,
    account_b uuid not null references public.customers (id) on delete cascade,
    group_no integer not null,
    score integer not null,
    reasons text[] not null,
    found_at timestamptz not null default now(),
    primary key (account_a, account_b),
    check (account_a < account_b)
);

comment on table customer_management.possible_duplicates is
'The last list of possible duplicates (refresh_possible_duplicates): pairs of live accounts '
'that are probably one person, their score and reasons, and the group each pair is in '
'(pairs that share an account are one group). Never merged by the kit: support decides.';
comment on column customer_management.possible_duplicates.reasons is
'Why the pair was proposed, as stable codes (email_one_character_apart, '
'phone_one_digit_off, same_name, names_swapped, ...): kinds of evidence, never values.';

create index possible_duplicates_group_idx
on customer_management.possible_duplicates (group_no);
create index possible_duplicates_account_b_idx
on customer_management.possible_duplicates (account_b);

alter table customer_management.possible_duplicates enable row level security;
revoke all on customer_management.possible_duplicates
from public, anon, authenticated, service_role;

create table customer_management.duplicate_decisions (
    account_a uuid not null,
    account_b uuid not null,
    decision text not null check (decision in ('kept_separate')),
    decided_at timestamptz not null default now(),
    decided_by_role text not null,
    decided_by_uid uuid,
    reason text check (char_length(reason) <= 1000),
    primary key (account_a, account_b),
    check (account_a < account_b)
);

comment on table customer_management.duplicate_decisions is
'Pairs of accounts support decided are different people (kept separate): never proposed as '
'possible duplicates again. Ids are followed to their survivor when accounts merge later.';

create index duplicate_decisions_account_b_idx
on customer_management.duplicate_decisions (account_b);

alter table customer_management.duplicate_decisions enable row level security;
revoke all on customer_management.duplicate_decisions
from public, anon, authenticated, service_role;
