//! SQL of the auth capability.

use chrono::{DateTime, Duration, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
use super::domain::{Email, UserName};
use crate::db::{DbError, Json, Params, Statement};
use crate::ports::{Ctx, Db};
use crate::throttle::{reserve_ctes, Hits, Limit, COUNTERS};

/// An account as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    #[serde(with = "crate::stamp")]
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
pub struct LoginState {
    /// The throttling counters as this attempt left them.
    pub counted: Hits,
    /// The attempts counted for the email in its window before this one.
    pub email_attempts: i64,
    pub account: Option<Account>,
}

#[derive(Deserialize)]
pub struct Account {
    #[serde(flatten)]
    pub user: AuthUser,
    pub password_hash: String,
}

/// By hand: a password's hash is what an offline guesser needs, so it
/// never reaches a log.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .field("password_hash", &"***")
            .finish()
    }
}

/// Reserves a login attempt under each of `limits` and reads the account of
/// `email`, in one statement; the counter `email_key` (one of `limits`)
/// must have counted at most `email_up_to` attempts in its window before,
/// else nothing is counted (the login lacks the proof its email needs: see
/// `auth::proof`).
pub fn login_state(
    db: &dyn Db,
    email: &str,
    limits: &[Limit],
    (email_key, email_up_to): (&str, i64),
    window: Duration,
    now: DateTime<Utc>,
) -> Result<LoginState, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(flatten)]
        hits: Hits,
        email_attempts: i64,
        account: Option<Account>,
    }
    let mut params = Params::default();
    let email_attempts = format!(
        "coalesce((SELECT attempts FROM throttle WHERE key = {} AND window_start > {}), 0)",
        params.add(email_key, "::text"),
        params.add(now - window, "::text::timestamptz"),
    );
    let guard = format!("{email_attempts} <= {}", params.add(email_up_to, "::int8"));
    let ctes = reserve_ctes(&mut params, limits, window, now, &guard);
    let ctes: Vec<&str> = ctes.iter().map(String::as_str).collect();
    let account = format!(
        "SELECT id, email, name, created_at, password_hash FROM users WHERE email = {}",
        params.add(email, "::text")
    );
    let [hits, used_up] = COUNTERS;
    let answer: Answer = Statement::object(
        &ctes,
        &[
            hits,
            used_up,
            ("email_attempts", Json::Value(&email_attempts)),
            ("account", Json::Row(&account)),
        ],
        params.0,
    )
    .fetch(db)?;
    Ok(LoginState {
        counted: answer.hits,
        email_attempts: answer.email_attempts,
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

/// A personal access token as its owner sees it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessToken {
    pub id: Uuid,
    pub name: String,
    /// How the token starts, to tell it apart from others.
    #[serde(default)]
    pub hint: String,
    pub read_only: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl AccessToken {
    fn with_hint(mut self) -> Self {
        self.hint = super::access_token::hint(self.id);
        self
    }
}

const ACCESS_TOKEN_COLUMNS: &str = "id, name, read_only, created_at, expires_at, last_used_at";

/// What the check of a presented personal access token needs: its live row.
#[derive(Debug, Deserialize)]
pub struct StoredAccessToken {
    pub user_id: Uuid,
    pub secret_sha256: String,
    pub read_only: bool,
}

/// The live (unexpired) token `id`, marking it used at `now` when
/// `presented_sha256` is its digest (at most once a minute, to spare
/// writes). The caller compares the digests itself, in constant time,
/// before trusting the row.
pub fn access_token_for_use(
    db: &dyn Db,
    id: Uuid,
    presented_sha256: &str,
    now: DateTime<Utc>,
) -> Result<Option<StoredAccessToken>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        token: Option<StoredAccessToken>,
    }
    let answer: Answer = Statement::object(
        &[
            "tok AS (
                SELECT id, user_id, secret_sha256, read_only, last_used_at FROM access_tokens
                WHERE id = $1::text::uuid AND expires_at > $2::text::timestamptz)",
            "touched AS (
                UPDATE access_tokens t SET last_used_at = $2::text::timestamptz
                FROM tok
                WHERE t.id = tok.id AND tok.secret_sha256 = $3::text
                  AND (tok.last_used_at IS NULL
                       OR tok.last_used_at < $2::text::timestamptz - interval '1 minute'))",
        ],
        &[(
            "token",
            Json::Row("SELECT user_id, secret_sha256, read_only FROM tok"),
        )],
        vec![id.into(), now.into(), presented_sha256.into()],
    )
    .fetch(db)?;
    Ok(answer.token)
}

/// The outcome of [`create_access_token`].
pub enum Created {
    Token(AccessToken),
    /// The account already holds [`MAX_PER_USER`](super::access_token::MAX_PER_USER) live tokens.
    TooMany,
}

/// Stores a new token for the caller, forgetting the caller's expired ones;
/// `None` when the caller is unknown.
///
/// The cap is exact: `users.access_token_count` counts the caller's rows and
/// moves in this statement, and the cap is checked in that UPDATE's WHERE,
/// which PostgreSQL re-checks on the latest row after waiting for its lock
/// (a `count(*)` would read the snapshot taken before the wait, and parallel
/// creations would all see room). The expired rows are locked first and
/// deleted only when the token is stored, so a refused creation changes
/// nothing and the counter always drops by exactly the rows deleted.
#[allow(clippy::too_many_arguments)]
pub fn create_access_token(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    name: &str,
    secret_sha256: &str,
    read_only: bool,
    expires_at: DateTime<Utc>,
    max_live: i64,
) -> Result<Option<Created>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        token: Option<AccessToken>,
    }
    let now = ctx.clock.now();
    let answer = caller.fetch::<Answer>(
        ctx,
        &[
            // Locked in id order, so parallel creations cannot deadlock on them;
            // a row another statement deletes meanwhile drops out.
            "expired AS (
                SELECT id FROM access_tokens
                WHERE user_id = (SELECT id FROM auth) AND expires_at <= $7::text::timestamptz
                ORDER BY id FOR UPDATE)",
            "counted AS (
                UPDATE users u
                SET access_token_count = u.access_token_count + 1 - (SELECT count(*) FROM expired)::int
                WHERE u.id = (SELECT id FROM auth)
                  AND u.access_token_count - (SELECT count(*) FROM expired) < $9::int8
                RETURNING u.id)",
            "forgotten AS (
                DELETE FROM access_tokens
                WHERE id IN (SELECT id FROM expired) AND EXISTS (SELECT FROM counted))",
            &format!(
                "ins AS (
                    INSERT INTO access_tokens
                        (id, user_id, name, secret_sha256, read_only, created_at, expires_at)
                    SELECT $3::text::uuid, counted.id, $4::text, $5::text, $6::bool,
                           $7::text::timestamptz, $8::text::timestamptz
                    FROM counted
                    RETURNING {ACCESS_TOKEN_COLUMNS})"
            ),
        ],
        &[("token", Json::Row("SELECT * FROM ins"))],
        vec![
            id.into(),
            name.into(),
            secret_sha256.into(),
            read_only.into(),
            now.into(),
            expires_at.into(),
            max_live.into(),
        ],
    )?;
    Ok(answer.map(|(_, answer)| match answer.token {
        Some(token) => Created::Token(token.with_hint()),
        None => Created::TooMany,
    }))
}

/// The caller's live tokens, newest first; `None` when the caller is unknown.
pub fn access_tokens(ctx: &Ctx, caller: &Caller) -> Result<Option<Vec<AccessToken>>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        items: Vec<AccessToken>,
    }
    let select = format!(
        "SELECT {ACCESS_TOKEN_COLUMNS} FROM access_tokens
         WHERE user_id = (SELECT id FROM auth) AND expires_at > $3::text::timestamptz
         ORDER BY created_at DESC, id DESC"
    );
    let answer = caller.fetch::<Answer>(
        ctx,
        &[],
        &[("items", Json::Rows(&select))],
        vec![ctx.clock.now().into()],
    )?;
    Ok(answer.map(|(_, answer)| {
        answer
            .items
            .into_iter()
            .map(AccessToken::with_hint)
            .collect()
    }))
}

/// Deletes (revokes) the caller's token `id`: `Some(false)` when the caller
/// has no such token, `None` when the caller is unknown. The same statement
/// counts it off the caller's tokens, and records its id as revoked until
/// it would have expired: a request that checked the token before (a
/// long-poll that waits) is refused at its next statement, which checks
/// revocations (see `Caller`).
pub fn delete_access_token(ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<Option<bool>, DbError> {
    caller.delete_own(
        ctx,
        "access_tokens",
        id,
        "id, user_id, expires_at",
        &[
            "counted AS (
                UPDATE users SET access_token_count = access_token_count - (SELECT count(*) FROM del)::int
                WHERE id = (SELECT id FROM auth) AND EXISTS (SELECT FROM del))",
            "revoked AS (
                INSERT INTO revoked_tokens (jti, user_id, expires_at)
                SELECT id, user_id, expires_at FROM del
                ON CONFLICT (jti) DO NOTHING)",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accounts_debug_output_hides_its_password_hash() {
        let account = Account {
            user: AuthUser {
                id: Uuid::nil(),
                email: "ada@example.com".into(),
                name: "Ada".into(),
                created_at: Utc::now(),
            },
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        };
        let shown = format!("{:?}", Some(account));
        assert!(!shown.contains("argon2"), "{shown}");
        assert!(!shown.contains("aGFzaGhhc2g"), "{shown}");
        assert!(shown.contains("ada@example.com"), "{shown}");
    }
}
