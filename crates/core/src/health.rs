//! Liveness (`/health`, touches nothing) and readiness (`/health/ready`:
//! the database answers and has the latest migration). The LLM tiers are
//! reported from what real chat calls recorded, in the same statement:
//! readiness calls no provider (an unauthenticated probe must not spend an
//! API key's quota), and a tier never makes the app unready, since the
//! rule-based parser always answers.

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{allow, json, Request, Response, Unlogged};
use crate::chat::llm::{self, TierState};
use crate::db::{Json, Statement};
use crate::error::ApiError;
use crate::ports::Ctx;
use crate::LATEST_MIGRATION;

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    match req.uri().path().trim_end_matches('/') {
        "/health" => {
            allow(req, &[Method::GET, Method::HEAD])?;
            Ok(unlogged_if_ok(json(
                StatusCode::OK,
                &json!({"status": "ok"}),
            )))
        }
        "/health/ready" => {
            allow(req, &[Method::GET, Method::HEAD])?;
            Ok(unlogged_if_ok(ready(ctx)))
        }
        _ => Err(ApiError::not_found()),
    }
}

/// A probe that succeeds leaves no access-log line; one that fails does.
fn unlogged_if_ok(mut response: Response) -> Response {
    if response.status() == StatusCode::OK {
        response.extensions_mut().insert(Unlogged);
    }
    response
}

fn ready(ctx: &Ctx) -> Response {
    let (database, tiers) = check_database(ctx);
    let db_ready = database["status"] == "up";
    let mut checks = json!({ "database": database });
    if let (Value::Object(checks), Value::Object(tiers)) =
        (&mut checks, llm::tier_states(ctx, tiers.as_deref()))
    {
        checks.extend(tiers);
    }
    let body = json!({
        "status": if db_ready { "ready" } else { "not_ready" },
        "checks": checks,
    });
    let status = if db_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &body)
}

/// The database's check, and the LLM tiers' recorded state when it answered.
fn check_database(ctx: &Ctx) -> (Value, Option<Vec<TierState>>) {
    let started = ctx.clock.monotonic();
    #[derive(Deserialize)]
    struct Answer {
        version: i64,
        tiers: Vec<TierState>,
    }
    let answer = Statement::object(
        &[],
        &[
            (
                "version",
                Json::Value("(SELECT COALESCE(max(version), 0) FROM refinery_schema_history)"),
            ),
            (
                "tiers",
                Json::Rows(&llm::state_sql("$1::text::timestamptz")),
            ),
        ],
        vec![ctx.clock.now().into()],
    )
    .fetch::<Answer>(ctx.db);
    let latency_ms = u64::try_from(ctx.clock.monotonic().saturating_sub(started).as_millis())
        .unwrap_or(u64::MAX);
    match answer {
        Ok(Answer { version, tiers }) if version >= LATEST_MIGRATION => (
            json!({"status": "up", "latency_ms": latency_ms, "migration": version}),
            Some(tiers),
        ),
        Ok(Answer { version, tiers }) => (
            json!({
                "status": "down",
                "latency_ms": latency_ms,
                "migration": version,
                "error": format!("migration {LATEST_MIGRATION} is not applied yet"),
            }),
            Some(tiers),
        ),
        Err(e) => {
            // The detail (which may name hosts) goes to the log, not the client.
            ctx.log
                .line(&json!({"event": "readiness_db_failed", "error": e.to_string()}).to_string());
            (
                json!({"status": "down", "latency_ms": latency_ms, "error": "database unreachable or not migrated"}),
                None,
            )
        }
    }
}
