//! SQL of the auth capability.

use chrono::{DateTime, Duration, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
use super::domain::{Email, UserName};
use crate::db::{DbError, Json, SqlParam, Statement};
use crate::ports::{Ctx, Db};

/// An account as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Inserted {
    user: Option<AuthUser>,
}

/// `Ok(None)` when the email is taken (a conflict is data here, never an
/// error: see `crate::db`).
pub fn insert_user(
    db: &dyn Db,
    email: &Email,
    name: &UserName,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<AuthUser>, DbError> {
    let inserted: Inserted = Statement::object(
        &["ins AS (
            INSERT INTO users (email, name, password_hash, created_at)
            VALUES ($1::text, $2::text, $3::text, $4::text::timestamptz)
            ON CONFLICT (email) DO NOTHING
            RETURNING id, email, name, created_at)"],
        &[("user", Json::Row("SELECT * FROM ins"))],
        vec![
            email.as_str().into(),
            name.as_str().into(),
            password_hash.into(),
            now.into(),
        ],
    )
    .fetch(db)?;
    Ok(inserted.user)
}

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

/// The CTEs that reserve one attempt under each key of `$1` (a JSON array)
/// at `$2` (now), starting a new window for counters whose window began at
/// or before `$3`, and forget counters idle since `$4`. One atomic upsert,
/// so parallel attempts are counted one after another.
const RESERVE_CTES: &[&str] = &[
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

fn reserve_params(limits: &[Limit], window: Duration, now: DateTime<Utc>) -> Vec<SqlParam> {
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
fn blocked_for(
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

/// What a login needs to know, read in the statement that reserves its attempt.
#[derive(Debug)]
pub struct LoginState {
    /// Seconds to wait when a throttling counter is used up.
    pub blocked_for: Option<i64>,
    pub account: Option<Account>,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    #[serde(flatten)]
    pub user: AuthUser,
    pub password_hash: String,
}

/// Reserves a login attempt under each of `limits` and reads the account of
/// `email`, in one statement.
pub fn login_state(
    db: &dyn Db,
    email: &str,
    limits: &[Limit],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<LoginState, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        hits: Vec<Hit>,
        account: Option<Account>,
    }
    let mut params = reserve_params(limits, window, now);
    params.push(email.into());
    let answer: Answer = Statement::object(
        RESERVE_CTES,
        &[
            ("hits", Json::Rows("SELECT * FROM hits")),
            (
                "account",
                Json::Row(
                    "SELECT id, email, name, created_at, password_hash FROM users \
                     WHERE email = $5::text",
                ),
            ),
        ],
        params,
    )
    .fetch(db)?;
    Ok(LoginState {
        blocked_for: blocked_for(limits, &answer.hits, window, now),
        account: answer.account,
    })
}

/// Gives back the attempt a successful login reserved, and forgets the
/// failures counted under `forget` (the email and address pair).
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

/// The caller's account; `None` when it is gone or the token was revoked.
pub fn me(ctx: &Ctx, caller: &Caller) -> Result<Option<AuthUser>, DbError> {
    Ok(caller
        .fetch::<IgnoredAny>(ctx, &[], &[], Vec::new())?
        .map(|(user, _)| user))
}

/// Revokes the caller's token (`jti`, valid until `expires_at`) and forgets
/// revocations of tokens that have expired anyway. `false` when the token
/// was already revoked or the account is gone.
pub fn revoke(
    ctx: &Ctx,
    caller: &Caller,
    jti: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let revoked = caller.fetch::<IgnoredAny>(
        ctx,
        &[
            "expired AS (DELETE FROM revoked_tokens WHERE expires_at < $5::text::timestamptz)",
            "revoked AS (
                INSERT INTO revoked_tokens (jti, user_id, expires_at)
                SELECT $3::text::uuid, id, $4::text::timestamptz FROM auth
                ON CONFLICT (jti) DO NOTHING)",
        ],
        &[],
        vec![jti.into(), expires_at.into(), now.into()],
    )?;
    Ok(revoked.is_some())
}
