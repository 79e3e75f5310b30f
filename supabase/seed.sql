-- Sample data for a local database (`make run`, `supabase db reset`): one returning
-- customer known by phone and email, with order history, so the chatbot's lookup
-- ({"phone": "+15551234567", "source": "chatbot"}) answers "Welcome back John!".
-- Idempotent: fixed ids and ON CONFLICT DO NOTHING.

insert into public.customers (id, first_name, last_name, phone, email, allergies, preferences)
values (
    '00000000-0000-4000-8000-000000000001', 'John', 'Smith', '+15551234567', 'john@email.com',
    '{nuts}',
    '{"account_sources": ["chatbot", "webapp"], "created_via": "chatbot", '
    '"last_updated_via": "webapp"}'
)
on conflict (id) do nothing;

-- The phone is the line John called the chatbot from, so it counts as verified.
insert into customer_management.customer_identifiers (
    customer_id, type, value, display_value, source, verified_at
)
values
(
    '00000000-0000-4000-8000-000000000001', 'phone', '+15551234567', '+15551234567',
    'chatbot', '2026-09-30 15:00:00+00'
),
(
    '00000000-0000-4000-8000-000000000001', 'email', 'john@email.com', 'john@email.com',
    'webapp', null
)
on conflict do nothing;

insert into public.orders (id, customer_id, items, total, status, delivery_date, created_at)
values
(
    '00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000001',
    '[{"name": "Chocolate Dipped Strawberries", "quantity": 1, "price": 54.99}]',
    54.99, 'delivered', '2026-10-02', '2026-09-30 15:04:00+00'
),
(
    '00000000-0000-4000-8000-000000000102', '00000000-0000-4000-8000-000000000001',
    '[{"name": "Birthday Fruit Bouquet", "quantity": 1, "price": 79.99}]',
    79.99, 'confirmed', '2026-11-28', '2026-11-20 10:12:00+00'
)
on conflict (id) do nothing;
