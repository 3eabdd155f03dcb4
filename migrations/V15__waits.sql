-- Leases of the requests that wait: a long-poll of the todos (`wait=`) and
-- an events relay that follows the queue (`wait=`). Each holds a Spin
-- instance for up to 25 (or 55) seconds, so their number is capped: 20
-- long-polls per user, one following relay.
--
-- The per-user cap is exact as the todo and token limits are (V3, V7): a
-- counter on the user row moves in the statement that takes or gives back
-- a lease, and the cap is checked in that UPDATE's WHERE, which PostgreSQL
-- re-checks on the latest row after waiting for its lock (a count(*) of the
-- leases would read the snapshot taken before the wait, and parallel
-- long-polls would all see room). A lease carries its expiry, a little past
-- the longest wait: the lease of a request whose instance was killed is
-- deleted, and counted off, by the next long-poll of its user.

ALTER TABLE users ADD COLUMN wait_count integer NOT NULL DEFAULT 0;

CREATE TABLE waits (
    id      uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until   timestamptz NOT NULL
);
CREATE INDEX waits_user_until ON waits (user_id, until);

-- One relay follows at a time (relays without `wait` take turns through
-- relay_lease, V9, and are never refused).
CREATE TABLE relay_follower (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    holder   uuid,
    until    timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO relay_follower DEFAULT VALUES;
