-- Each list's number of todos, and of open ones, kept as its todos change.
--
-- A page's `total` counted every todo of the shown lists that matched its
-- filters, on every request. Over one user's 6,000 todos that count was
-- three quarters of the rule-tier chat's statement for "show my tasks"
-- (pgbench of it, one client: 2.7 ms, 0.65 ms without the count). A page
-- filtered by nothing but its status (all todos, the REST list's default;
-- open ones, the chat's) now adds up its lists' counts instead
-- (todo_core::todos::store::list_sql), and so does GET /api/lists.
--
-- Triggers keep the counts, so that no statement that adds, removes, moves,
-- completes or reopens a todo can leave them behind (the app's, a cascade
-- from a deleted list or account, an operator's). An insert or an update
-- that moves a todo or changes `completed` adjusts its list once per row; a
-- delete adjusts each of its lists once per statement, from its transition
-- table, since clearing completed todos or deleting a list deletes many at
-- once. A statement trigger with a transition table cost a single-row
-- insert about 30 µs, a row trigger under 5 (pgbench of a create's shape:
-- the list's row updated, then the todo inserted; one client). The app's statements that change todos already hold their
-- lists' rows (each bumps their change_seq), so the triggers take no lock
-- that the statement did not.

ALTER TABLE lists
    ADD COLUMN todo_count integer NOT NULL DEFAULT 0,
    ADD COLUMN open_count integer NOT NULL DEFAULT 0;

CREATE FUNCTION count_added_todo() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lists l SET todo_count = l.todo_count + 1,
                       open_count = l.open_count + CASE WHEN NEW.completed THEN 0 ELSE 1 END
    WHERE l.id = NEW.list_id;
    RETURN NULL;
END $$;

CREATE FUNCTION count_removed_todos() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lists l SET todo_count = l.todo_count - r.n, open_count = l.open_count - r.open
    FROM (SELECT list_id, count(*)::int AS n, (count(*) FILTER (WHERE NOT completed))::int AS open
          FROM removed GROUP BY list_id) AS r
    WHERE l.id = r.list_id;
    RETURN NULL;
END $$;

CREATE FUNCTION count_changed_todo() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lists l SET
        todo_count = l.todo_count + CASE WHEN l.id = NEW.list_id THEN 1 ELSE 0 END
                                  - CASE WHEN l.id = OLD.list_id THEN 1 ELSE 0 END,
        open_count = l.open_count + CASE WHEN l.id = NEW.list_id AND NOT NEW.completed THEN 1 ELSE 0 END
                                  - CASE WHEN l.id = OLD.list_id AND NOT OLD.completed THEN 1 ELSE 0 END
    WHERE l.id IN (OLD.list_id, NEW.list_id);
    RETURN NULL;
END $$;

-- Created before the counts are filled in: CREATE TRIGGER holds off every
-- write to todos until this migration commits, so none is missed.
CREATE TRIGGER todos_counted_added AFTER INSERT ON todos
    FOR EACH ROW EXECUTE FUNCTION count_added_todo();
CREATE TRIGGER todos_counted_removed AFTER DELETE ON todos
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION count_removed_todos();
CREATE TRIGGER todos_counted_changed AFTER UPDATE OF list_id, completed ON todos
    FOR EACH ROW WHEN (OLD.list_id <> NEW.list_id OR OLD.completed <> NEW.completed)
    EXECUTE FUNCTION count_changed_todo();

UPDATE lists l SET todo_count = c.n, open_count = c.open
FROM (SELECT list_id, count(*)::int AS n, (count(*) FILTER (WHERE NOT completed))::int AS open
      FROM todos GROUP BY list_id) AS c
WHERE l.id = c.list_id;
