//! Accounts and tokens: sign-up, login (throttled), the current user, logout,
//! and [`require_caller`], the one token check every protected route uses.

mod caller;
mod domain;
pub mod password;
mod store;
pub mod token;

use chrono::Duration;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

pub use caller::{Caller, CALLER_PARAMS};
pub use domain::{Email, Password, UserName};
pub use store::AuthUser;

use crate::api::{allow, bearer_token, empty, json, parse_json, Request, Response};
use crate::config::JwtConfig;
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;
use crate::throttle;

/// Login attempts allowed per email and client address within
/// [`LOGIN_WINDOW_MINUTES`] (a success gives its attempt back and forgets
/// the failures): a stranger's guesses lock only the stranger out.
pub const MAX_LOGIN_FAILURES: i64 = 5;
/// Login attempts allowed per client address, and per email, within the
/// window, over all emails and addresses (successes given back).
pub const MAX_LOGINS_PER_ADDRESS: i64 = 50;
pub const MAX_LOGINS_PER_EMAIL: i64 = 50;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
/// Sign-ups allowed per client address within [`SIGNUP_WINDOW_MINUTES`]:
/// each costs an argon2 hash.
pub const MAX_SIGNUPS_PER_ADDRESS: i64 = 20;
pub const SIGNUP_WINDOW_MINUTES: i64 = 60;

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    match req.uri().path().trim_end_matches('/') {
        "/api/auth/signup" => allow(req, &[Method::POST]).and_then(|()| signup(req, ctx)),
        "/api/auth/login" => allow(req, &[Method::POST]).and_then(|()| login(req, ctx)),
        "/api/auth/me" => allow(req, &[Method::GET]).and_then(|()| me(req, ctx)),
        "/api/auth/logout" => allow(req, &[Method::POST]).and_then(|()| logout(req, ctx)),
        _ => Err(ApiError::not_found()),
    }
}

/// The caller named by a valid, unexpired bearer token. Whether its
/// account still exists and the token is not revoked is checked by the
/// statement that does the work (see [`Caller`]), so that an authenticated
/// request costs one round trip; answer [`rejected`] when it says no.
pub fn require_caller(req: &Request, ctx: &Ctx) -> Result<Caller, ApiError> {
    verify(req, ctx).map(|token| Caller::token(token.user_id, token.jti))
}

/// The answer to a token that verified but whose account is gone or which was revoked.
pub fn rejected() -> ApiError {
    ApiError::unauthorized("invalid or expired token")
}

fn verify(req: &Request, ctx: &Ctx) -> Result<token::VerifiedToken, ApiError> {
    let cfg = JwtConfig::from_ctx(ctx)?;
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token in Authorization header"))?;
    token::verify(&cfg, token, ctx.clock.now()).map_err(|_| rejected())
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

/// The client's IP address as Spin reports it (`spin-client-addr`, an
/// `ip:port`), for throttling. Behind a proxy it is the proxy's.
fn client_address(req: &Request) -> String {
    let raw = req
        .headers()
        .get("spin-client-addr")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    match raw.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().to_string(),
        Err(_) => raw.chars().take(64).collect(),
    }
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
    let limits = [throttle::Limit {
        key: format!("signup-address:{}", client_address(req)),
        max_attempts: MAX_SIGNUPS_PER_ADDRESS,
    }];
    let window = Duration::minutes(SIGNUP_WINDOW_MINUTES);
    if let Some(seconds) = throttle::reserve(ctx.db, &limits, window, ctx.clock.now())? {
        return Err(ApiError::too_many_requests(seconds));
    }
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
    let email = Email::normalize(&body.email)
        .map_err(|message| ApiError::invalid_field("email", message))?;
    let address = client_address(req);
    let pair = format!("login:{email}|{address}");
    let limits = [
        throttle::Limit {
            key: pair.clone(),
            max_attempts: MAX_LOGIN_FAILURES,
        },
        throttle::Limit {
            key: format!("login-address:{address}"),
            max_attempts: MAX_LOGINS_PER_ADDRESS,
        },
        throttle::Limit {
            key: format!("login-email:{email}"),
            max_attempts: MAX_LOGINS_PER_EMAIL,
        },
    ];
    let now = ctx.clock.now();
    let window = Duration::minutes(LOGIN_WINDOW_MINUTES);
    // The attempt is reserved before the password is checked, so parallel
    // guesses are counted one after another.
    let state = store::login_state(ctx.db, &email, &limits, window, now)?;
    if let Some(seconds) = state.blocked_for {
        return Err(ApiError::too_many_requests(seconds));
    }
    let user = match state.account {
        Some(account) if password::verify(&body.password, &account.password_hash) => account.user,
        found => {
            if found.is_none() {
                password::verify_dummy(&body.password);
            }
            return Err(ApiError::unauthorized("wrong email or password"));
        }
    };
    throttle::refund(ctx.db, &limits, &pair)?;
    ctx.user_id.set(Some(user.id));
    token_response(StatusCode::OK, &cfg, ctx, &user)
}

fn me(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = require_caller(req, ctx)?;
    let user = store::me(ctx, &caller)?.ok_or_else(rejected)?;
    Ok(json(StatusCode::OK, &user))
}

fn logout(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let token = verify(req, ctx)?;
    let caller = Caller::token(token.user_id, token.jti);
    let now = ctx.clock.now();
    if !store::revoke(ctx, &caller, token.jti, token.expires_at, now)? {
        return Err(rejected());
    }
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
