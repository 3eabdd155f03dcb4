//! Rate limits that hold across Spin's per-request instances: one counter
//! per key in PostgreSQL (`throttle`), counting attempts in a fixed window.
//! An attempt is reserved with one atomic upsert before the work it guards,
//! so parallel requests are counted one after another.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::auth::{self, Caller};
use crate::db::{DbError, Json, Params, Statement};
use crate::error::ApiError;
use crate::ports::{Ctx, Db};

/// One throttling counter: its key and how many attempts it allows per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max_attempts: i64,
}

#[derive(Deserialize)]
struct Hit {
    key: String,
    attempts: i64,
    window_start: DateTime<Utc>,
}

/// The CTEs that reserve one attempt under each of `limits` at `now`,
/// starting a new window for counters whose window is over, and forget
/// counters idle for a day; their parameters are added to `params`. The
/// attempt is counted only when `guard` (an SQL condition) holds. One
/// atomic upsert, so parallel attempts are counted one after another.
pub(crate) fn reserve_ctes(
    params: &mut Params,
    limits: &[Limit],
    window: Duration,
    now: DateTime<Utc>,
    guard: &str,
) -> [String; 2] {
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    let keys = params.add(
        serde_json::to_string(&keys).unwrap_or_default(),
        "::text::jsonb",
    );
    let now_at = params.add(now, "::text::timestamptz");
    let over = params.add(now - window, "::text::timestamptz");
    let idle = params.add(now - Duration::days(1), "::text::timestamptz");
    [
        format!(
            "hits AS (
        INSERT INTO throttle AS th (key, window_start, attempts)
        SELECT k, {now_at}, 1 FROM jsonb_array_elements_text({keys}) AS k WHERE {guard}
        ON CONFLICT (key) DO UPDATE SET
            window_start = CASE WHEN th.window_start <= {over}
                                THEN excluded.window_start ELSE th.window_start END,
            attempts = CASE WHEN th.window_start <= {over}
                            THEN 1 ELSE th.attempts + 1 END
        RETURNING key, attempts, window_start)"
        ),
        format!(
            "gc AS (
        DELETE FROM throttle WHERE key IN (
            SELECT key FROM throttle
            WHERE window_start < {idle}
              AND key NOT IN (SELECT jsonb_array_elements_text({keys}))
            LIMIT 100))"
        ),
    ]
}

/// The field that answers the reserved counters.
pub(crate) const HITS: (&str, Json<'static>) = ("hits", Json::Rows("SELECT * FROM hits"));

#[derive(Deserialize)]
pub(crate) struct Hits {
    hits: Vec<Hit>,
}

impl Hits {
    /// Seconds until every counter over its limit has a fresh window;
    /// `None` when no counter is over.
    pub(crate) fn blocked_for(
        &self,
        limits: &[Limit],
        window: Duration,
        now: DateTime<Utc>,
    ) -> Option<i64> {
        self.hits
            .iter()
            .filter(|hit| {
                limits
                    .iter()
                    .any(|l| l.key == hit.key && hit.attempts > l.max_attempts)
            })
            .map(|hit| (hit.window_start + window - now).num_seconds() + 1)
            .max()
    }
}

/// Reserves one attempt of the caller's counter `<prefix>:<user id>` in
/// its one-minute window, allowing as many per minute as the application
/// variable `variable` says (a positive whole number; `default`
/// otherwise). `Some(seconds)` to wait when they are used up. The same
/// statement checks the caller, so a revoked token is a 401 and uses up
/// nothing of its user's allowance.
pub fn reserve_per_minute(
    ctx: &Ctx,
    caller: &Caller,
    prefix: &str,
    variable: &str,
    default: i64,
) -> Result<Option<i64>, ApiError> {
    let per_minute = ctx
        .var(variable)
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(default);
    let limits = [Limit {
        key: format!("{prefix}:{}", caller.user_id),
        max_attempts: per_minute,
    }];
    let (window, now) = (Duration::minutes(1), ctx.clock.now());
    let mut params = caller.params();
    let ctes = reserve_ctes(
        &mut params,
        &limits,
        window,
        now,
        "EXISTS (SELECT FROM auth)",
    );
    let ctes: Vec<&str> = ctes.iter().map(String::as_str).collect();
    let (_, answer) = caller
        .run::<Hits>(ctx, &Caller::statement(&ctes, &[HITS], params))?
        .ok_or_else(auth::rejected)?;
    Ok(answer.blocked_for(&limits, window, now))
}

/// Reserves one attempt under each of `limits` (counted per `window`);
/// `Some(seconds)` to wait when any of them is used up.
pub fn reserve(
    db: &dyn Db,
    limits: &[Limit],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbError> {
    let mut params = Params::default();
    let ctes = reserve_ctes(&mut params, limits, window, now, "TRUE");
    let ctes: Vec<&str> = ctes.iter().map(String::as_str).collect();
    let answer: Hits = Statement::object(&ctes, &[HITS], params.0).fetch(db)?;
    Ok(answer.blocked_for(limits, window, now))
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
