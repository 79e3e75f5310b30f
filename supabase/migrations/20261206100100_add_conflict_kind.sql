-- Why a conflict was recorded. Besides one request meeting several accounts, the kit now
-- records for support every time it refuses to open an account that holds what a caller
-- proved (and every tie batch deduplication will not merge because the two accounts hold the
-- value with different strengths): no person is split without a record.

alter table customer_management.customer_conflicts
add column kind text not null default 'several_accounts'
check (kind in ('several_accounts', 'contested_identifier'));

comment on column customer_management.customer_conflicts.kind is
'several_accounts: one request''s proofs opened these accounts. contested_identifier: one '
'account holds an identifier that a caller proved for another (a proof the rule refused, a '
'second proof declined, or a deduplication tie of unequal strengths); only support resolves it.';
