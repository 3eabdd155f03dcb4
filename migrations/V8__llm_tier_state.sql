-- What the latest real chat calls saw of each LLM tier, so that readiness
-- reports it without calling the providers: the kind of the last provider
-- failure and when, the latency of the last recorded call, the last success.
-- A success no longer deletes the row; it sets failures to 0.
ALTER TABLE llm_breaker
    ADD COLUMN last_error      text,
    ADD COLUMN last_error_at   timestamptz,
    ADD COLUMN last_latency_ms bigint CHECK (last_latency_ms >= 0),
    ADD COLUMN last_success_at timestamptz;
