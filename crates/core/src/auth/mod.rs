//! Accounts and tokens: sign-up, login (throttled), the current user, logout,
//! and [`require_user`], the one token check every protected route uses.

mod domain;
pub mod password;
mod store;
pub mod token;

use chrono::Duration;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

pub use domain::{Email, Password, UserName};
pub use store::AuthUser;

use crate::api::{allow, bearer_token, empty, json, parse_json, Request, Response};
use crate::config::JwtConfig;
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;

/// Failed logins allowed per email within [`LOGIN_WINDOW_MINUTES`].
pub const MAX_LOGIN_FAILURES: i64 = 5;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    match req.uri().path().trim_end_matches('/') {
        "/api/auth/signup" => allow(req, &[Method::POST]).and_then(|()| signup(req, ctx)),
        "/api/auth/login" => allow(req, &[Method::POST]).and_then(|()| login(req, ctx)),
        "/api/auth/me" => allow(req, &[Method::GET]).and_then(|()| me(req, ctx)),
        "/api/auth/logout" => allow(req, &[Method::POST]).and_then(|()| logout(req, ctx)),
        _ => Err(ApiError::not_found()),
    }
}

/// The authenticated caller, from a valid, unexpired, unrevoked bearer token
/// of an account that still exists. Records the user id for the request log.
pub fn require_user(req: &Request, ctx: &Ctx) -> Result<AuthUser, ApiError> {
    authenticate(req, ctx).map(|(user, _)| user)
}

/// [`require_user`], also returning the verified token (logout revokes it).
fn authenticate(req: &Request, ctx: &Ctx) -> Result<(AuthUser, token::VerifiedToken), ApiError> {
    let cfg = JwtConfig::from_ctx(ctx)?;
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token in Authorization header"))?;
    let verified = token::verify(&cfg, token, ctx.clock.now())
        .map_err(|_| ApiError::unauthorized("invalid or expired token"))?;
    let user = store::find_for_token(ctx.db, verified.user_id, verified.jti)?
        .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    ctx.user_id.set(Some(user.id));
    Ok((user, verified))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupBody {
    email: String,
    password: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

fn signup(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let cfg = JwtConfig::from_ctx(ctx)?;
    let body: SignupBody = parse_json(req)?;
    let mut fields = Fields::default();
    let email = fields.take("email", Email::parse(&body.email));
    let password = fields.take("password", Password::parse(body.password));
    let name = fields.take("name", UserName::parse(&body.name));
    let (Some(email), Some(password), Some(name)) = (email, password, name) else {
        return Err(fields.into_error());
    };
    let hash = password::hash(&password).map_err(ApiError::internal)?;
    let user =
        store::insert_user(ctx.db, &email, &name, &hash, ctx.clock.now())?.ok_or_else(|| {
            ApiError::conflict("email_taken", "an account with this email already exists")
        })?;
    ctx.user_id.set(Some(user.id));
    token_response(StatusCode::CREATED, &cfg, ctx, &user)
}

fn login(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let cfg = JwtConfig::from_ctx(ctx)?;
    let body: LoginBody = parse_json(req)?;
    // Throttle by the normalised address, valid or not.
    let email = body.email.trim().to_lowercase();
    let now = ctx.clock.now();
    let window_start = now - Duration::minutes(LOGIN_WINDOW_MINUTES);

    let (failures, oldest) = store::recent_failures(ctx.db, &email, window_start)?;
    if failures >= MAX_LOGIN_FAILURES {
        let retry_at = oldest.unwrap_or(now) + Duration::minutes(LOGIN_WINDOW_MINUTES);
        return Err(ApiError::too_many_requests(
            (retry_at - now).num_seconds() + 1,
        ));
    }

    let account = store::find_by_email(ctx.db, &email)?;
    let user = match account {
        Some((user, hash)) if password::verify(&body.password, &hash) => user,
        found => {
            if found.is_none() {
                password::verify_dummy(&body.password);
            }
            store::record_failure(ctx.db, &email, now, window_start)?;
            return Err(ApiError::unauthorized("wrong email or password"));
        }
    };
    store::clear_failures(ctx.db, &email)?;
    ctx.user_id.set(Some(user.id));
    token_response(StatusCode::OK, &cfg, ctx, &user)
}

fn me(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let user = require_user(req, ctx)?;
    Ok(json(StatusCode::OK, &user))
}

fn logout(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (_, verified) = authenticate(req, ctx)?;
    store::revoke(
        ctx.db,
        verified.jti,
        verified.user_id,
        verified.expires_at,
        ctx.clock.now(),
    )?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn token_response(
    status: StatusCode,
    cfg: &JwtConfig,
    ctx: &Ctx,
    user: &AuthUser,
) -> Result<Response, ApiError> {
    let issued = token::issue(cfg, user.id, ctx.clock.now()).map_err(ApiError::internal)?;
    Ok(json(
        status,
        &json!({
            "access_token": issued.token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "user": user,
        }),
    ))
}
