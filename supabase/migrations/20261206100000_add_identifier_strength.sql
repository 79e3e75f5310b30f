-- How strongly an account holds each identifier. One customer stays one account only if a
-- proof can tell an identifier somebody proved from one somebody typed:
--
--   verified  Supabase Auth confirmed it, it is the chatbot's line, a code proved it, or an
--             import whose old system proved it (--verified).
--   vouched   the service role on the web channel sent it, or an import brought it.
--   claimed   said or typed and unproven (stored pending), or held by an account that a
--             proof opened through another identifier while nobody had ever verified this
--             one (it then opens nothing by itself until proven).
--
-- Strength is independent of status: an active row holds its value (unique among active
-- rows), a pending one does not; a row set aside keeps the strength it had, which is how the
-- kit knows that a vouched or verified identifier was taken and must be accounted for.

alter table customer_management.customer_identifiers
add column strength text check (strength in ('verified', 'vouched', 'claimed'));

comment on column customer_management.customer_identifiers.strength is
'verified (confirmed by Supabase Auth, the chatbot''s line, a code or a verified import), '
'vouched (the service role on the web channel, an import) or claimed (said or typed, or '
'demoted when a proof opened the account through another identifier).';

-- Rows written before strengths existed: a verification date means verified; an active row
-- without one was asserted by a trusted backend or an import; a pending one is an imported
-- copy held for deduplication (vouched) or a claim.
update customer_management.customer_identifiers as ci
set strength = case
    when ci.verified_at is not null then 'verified'
    when ci.status = 'active' then 'vouched'
    when ci.source = 'import' then 'vouched'
    else 'claimed'
end;

-- Writers that do not say a strength (a hand insert, the local seed) get the one its status
-- and verification date imply.
create function customer_management.default_identifier_strength() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.strength is null then
        new.strength := case
            when new.verified_at is not null then 'verified'
            when new.status = 'active' then 'vouched'
            else 'claimed'
        end;
    end if;
    return new;
end;
$$;

comment on function customer_management.default_identifier_strength() is
'Trigger: an identifier inserted without a strength gets the one its verification date and '
'status imply (verified, vouched when active, else claimed).';

revoke all on function customer_management.default_identifier_strength()
from public, anon, authenticated, service_role;

create trigger customer_identifiers_default_strength
before insert on customer_management.customer_identifiers
for each row execute function customer_management.default_identifier_strength();

alter table customer_management.customer_identifiers
alter column strength set not null,
add constraint customer_identifiers_verified_strength_check
check ((strength = 'verified') = (verified_at is not null));
