//! The MCP server at `/mcp`: the todo list as tools for AI agents, over
//! Streamable HTTP with JSON responses. Stateless like Spin itself (a fresh
//! instance per request): the 2026-07-28 revision needs no state, and the
//! older revisions' `initialize` is answered without minting a session.
//! [`protocol`] reads messages and decides each request's revision;
//! [`tools`] are the tools over `todos::store`.
//!
//! Spec (modelcontextprotocol/modelcontextprotocol):
//! `docs/specification/2026-07-28/basic/transports/streamable-http.mdx`
//! ("Security & Endpoint": an `Origin` that is present and invalid is a
//! 403; "Sending Messages": POST only, one message per body, 202 with no
//! body for a notification it accepts, an HTTP error status and a JSON-RPC
//! error without `id` for one it cannot; "Backward Compatibility": GET and
//! DELETE are 405, `Mcp-Session-Id` is ignored),
//! `docs/specification/2026-07-28/server/tools.mdx` ("Error Handling":
//! server errors are protocol errors) and `schema/2026-07-28/schema.ts`
//! (`DiscoverResult`, `CacheableResult`).

pub mod protocol;
pub mod tools;

use http::{header, Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::api::{allow, allowed_origin, empty, json, Request, Response};
use crate::auth::{self, AuthUser, Caller};
use crate::db::Json;
use crate::error::ApiError;
use crate::ports::Ctx;
use protocol::{Era, Message, RpcError};

/// The endpoint's path.
pub const PATH: &str = "/mcp";

/// How long clients may cache `tools/list` and `server/discover` (the
/// tools change only with a deployment), in milliseconds.
pub const CACHE_TTL_MS: u64 = 300_000;

const INSTRUCTIONS: &str = "Tools for the user's todo lists: see their lists (list_lists), \
    add, list, update, move, complete, reopen and delete tasks, and read a task's history. Find \
    a task's id with list_tasks before changing it. Times are RFC 3339 in UTC (or plain dates). \
    Sharing a list or changing its members is not possible here: only the user can, in the app.";

/// The mcp component's entry point.
pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    if req.uri().path().trim_end_matches('/') != PATH {
        return Err(ApiError::not_found());
    }
    // GET (a server-to-client stream) and DELETE (ending a session) have
    // nothing to do here: there are no streams and no sessions.
    allow(req, &[Method::POST])?;
    if !origin_allowed(req, ctx) {
        let error = RpcError::new(
            protocol::INVALID_REQUEST,
            "Forbidden: this Origin may not call the MCP endpoint (see cors_allowed_origins)",
        );
        return Ok(json(
            StatusCode::FORBIDDEN,
            &protocol::failure(None, &error),
        ));
    }
    // Read before the caller is known (it needs nothing but the body), so
    // that a failure on the server's side can answer the request's id.
    let message = protocol::parse_message(req.body());
    let id = match &message {
        Ok(Message::Request { id, .. }) => Some(id.clone()),
        Ok(Message::Notification { .. }) => None,
        Err(rejection) => rejection.id.clone(),
    };
    respond(req, ctx, message).map_err(|error| server_failure(id.as_ref(), error))
}

/// A failure on the server's side (the database is down, a statement
/// failed, a setting is missing) is a JSON-RPC error, `-32603` with the
/// status the REST API gives it (503 while the database is down), so an
/// MCP client reads it as one: the spec's tools.mdx counts server errors
/// as protocol errors. The detail still goes to the log line only. A
/// refused token stays a plain 401, as the authorization spec has it.
fn server_failure(id: Option<&Value>, error: ApiError) -> ApiError {
    if !error.status.is_server_error() {
        return error;
    }
    let rpc = RpcError::new(
        protocol::INTERNAL_ERROR,
        format!("Internal error: {}", error.message),
    );
    let body = protocol::failure(id, &rpc);
    error.with_body(body)
}

/// The answer to one message, from its caller's authentication on.
fn respond(
    req: &Request,
    ctx: &Ctx,
    message: Result<Message, protocol::Rejection>,
) -> Result<Response, ApiError> {
    // Every MCP message is a POST, so a read-only personal access token is
    // not refused for the method: the tools tell reads from writes.
    let caller = auth::authenticate(req, ctx)?;

    let (id, method, params) = match message {
        Ok(Message::Notification { method, params }) => {
            // Refused like a request, but with no id to answer.
            if let Err(error) = protocol::check_notification(req.headers(), &method, &params) {
                return Ok(json(error.status(None), &protocol::failure(None, &error)));
            }
            confirm(ctx, &caller)?;
            return Ok(empty(StatusCode::ACCEPTED));
        }
        Ok(Message::Request { id, method, params }) => (id, method, params),
        Err(rejection) => {
            let status = rejection.error.status(None);
            let body = protocol::failure(rejection.id.as_ref(), &rejection.error);
            return Ok(json(status, &body));
        }
    };
    let era = match protocol::era(req.headers(), &method, &params) {
        Ok(era) => era,
        Err(error) => {
            return Ok(json(
                error.status(None),
                &protocol::failure(Some(&id), &error),
            ))
        }
    };
    let answer = match (era, method.as_str()) {
        (Era::Initialize, _) => initialize(&params),
        (Era::Legacy(_), "ping") => Ok(Map::new()),
        (Era::Modern(_), "server/discover") => Ok(discover()),
        (_, "tools/list") => list_tools(era, &params),
        (_, "tools/call") => tools::call(ctx, &caller, &params)?,
        (_, other) => Err(RpcError::new(
            protocol::METHOD_NOT_FOUND,
            format!("Method not found: {other}"),
        )),
    };
    // A tool's statement (or a personal access token's lookup) checks the
    // caller and records the user; when none did (a session token and a
    // method without a statement, or a call refused before it), the caller
    // is checked here, so a revoked token gets nothing but a 401.
    if ctx.user_id.get().is_none() {
        confirm(ctx, &caller)?;
    }
    Ok(match answer {
        Ok(result) => json(
            StatusCode::OK,
            &protocol::success(&id, protocol::shape_result(era, result)),
        ),
        Err(error) => json(
            error.status(Some(era)),
            &protocol::failure(Some(&id), &error),
        ),
    })
}

/// An `Origin` header, when present, must be one `cors_allowed_origins`
/// lists (as for CORS): against DNS rebinding, a page's origin is never
/// trusted because it names this host.
fn origin_allowed(req: &Request, ctx: &Ctx) -> bool {
    !req.headers().contains_key(header::ORIGIN) || allowed_origin(req, ctx).is_some()
}

/// 401 unless the token's account exists and the token is not revoked (one
/// statement), so a revoked token gets nothing, not even the tool list.
fn confirm(ctx: &Ctx, caller: &Caller) -> Result<(), ApiError> {
    let known: Option<(AuthUser, Value)> =
        caller.fetch(ctx, &[], &[("known", Json::Value("true"))], Vec::new())?;
    known.map(|_| ()).ok_or_else(auth::rejected)
}

fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}})
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `initialize` (2025-11-25 and 2025-06-18 lifecycle.mdx): the negotiated
/// version, capabilities and identity. No `Mcp-Session-Id` is handed out,
/// so the client sends none and nothing is remembered.
fn initialize(params: &Map<String, Value>) -> Result<Map<String, Value>, RpcError> {
    let version = protocol::negotiate(params)?;
    Ok(object(json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": protocol::server_info(),
        "instructions": INSTRUCTIONS,
    })))
}

/// `server/discover` (2026-07-28 `DiscoverResult`, a `CacheableResult`).
fn discover() -> Map<String, Value> {
    object(json!({
        "supportedVersions": protocol::supported_versions(),
        "capabilities": capabilities(),
        "instructions": INSTRUCTIONS,
        "ttlMs": CACHE_TTL_MS,
        "cacheScope": "public",
    }))
}

/// `tools/list`: every tool on one page, in a fixed order. In 2026-07-28 it
/// is a `CacheableResult`; the list is the same for every caller (a
/// read-only token sees the write tools too, and is refused when it calls
/// one), so it may be cached publicly.
fn list_tools(era: Era, params: &Map<String, Value>) -> Result<Map<String, Value>, RpcError> {
    if params.get("cursor").is_some_and(|c| !c.is_null()) {
        return Err(RpcError::invalid_params(
            "Invalid params: unknown cursor (tools/list has a single page)",
        ));
    }
    let mut result = object(json!({"tools": tools::definitions()}));
    if let Era::Modern(_) = era {
        result.insert("ttlMs".into(), CACHE_TTL_MS.into());
        result.insert("cacheScope".into(), "public".into());
    }
    Ok(result)
}
