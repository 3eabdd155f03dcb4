-- The CHECK constraints of todos and lists become domains.
--
-- PostgreSQL keeps a table's CHECK constraints as stored expression trees
-- and reads each back from its text (stringToNode), then plans it, for
-- every statement that inserts or updates a row of the table: todos had
-- nine and lists four, so a create, which inserts a todo and updates its
-- list's row twice (its change number, then its counts), read 17 of them,
-- and an update of a todo's title all nine of todos' and the list's four
-- (twice) although it changed neither. About a tenth of PostgreSQL's CPU
-- for a create (`perf` of pgbench running the app's create, one client).
--
-- A domain's constraints are read once per connection (the type cache keeps
-- them planned), and are checked only where a value is stored into a
-- column of the domain: an insert, or an update that sets that column. The
-- rules are the same as before, value for value; a value that breaks one is
-- still refused with SQLSTATE 23514 (check_violation), now naming the
-- domain's constraint. The app checks every value before it writes (the
-- constraints are the last line, for every writer of the database).
--
-- Each column first becomes a domain without constraints, which PostgreSQL
-- does in place (no rewrite; only the two indexes on expressions of these
-- columns, todos_list_title and todos_dav_name, are built again); each
-- constraint is then added to its domain, which checks the stored rows
-- once. What depends on the columns' types is dropped and created again,
-- as it was (todo_fields and the two CalDAV triggers, V18); the columns'
-- statistics, which a change of type drops, are gathered again at the end.
--
-- The audit table's one CHECK (action) stays: a change of its column's type
-- would build again the three partial indexes that name the column, each a
-- full read of a table that only grows.

DROP TRIGGER todos_dav_deleted ON todos;
DROP TRIGGER todos_dav_moved ON todos;
DROP FUNCTION todo_fields(todos);

CREATE DOMAIN todo_title AS text;
CREATE DOMAIN todo_description AS text;
CREATE DOMAIN todo_priority AS smallint;
CREATE DOMAIN todo_recurrence AS text;
CREATE DOMAIN todo_occurrence AS integer;
CREATE DOMAIN todo_due_anchor_day AS smallint;
CREATE DOMAIN todo_dav_name AS text;
CREATE DOMAIN todo_dav_uid AS text;
CREATE DOMAIN todo_ical AS text;
CREATE DOMAIN list_name AS text;
CREATE DOMAIN list_color AS text;
CREATE DOMAIN list_member_count AS integer;
CREATE DOMAIN list_invitation_count AS integer;

ALTER TABLE todos
    DROP CONSTRAINT todos_title_check,
    DROP CONSTRAINT todos_description_check,
    DROP CONSTRAINT todos_priority_check,
    DROP CONSTRAINT todos_recurrence_check,
    DROP CONSTRAINT todos_occurrence_check,
    DROP CONSTRAINT todos_due_anchor_day_check,
    DROP CONSTRAINT todos_dav_name_check,
    DROP CONSTRAINT todos_dav_uid_check,
    DROP CONSTRAINT todos_ical_check,
    ALTER COLUMN title TYPE todo_title,
    ALTER COLUMN description TYPE todo_description,
    ALTER COLUMN priority TYPE todo_priority,
    ALTER COLUMN recurrence TYPE todo_recurrence,
    ALTER COLUMN occurrence TYPE todo_occurrence,
    ALTER COLUMN due_anchor_day TYPE todo_due_anchor_day,
    ALTER COLUMN dav_name TYPE todo_dav_name,
    ALTER COLUMN dav_uid TYPE todo_dav_uid,
    ALTER COLUMN ical TYPE todo_ical;

ALTER TABLE lists
    DROP CONSTRAINT lists_name_check,
    DROP CONSTRAINT lists_color_check,
    DROP CONSTRAINT lists_member_count_check,
    DROP CONSTRAINT lists_invitation_count_check,
    ALTER COLUMN name TYPE list_name,
    ALTER COLUMN color TYPE list_color,
    ALTER COLUMN member_count TYPE list_member_count,
    ALTER COLUMN invitation_count TYPE list_invitation_count;

ALTER DOMAIN todo_title ADD CONSTRAINT todo_title_check
    CHECK (char_length(VALUE) BETWEEN 1 AND 200);
ALTER DOMAIN todo_description ADD CONSTRAINT todo_description_check
    CHECK (char_length(VALUE) <= 2000);
ALTER DOMAIN todo_priority ADD CONSTRAINT todo_priority_check
    CHECK (VALUE BETWEEN 0 AND 3);
ALTER DOMAIN todo_recurrence ADD CONSTRAINT todo_recurrence_check
    CHECK (VALUE IN ('none', 'daily', 'weekly', 'monthly')
           OR (VALUE LIKE 'RRULE:FREQ=%' AND length(VALUE) <= 300));
ALTER DOMAIN todo_occurrence ADD CONSTRAINT todo_occurrence_check
    CHECK (VALUE >= 1);
ALTER DOMAIN todo_due_anchor_day ADD CONSTRAINT todo_due_anchor_day_check
    CHECK (VALUE BETWEEN 1 AND 31);
ALTER DOMAIN todo_dav_name ADD CONSTRAINT todo_dav_name_check
    CHECK (VALUE ~ '^[^/]{1,200}\.ics$');
ALTER DOMAIN todo_dav_uid ADD CONSTRAINT todo_dav_uid_check
    CHECK (length(VALUE) BETWEEN 1 AND 255);
ALTER DOMAIN todo_ical ADD CONSTRAINT todo_ical_check
    CHECK (length(VALUE) <= 262144);
ALTER DOMAIN list_name ADD CONSTRAINT list_name_check
    CHECK (char_length(VALUE) BETWEEN 1 AND 100);
ALTER DOMAIN list_color ADD CONSTRAINT list_color_check
    CHECK (VALUE ~ '^#[0-9a-f]{6}$');
ALTER DOMAIN list_member_count ADD CONSTRAINT list_member_count_check
    CHECK (VALUE BETWEEN 1 AND 50);
ALTER DOMAIN list_invitation_count ADD CONSTRAINT list_invitation_count_check
    CHECK (VALUE BETWEEN 0 AND 50);

-- As in V18.
CREATE FUNCTION todo_fields(t todos) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'title', t.title,
        'description', t.description,
        'priority', (ARRAY['low', 'medium', 'high', 'urgent'])[t.priority + 1],
        'completed', t.completed,
        'completed_at', api_ts(t.completed_at),
        'due_at', api_ts(t.due_at),
        'due_all_day', t.due_all_day,
        'remind_at', api_ts(t.remind_at),
        'tags', to_jsonb(t.tags),
        'recurrence', t.recurrence,
        'list_id', t.list_id,
        'assignee_id', t.assignee_id);

CREATE TRIGGER todos_dav_deleted AFTER DELETE ON todos
    FOR EACH ROW WHEN (OLD.dav_name IS NOT NULL) EXECUTE FUNCTION record_dav_gone();
CREATE TRIGGER todos_dav_moved AFTER UPDATE OF list_id ON todos
    FOR EACH ROW WHEN (OLD.dav_name IS NOT NULL AND OLD.list_id <> NEW.list_id)
    EXECUTE FUNCTION record_dav_gone();

ANALYZE todos, lists;
