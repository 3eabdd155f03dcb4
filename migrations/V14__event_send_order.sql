-- Events cannot land out of order: every event gets a send number when a
-- relay pass first claims it, and the Redis sink appends it to the stream
-- under that number (`XADD <stream> ... <send_seq>-0 ...`). Redis refuses an
-- id that is not above the stream's last one, so a send that arrives late
-- (a relay stuck on XADD past its lease, while the next relay sent the
-- event again and newer ones after it) is refused instead of landing after
-- newer events. Spin's Redis interface has no time limit, so lateness can
-- only be made harmless, not prevented (todo_core::events).

-- Above every id Redis makes itself (`*`: milliseconds since 1970, then a
-- counter) until the year 2286, so a stream that already holds entries of
-- an earlier relay, or that an earlier relay still writes to during a
-- rolling upgrade, takes these ids.
CREATE SEQUENCE event_send_seq AS bigint START WITH 10000000000000 MINVALUE 10000000000000;

-- Set once, in audit order, by the pass that first claims the event; a
-- later pass sends the event again under the same number.
ALTER TABLE event_outbox ADD COLUMN send_seq bigint;

-- A pass reads the pending events in send order: those already numbered
-- first, by their number, then the others by audit id (btree sorts NULL
-- last), so what one pass sends has ascending numbers.
DROP INDEX event_outbox_pending;
CREATE INDEX event_outbox_pending ON event_outbox (send_seq, audit_id) WHERE delivered_at IS NULL;
