-- Shared lists, their behaviour: every todo statement is scoped by the
-- caller's membership of the todo's list, and each list numbers its own
-- changes (`lists.change_seq`), so the delta sync follows each list the
-- caller belongs to. V16 made the schema; this migration makes what reads
-- it fast, and records what a list's members need to see.
--
-- A pod of the previous release, still running while this migration runs
-- and until the rollout replaces it, reads and writes its user's todos by
-- `todos.user_id` as before: the todos of its user's Inbox (which is where
-- V16 put every todo) and those its user created in shared lists. Its sync
-- tokens read as "the Inbox, after change N", which this release accepts.

-- The member who set a todo's reminder (its due date or reminder time): the
-- reminder goes to the assignee, else to them. The creator until then.
ALTER TABLE todos ADD COLUMN reminder_to uuid REFERENCES users (id) ON DELETE SET NULL;

-- A todo stays in its list when the member who created it deletes their
-- account (the list's owner pays for it; the owner's lists go with them).
ALTER TABLE todos ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE todos DROP CONSTRAINT todos_user_id_fkey;
ALTER TABLE todos ADD CONSTRAINT todos_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE todo_audit ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE todo_audit DROP CONSTRAINT todo_audit_user_id_fkey;
ALTER TABLE todo_audit ADD CONSTRAINT todo_audit_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;

-- A list's entry of its own: events of the list itself (`list.created`,
-- `list.updated`, `list.deleted`, `list.member.added`,
-- `list.member.removed`) go through the audit table, which is the outbox,
-- so that they reach the broker in order with the todo events. They name no
-- todo. A `move_out` row is the tombstone a moved todo leaves in the list
-- it left, so that members of that list only see it go; it is no event
-- (the move is the `update` row in the list it went to) and no history.
ALTER TABLE todo_audit ALTER COLUMN todo_id DROP NOT NULL;
ALTER TABLE todo_audit DROP CONSTRAINT todo_audit_action_check;
ALTER TABLE todo_audit ADD CONSTRAINT todo_audit_action_check
    CHECK (action IN ('create', 'update', 'toggle', 'delete', 'reminder', 'move_out',
                      'list.created', 'list.updated', 'list.deleted',
                      'list.member.added', 'list.member.removed'));
DROP TRIGGER todo_audit_event ON todo_audit;
CREATE TRIGGER todo_audit_event AFTER INSERT ON todo_audit
    FOR EACH ROW WHEN (NEW.action <> 'move_out') EXECUTE FUNCTION event_outbox_queue();

-- The audited fields of a todo name its list and assignee too, so that the
-- history shows moves and assignments and every event carries `list_id`.
CREATE OR REPLACE FUNCTION todo_fields(t todos) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'title', t.title,
        'description', t.description,
        'priority', (ARRAY['low', 'medium', 'high', 'urgent'])[t.priority + 1],
        'completed', t.completed,
        'completed_at', api_ts(t.completed_at),
        'due_at', api_ts(t.due_at),
        'remind_at', api_ts(t.remind_at),
        'tags', to_jsonb(t.tags),
        'recurrence', t.recurrence,
        'list_id', t.list_id,
        'assignee_id', t.assignee_id);

-- Every read of todos now goes by list: a page reads each list the caller
-- belongs to through one of these (the sort's keys, then the id), the sync
-- reads each list's changes in order, and an assignee's todos are found
-- when they leave. They replace the same indexes keyed by user.
CREATE INDEX todos_list_created ON todos (list_id, created_at DESC, id DESC);
CREATE INDEX todos_list_due_asc
    ON todos (list_id, (COALESCE(due_at, 'infinity'::timestamptz)), created_at, id);
CREATE INDEX todos_list_due_desc
    ON todos (list_id, (COALESCE(due_at, '-infinity'::timestamptz)), created_at, id);
CREATE INDEX todos_list_priority ON todos (list_id, priority, created_at, id);
CREATE INDEX todos_list_title ON todos (list_id, lower(title), created_at, id);
CREATE INDEX todos_list_change ON todos (list_id, change_seq, id);
CREATE INDEX todos_assignee ON todos (assignee_id, list_id) WHERE assignee_id IS NOT NULL;
DROP INDEX todos_user_created;
DROP INDEX todos_user_due_asc;
DROP INDEX todos_user_due_desc;
DROP INDEX todos_user_priority;
DROP INDEX todos_user_title;
DROP INDEX todos_user_updated;
-- (todos_user_change stays: it serves the foreign key to users.)

-- A todo's history, whoever wrote it; and each list's tombstones and fired
-- reminders, in the list's change order. (todo_audit_todo stays: it serves
-- the foreign key to users.)
CREATE INDEX todo_audit_todo_id ON todo_audit (todo_id, id DESC);
CREATE INDEX todo_audit_list_gone ON todo_audit (list_id, change_seq)
    WHERE action IN ('delete', 'move_out');
CREATE INDEX todo_audit_list_reminders ON todo_audit (list_id, change_seq)
    WHERE action = 'reminder';
DROP INDEX todo_audit_deleted_seq;
DROP INDEX todo_audit_reminders;
