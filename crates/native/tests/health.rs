//! Liveness and readiness over real HTTP, with the database up, down or
//! behind on migrations, and a local stand-in for a failing Qwen.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use native::testing::{client, TestApp};
use serde_json::{json, Value};

fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let mut resp = client().get(app.url(path)).call().unwrap();
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    (status, body)
}

/// A free loopback port with nothing listening on it.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stand-in for Qwen that answers every request with a 503 in
/// OpenAI's error shape, naming its internal host; its URL, and how many
/// requests it got.
fn failing_qwen() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            let mut length = 0;
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body = r#"{"error":{"message":"overloaded at llm.internal.example","type":"internal_error","code":"internal_error"}}"#;
            let _ = write!(
                &stream,
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, requests)
}

#[test]
fn liveness_answers_ok_even_without_a_database() {
    let app = TestApp::spawn_with(&[("db_port", &closed_port().to_string())]);
    let (status, body) = get(&app, "/health");
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[test]
fn readiness_reports_the_database_and_calls_no_llm() {
    let (qwen, requests) = failing_qwen();
    let app = TestApp::spawn_with(&[
        ("qwen_url", &qwen),
        ("qwen_api_key", "sk-secret-qwen-key"),
        ("ollama_url", &format!("http://127.0.0.1:{}", closed_port())),
    ]);
    for _ in 0..5 {
        let (status, body) = get(&app, "/health/ready");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ready");
        let checks = &body["checks"];
        assert_eq!(checks["database"]["status"], "up");
        assert_eq!(checks["database"]["migration"], todo_core::LATEST_MIGRATION);
        assert!(checks["database"]["latency_ms"].is_u64());
        for tier in ["qwen", "ollama"] {
            assert_eq!(
                checks[tier],
                json!({"status": "configured", "breaker": "closed", "failures": 0}),
                "{body}"
            );
        }
    }
    // Readiness is unauthenticated: it must not spend the key's quota.
    assert_eq!(requests.load(Ordering::SeqCst), 0);
}

#[test]
fn readiness_reports_what_real_chat_calls_recorded_without_their_detail() {
    let (qwen, requests) = failing_qwen();
    let app = TestApp::spawn_with(&[
        ("qwen_url", &qwen),
        ("qwen_api_key", "sk-a-wrong-key"),
        ("ollama_url", &format!("http://127.0.0.1:{}", closed_port())),
    ]);
    let user = app.signup("ada@example.com");
    for _ in 0..3 {
        app.send(
            "POST",
            "/api/chat",
            Some(&user.token),
            &[],
            Some(&json!({"message": "show my tasks"})),
        )
        .expect(200);
    }
    assert_eq!(requests.load(Ordering::SeqCst), 3);

    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(requests.load(Ordering::SeqCst), 3, "readiness called Qwen");
    let qwen = &body["checks"]["qwen"];
    assert_eq!(qwen["status"], "configured", "{body}");
    assert_eq!(qwen["breaker"], "open", "{body}");
    assert_eq!(qwen["failures"], 3, "{body}");
    assert_eq!(qwen["last_error"], "http_503", "{body}");
    assert!(qwen["last_error_at"].is_string(), "{body}");
    assert!(qwen["last_latency_ms"].is_u64(), "{body}");
    assert_eq!(body["checks"]["ollama"]["last_error"], "connection_failed");
    let text = body.to_string();
    for secret in [
        "127.0.0.1",
        "llm.internal.example",
        "sk-a-wrong-key",
        "refused",
        "overloaded",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn readiness_says_which_tiers_are_not_configured_and_stays_ready() {
    let app =
        TestApp::spawn_with(&[("ollama_url", &format!("http://127.0.0.1:{}", closed_port()))]);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["qwen"], json!({"status": "not_configured"}));
    assert_eq!(body["checks"]["ollama"]["status"], "configured");
}

#[test]
fn readiness_is_503_when_the_database_is_down_and_leaks_nothing() {
    let app = TestApp::spawn_with(&[
        ("db_port", &closed_port().to_string()),
        ("db_password", "db-secret-password"),
        ("ollama_url", &format!("http://127.0.0.1:{}", closed_port())),
    ]);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert!(!body.to_string().contains("db-secret-password"));
}

/// What the cluster's readiness probe relies on: while PostgreSQL is away a
/// pod is taken out of its Service (503), and it comes back by itself (200)
/// once PostgreSQL does, with no restart; liveness stays 200 throughout, so
/// Kubernetes never restarts a pod for a database outage.
#[test]
fn readiness_is_503_while_the_database_is_unreachable_and_200_once_it_is_back_without_a_restart() {
    let app =
        TestApp::spawn_with(&[("ollama_url", &format!("http://127.0.0.1:{}", closed_port()))]);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");

    app.db.accept_connections(false);
    for _ in 0..3 {
        let (status, body) = get(&app, "/health/ready");
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["checks"]["database"]["status"], "down", "{body}");
        let (status, _) = get(&app, "/health");
        assert_eq!(status, 200);
    }

    app.db.accept_connections(true);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "up");
}

#[test]
fn readiness_is_503_until_the_latest_migration_is_applied() {
    let app =
        TestApp::spawn_with(&[("ollama_url", &format!("http://127.0.0.1:{}", closed_port()))]);
    todo_core::ports::Db::execute(
        &app.db.db(),
        "DELETE FROM refinery_schema_history WHERE version = (SELECT max(version) FROM refinery_schema_history)",
        &[],
    )
    .unwrap();
    // The one before it (versions may skip a number while branches merge).
    let before: i32 = app
        .db
        .client()
        .query_one("SELECT max(version) FROM refinery_schema_history", &[])
        .unwrap()
        .get(0);
    assert!(i64::from(before) < todo_core::LATEST_MIGRATION);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert_eq!(body["checks"]["database"]["migration"], before);
}

#[test]
fn health_routes_refuse_other_methods() {
    let app = TestApp::spawn();
    let resp = client().post(app.url("/health")).send(&b""[..]).unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    let resp = client().get(app.url("/health/nope")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}
