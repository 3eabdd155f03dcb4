//! The circuit breaker of the LLM tiers, kept in PostgreSQL (`llm_breaker`)
//! because nothing outlives a request in memory under Spin. Failures are
//! counted in a fixed window that starts with the first one; the third
//! within the window opens the tier until 30 s after it. Each further
//! failure in the same window (the one trial call after the pause, or calls
//! that were already on their way) keeps it open 30 s from that failure.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::Tier;
use crate::db::{Json, SqlParam, Statement};
use crate::ports::Ctx;

/// Failures within [`WINDOW`] that open a tier.
pub(super) const THRESHOLD: i64 = 3;
/// How long failures count together.
pub(super) const WINDOW: Duration = Duration::seconds(60);
/// How long an open tier is skipped.
const PAUSE: Duration = Duration::seconds(30);

/// Both tiers' state at `$1` (now) in one statement: a tier without a row
/// has no failures to remember and is closed.
const READ_SQL: &str = "SELECT tier, coalesce(open_until > $1::text::timestamptz, false) AS open
    FROM llm_breaker ORDER BY tier";

/// Counts one failure of tier `$1` at `$2` (now), in one atomic upsert so
/// that failures of parallel requests add up: a window that started at or
/// before `$3` (now − window) is over, so the count starts again at 1; the
/// count reaching `$5` (the threshold) opens the tier until `$4` (now + pause).
const RECORD_FAILURE_SQL: &str =
    "INSERT INTO llm_breaker AS b (tier, failures, window_start, open_until)
    VALUES ($1::text, 1, $2::text::timestamptz,
            CASE WHEN 1 >= $5::int8 THEN $4::text::timestamptz END)
    ON CONFLICT (tier) DO UPDATE SET
        failures = CASE WHEN b.window_start > $3::text::timestamptz
                        THEN b.failures + 1 ELSE 1 END,
        window_start = CASE WHEN b.window_start > $3::text::timestamptz
                            THEN b.window_start ELSE excluded.window_start END,
        open_until = CASE WHEN (CASE WHEN b.window_start > $3::text::timestamptz
                                     THEN b.failures + 1 ELSE 1 END) >= $5::int8
                          THEN $4::text::timestamptz ELSE b.open_until END";

/// A success closes the tier and forgets its failures.
const RESET_SQL: &str = "DELETE FROM llm_breaker WHERE tier = $1::text";

/// Both tiers' state, as read once at the start of a request.
#[derive(Debug, Default)]
pub(super) struct Breakers {
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    tier: Tier,
    open: bool,
}

impl Breakers {
    /// Reads both tiers in one statement. A database that cannot answer
    /// leaves every tier closed: the request itself will notice soon enough,
    /// and the breaker must never be why a working LLM is not asked.
    pub(super) fn read(ctx: &Ctx) -> Self {
        #[derive(Deserialize)]
        struct Answer {
            tiers: Vec<Row>,
        }
        let now = ctx.clock.now();
        let answer = Statement::object(&[], &[("tiers", Json::Rows(READ_SQL))], vec![now.into()])
            .fetch::<Answer>(ctx.db);
        match answer {
            Ok(answer) => Self { rows: answer.tiers },
            Err(e) => {
                log_failure("read", None, &e.to_string());
                Self::default()
            }
        }
    }

    pub(super) fn is_open(&self, tier: Tier) -> bool {
        self.rows.iter().any(|r| r.tier == tier && r.open)
    }

    /// A success of `tier`: forgets its failures, so the table only holds
    /// tiers that failed since they last answered (nothing to write in the
    /// usual case).
    pub(super) fn succeeded(&self, ctx: &Ctx, tier: Tier) {
        if self.rows.iter().any(|r| r.tier == tier) {
            if let Err(e) = ctx.db.execute(RESET_SQL, &[tier.as_str().into()]) {
                log_failure("reset", Some(tier), &e.to_string());
            }
        }
    }
}

/// The parameters of [`RECORD_FAILURE_SQL`] for a failure at `now`.
fn failure_params(tier: Tier, now: DateTime<Utc>) -> Vec<SqlParam> {
    vec![
        tier.as_str().into(),
        now.into(),
        (now - WINDOW).into(),
        (now + PAUSE).into(),
        THRESHOLD.into(),
    ]
}

/// Counts one failure of `tier`, at the clock's time now.
pub(super) fn record_failure(ctx: &Ctx, tier: Tier) {
    let params = failure_params(tier, ctx.clock.now());
    if let Err(e) = ctx.db.execute(RECORD_FAILURE_SQL, &params) {
        log_failure("record", Some(tier), &e.to_string());
    }
}

fn log_failure(step: &str, tier: Option<Tier>, error: &str) {
    println!(
        "{}",
        json!({"event": "llm_breaker_failed", "step": step, "tier": tier, "error": error})
    );
}
