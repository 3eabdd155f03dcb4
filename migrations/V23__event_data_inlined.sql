-- event_data (V9) is declared STABLE, as what it calls is: PostgreSQL
-- inlines a LANGUAGE sql function into the statement that calls it only if
-- the function is declared no less volatile than its body, and
-- jsonb_build_object is STABLE. As IMMUTABLE it was never inlined, and a
-- function that is not inlined has its body planned again at every
-- execution of the statement: every write of a todo or a list (its audit
-- row's `after`) paid about 20 µs for it (pgbench of the call alone, one
-- client), four times what the inlined expression costs.
CREATE OR REPLACE FUNCTION event_data(id uuid, fields jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN fields || jsonb_build_object('id', id);
