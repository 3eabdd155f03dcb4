-- The 50-token cap of personal access tokens, made exact as the todo limit
-- is (V3): a counter on the user row, moved by the same statement as every
-- insert and delete of a token, under that row's lock. A creation checks the
-- cap in its UPDATE's WHERE, which PostgreSQL re-checks on the latest row
-- after waiting for the lock, so parallel creations cannot all see room.
-- It counts the user's rows, expired ones too until a creation deletes them.

ALTER TABLE users ADD COLUMN access_token_count integer NOT NULL DEFAULT 0;
UPDATE users u SET access_token_count = (SELECT count(*) FROM access_tokens t WHERE t.user_id = u.id);
