-- Chat conversations: every user message and assistant answer, grouped by
-- conversation. The initial schema's chat_messages had no conversation and
-- nothing wrote to it yet, so it is replaced.

DROP TABLE chat_messages;

CREATE TABLE chat_conversations (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The first message, shortened: what a list of conversations shows.
    title      text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX chat_conversations_user ON chat_conversations (user_id, updated_at DESC, id DESC);

CREATE TABLE chat_messages (
    id              bigserial PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('user', 'assistant')),
    content         text NOT NULL,
    -- Assistant answers: which tier understood the message, and the intent.
    tier            text CHECK (tier IN ('qwen', 'ollama', 'rules')),
    intent          jsonb,
    created_at      timestamptz NOT NULL
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id DESC);

-- The LLM tiers' circuit breaker, shared by every instance (nothing outlives
-- a request in memory under Spin): failures counted in a fixed 60 s window
-- from the first; the third opens the tier (skipped) until open_until.
CREATE TABLE llm_breaker (
    tier         text PRIMARY KEY CHECK (tier IN ('qwen', 'ollama')),
    failures     integer NOT NULL CHECK (failures >= 0),
    window_start timestamptz NOT NULL,
    open_until   timestamptz
);
