-- Shared lists, their schema: lists, members, pending invitations, and the
-- list of every todo. Every user has an Inbox, and every todo written so
-- far moves into its user's Inbox.
--
-- Every new account gets its Inbox from a trigger on `users`, whichever
-- release signed it up. A pod of the previous release keeps running while
-- this migration runs and until the new release replaces it. It knows no
-- lists: it creates todos as before, and two more triggers put a todo (or
-- an audit row) written without a list into its user's Inbox, which is
-- where that release shows it.

-- A list. The owner is one column, so there is exactly one; the owner is
-- also a member (the deferred foreign key below), whose stored role is what
-- the owner becomes after handing the list over. Counters that a limit
-- checks live on the row that a change locks, so that the check is exact
-- under concurrent requests.
CREATE TABLE lists (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- A short number that names the list in sync tokens.
    num              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    owner_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    color            text CHECK (color ~ '^#[0-9a-f]{6}$'),
    -- The Inbox cannot be shared, renamed or deleted.
    inbox            boolean NOT NULL DEFAULT false,
    member_count     integer NOT NULL DEFAULT 1 CHECK (member_count BETWEEN 1 AND 50),
    invitation_count integer NOT NULL DEFAULT 0 CHECK (invitation_count BETWEEN 0 AND 50),
    -- Numbers the list's changes in commit order: every change locks the
    -- list's row to take the next number.
    change_seq       bigint NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lists_one_inbox ON lists (owner_id) WHERE inbox;
CREATE INDEX lists_owner ON lists (owner_id);

-- Who may see and change a list. The owner's row says `editor`: the owner's
-- powers come from `lists.owner_id`.
CREATE TABLE list_members (
    list_id    uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('editor', 'viewer')),
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, user_id)
);
-- The lists of a user, with the role, from the index alone.
CREATE UNIQUE INDEX list_members_user ON list_members (user_id, list_id) INCLUDE (role);

ALTER TABLE lists ADD CONSTRAINT lists_owner_is_member
    FOREIGN KEY (id, owner_id) REFERENCES list_members (list_id, user_id)
    DEFERRABLE INITIALLY DEFERRED;

-- A pending invitation, by email, whether or not the email has an account
-- (it waits for the sign-up). Accepting, declining or revoking it deletes
-- it, so it can be answered once.
CREATE TABLE list_invitations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    list_id    uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    email      text NOT NULL,
    role       text NOT NULL CHECK (role IN ('editor', 'viewer')),
    inviter_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (list_id, email)
);
CREATE INDEX list_invitations_email ON list_invitations (email, created_at);

-- The limits a user's row holds: lists owned (the Inbox aside), and
-- invitations sent in the current 24-hour window.
ALTER TABLE users
    ADD COLUMN owned_lists integer NOT NULL DEFAULT 0,
    ADD COLUMN invitations_since timestamptz NOT NULL DEFAULT '-infinity',
    ADD COLUMN invitations_sent integer NOT NULL DEFAULT 0;

-- An Inbox for a user, in one statement (the owner's member row with it).
CREATE FUNCTION create_inbox(owner uuid) RETURNS void
    LANGUAGE sql AS $$
    WITH l AS (
        INSERT INTO lists (owner_id, name, inbox) VALUES (owner, 'Inbox', true) RETURNING id)
    INSERT INTO list_members (list_id, user_id, role) SELECT id, owner, 'editor' FROM l
$$;

CREATE FUNCTION users_inbox() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM create_inbox(NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_inbox AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_inbox();

-- The Inboxes of the users there are. Each starts its change numbers where
-- its user's stopped, so that a sync token issued before lists still reads
-- as "the Inbox, after change N".
SELECT create_inbox(id) FROM users;
UPDATE lists l SET change_seq = u.change_seq FROM users u WHERE l.owner_id = u.id AND l.inbox;

-- Every todo belongs to a list; an assignee must be a member of it (checked
-- by the statements that set one, which hold the list's lock).
ALTER TABLE todos
    ADD COLUMN list_id uuid REFERENCES lists (id) ON DELETE CASCADE,
    ADD COLUMN assignee_id uuid REFERENCES users (id) ON DELETE SET NULL;
UPDATE todos t SET list_id = l.id FROM lists l WHERE l.owner_id = t.user_id AND l.inbox;
ALTER TABLE todos ALTER COLUMN list_id SET NOT NULL;

-- Every history entry names its list and who made the change.
ALTER TABLE todo_audit
    ADD COLUMN list_id uuid,
    ADD COLUMN actor_id uuid;
UPDATE todo_audit a SET list_id = l.id, actor_id = a.user_id
FROM lists l WHERE l.owner_id = a.user_id AND l.inbox;

-- What the previous release writes without a list: its user's Inbox, and
-- its user as the actor. This release names both, so the triggers do not
-- even fire for its writes.
CREATE FUNCTION todo_inbox_by_default() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.list_id := COALESCE(NEW.list_id, (SELECT id FROM lists WHERE owner_id = NEW.user_id AND inbox));
    RETURN NEW;
END
$$;
CREATE TRIGGER todos_inbox_by_default BEFORE INSERT ON todos
    FOR EACH ROW WHEN (NEW.list_id IS NULL) EXECUTE FUNCTION todo_inbox_by_default();

CREATE FUNCTION audit_inbox_by_default() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.list_id := COALESCE(NEW.list_id, (SELECT id FROM lists WHERE owner_id = NEW.user_id AND inbox));
    NEW.actor_id := COALESCE(NEW.actor_id, NEW.user_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER todo_audit_inbox_by_default BEFORE INSERT ON todo_audit
    FOR EACH ROW WHEN (NEW.list_id IS NULL OR NEW.actor_id IS NULL)
    EXECUTE FUNCTION audit_inbox_by_default();
