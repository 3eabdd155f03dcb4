-- Personal access tokens: long-lived credentials for programs and AI agents
-- (REST and MCP), made and revoked by their owner. Only a SHA-256 digest of
-- the secret is kept; the token names its row, so a lookup is by id and the
-- digest is compared in constant time in Rust. Every token expires (at most
-- a year after it was made); a revoked token's row is deleted.
CREATE TABLE access_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    secret_sha256 text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    read_only     boolean NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);
CREATE INDEX access_tokens_user ON access_tokens (user_id, created_at DESC, id DESC);
