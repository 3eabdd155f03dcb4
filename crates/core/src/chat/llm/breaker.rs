//! The circuit breaker of the LLM tiers, kept in PostgreSQL (`llm_breaker`)
//! because nothing outlives a request in memory under Spin. Only failures of
//! the provider count (see `wire::Failure`). They are counted in a fixed
//! window that starts with the first one; the third within the window opens
//! the tier until 30 s after it. Each further failure in the same window
//! (the one trial call after the pause, or calls that were already on their
//! way) keeps it open 30 s from that failure. The same row keeps what the
//! latest calls saw (last error, last latency, last success), which
//! readiness reports without calling anyone.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Tier;
use crate::db::SqlParam;
use crate::ports::Ctx;

/// Failures within [`WINDOW`] that open a tier.
pub(super) const THRESHOLD: i64 = 3;
/// How long failures count together.
pub(super) const WINDOW: Duration = Duration::seconds(60);
/// How long an open tier is skipped.
const PAUSE: Duration = Duration::seconds(30);
/// How stale a tier's recorded success may get before an answer records
/// it again: a tier that keeps answering costs one write a minute.
const SUCCESS_RECORD_INTERVAL: Duration = Duration::seconds(60);

/// Both tiers' state at `now` (a placeholder) in one query: a tier without
/// a row has no failures to remember and is closed. `b.*` rather than named
/// columns, so that readiness still reads it on a schema a migration behind.
pub fn state_sql(now: &str) -> String {
    format!(
        "SELECT b.*, coalesce(b.open_until > {now}, false) AS open
    FROM llm_breaker b ORDER BY tier"
    )
}

/// Whether the row's failures belong to the window still running at `$3`
/// (now − window).
macro_rules! window_running {
    () => {
        "(b.failures > 0 AND b.window_start > $3::text::timestamptz)"
    };
}

/// Counts one failure of tier `$1` at `$2` (now), of kind `$6` after `$7`
/// ms, in one atomic upsert so that failures of parallel requests add up:
/// a window that started at or before `$3` (now − window) is over, so the
/// count starts again at 1; the count reaching `$5` (the threshold) opens
/// the tier until `$4` (now + pause).
const RECORD_FAILURE_SQL: &str = concat!(
    "INSERT INTO llm_breaker AS b
        (tier, failures, window_start, open_until, last_error, last_error_at, last_latency_ms)
    VALUES ($1::text, 1, $2::text::timestamptz,
            CASE WHEN 1 >= $5::int8 THEN $4::text::timestamptz END,
            $6::text, $2::text::timestamptz, $7::int8)
    ON CONFLICT (tier) DO UPDATE SET
        failures = CASE WHEN ",
    window_running!(),
    " THEN b.failures + 1 ELSE 1 END,
        window_start = CASE WHEN ",
    window_running!(),
    " THEN b.window_start ELSE excluded.window_start END,
        open_until = CASE WHEN (CASE WHEN ",
    window_running!(),
    " THEN b.failures + 1 ELSE 1 END) >= $5::int8
                          THEN $4::text::timestamptz ELSE b.open_until END,
        last_error = excluded.last_error,
        last_error_at = excluded.last_error_at,
        last_latency_ms = excluded.last_latency_ms"
);

/// A tier `$1` that answered at `$2` after `$3` ms: closed, its failures
/// forgotten, the answer recorded.
const ANSWERED_SQL: &str = "INSERT INTO llm_breaker AS b
        (tier, failures, window_start, open_until, last_latency_ms, last_success_at)
    VALUES ($1::text, 0, $2::text::timestamptz, NULL, $3::int8, $2::text::timestamptz)
    ON CONFLICT (tier) DO UPDATE SET
        failures = 0, open_until = NULL,
        last_latency_ms = excluded.last_latency_ms, last_success_at = excluded.last_success_at";

/// One tier's row of [`state_sql`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TierState {
    pub tier: Tier,
    pub open: bool,
    pub failures: i64,
    /// The kind of the provider's latest failure (`timeout`, `http_503`, ...).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// How long the latest recorded call took, answered or failed.
    pub last_latency_ms: Option<i64>,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// Both tiers' state, as read once at the start of a request (with the
/// request's other opening reads, see `chat::store::open`).
#[derive(Debug, Default)]
pub struct Breakers {
    rows: Vec<TierState>,
    now: Option<DateTime<Utc>>,
}

impl Breakers {
    /// The tiers' rows of [`state_sql`] as read at `now`.
    pub fn new(rows: Vec<TierState>, now: DateTime<Utc>) -> Self {
        Self {
            rows,
            now: Some(now),
        }
    }

    pub(super) fn is_open(&self, tier: Tier) -> bool {
        self.rows.iter().any(|r| r.tier == tier && r.open)
    }

    /// `tier` answered after `latency_ms`: forgets its failures, and
    /// records the answer unless one was recorded within the last minute
    /// (so a tier that keeps answering costs at most a write a minute).
    pub(super) fn answered(&self, ctx: &Ctx, tier: Tier, latency_ms: u64) {
        let Some(now) = self.now else { return };
        let fresh = self.rows.iter().any(|r| {
            r.tier == tier
                && r.failures == 0
                && !r.open
                && r.last_success_at
                    .is_some_and(|at| at > now - SUCCESS_RECORD_INTERVAL)
        });
        if fresh {
            return;
        }
        let params = [tier.as_str().into(), now.into(), latency(latency_ms)];
        if let Err(e) = ctx.db.execute(ANSWERED_SQL, &params) {
            log_failure(ctx, "answered", Some(tier), &e.to_string());
        }
    }
}

fn latency(ms: u64) -> SqlParam {
    i64::try_from(ms).unwrap_or(i64::MAX).into()
}

/// The parameters of [`RECORD_FAILURE_SQL`] for a failure at `now`.
fn failure_params(tier: Tier, now: DateTime<Utc>, kind: &str, latency_ms: u64) -> Vec<SqlParam> {
    vec![
        tier.as_str().into(),
        now.into(),
        (now - WINDOW).into(),
        (now + PAUSE).into(),
        THRESHOLD.into(),
        kind.into(),
        latency(latency_ms),
    ]
}

/// Counts one failure of the provider of `tier` (of `kind`, after
/// `latency_ms`), at the clock's time now.
pub(super) fn record_failure(ctx: &Ctx, tier: Tier, kind: &str, latency_ms: u64) {
    let params = failure_params(tier, ctx.clock.now(), kind, latency_ms);
    if let Err(e) = ctx.db.execute(RECORD_FAILURE_SQL, &params) {
        log_failure(ctx, "record", Some(tier), &e.to_string());
    }
}

fn log_failure(ctx: &Ctx, step: &str, tier: Option<Tier>, error: &str) {
    ctx.log.line(
        &json!({"event": "llm_breaker_failed", "step": step, "tier": tier, "error": error})
            .to_string(),
    );
}
