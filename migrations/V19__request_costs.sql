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

-- What a create takes under its list's lock, as functions the statement
-- calls. A statement that waits for a row lock and finds the row changed
-- once the lock is free (another create of the same list committed
-- meanwhile) re-checks it with EvalPlanQual, which starts every subplan of
-- the statement again: for a create, with its dozen CTEs, a fifth of
-- PostgreSQL's time when one user's requests arrive together. A query in a
-- function (VOLATILE) takes a snapshot of its own when it starts, so the
-- wait and the re-check happen in its one-line plan, and the statement
-- never touches a row it saw before the wait. Rows 1: a set-returning
-- function is otherwise estimated at 1,000 rows, which makes the statement
-- costly enough on paper for PostgreSQL to compile it with JIT on every
-- execution.

-- Locks list `list` (FOR UPDATE, as the statement's own lock did): no row
-- when there is no such list.
CREATE FUNCTION lock_list(list uuid) RETURNS TABLE (id uuid, owner_id uuid)
LANGUAGE plpgsql ROWS 1 AS $$
BEGIN
    RETURN QUERY SELECT l.id, l.owner_id FROM lists l WHERE l.id = list FOR UPDATE;
END
$$;

-- Counts `n` more todos for user `owner` if that keeps them within `cap`:
-- the user's id, or NULL (over the limit, or no such user).
CREATE FUNCTION count_todos(owner uuid, n int, cap bigint) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    counted uuid;
BEGIN
    UPDATE users u SET todo_count = u.todo_count + n
    WHERE u.id = owner AND u.todo_count + n <= cap
    RETURNING u.id INTO counted;
    RETURN counted;
END
$$;

-- The next change number of list `list`, which the caller has locked.
CREATE FUNCTION next_change(list uuid) RETURNS TABLE (id uuid, change_seq bigint)
LANGUAGE plpgsql ROWS 1 AS $$
BEGIN
    RETURN QUERY UPDATE lists l SET change_seq = l.change_seq + 1 WHERE l.id = list
                 RETURNING l.id, l.change_seq;
END
$$;

-- A chat answer's facts (what the todos library answered: a list of up to
-- 50 todos) are built as json text and were turned into jsonb on the way
-- in (parsed again, built again) and compressed with pglz: together about
-- a sixth of what PostgreSQL spends on a rule-tier "show my tasks". They
-- are only ever read whole, so they are kept as the json text they are
-- built as, compressed with lz4 where the server has it (PostgreSQL 14 and
-- later, built with lz4, as the usual packages are).
ALTER TABLE chat_messages ALTER COLUMN facts TYPE json USING facts::json;
DO $$
BEGIN
    ALTER TABLE chat_messages ALTER COLUMN facts SET COMPRESSION lz4;
    ALTER TABLE chat_messages ALTER COLUMN result SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
    RAISE NOTICE 'chat_messages keeps the default compression: %', SQLERRM;
END
$$;
