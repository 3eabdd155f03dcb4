-- What every request paid PostgreSQL for and did not need.
--
-- The helper functions that a statement calls and PostgreSQL cannot inline
-- become PL/pgSQL, whose queries are planned once per connection.
--
-- A LANGUAGE sql function that is not inlined (a body with FROM, WITH or an
-- aggregate) is parsed, analysed and planned afresh on every execution of
-- the statement that calls it: the plan of its body is kept only for that
-- one execution. run_statement (V12) calls statement_call once per request,
-- and a write's audit row calls todo_changes, so every request paid for
-- planning them: under load, a quarter of PostgreSQL's time for
-- /api/auth/me and a tenth for a list of 50. The bodies are unchanged.

CREATE OR REPLACE FUNCTION statement_call(name text, args jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN format('EXECUTE %I', name)
           || coalesce('(' || (SELECT string_agg(quote_nullable(a), ', ' ORDER BY i)
                               FROM jsonb_array_elements_text(args) WITH ORDINALITY AS u(a, i))
                       || ')', '');
END
$$;

CREATE OR REPLACE FUNCTION todo_changes(old jsonb, new jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        SELECT COALESCE(jsonb_object_agg(k, jsonb_build_object(
                   'old', COALESCE(old -> k, 'null'::jsonb),
                   'new', COALESCE(new -> k, 'null'::jsonb))), '{}'::jsonb)
        FROM (SELECT jsonb_object_keys(old) UNION SELECT jsonb_object_keys(new)) AS keys (k)
        WHERE COALESCE(old -> k, 'null'::jsonb) IS DISTINCT FROM COALESCE(new -> k, 'null'::jsonb));
END
$$;

CREATE OR REPLACE FUNCTION todo_next_due(recurrence text, due timestamptz, anchor_day smallint,
                                         now timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (
        WITH base AS (SELECT COALESCE(due, now) AT TIME ZONE 'UTC' AS t),
        next AS (
            SELECT CASE recurrence
                WHEN 'daily' THEN t + interval '1 day'
                WHEN 'weekly' THEN t + interval '7 days'
                WHEN 'monthly' THEN
                    date_trunc('month', t) + interval '1 month'
                    + (LEAST(COALESCE(anchor_day, extract(day FROM t)::int),
                             extract(day FROM date_trunc('month', t) + interval '2 months'
                                               - interval '1 day')::int) - 1) * interval '1 day'
                    + (t - date_trunc('day', t))
            END AS t
            FROM base)
        SELECT t AT TIME ZONE 'UTC' FROM next WHERE t < '10000-01-01'::timestamp);
END
$$;

-- V2's indexes for tag and text search serve no statement: a list filters
-- inside the statement's one generic plan (`$n IS NULL OR tags @> ...`),
-- which no index can serve, and walks a list's todos through the list's own
-- indexes. Every insert and every change of a title, description or tags
-- still had to keep them up to date.
DROP INDEX todos_tags;
DROP INDEX todos_title_trgm;
DROP INDEX todos_description_trgm;
