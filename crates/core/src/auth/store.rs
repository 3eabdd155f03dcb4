//! SQL of the auth capability.

use chrono::{DateTime, Duration, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
use super::domain::{Email, UserName};
use crate::db::{DbError, Json, Statement};
use crate::ports::{Ctx, Db};
use crate::throttle::{blocked_for, reserve_params, Hit, Limit, RESERVE_CTES};

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
