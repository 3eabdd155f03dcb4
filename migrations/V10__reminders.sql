-- Reminders. A todo may carry its own reminder time (`remind_at`); without
-- one, its owner's default lead time before `due_at` applies. The reminder
-- sweep claims a due reminder by setting `reminder_fired_at` in one atomic
-- UPDATE, so it fires exactly once however many sweeps run; a reminder that
-- falls in its owner's quiet hours waits in `reminder_deferred_until`.
-- Changing `due_at` or `remind_at` re-arms it (both reset to NULL); a
-- completed or deleted todo has none.
ALTER TABLE todos
    ADD COLUMN remind_at               timestamptz,
    ADD COLUMN reminder_fired_at       timestamptz,
    ADD COLUMN reminder_deferred_until timestamptz;

-- The sweep's candidates: armed reminders of open todos by the earliest
-- time they can be due (the lead time only brings them earlier, by at most
-- a week, which the sweep adds to its bound).
CREATE INDEX todos_reminder_due
    ON todos ((COALESCE(reminder_deferred_until, remind_at, due_at)))
    WHERE NOT completed AND reminder_fired_at IS NULL
      AND (remind_at IS NOT NULL OR due_at IS NOT NULL);

CREATE TABLE notification_preferences (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    enabled      boolean NOT NULL DEFAULT true,
    lead_minutes integer NOT NULL DEFAULT 30 CHECK (lead_minutes BETWEEN 0 AND 10080),
    quiet_start  time,
    quiet_end    time,
    time_zone    text NOT NULL DEFAULT 'UTC',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- The audited fields of a todo now include its reminder time, so the
-- history shows when it changed.
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
        'recurrence', t.recurrence);

-- The reminders of the delta sync and long-poll, by the user's change number.
CREATE INDEX todo_audit_reminders ON todo_audit (user_id, change_seq) WHERE action = 'reminder';
