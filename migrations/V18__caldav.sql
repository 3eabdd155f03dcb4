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

-- Secret calendar feeds: a list's open todos with a due date, as VEVENTs,
-- for calendars that only subscribe. Only the token's digest is stored.
ALTER TABLE lists ADD COLUMN feed_sha256 text UNIQUE;
