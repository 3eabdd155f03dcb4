-- CalDAV (README: Sync with your phone): each list is a calendar of VTODOs.
--
-- A todo a CalDAV client created keeps the resource name and UID the client
-- chose; one a client never named is `<id>.ics`, with its id as UID. Both
-- are unique within a list. `ical` is the last calendar object a client
-- sent for the todo: what the app does not map (X- properties, RELATED-TO,
-- time zones, alarms as written) is served back from it. A due date may be
-- all-day (`DUE;VALUE=DATE`), which the API answers as `due_all_day`.
ALTER TABLE todos
    ADD COLUMN dav_name text CHECK (dav_name ~ '^[^/]{1,200}\.ics$'),
    ADD COLUMN dav_uid text CHECK (length(dav_uid) BETWEEN 1 AND 255),
    ADD COLUMN ical text CHECK (length(ical) <= 262144),
    ADD COLUMN due_all_day boolean NOT NULL DEFAULT false;

CREATE UNIQUE INDEX todos_dav_name ON todos (list_id, (COALESCE(dav_name, id::text || '.ics')));
CREATE UNIQUE INDEX todos_dav_uid ON todos (list_id, (COALESCE(dav_uid, id::text)));

-- The names of todos that left a list (deleted, or moved out) under a name
-- a client chose: a sync-collection report names them as gone. Todos
-- without one were `<id>.ics`. No foreign key to lists: a list's deletion
-- deletes its todos in the same statement, and their names are recorded
-- then.
CREATE TABLE dav_gone (
    list_id uuid NOT NULL,
    todo_id uuid NOT NULL,
    dav_name text NOT NULL,
    PRIMARY KEY (list_id, todo_id)
);

CREATE FUNCTION record_dav_gone() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dav_gone (list_id, todo_id, dav_name)
    VALUES (OLD.list_id, OLD.id, OLD.dav_name)
    ON CONFLICT (list_id, todo_id) DO UPDATE SET dav_name = excluded.dav_name;
    RETURN NULL;
END $$;

CREATE TRIGGER todos_dav_deleted AFTER DELETE ON todos
    FOR EACH ROW WHEN (OLD.dav_name IS NOT NULL) EXECUTE FUNCTION record_dav_gone();
CREATE TRIGGER todos_dav_moved AFTER UPDATE OF list_id ON todos
    FOR EACH ROW WHEN (OLD.dav_name IS NOT NULL AND OLD.list_id <> NEW.list_id)
    EXECUTE FUNCTION record_dav_gone();

-- Custom recurrence: besides the four words, a rule of the RRULE subset
-- (`RRULE:FREQ=…`, README: Todos), whose next occurrence the app computes
-- in the user's time zone; `occurrence` numbers a series' todos (1, 2, …)
-- for a rule's COUNT.
ALTER TABLE todos DROP CONSTRAINT todos_recurrence_check,
    ADD CONSTRAINT todos_recurrence_check CHECK (
        recurrence IN ('none', 'daily', 'weekly', 'monthly')
        OR (recurrence LIKE 'RRULE:FREQ=%' AND length(recurrence) <= 300)),
    ADD COLUMN occurrence integer NOT NULL DEFAULT 1 CHECK (occurrence >= 1);

-- Secret calendar feeds: a list's open todos with a due date, as VEVENTs,
-- for calendars that only subscribe. Only the token's digest is stored.
ALTER TABLE lists ADD COLUMN feed_sha256 text UNIQUE;

-- Events and history carry whether a due date is a day.
CREATE OR REPLACE FUNCTION todo_fields(t todos) RETURNS jsonb
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
