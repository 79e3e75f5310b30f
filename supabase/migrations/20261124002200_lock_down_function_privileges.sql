-- Function hygiene: nothing in the private schema is executable by the API roles except
-- the definer behind the public RPC, and no kit function in public is executable by anon.
-- Applied last so it also covers functions created by earlier migrations.

revoke execute on all functions in schema private from public, anon, authenticated, service_role;
grant execute on function private.resolve_customer(jsonb) to authenticated, service_role;

revoke all on all tables in schema private from public, anon, authenticated, service_role;
revoke all on all sequences in schema private from public, anon, authenticated, service_role;

revoke execute on function public.customer_management(jsonb) from public, anon;
