-- Events: every change of a todo becomes a CloudEvent that a relay delivers
-- to a broker (todo_core::events). The audit trail is the outbox: each
-- change already writes its audit row in the statement that makes it, and
-- now that row also holds the todo after the change (`after`, the event's
-- data), and a trigger queues it in `event_outbox` inside that same
-- statement. No statement of the app sends a second insert for its event.

-- The todo after the change, as an event carries it (event_data below); for
-- a delete, the fields it had when it was deleted. NULL on rows written
-- before this migration (they were never events).
ALTER TABLE todo_audit ADD COLUMN after jsonb;

-- An event's data: a todo's fields (todo_fields) with its id. Every audit
-- INSERT fills `after` with it, so that all events carry one shape.
CREATE FUNCTION event_data(id uuid, fields jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN fields || jsonb_build_object('id', id);

-- A due reminder that fired is recorded like a change (todo.reminder events).
ALTER TABLE todo_audit DROP CONSTRAINT todo_audit_action_check;
ALTER TABLE todo_audit ADD CONSTRAINT todo_audit_action_check
    CHECK (action IN ('create', 'update', 'toggle', 'delete', 'reminder'));

-- One row per event still to deliver (delivered_at NULL) or delivered
-- lately; the relay prunes it after a retention period. The event itself is
-- the audit row, which stays (it is the todo's history).
CREATE TABLE event_outbox (
    audit_id     bigint PRIMARY KEY REFERENCES todo_audit (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
-- The relay reads the pending events in audit order.
CREATE INDEX event_outbox_pending ON event_outbox (audit_id) WHERE delivered_at IS NULL;
-- The relay prunes by age.
CREATE INDEX event_outbox_created ON event_outbox (created_at);

CREATE FUNCTION event_outbox_queue() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_outbox (audit_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER todo_audit_event AFTER INSERT ON todo_audit
    FOR EACH ROW EXECUTE FUNCTION event_outbox_queue();

-- The relay's lease: one row. A relay takes it (atomically, in the
-- statement that reads its batch) only when it is free or expired, and
-- gives it back when it marks what the broker acknowledged, so that two
-- relays never deliver at once and the events of a todo stay in order.
CREATE TABLE relay_lease (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    holder   uuid,
    until    timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO relay_lease DEFAULT VALUES;
