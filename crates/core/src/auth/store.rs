//! SQL of the auth capability.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::domain::{Email, UserName};
use crate::db::{DbError, Row};
use crate::ports::Db;

/// An account as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id::text AS id, email, name, api_ts(created_at) AS created_at";

fn user_from(row: &Row) -> Result<AuthUser, DbError> {
    Ok(AuthUser {
        id: row.uuid("id")?,
        email: row.text("email")?,
        name: row.text("name")?,
        created_at: row.timestamp("created_at")?,
    })
}

/// `Ok(None)` when the email is taken.
pub fn insert_user(
    db: &dyn Db,
    email: &Email,
    name: &UserName,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<AuthUser>, DbError> {
    let sql = format!(
        "INSERT INTO users (email, name, password_hash, created_at) \
         VALUES ($1::text, $2::text, $3::text, $4::text::timestamptz) RETURNING {USER_COLUMNS}"
    );
    match db.query(
        &sql,
        &[
            email.as_str().into(),
            name.as_str().into(),
            password_hash.into(),
            now.into(),
        ],
    ) {
        Ok(rows) => rows.first().map(user_from).transpose(),
        Err(e) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The account and its password hash.
pub fn find_by_email(db: &dyn Db, email: &str) -> Result<Option<(AuthUser, String)>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1::text");
    let rows = db.query(&sql, &[email.into()])?;
    rows.first()
        .map(|row| Ok((user_from(row)?, row.text("password_hash")?)))
        .transpose()
}

/// The account behind a token, unless that token was revoked.
pub fn find_for_token(db: &dyn Db, user_id: Uuid, jti: Uuid) -> Result<Option<AuthUser>, DbError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1::text::uuid \
         AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2::text::uuid)"
    );
    let rows = db.query(&sql, &[user_id.into(), jti.into()])?;
    rows.first().map(user_from).transpose()
}

/// Revokes one token and forgets revocations of tokens that have expired anyway.
pub fn revoke(
    db: &dyn Db,
    jti: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    db.execute(
        "WITH expired AS (DELETE FROM revoked_tokens WHERE expires_at < $4::text::timestamptz) \
         INSERT INTO revoked_tokens (jti, user_id, expires_at) \
         VALUES ($1::text::uuid, $2::text::uuid, $3::text::timestamptz) ON CONFLICT (jti) DO NOTHING",
        &[jti.into(), user_id.into(), expires_at.into(), now.into()],
    )?;
    Ok(())
}

/// Failed logins for `email` since `since`: how many, and the oldest.
pub fn recent_failures(
    db: &dyn Db,
    email: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), DbError> {
    let rows = db.query(
        "SELECT count(*)::int8 AS n, api_ts(min(failed_at)) AS oldest FROM login_failures \
         WHERE email = $1::text AND failed_at > $2::text::timestamptz",
        &[email.into(), since.into()],
    )?;
    match rows.first() {
        Some(row) => Ok((row.int("n")?, row.opt_timestamp("oldest")?)),
        None => Ok((0, None)),
    }
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
