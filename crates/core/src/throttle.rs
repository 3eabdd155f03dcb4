//! Rate limits that hold across Spin's per-request instances: one counter
//! per key in PostgreSQL (`throttle`), counting attempts in a fixed window.
//! An attempt is reserved with one atomic upsert before the work it guards,
//! so parallel requests are counted one after another.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::db::{DbError, Json, SqlParam, Statement};
use crate::ports::{Ctx, Db};

/// One throttling counter: its key and how many attempts it allows per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max_attempts: i64,
}

#[derive(Deserialize)]
pub(crate) struct Hit {
    key: String,
    attempts: i64,
    window_start: DateTime<Utc>,
}

/// The CTEs that reserve one attempt under each key of `$1` (a JSON array)
/// at `$2` (now), starting a new window for counters whose window began at
/// or before `$3`, and forget counters idle since `$4`. One atomic upsert,
/// so parallel attempts are counted one after another.
pub(crate) const RESERVE_CTES: &[&str] = &[
    "hits AS (
        INSERT INTO throttle AS th (key, window_start, attempts)
        SELECT k, $2::text::timestamptz, 1 FROM jsonb_array_elements_text($1::text::jsonb) AS k
        ON CONFLICT (key) DO UPDATE SET
            window_start = CASE WHEN th.window_start <= $3::text::timestamptz
                                THEN excluded.window_start ELSE th.window_start END,
            attempts = CASE WHEN th.window_start <= $3::text::timestamptz
                            THEN 1 ELSE th.attempts + 1 END
        RETURNING key, attempts, window_start)",
    "gc AS (
        DELETE FROM throttle WHERE key IN (
            SELECT key FROM throttle
            WHERE window_start < $4::text::timestamptz
              AND key NOT IN (SELECT jsonb_array_elements_text($1::text::jsonb))
            LIMIT 100))",
];

pub(crate) fn reserve_params(
    limits: &[Limit],
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<SqlParam> {
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    vec![
        serde_json::to_string(&keys).unwrap_or_default().into(),
        now.into(),
        (now - window).into(),
        (now - Duration::days(1)).into(),
    ]
}

/// Seconds until every counter over its limit has a fresh window; `None`
/// when no counter is over.
pub(crate) fn blocked_for(
    limits: &[Limit],
    hits: &[Hit],
    window: Duration,
    now: DateTime<Utc>,
) -> Option<i64> {
    hits.iter()
        .filter(|hit| {
            limits
                .iter()
                .any(|l| l.key == hit.key && hit.attempts > l.max_attempts)
        })
        .map(|hit| (hit.window_start + window - now).num_seconds() + 1)
        .max()
}

/// Reserves one attempt under each of `limits` (counted per `window`);
/// `Some(seconds)` to wait when any of them is used up.
/// Reserves one attempt of `key` in its one-minute window, allowing as many
/// per minute as the application variable `variable` says (a positive
/// whole number; `default` otherwise). `Some(seconds)` to wait when they
/// are used up.
pub fn reserve_per_minute(
    ctx: &Ctx,
    key: String,
    variable: &str,
    default: i64,
) -> Result<Option<i64>, DbError> {
    let per_minute = ctx
        .var(variable)
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(default);
    let limits = [Limit {
        key,
        max_attempts: per_minute,
    }];
    reserve(ctx.db, &limits, Duration::minutes(1), ctx.clock.now())
}

pub fn reserve(
    db: &dyn Db,
    limits: &[Limit],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        hits: Vec<Hit>,
    }
    let answer: Answer = Statement::object(
        RESERVE_CTES,
        &[("hits", Json::Rows("SELECT * FROM hits"))],
        reserve_params(limits, window, now),
    )
    .fetch(db)?;
    Ok(blocked_for(limits, &answer.hits, window, now))
}

/// Gives back an attempt reserved under `limits` (a login that succeeded),
/// and forgets the failures counted under the key `forget`.
pub fn refund(db: &dyn Db, limits: &[Limit], forget: &str) -> Result<(), DbError> {
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    db.execute(
        "WITH forgotten AS (DELETE FROM throttle WHERE key = $2::text)
         UPDATE throttle SET attempts = attempts - 1
         WHERE key IN (SELECT jsonb_array_elements_text($1::text::jsonb)) AND key <> $2::text
           AND attempts > 0",
        &[
            serde_json::to_string(&keys).unwrap_or_default().into(),
            forget.into(),
        ],
    )?;
    Ok(())
}
