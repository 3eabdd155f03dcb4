-- Searching (`q=`, case-insensitive substring of title or description) is
-- served by trigram indexes, and sorting by due date or title breaks ties by
-- creation time (then id) instead of by id alone, so undated todos and equal
-- titles keep a meaningful, stable order.

-- pg_trgm ships with PostgreSQL and is a trusted extension: the database
-- owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX todos_title_trgm ON todos USING gin (title gin_trgm_ops);
CREATE INDEX todos_description_trgm ON todos USING gin (description gin_trgm_ops);

DROP INDEX todos_user_due_asc;
DROP INDEX todos_user_due_desc;
DROP INDEX todos_user_title;
CREATE INDEX todos_user_due_asc
    ON todos (user_id, COALESCE(due_at, 'infinity'::timestamptz), created_at, id);
CREATE INDEX todos_user_due_desc
    ON todos (user_id, COALESCE(due_at, '-infinity'::timestamptz), created_at, id);
CREATE INDEX todos_user_title ON todos (user_id, lower(title), created_at, id);
