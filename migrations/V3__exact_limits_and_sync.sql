-- Limits that cannot be raced and a delta sync that cannot skip a change.
--
-- Every change of a user's todos updates that user's row in the same
-- statement, which serialises the user's changes under its row lock:
-- `todo_count` makes the 10,000-todo limit exact, and `change_seq` numbers
-- the changes in commit order. Each todo (and each tombstone in the audit
-- trail) carries the number of the change that last touched it, so "every
-- change after N" never misses a slower concurrent write.

ALTER TABLE users
    ADD COLUMN todo_count integer NOT NULL DEFAULT 0,
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
UPDATE users u SET todo_count = (SELECT count(*) FROM todos t WHERE t.user_id = u.id);

ALTER TABLE todos
    ADD COLUMN change_seq bigint NOT NULL DEFAULT 0,
    -- Set when completing this occurrence created the next one: it never
    -- creates another, however often it is reopened and completed.
    ADD COLUMN spawned_next boolean NOT NULL DEFAULT false,
    -- Monthly series: the day of the month they keep (Jan 31 -> Feb 28 -> Mar 31).
    ADD COLUMN due_anchor_day smallint CHECK (due_anchor_day BETWEEN 1 AND 31);
CREATE INDEX todos_user_change ON todos (user_id, change_seq);

ALTER TABLE todo_audit ADD COLUMN change_seq bigint;
CREATE INDEX todo_audit_deleted_seq ON todo_audit (user_id, change_seq) WHERE action = 'delete';

-- Login and sign-up throttling: one row per key (an email and client address
-- pair, a client address, ...), counting attempts in a fixed window. An
-- attempt is reserved with one INSERT ... ON CONFLICT DO UPDATE before the
-- password is checked, so parallel attempts cannot all pass.
CREATE TABLE throttle (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    attempts     integer NOT NULL
);
CREATE INDEX throttle_window_start ON throttle (window_start);
DROP TABLE login_failures;

-- The next due date of a recurring todo, counted in UTC from its due date
-- (or from `now` when it has none). Monthly keeps `anchor_day` (or the due
-- date's day), clamped to the month's length. NULL when the todo does not
-- recur or the date would pass 9999-12-31, the last day the API accepts.
CREATE OR REPLACE FUNCTION todo_next_due(recurrence text, due timestamptz, anchor_day smallint,
                                         now timestamptz)
    RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
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
DROP FUNCTION todo_next_due(text, timestamptz, timestamptz);
