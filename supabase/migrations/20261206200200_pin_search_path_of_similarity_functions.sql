-- Every function of the kit pins an empty search_path, as Supabase's database linter
-- (function_search_path_mutable) asks: the three similarity functions too. Their bodies
-- name the extension's schema, so nothing changes in what they compute; they are no longer
-- inlined into the queries that call them.

alter function customer_management.name_sound(text) set search_path = '';
alter function customer_management.edit_distance(text, text) set search_path = '';
alter function customer_management.trigram_similarity(text, text) set search_path = '';
