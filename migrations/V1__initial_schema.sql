-- Initial schema: accounts, token revocation, login throttling, todos with
-- their audit trail, and chat history. Append new files; never edit this one.

-- Timestamps leave the database as RFC 3339 text in UTC, so Spin's pg4 and the
-- native client decode them the same way (see crates/core/src/ports.rs).
CREATE FUNCTION api_ts(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Logged-out tokens, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- Failed logins per email, for throttling (5 in 15 minutes).
CREATE TABLE login_failures (
    email     text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_email_failed_at ON login_failures (email, failed_at);

CREATE TABLE todos (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    -- 0 low, 1 medium, 2 high, 3 urgent: sortable, urgent first when descending.
    priority     smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    completed    boolean NOT NULL DEFAULT false,
    completed_at timestamptz,
    due_at       timestamptz,
    tags         text[] NOT NULL DEFAULT '{}',
    recurrence   text NOT NULL DEFAULT 'none'
                 CHECK (recurrence IN ('none', 'daily', 'weekly', 'monthly')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1
);
CREATE INDEX todos_user_created ON todos (user_id, created_at DESC, id DESC);

-- Every change to a todo, written in the same statement as the change.
-- No foreign key to todos: the trail (and delta sync) outlives a deleted todo.
CREATE TABLE todo_audit (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    todo_id    uuid NOT NULL,
    action     text NOT NULL CHECK (action IN ('create', 'update', 'toggle', 'delete')),
    changes    jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX todo_audit_todo ON todo_audit (user_id, todo_id, id DESC);
CREATE INDEX todo_audit_deleted ON todo_audit (user_id, at) WHERE action = 'delete';

CREATE TABLE chat_messages (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('user', 'assistant')),
    content    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_user ON chat_messages (user_id, id DESC);
