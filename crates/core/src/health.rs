//! Liveness (`/health`, touches nothing) and readiness (`/health/ready`: the
//! database answers and has the latest migration; the LLM tiers are reported
//! but never make the app unready, since the rule-based parser always works).

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{allow, json, Request, Response};
use crate::db::{Json, Statement};
use crate::error::ApiError;
use crate::ports::Ctx;
use crate::LATEST_MIGRATION;

/// How long readiness waits for each LLM tier: probes must stay quick.
const LLM_PROBE_TIMEOUT: Duration = Duration::from_millis(1000);

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    match req.uri().path().trim_end_matches('/') {
        "/health" => {
            allow(req, &[Method::GET, Method::HEAD])?;
            Ok(json(StatusCode::OK, &json!({"status": "ok"})))
        }
        "/health/ready" => {
            allow(req, &[Method::GET, Method::HEAD])?;
            Ok(ready(ctx))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn ready(ctx: &Ctx) -> Response {
    let database = check_database(ctx);
    let db_ready = database["status"] == "up";
    let body = json!({
        "status": if db_ready { "ready" } else { "not_ready" },
        "checks": {
            "database": database,
            "qwen": check_qwen(ctx),
            "ollama": check_ollama(ctx),
        }
    });
    let status = if db_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &body)
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn check_database(ctx: &Ctx) -> Value {
    let started = Instant::now();
    #[derive(serde::Deserialize)]
    struct Answer {
        version: i64,
    }
    let applied = Statement::object(
        &[],
        &[(
            "version",
            Json::Value("(SELECT COALESCE(max(version), 0) FROM refinery_schema_history)"),
        )],
        Vec::new(),
    )
    .fetch::<Answer>(ctx.db)
    .map(|answer| answer.version);
    let latency_ms = elapsed_ms(started);
    match applied {
        Ok(v) if v >= LATEST_MIGRATION => {
            json!({"status": "up", "latency_ms": latency_ms, "migration": v})
        }
        Ok(v) => json!({
            "status": "down",
            "latency_ms": latency_ms,
            "migration": v,
            "error": format!("migration {LATEST_MIGRATION} is not applied yet"),
        }),
        Err(e) => {
            // The detail (which may name hosts) goes to the log, not the client.
            println!(
                "{}",
                json!({"event": "readiness_db_failed", "error": e.to_string()})
            );
            json!({"status": "down", "latency_ms": latency_ms, "error": "database unreachable or not migrated"})
        }
    }
}

/// Qwen answers its model list when the key is good (one cheap request).
fn check_qwen(ctx: &Ctx) -> Value {
    let key = ctx.var("qwen_api_key");
    if key.trim().is_empty() {
        return json!({"status": "not_configured"});
    }
    let url = format!(
        "{}/compatible-mode/v1/models",
        ctx.var("qwen_url").trim_end_matches('/')
    );
    let request = http::Request::get(url)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", key.trim()),
        )
        .body(Vec::new());
    probe(ctx, "qwen", request)
}

/// Ollama's cheapest liveness check is its version.
fn check_ollama(ctx: &Ctx) -> Value {
    let url = format!(
        "{}/api/version",
        ctx.var("ollama_url").trim_end_matches('/')
    );
    probe(ctx, "ollama", http::Request::get(url).body(Vec::new()))
}

/// An LLM tier as the public readiness answer shows it: `ok` or
/// `unavailable`, with the latency. Why it is unavailable (which may name
/// hosts, or echo a provider's message) goes to the log only.
fn probe(ctx: &Ctx, tier: &str, request: Result<http::Request<Vec<u8>>, http::Error>) -> Value {
    let started = Instant::now();
    let failure = match request {
        Err(e) => Some(format!("invalid URL: {e}")),
        Ok(request) => match ctx.http.send(request, LLM_PROBE_TIMEOUT) {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Some(e.to_string()),
        },
    };
    let latency_ms = elapsed_ms(started);
    match failure {
        None => json!({"status": "ok", "latency_ms": latency_ms}),
        Some(error) => {
            println!(
                "{}",
                json!({"event": "readiness_llm_unavailable", "tier": tier, "error": error})
            );
            json!({"status": "unavailable", "latency_ms": latency_ms})
        }
    }
}
