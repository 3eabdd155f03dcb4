//! Caps on the requests that wait: each holds a Spin instance (of about
//! 1,000 per process) for up to 25 s (a long-poll of the todos) or 55 s (an
//! events relay that follows the queue), so one user, or one scheduler gone
//! wild, must not be able to hold them all. A waiting request takes a lease
//! (migration V15) before it waits and gives it back when it answers; a
//! lease whose request died runs out a little after the longest wait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::{DbError, Json, Statement};
use crate::error::ApiError;
use crate::ports::Ctx;

/// Long-polls one user may have waiting at once, over all tokens and tabs.
pub const MAX_PER_USER: i64 = 20;

/// How long a lease outlives the wait it was taken for, so that a request
/// that is still answering (one more look) keeps it, while one whose
/// instance was killed frees its slot soon after.
pub const LEASE_SLACK: Duration = Duration::from_secs(10);

/// A slot held by this request; give it back with [`release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease(Uuid);

/// What [`acquire`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Lease(Lease),
    /// Every slot is held: seconds until the oldest lease's wait ends.
    Full {
        retry_after: i64,
    },
}

/// The CTEs that take one of the caller's slots until `$5` (`$3` the
/// lease, `$4` now, `$6` the cap). Exact under parallel requests: the
/// counter on the user row moves in the UPDATE whose WHERE checks the cap,
/// which PostgreSQL re-checks on the latest row after waiting for its lock.
/// Expired leases are locked first (in id order, so that parallel requests
/// cannot deadlock on them), counted off, and deleted only when a slot is
/// taken, so the counter always drops by exactly the rows deleted, and a
/// lease given back meanwhile is not counted off twice.
const ACQUIRE: &[&str] = &[
    "expired AS (
        SELECT id FROM waits
        WHERE user_id = (SELECT id FROM auth) AND until <= $4::text::timestamptz
        ORDER BY id FOR UPDATE)",
    "counted AS (
        UPDATE users u SET wait_count = u.wait_count + 1 - (SELECT count(*) FROM expired)::int
        WHERE u.id = (SELECT id FROM auth)
          AND u.wait_count - (SELECT count(*) FROM expired) < $6::int8
        RETURNING u.id)",
    "freed AS (
        DELETE FROM waits
        WHERE id IN (SELECT id FROM expired) AND EXISTS (SELECT FROM counted))",
    "lease AS (
        INSERT INTO waits (id, user_id, until)
        SELECT $3::text::uuid, id, $5::text::timestamptz FROM counted
        RETURNING id)",
];

/// Gives a lease back (`$1`), counting it off its user only if it was still
/// there (a lease that ran out may have been deleted by another request).
const RELEASE: &str = "WITH del AS (DELETE FROM waits WHERE id = $1::text::uuid RETURNING user_id)
    UPDATE users SET wait_count = wait_count - 1 WHERE id IN (SELECT user_id FROM del)";

/// Takes one of the caller's [`MAX_PER_USER`] slots for a wait of `wait`;
/// `None` when the caller is unknown or revoked (then nothing changed).
pub fn acquire(ctx: &Ctx, caller: &Caller, wait: Duration) -> Result<Option<Taken>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        leased: bool,
        next_free: Option<DateTime<Utc>>,
    }
    let id = Uuid::new_v4();
    let now = ctx.clock.now();
    let until = now + chrono::Duration::from_std(wait + LEASE_SLACK).unwrap_or_default();
    let answer = caller.fetch::<Answer>(
        ctx,
        ACQUIRE,
        &[
            ("leased", Json::Value("EXISTS (SELECT FROM lease)")),
            (
                "next_free",
                Json::Value(
                    "(SELECT min(until) FROM waits
                      WHERE user_id = (SELECT id FROM auth) AND until > $4::text::timestamptz)",
                ),
            ),
        ],
        vec![id.into(), now.into(), until.into(), MAX_PER_USER.into()],
    )?;
    Ok(answer.map(|(_, answer)| {
        if answer.leased {
            Taken::Lease(Lease(id))
        } else {
            Taken::Full {
                retry_after: retry_after(answer.next_free, now),
            }
        }
    }))
}

/// Seconds from `now` until a lease that runs out at `until` would have
/// ended its wait (at least 1).
fn retry_after(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    let slack = chrono::Duration::from_std(LEASE_SLACK).unwrap_or_default();
    until.map_or(1, |until| {
        let left = until - slack - now;
        (left.num_milliseconds() + 999).div_euclid(1000).max(1)
    })
}

/// Gives `lease` back. A failure is not the request's: the lease runs out
/// by itself.
pub fn release(ctx: &Ctx, lease: Lease) {
    let _ = ctx.db.execute(RELEASE, &[lease.0.into()]);
}

/// The answer to a request that would wait while every slot is held.
pub fn too_many_waits(retry_after: i64, message: impl Into<String>) -> ApiError {
    let secs = retry_after.max(1);
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_waits", message)
        .with_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs))
}

/// The long-poll's 429.
pub fn too_many_long_polls(retry_after: i64) -> ApiError {
    too_many_waits(
        retry_after,
        format!(
            "this account already has {MAX_PER_USER} long-polls waiting; \
             retry in {} seconds, or sync without wait",
            retry_after.max(1)
        ),
    )
}

/// Takes the one lease of a relay that follows the queue (`$1` the relay,
/// `$2` how long), only when it is free or has run out: of two relays at
/// once, one waits for the other's row lock and then finds it taken.
const FOLLOW: &str = "lease AS (
    UPDATE relay_follower SET holder = $1::text::uuid, until = $3::text::timestamptz + $2::int8 * interval '1 second'
    WHERE until <= $3::text::timestamptz
    RETURNING holder, until)";

/// Runs `follow` (a relay with `wait`) while holding the one follower's
/// lease, for at most `longest`; 429 `too_many_waits` when another relay
/// follows.
pub fn as_the_follower<T>(
    ctx: &Ctx,
    longest: Duration,
    follow: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    #[derive(Deserialize)]
    struct Answer {
        leased: bool,
        until: DateTime<Utc>,
    }
    let holder = Uuid::new_v4();
    let now = ctx.clock.now();
    let seconds = i64::try_from((longest + LEASE_SLACK).as_secs()).unwrap_or(i64::MAX);
    let answer: Answer = Statement::object(
        &[FOLLOW],
        &[
            ("leased", Json::Value("EXISTS (SELECT FROM lease)")),
            (
                "until",
                Json::Value(
                    "coalesce((SELECT until FROM lease), (SELECT until FROM relay_follower))",
                ),
            ),
        ],
        vec![holder.into(), seconds.into(), now.into()],
    )
    .fetch(ctx.db)?;
    if !answer.leased {
        return Err(too_many_waits(
            retry_after(Some(answer.until), now),
            "another relay is following the queue (one at a time); \
             relay without wait, or retry later",
        ));
    }
    let result = follow();
    let _ = ctx.db.execute(
        "UPDATE relay_follower SET holder = NULL, until = '-infinity' WHERE holder = $1::text::uuid",
        &[holder.into()],
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_counts_to_the_end_of_the_oldest_wait_and_is_never_zero() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: i64| Some(now + chrono::Duration::milliseconds(s));
        assert_eq!(retry_after(at(35_000), now), 25);
        assert_eq!(retry_after(at(10_001), now), 1);
        assert_eq!(retry_after(at(12_500), now), 3);
        assert_eq!(retry_after(at(0), now), 1);
        assert_eq!(retry_after(None, now), 1);
    }
}
