-- Placeholder values that must never become identity: the chatbot's
-- `chatbot_temp@temp.local`, "unknown", reserved test domains. A blocked value is
-- ignored (never matched, never stored as an identifier), not rejected.

create table customer_management.blocked_values (
    kind text not null check (kind in ('any', 'email', 'email_domain', 'phone')),
    value text not null check (value = lower(btrim(value)) and value <> ''),
    reason text not null,
    primary key (kind, value)
);

comment on table customer_management.blocked_values is
'Values never matched or stored as identity. email_domain blocks the domain and its subdomains.';

alter table customer_management.blocked_values enable row level security;
revoke all on customer_management.blocked_values from public, anon, authenticated, service_role;

insert into customer_management.blocked_values (kind, value, reason) values
('any', 'unknown', 'placeholder'),
('any', 'none', 'placeholder'),
('any', 'null', 'placeholder'),
('any', 'n/a', 'placeholder'),
('any', 'na', 'placeholder'),
('any', '-', 'placeholder'),
('email_domain', 'local', 'reserved: mDNS / placeholder domain'),
('email_domain', 'localhost', 'reserved: RFC 2606'),
('email_domain', 'invalid', 'reserved: RFC 2606'),
('email_domain', 'test', 'reserved: RFC 2606'),
('email_domain', 'example', 'reserved: RFC 2606');
