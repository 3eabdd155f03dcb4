//! SQL of the auth capability.

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
use super::domain::{Email, UserName};
use crate::db::{DbError, Json, Statement};
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

/// What a login needs to know, read in one statement.
#[derive(Debug, Deserialize)]
pub struct LoginState {
    pub failures: RecentFailures,
    pub account: Option<Account>,
}

/// Failed logins for an email within the throttling window.
#[derive(Debug, Deserialize)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    #[serde(flatten)]
    pub user: AuthUser,
    pub password_hash: String,
}

/// The account of `email` and its failed logins since `since`.
pub fn login_state(db: &dyn Db, email: &str, since: DateTime<Utc>) -> Result<LoginState, DbError> {
    Statement::object(
        &[],
        &[
            (
                "failures",
                Json::Row(
                    "SELECT count(*) AS count, min(failed_at) AS oldest FROM login_failures \
                     WHERE email = $1::text AND failed_at > $2::text::timestamptz",
                ),
            ),
            (
                "account",
                Json::Row(
                    "SELECT id, email, name, created_at, password_hash FROM users \
                     WHERE email = $1::text",
                ),
            ),
        ],
        vec![email.into(), since.into()],
    )
    .fetch(db)
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

/// Records a failed login and drops this email's failures older than `forget_before`.
pub fn record_failure(
    db: &dyn Db,
    email: &str,
    now: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> Result<(), DbError> {
    db.execute(
        "WITH old AS (DELETE FROM login_failures WHERE email = $1::text AND failed_at <= $3::text::timestamptz) \
         INSERT INTO login_failures (email, failed_at) VALUES ($1::text, $2::text::timestamptz)",
        &[email.into(), now.into(), forget_before.into()],
    )?;
    Ok(())
}

pub fn clear_failures(db: &dyn Db, email: &str) -> Result<(), DbError> {
    db.execute(
        "DELETE FROM login_failures WHERE email = $1::text",
        &[email.into()],
    )?;
    Ok(())
}
