-- The audit trail is append-only. No API role has write grants on it, and a trigger
-- refuses UPDATE, DELETE and TRUNCATE even for the table owner; there is no way around it
-- short of dropping the trigger (DDL, which the migration history shows). Erasure needs
-- none: entries hold ids and keyed hashes, and the merge log's before-images are sealed
-- with a key that erasure destroys.

create function customer_management.refuse_audit_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using
        errcode = '42501',
        message = 'audit_log_append_only',
        detail = format('%s on %s.%s is not allowed: the audit trail is append-only.',
            tg_op, tg_table_schema, tg_table_name),
        hint = 'Undo a merge with the undo function; erase personal data with erasure.';
end;
$$;

comment on function customer_management.refuse_audit_change() is
'Trigger: refuses UPDATE, DELETE and TRUNCATE on the audit tables, for every role.';

revoke all on function customer_management.refuse_audit_change()
from public, anon, authenticated, service_role;

create trigger merge_log_append_only
before update or delete on customer_management.merge_log
for each row execute function customer_management.refuse_audit_change();

create trigger merge_log_no_truncate
before truncate on customer_management.merge_log
for each statement execute function customer_management.refuse_audit_change();

create trigger audit_log_append_only
before update or delete on customer_management.audit_log
for each row execute function customer_management.refuse_audit_change();

create trigger audit_log_no_truncate
before truncate on customer_management.audit_log
for each statement execute function customer_management.refuse_audit_change();

create trigger merge_undos_append_only
before update or delete on customer_management.merge_undos
for each row execute function customer_management.refuse_audit_change();

create trigger merge_undos_no_truncate
before truncate on customer_management.merge_undos
for each statement execute function customer_management.refuse_audit_change();
