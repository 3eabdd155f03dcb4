//! Who a request acts for, checked inside the very statement that does the
//! work: the account must exist and the token must not be revoked. Folding
//! that check into each statement makes every authenticated request one
//! round trip to PostgreSQL.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use uuid::Uuid;

use super::store::AuthUser;
use crate::db::{json_object, DbError, Json, Params, SqlParam, Statement};
use crate::ports::Ctx;

/// The CTE every scoped statement starts with: the caller's account, or no
/// row when it is gone or the token was revoked. Scoped SQL reaches the
/// user's data only through it (`user_id = (SELECT id FROM auth)`, or
/// `... FROM auth`), so an unknown caller touches nothing, and never names
/// `$1` itself.
const AUTH_CTE: &str = "auth AS (
        SELECT u.id, u.email, u.name, u.created_at FROM users u
        WHERE u.id = $1::text::uuid
          AND NOT EXISTS (SELECT FROM revoked_tokens WHERE jti = $2::text::uuid))";

/// The caller of a personal access token presented but not yet checked
/// (HTTP Basic, see [`Caller::presented`]): `$1` the token's id, `$2` its
/// secret's SHA-256 digest, which must be a live token's. Checking it here
/// spares a request a round trip. The digests are compared in SQL, not in
/// constant time: a digest's prefix tells nothing of a secret of 256
/// random bits. The token is marked used at most once a minute.
const PRESENTED_CTE: &str = "tok AS (
        SELECT t.id, t.user_id, t.read_only, t.last_used_at FROM access_tokens t
        WHERE t.id = $1::text::uuid AND t.secret_sha256 = $2::text AND t.expires_at > now()),
    touched AS (
        UPDATE access_tokens t SET last_used_at = now() FROM tok
        WHERE t.id = tok.id
          AND (tok.last_used_at IS NULL OR tok.last_used_at < now() - interval '1 minute')),
    auth AS (
        SELECT u.id, u.email, u.name, u.created_at FROM users u JOIN tok ON u.id = tok.user_id)";

/// The placeholders `$1` and `$2` belong to the caller; a scoped statement
/// numbers its own from `$3`.
pub const CALLER_PARAMS: usize = 2;

/// A user id from a verified token (with the token's id, checked against
/// revocations), or from code that already trusts it (then only the
/// account's existence is checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Nil for a [`presented`](Self::presented) token, until checked.
    pub user_id: Uuid,
    token_id: Option<Uuid>,
    read_only: bool,
    personal: bool,
    /// A presented token's secret digest, not yet checked.
    presented: Option<[u8; 32]>,
}

/// `result` is `null` when `caller` is: an unknown caller learns nothing.
#[derive(Deserialize)]
struct Scoped<T> {
    caller: Option<AuthUser>,
    result: Option<T>,
    /// Whether a presented token may only read.
    #[serde(default)]
    read_only: Option<bool>,
}

impl Caller {
    /// The holder of a verified token.
    pub fn token(user_id: Uuid, token_id: Uuid) -> Self {
        Self {
            user_id,
            token_id: Some(token_id),
            read_only: false,
            personal: false,
            presented: None,
        }
    }

    /// Whoever presents the personal access token `token_id` with a secret
    /// of SHA-256 digest `digest`: the statement that does the work checks
    /// it (see [`fetch_checked`](Self::fetch_checked)), and until then the
    /// caller is nobody.
    pub fn presented(token_id: Uuid, digest: [u8; 32]) -> Self {
        Self {
            user_id: Uuid::nil(),
            token_id: Some(token_id),
            read_only: false,
            personal: true,
            presented: Some(digest),
        }
    }

    /// The holder of a personal access token whose secret was checked (see
    /// `auth::access_token`); its row's existence was checked at that time,
    /// and deleting the row is how it is revoked.
    pub fn access_token(user_id: Uuid, token_id: Uuid, read_only: bool) -> Self {
        Self {
            user_id,
            token_id: Some(token_id),
            read_only,
            personal: true,
            presented: None,
        }
    }

    /// A user the calling code has already authenticated (in-process
    /// callers, tests, benchmarks).
    pub fn user(user_id: Uuid) -> Self {
        Self {
            user_id,
            token_id: None,
            read_only: false,
            personal: false,
            presented: None,
        }
    }

    /// Whether the caller may only read (a read-only personal access token).
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether the caller holds a personal access token (an agent's, a
    /// phone's), which never gives anyone access to anything.
    pub fn personal_access_token(&self) -> bool {
        self.personal
    }

    /// An empty parameter list holding the caller's two parameters, for
    /// statements that number theirs as they go.
    pub fn params(&self) -> Params {
        match self.presented {
            Some(digest) => {
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Params(vec![self.token_id.into(), hex.into()])
            }
            None => Params(vec![self.user_id.into(), self.token_id.into()]),
        }
    }

    /// The statement [`fetch`](Self::fetch) runs: `AUTH_CTE`, then `ctes`,
    /// answering `{"caller": <account or null>, "result": {fields}}`.
    /// `params` starts with the caller's (see [`params`](Self::params)).
    pub fn statement(ctes: &[&str], fields: &[(&str, Json<'_>)], params: Params) -> Statement {
        Self::statement_with(AUTH_CTE, &[], ctes, fields, params)
    }

    fn statement_with(
        auth: &str,
        about_caller: &[(&str, Json<'_>)],
        ctes: &[&str],
        fields: &[(&str, Json<'_>)],
        params: Params,
    ) -> Statement {
        let mut all_ctes = Vec::with_capacity(ctes.len() + 1);
        all_ctes.push(auth);
        all_ctes.extend_from_slice(ctes);
        let result = format!(
            "CASE WHEN EXISTS (SELECT FROM auth) THEN {} END",
            json_object(fields)
        );
        let mut answer = vec![("caller", Json::Row("SELECT * FROM auth"))];
        answer.extend_from_slice(about_caller);
        answer.push(("result", Json::Value(&result)));
        Statement::object(&all_ctes, &answer, params.0)
    }

    /// Like [`fetch`](Self::fetch), and also checks a
    /// [`presented`](Self::presented) token in the same statement:
    /// answers the caller it turned out to be (its account and whether the
    /// token may only read), for the statements that follow.
    pub fn fetch_checked<T: DeserializeOwned>(
        &self,
        ctx: &Ctx,
        ctes: &[&str],
        fields: &[(&str, Json<'_>)],
        extra: Vec<SqlParam>,
    ) -> Result<Option<(Caller, AuthUser, T)>, DbError> {
        let (Some(token_id), Some(_)) = (self.token_id, self.presented) else {
            return Ok(self
                .fetch(ctx, ctes, fields, extra)?
                .map(|(user, result)| (*self, user, result)));
        };
        let mut params = self.params();
        params.0.extend(extra);
        let statement = Self::statement_with(
            PRESENTED_CTE,
            &[("read_only", Json::Value("(SELECT read_only FROM tok)"))],
            ctes,
            fields,
            params,
        );
        let scoped: Scoped<T> = statement.fetch(ctx.db)?;
        let read_only = scoped.read_only.unwrap_or(true);
        Ok(Self::checked(ctx, scoped)?.map(|(user, result)| {
            let caller = Caller::access_token(user.id, token_id, read_only);
            (caller, user, result)
        }))
    }

    /// Runs a statement scoped to this caller (see
    /// [`statement`](Self::statement)); `extra` are its own parameters,
    /// `$3` onwards. `None` when the caller is unknown or revoked; then the
    /// statement changed nothing. Records the user for the request log.
    pub fn fetch<T: DeserializeOwned>(
        &self,
        ctx: &Ctx,
        ctes: &[&str],
        fields: &[(&str, Json<'_>)],
        extra: Vec<SqlParam>,
    ) -> Result<Option<(AuthUser, T)>, DbError> {
        if self.presented.is_some() {
            let checked = self.fetch_checked(ctx, ctes, fields, extra)?;
            return Ok(checked.map(|(_, user, result)| (user, result)));
        }
        let mut params = self.params();
        params.0.extend(extra);
        self.run(ctx, &Self::statement(ctes, fields, params))
    }

    /// Deletes the caller's row `id` of `table` (one with `id` and
    /// `user_id` columns); whether there was one, or `None` when the caller
    /// is unknown or revoked. `then`: CTEs that go on from the deleted rows
    /// (`del`, with the columns `returning` names), in the same statement.
    pub fn delete_own(
        &self,
        ctx: &Ctx,
        table: &'static str,
        id: Uuid,
        returning: &str,
        then: &[&str],
    ) -> Result<Option<bool>, DbError> {
        #[derive(Deserialize)]
        struct Answer {
            deleted: bool,
        }
        let del = format!(
            "del AS (
            DELETE FROM {table}
            WHERE id = $3::text::uuid AND user_id = (SELECT id FROM auth)
            RETURNING {returning})"
        );
        let mut ctes = vec![del.as_str()];
        ctes.extend_from_slice(then);
        let answer = self.fetch::<Answer>(
            ctx,
            &ctes,
            &[("deleted", Json::Value("EXISTS (SELECT FROM del)"))],
            vec![id.into()],
        )?;
        Ok(answer.map(|(_, answer)| answer.deleted))
    }

    /// Runs a statement built by [`statement`](Self::statement).
    pub fn run<T: DeserializeOwned>(
        &self,
        ctx: &Ctx,
        statement: &Statement,
    ) -> Result<Option<(AuthUser, T)>, DbError> {
        Self::checked(ctx, statement.fetch(ctx.db)?)
    }

    /// The account and result of a scoped statement's answer; records the
    /// user for the request log.
    fn checked<T>(ctx: &Ctx, scoped: Scoped<T>) -> Result<Option<(AuthUser, T)>, DbError> {
        match (scoped.caller, scoped.result) {
            (Some(user), Some(result)) => {
                ctx.user_id.set(Some(user.id));
                Ok(Some((user, result)))
            }
            (None, _) => Ok(None),
            (Some(_), None) => Err(DbError::Decode(
                "a scoped statement answered no result".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scoped_statement_starts_with_the_caller_and_nests_its_fields() {
        let caller = Caller::token(Uuid::from_u128(1), Uuid::from_u128(2));
        let mut params = caller.params();
        let id = params.add(Uuid::from_u128(3), "::text::uuid");
        let select = format!("SELECT 1 AS one FROM todos WHERE id = {id}");
        let s = Caller::statement(&[], &[("todo", Json::Row(&select))], params);
        assert!(s.sql.starts_with("WITH auth AS ("), "{}", s.sql);
        assert!(s.sql.contains(
            "'caller', (SELECT row_to_json(r) FROM (SELECT * FROM auth) AS r), \
             'result', CASE WHEN EXISTS (SELECT FROM auth) THEN json_build_object('todo', \
             (SELECT row_to_json(r) FROM (SELECT 1 AS one FROM todos WHERE id = $3::text::uuid) AS r)) END)::text"
        ));
        assert_eq!(
            s.params,
            vec![
                SqlParam::Text(Uuid::from_u128(1).to_string()),
                SqlParam::Text(Uuid::from_u128(2).to_string()),
                SqlParam::Text(Uuid::from_u128(3).to_string()),
            ]
        );
        assert_eq!(Caller::user(Uuid::nil()).params().0[1], SqlParam::Null);
    }
}
