//! Rate limits that hold across Spin's per-request instances: one counter
//! per key in PostgreSQL (`throttle`), counting attempts in a fixed window.
//! An attempt is reserved with one atomic upsert before the work it guards,
//! so parallel requests are counted one after another; a refused request
//! counts nowhere.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, Caller};
use crate::db::{DbError, Json, Params, Statement};
use crate::error::ApiError;
use crate::ports::{Ctx, Db};

/// One throttling counter: its key, how many attempts it allows per
/// window, and whether reaching that number refuses the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max_attempts: i64,
    /// `false` for a counter that only tells how many attempts came (the
    /// logins of one email): it never refuses, and a used-up one does not
    /// stop the others from counting.
    pub refuses: bool,
}

impl Limit {
    /// A counter that refuses the request past `max_attempts`.
    pub fn refusing(key: String, max_attempts: i64) -> Self {
        Self {
            key,
            max_attempts,
            refuses: true,
        }
    }

    /// A counter that only counts; `max_attempts` is where its caller
    /// starts to care (see [`Hits::attempts`]).
    pub fn counting(key: String, max_attempts: i64) -> Self {
        Self {
            key,
            max_attempts,
            refuses: false,
        }
    }
}

#[derive(Deserialize)]
struct Hit {
    key: String,
    attempts: i64,
    window_start: DateTime<Utc>,
}

/// The CTEs that reserve one attempt under each of `limits` at `now`,
/// starting a new window for counters whose window is over, and forget
/// counters idle for a day; their parameters are added to `params`.
///
/// A refused request counts nowhere: when a refusing counter is already
/// used up in its window, or `guard` (an SQL condition) does not hold, no
/// counter moves. So a flood of refused requests neither extends a block
/// (the window keeps starting at its first attempt) nor uses up another
/// counter (an address's budget over all emails). A refusing counter never
/// goes past its limit + 1, even when parallel requests all found it below
/// the limit: the upsert, which counts them one after another, caps it.
pub(crate) fn reserve_ctes(
    params: &mut Params,
    limits: &[Limit],
    window: Duration,
    now: DateTime<Utc>,
    guard: &str,
) -> [String; 4] {
    // A counting-only limit has no cap: `LEAST` and `>=` ignore its null.
    let rows: Vec<serde_json::Value> = limits
        .iter()
        .map(|l| json!({"key": l.key, "cap": l.refuses.then_some(l.max_attempts)}))
        .collect();
    let limits = params.add(serde_json::Value::Array(rows).to_string(), "::text::jsonb");
    let now_at = params.add(now, "::text::timestamptz");
    let over = params.add(now - window, "::text::timestamptz");
    let idle = params.add(now - Duration::days(1), "::text::timestamptz");
    [
        format!(
            "limits AS (
        SELECT * FROM jsonb_to_recordset({limits}) AS l(key text, cap int8))"
        ),
        format!(
            "used_up AS (
        SELECT t.key, t.attempts, t.window_start
        FROM throttle t JOIN limits l ON l.key = t.key
        WHERE t.window_start > {over} AND t.attempts >= l.cap)"
        ),
        format!(
            "hits AS (
        INSERT INTO throttle AS th (key, window_start, attempts)
        SELECT key, {now_at}, 1 FROM limits
        WHERE {guard} AND NOT EXISTS (SELECT FROM used_up)
        ON CONFLICT (key) DO UPDATE SET
            window_start = CASE WHEN th.window_start <= {over}
                                THEN excluded.window_start ELSE th.window_start END,
            attempts = CASE WHEN th.window_start <= {over} THEN 1
                            ELSE LEAST(th.attempts + 1,
                                       (SELECT l.cap + 1 FROM limits l WHERE l.key = th.key))
                       END
        RETURNING key, attempts, window_start)"
        ),
        format!(
            "gc AS (
        DELETE FROM throttle WHERE key IN (
            SELECT key FROM throttle
            WHERE window_start < {idle}
              AND key NOT IN (SELECT key FROM limits)
            LIMIT 100))"
        ),
    ]
}

/// The fields that answer the reserved counters: those counted, and those
/// found used up (then none was counted).
pub(crate) const COUNTERS: [(&str, Json<'static>); 2] = [
    ("hits", Json::Rows("SELECT * FROM hits")),
    ("used_up", Json::Rows("SELECT * FROM used_up")),
];

#[derive(Deserialize)]
pub(crate) struct Hits {
    hits: Vec<Hit>,
    used_up: Vec<Hit>,
}

impl Hits {
    /// Seconds until every refusing counter that is used up, or went over
    /// its limit with this attempt, has a fresh window; `None` when the
    /// attempt was counted within every limit.
    pub(crate) fn blocked_for(
        &self,
        limits: &[Limit],
        window: Duration,
        now: DateTime<Utc>,
    ) -> Option<i64> {
        let over = self.hits.iter().filter(|hit| {
            limits
                .iter()
                .any(|l| l.refuses && l.key == hit.key && hit.attempts > l.max_attempts)
        });
        self.used_up
            .iter()
            .chain(over)
            .map(|hit| (hit.window_start + window - now).num_seconds() + 1)
            .max()
    }

    /// Whether this attempt was counted at all (not when a refusing counter
    /// was used up, or the statement's guard did not hold).
    pub(crate) fn counted(&self) -> bool {
        !self.hits.is_empty()
    }

    /// The attempts counted under `key` in its window, this one included;
    /// 0 when this attempt was not counted.
    pub(crate) fn attempts(&self, key: &str) -> i64 {
        self.hits
            .iter()
            .find(|hit| hit.key == key)
            .map_or(0, |hit| hit.attempts)
    }
}

/// The caller's counter `<prefix>:<user id>` in its one-minute window,
/// allowing as many attempts per minute as the application variable
/// `variable` says (a positive whole number; `default` otherwise).
pub struct PerMinute {
    limits: [Limit; 1],
    now: DateTime<Utc>,
}

impl PerMinute {
    const WINDOW: Duration = Duration::minutes(1);

    pub fn new(ctx: &Ctx, caller: &Caller, prefix: &str, variable: &str, default: i64) -> Self {
        let per_minute = ctx
            .var(variable)
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(default);
        Self {
            limits: [Limit::refusing(
                format!("{prefix}:{}", caller.user_id),
                per_minute,
            )],
            now: ctx.clock.now(),
        }
    }

    /// The CTEs that reserve one attempt in a statement scoped to the
    /// caller (see [`reserve_ctes`]), when `guard` holds too; the statement
    /// answers [`COUNTERS`].
    pub(crate) fn ctes(&self, params: &mut Params, guard: &str) -> [String; 4] {
        let guard = format!("EXISTS (SELECT FROM auth) AND {guard}");
        reserve_ctes(params, &self.limits, Self::WINDOW, self.now, &guard)
    }

    /// An SQL condition, over the CTEs of [`ctes`](Self::ctes): this
    /// attempt was counted within the limit (what [`blocked_for`](Self::blocked_for)
    /// answers `None` to).
    pub(crate) fn within(&self) -> &'static str {
        "EXISTS (SELECT FROM hits) \
         AND NOT EXISTS (SELECT FROM hits h JOIN limits l ON l.key = h.key WHERE h.attempts > l.cap)"
    }

    /// Seconds to wait when the allowance is used up.
    pub(crate) fn blocked_for(&self, hits: &Hits) -> Option<i64> {
        hits.blocked_for(&self.limits, Self::WINDOW, self.now)
    }
}

/// Reserves one attempt of the caller's [`PerMinute`] counter;
/// `Some(seconds)` to wait when they are used up. The same statement
/// checks the caller, so a revoked token is a 401 and uses up nothing of
/// its user's allowance.
pub fn reserve_per_minute(
    ctx: &Ctx,
    caller: &Caller,
    prefix: &str,
    variable: &str,
    default: i64,
) -> Result<Option<i64>, ApiError> {
    let rate = PerMinute::new(ctx, caller, prefix, variable, default);
    let mut params = caller.params();
    let ctes = rate.ctes(&mut params, "TRUE");
    let ctes: Vec<&str> = ctes.iter().map(String::as_str).collect();
    let (_, answer) = caller
        .run::<Hits>(ctx, &Caller::statement(&ctes, &COUNTERS, params))?
        .ok_or_else(auth::rejected)?;
    Ok(rate.blocked_for(&answer))
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
    let answer: Hits = Statement::object(&ctes, &COUNTERS, params.0).fetch(db)?;
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
