//! Accounts and tokens: sign-up, login (throttled), the current user, logout,
//! personal access tokens, and [`require_caller`], the one token check every
//! protected route uses.

pub mod access_token;
mod address;
mod caller;
mod domain;
pub mod password;
pub mod proof;
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

/// Login attempts allowed per email and client address (the pair) within
/// [`LOGIN_WINDOW_MINUTES`]; past them that address gets 429 for that email
/// until the window ends. A success forgets the pair's failures. Other
/// addresses' failures never refuse a pair: a stranger's guesses lock only
/// the stranger out.
pub const MAX_LOGIN_FAILURES: i64 = 5;
/// Login attempts allowed per client address within the window, over all
/// emails (a success gives its attempt back); past them the address gets
/// 429 for every email until the window ends.
pub const MAX_LOGINS_PER_ADDRESS: i64 = 50;
/// Login attempts for one email within the window, over all addresses
/// (successes given back), past which the email is under attack. That
/// refuses no one (else a stranger could lock the owner out), and no login
/// ever waits on the server: from then on every login for the email must
/// carry a proof of work ([`proof`]), harder as the attempts double, which
/// is what bounds the guesses of many addresses together.
pub const LOGINS_PER_EMAIL_UNDER_ATTACK: i64 = 50;
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
        "/api/auth/tokens" => allow(req, &[Method::GET, Method::POST]).and_then(|()| {
            if req.method() == Method::POST {
                create_token(req, ctx)
            } else {
                list_tokens(req, ctx)
            }
        }),
        path => match path.strip_prefix("/api/auth/tokens/") {
            Some(id) if !id.contains('/') => {
                allow(req, &[Method::DELETE]).and_then(|()| delete_token(req, ctx, id))
            }
            _ => Err(ApiError::not_found()),
        },
    }
}

/// The caller named by a valid bearer token, refusing a read-only personal
/// access token on anything but GET and HEAD. A session token is verified
/// here; whether its account still exists and it is not revoked is checked
/// by the statement that does the work (see [`Caller`]), so that an
/// authenticated request costs one round trip; answer [`rejected`] when it
/// says no. A personal access token costs one more: its row is read and
/// its secret compared before any work is done.
pub fn require_caller(req: &Request, ctx: &Ctx) -> Result<Caller, ApiError> {
    let caller = authenticate(req, ctx)?;
    if caller.read_only() && !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Err(read_only_refused());
    }
    Ok(caller)
}

/// The caller named by a valid bearer token, whatever the request does
/// (for routes that tell reads from writes themselves, like MCP's tools;
/// they must refuse writes when [`Caller::read_only`]).
pub fn authenticate(req: &Request, ctx: &Ctx) -> Result<Caller, ApiError> {
    Ok(match credential(req, ctx)? {
        Credential::Session(token) => Caller::token(token.user_id, token.jti),
        Credential::Access(caller, _) => caller,
    })
}

/// Failed HTTP Basic sign-ins (see [`BasicSignIn`]) allowed per client
/// address within [`LOGIN_WINDOW_MINUTES`]; past them, that address's
/// failures answer 429 until the window ends.
pub const MAX_BASIC_FAILURES_PER_ADDRESS: i64 = 20;

/// A request's HTTP Basic credentials (CalDAV clients): the user name is
/// the account's email, the password one of its personal access tokens,
/// read-only ones included. The account password is never accepted here:
/// every request would pay a password hash, and a phone would keep the
/// real password. The token is checked by the request's first statement,
/// which does the request's work too (see [`Caller::presented`]); then
/// [`accept`](Self::accept) tells who the caller is. A failure counts
/// against the client's address, as a failed login does; a right token is
/// never refused.
pub struct BasicSignIn {
    /// The presented token, unchecked.
    pub caller: Caller,
    email: String,
}

impl BasicSignIn {
    /// The credentials of `req`: 401 with a challenge without any (not a
    /// failure: clients ask first without), a counted failure when they
    /// cannot be an email and a token.
    pub fn read(req: &Request, ctx: &Ctx) -> Result<Self, ApiError> {
        let Some((email, password)) = basic_credentials(req) else {
            return Err(basic_challenge(
                "sign in with your email and a personal access token (HTTP Basic)",
            ));
        };
        match (Email::normalize(&email), access_token::parse(&password)) {
            (Ok(email), Some(presented)) => Ok(Self {
                caller: Caller::presented(presented.id, presented.digest()),
                email,
            }),
            _ => Err(Self::failed(req, ctx)),
        }
    }

    /// The caller the first statement found, from its answer (`None` when
    /// no live token has the secret presented), when the token is the
    /// email's account's; else a counted failure.
    pub fn accept<T>(
        &self,
        req: &Request,
        ctx: &Ctx,
        found: Option<(Caller, AuthUser, T)>,
    ) -> Result<(Caller, AuthUser, T), ApiError> {
        match found {
            Some(found) if found.1.email == self.email => Ok(found),
            _ => Err(Self::failed(req, ctx)),
        }
    }

    /// Counts a failed sign-in against the client's address: 401, or 429
    /// once the address has failed too often.
    fn failed(req: &Request, ctx: &Ctx) -> ApiError {
        let counted = client_address(req, ctx).and_then(|address| {
            let limits = [throttle::Limit::refusing(
                format!("basic-address:{address}"),
                MAX_BASIC_FAILURES_PER_ADDRESS,
            )];
            let window = Duration::minutes(LOGIN_WINDOW_MINUTES);
            Ok(throttle::reserve(ctx.db, &limits, window, ctx.clock.now())?)
        });
        match counted {
            Ok(Some(seconds)) => ApiError::too_many_requests(seconds),
            Ok(None) => basic_challenge(
                "wrong email or personal access token (the account password is not accepted here)",
            ),
            Err(e) => e,
        }
    }
}

fn basic_challenge(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message.to_owned()).with_header(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"todo-spin\", charset=\"UTF-8\""),
    )
}

/// The user name and password of an `Authorization: Basic` header.
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The answer to a token that verified but whose account is gone or which was revoked.
pub fn rejected() -> ApiError {
    ApiError::unauthorized("invalid or expired token")
}

/// The answer to a write attempted with a read-only personal access token.
pub fn read_only_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "read_only_token",
        "this personal access token may only read",
    )
}

enum Credential {
    Session(token::VerifiedToken),
    /// A personal access token (its id), whose secret matched its live row.
    Access(Caller, uuid::Uuid),
}

fn credential(req: &Request, ctx: &Ctx) -> Result<Credential, ApiError> {
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token in Authorization header"))?;
    if access_token::is_access_token(token) {
        let presented = access_token::parse(token).ok_or_else(rejected)?;
        let stored = store::access_token_for_use(
            ctx.db,
            presented.id,
            &presented.sha256(),
            ctx.clock.now(),
        )?
        .filter(|stored| presented.matches(&stored.secret_sha256))
        .ok_or_else(rejected)?;
        // A live token's row vouches for its account (deleting the account
        // deletes its tokens), so the request is known to act for it.
        ctx.user_id.set(Some(stored.user_id));
        let caller = Caller::access_token(stored.user_id, presented.id, stored.read_only);
        return Ok(Credential::Access(caller, presented.id));
    }
    let secret = JwtConfig::secret(ctx)?;
    token::verify(&secret, token, ctx.clock.now())
        .map(Credential::Session)
        .map_err(|_| rejected())
}

/// The caller of a route only a session may use (managing tokens): a
/// leaked personal access token cannot mint or list others.
fn require_session(req: &Request, ctx: &Ctx) -> Result<Caller, ApiError> {
    match credential(req, ctx)? {
        Credential::Session(token) => Ok(Caller::token(token.user_id, token.jti)),
        Credential::Access(..) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "session_required",
            "personal access tokens are managed with a session token: log in first",
        )),
    }
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
    /// Required while the email is under attack (see [`proof`]).
    proof: Option<proof::Proof>,
}

/// Whom the per-address throttles count a request under (see [`address`]).
fn client_address(req: &Request, ctx: &Ctx) -> Result<String, ApiError> {
    let proxies = address::TrustedProxies::from_ctx(ctx)?;
    Ok(address::client_address(req, &proxies))
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
    let limits = [throttle::Limit::refusing(
        format!("signup-address:{}", client_address(req, ctx)?),
        MAX_SIGNUPS_PER_ADDRESS,
    )];
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
    if let Some(proof) = &body.proof {
        proof
            .check_shape()
            .map_err(|message| ApiError::invalid_field("proof", message))?;
    }
    let address = client_address(req, ctx)?;
    let pair = format!("login:{email}|{address}");
    let email_key = format!("login-email:{email}");
    let limits = [
        throttle::Limit::refusing(pair.clone(), MAX_LOGIN_FAILURES),
        throttle::Limit::refusing(format!("login-address:{address}"), MAX_LOGINS_PER_ADDRESS),
        throttle::Limit::counting(email_key.clone(), LOGINS_PER_EMAIL_UNDER_ATTACK),
    ];
    let now = ctx.clock.now();
    let window = Duration::minutes(LOGIN_WINDOW_MINUTES);
    let proven = body.proof.as_ref().map_or(0, |p| {
        proof::proven_bits(&cfg.secret, &email, &body.password, p, now)
    });
    let proven_enough = (
        email_key.as_str(),
        proof::enough_up_to(proven, LOGINS_PER_EMAIL_UNDER_ATTACK),
    );
    // The attempt is reserved before the password is checked, so parallel
    // guesses are counted one after another; nothing here ever waits.
    let state = store::login_state(ctx.db, &email, &limits, proven_enough, window, now)?;
    if let Some(seconds) = state.counted.blocked_for(&limits, window, now) {
        return Err(ApiError::too_many_requests(seconds));
    }
    let challenge_after = |attempts: i64| {
        let bits = proof::required_bits(attempts, LOGINS_PER_EMAIL_UNDER_ATTACK);
        (bits > 0).then(|| proof::challenge(&cfg.secret, &email, bits, now))
    };
    if !state.counted.counted() {
        // Under attack, without a proof that is enough: counted nowhere,
        // and the password is not checked.
        let challenge = challenge_after(state.email_attempts)
            .ok_or_else(|| ApiError::internal("a login was not counted, yet needs no proof"))?;
        return Err(proof_required(&challenge));
    }
    let user = match state.account {
        Some(account) if password::verify(&body.password, &account.password_hash) => account.user,
        found => {
            if found.is_none() {
                password::verify_dummy(&body.password);
            }
            let wrong = ApiError::unauthorized("wrong email or password");
            // The next attempt's challenge, so a client can solve it first.
            return Err(match challenge_after(state.counted.attempts(&email_key)) {
                Some(challenge) => wrong.with_member("challenge", json!(challenge)),
                None => wrong,
            });
        }
    };
    throttle::refund(ctx.db, &limits, &pair)?;
    ctx.user_id.set(Some(user.id));
    token_response(StatusCode::OK, &cfg, ctx, &user)
}

/// The answer to a login that lacks the proof its email needs.
fn proof_required(challenge: &proof::Challenge) -> ApiError {
    let mut error = ApiError::unauthorized(format!(
        "this email has had many failed logins: solve the challenge (a nonce that makes \
         SHA-256(\"<token>:<hex SHA-256 of the password>:<nonce>\") start with {} zero bits) \
         and send it as \"proof\": {{\"challenge\": <token>, \"nonce\": <nonce>}}",
        challenge.difficulty
    ))
    .with_member("challenge", json!(challenge));
    error.code = "proof_required";
    error
}

fn me(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = require_caller(req, ctx)?;
    let user = store::me(ctx, &caller)?.ok_or_else(rejected)?;
    Ok(json(StatusCode::OK, &user))
}

/// Revokes the token the request carries: a session token, or a personal
/// access token (then deleted, as by `DELETE /api/auth/tokens/{id}`).
fn logout(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let revoked = match credential(req, ctx)? {
        Credential::Session(token) => {
            let caller = Caller::token(token.user_id, token.jti);
            let now = ctx.clock.now();
            store::revoke(ctx, &caller, token.jti, token.expires_at, now)?
        }
        Credential::Access(caller, id) => {
            store::delete_access_token(ctx, &caller, id)?.unwrap_or(false)
        }
    };
    if !revoked {
        return Err(rejected());
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    name: String,
    expires_in_days: Option<i64>,
    #[serde(default)]
    read_only: bool,
}

fn create_token(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = require_session(req, ctx)?;
    let body: NewTokenBody = parse_json(req)?;
    let mut fields = Fields::default();
    let name = fields.take("name", UserName::parse(&body.name));
    let days = body.expires_in_days.unwrap_or(access_token::DEFAULT_DAYS);
    let days = fields.take(
        "expires_in_days",
        if (1..=access_token::MAX_DAYS).contains(&days) {
            Ok(days)
        } else {
            Err(format!(
                "must be a whole number of days from 1 to {}",
                access_token::MAX_DAYS
            ))
        },
    );
    let (Some(name), Some(days)) = (name, days) else {
        return Err(fields.into_error());
    };
    let minted = access_token::mint().map_err(ApiError::internal)?;
    let expires_at = ctx.clock.now() + Duration::days(days);
    let created = store::create_access_token(
        ctx,
        &caller,
        minted.id,
        name.as_str(),
        &minted.secret_sha256,
        body.read_only,
        expires_at,
        access_token::MAX_PER_USER,
    )?
    .ok_or_else(rejected)?;
    match created {
        store::Created::Token(token) => {
            let mut body = serde_json::to_value(&token).map_err(ApiError::internal)?;
            body["token"] = minted.token.into();
            Ok(json(StatusCode::CREATED, &body))
        }
        store::Created::TooMany => Err(ApiError::conflict(
            "too_many_tokens",
            format!(
                "an account may hold {} live personal access tokens: revoke one first",
                access_token::MAX_PER_USER
            ),
        )),
    }
}

fn list_tokens(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = require_session(req, ctx)?;
    let items = store::access_tokens(ctx, &caller)?.ok_or_else(rejected)?;
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

fn delete_token(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = require_session(req, ctx)?;
    // An id that is no UUID names no token of the caller's.
    let Ok(id) = uuid::Uuid::try_parse(id) else {
        return Err(ApiError::not_found());
    };
    match store::delete_access_token(ctx, &caller, id)?.ok_or_else(rejected)? {
        true => Ok(empty(StatusCode::NO_CONTENT)),
        false => Err(ApiError::not_found()),
    }
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
