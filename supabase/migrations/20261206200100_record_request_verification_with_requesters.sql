-- public.request_verification took the requester's line, user and session: the function
-- the kit owns outside its schema is the one with those parameters now (uninstall drops it).

update customer_management.shared_objects
set name = 'public.request_verification(text, text, text, uuid, text)'
where kind = 'function' and name = 'public.request_verification(text, text)';
