-- What the todos API needs beyond the initial schema: one index per list
-- ordering (each ends in id, the tie-breaker of the keyset cursor), one for
-- delta sync, and for tag and text filters, plus the SQL helpers that let a change
-- and its audit row be written by a single statement.

-- sort=due_at / -due_at: todos without a due date sort last in both
-- directions, so each direction gets its own key (a backward scan of one
-- index would put them first). Ties break by creation time, then id.
CREATE INDEX todos_user_due_asc
    ON todos (user_id, COALESCE(due_at, 'infinity'::timestamptz), created_at, id);
CREATE INDEX todos_user_due_desc
    ON todos (user_id, COALESCE(due_at, '-infinity'::timestamptz), created_at, id);
-- sort=priority / -priority (newest first within a priority).
CREATE INDEX todos_user_priority ON todos (user_id, priority, created_at, id);
-- sort=title / -title, case-insensitive.
CREATE INDEX todos_user_title ON todos (user_id, lower(title), created_at, id);
-- updated_since= (delta sync).
CREATE INDEX todos_user_updated ON todos (user_id, updated_at);
-- tag=.
CREATE INDEX todos_tags ON todos USING gin (tags);
-- q= (case-insensitive substring of title or description): trigram indexes.
-- pg_trgm ships with PostgreSQL and is a trusted extension, so the database
-- owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX todos_title_trgm ON todos USING gin (title gin_trgm_ops);
CREATE INDEX todos_description_trgm ON todos USING gin (description gin_trgm_ops);

-- The audited fields of a todo as the API spells them.
CREATE FUNCTION todo_fields(t todos) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'title', t.title,
        'description', t.description,
        'priority', (ARRAY['low', 'medium', 'high', 'urgent'])[t.priority + 1],
        'completed', t.completed,
        'completed_at', api_ts(t.completed_at),
        'due_at', api_ts(t.due_at),
        'tags', to_jsonb(t.tags),
        'recurrence', t.recurrence);

-- {"field": {"old": ..., "new": ...}} for every field whose value differs
-- (a missing field counts as null).
CREATE FUNCTION todo_changes(old jsonb, new jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (
        SELECT COALESCE(jsonb_object_agg(k, jsonb_build_object(
                   'old', COALESCE(old -> k, 'null'::jsonb),
                   'new', COALESCE(new -> k, 'null'::jsonb))), '{}'::jsonb)
        FROM (SELECT jsonb_object_keys(old) UNION SELECT jsonb_object_keys(new)) AS keys (k)
        WHERE COALESCE(old -> k, 'null'::jsonb) IS DISTINCT FROM COALESCE(new -> k, 'null'::jsonb));

-- The due date of a recurring todo's next occurrence: the due date advanced by
-- the recurrence, counted in UTC (so "monthly" keeps the day of the month and
-- "daily" is 24 hours whatever the session's time zone); a todo without a due
-- date counts from `now`. NULL when the todo does not recur.
CREATE FUNCTION todo_next_due(recurrence text, due timestamptz, now timestamptz)
    RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (COALESCE(due, now) AT TIME ZONE 'UTC'
            + CASE recurrence
                  WHEN 'daily' THEN interval '1 day'
                  WHEN 'weekly' THEN interval '7 days'
                  WHEN 'monthly' THEN interval '1 month'
              END) AT TIME ZONE 'UTC';
