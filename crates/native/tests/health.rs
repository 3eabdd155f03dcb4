//! Liveness and readiness over real HTTP, with the database up, down or
//! behind on migrations, and a local stand-in for Ollama.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use native::testing::{client, TestApp};
use serde_json::Value;

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

/// Answers `GET /api/version` the way Ollama does and `GET
/// /compatible-mode/v1/models` the way Qwen does (with the key
/// `sk-secret-qwen-key` only), for as many requests as come.
fn llm_stand_in() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap_or_default();
            let mut line = String::new();
            let mut authorized = false;
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                authorized |=
                    line.to_ascii_lowercase().trim() == "authorization: bearer sk-secret-qwen-key";
                line.clear();
            }
            let (status, body) = if request_line.starts_with("GET /api/version ") {
                ("200 OK", r#"{"version":"0.12.6"}"#)
            } else if request_line.starts_with("GET /compatible-mode/v1/models ") && authorized {
                (
                    "200 OK",
                    r#"{"object":"list","data":[{"id":"qwen-plus","object":"model"}]}"#,
                )
            } else if request_line.starts_with("GET /compatible-mode/v1/models ") {
                (
                    "401 Unauthorized",
                    r#"{"error":{"message":"Incorrect API key provided at llm.internal.example","type":"invalid_request_error","code":"invalid_api_key"}}"#,
                )
            } else {
                ("404 Not Found", "404 page not found")
            };
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn liveness_answers_ok_even_without_a_database() {
    let app = TestApp::spawn_with(&[("db_port", &closed_port().to_string())]);
    let (status, body) = get(&app, "/health");
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[test]
fn readiness_reports_each_dependency_with_its_latency() {
    let llm = llm_stand_in();
    let app = TestApp::spawn_with(&[
        ("ollama_url", &llm),
        ("qwen_url", &llm),
        ("qwen_api_key", "sk-secret-qwen-key"),
    ]);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    let checks = &body["checks"];
    assert_eq!(checks["database"]["status"], "up");
    assert_eq!(checks["database"]["migration"], todo_core::LATEST_MIGRATION);
    assert!(checks["database"]["latency_ms"].is_u64());
    for tier in ["qwen", "ollama"] {
        assert_eq!(checks[tier]["status"], "ok", "{body}");
        assert!(checks[tier]["latency_ms"].is_u64());
    }
    assert!(!body.to_string().contains("sk-secret-qwen-key"));
}

#[test]
fn an_unavailable_tier_is_reported_without_its_error_or_origin() {
    let llm = llm_stand_in();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let app = TestApp::spawn_with(&[
        ("ollama_url", &closed),
        ("qwen_url", &llm),
        ("qwen_api_key", "sk-a-wrong-key"),
    ]);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");
    for tier in ["qwen", "ollama"] {
        let check = body["checks"][tier].as_object().unwrap();
        assert_eq!(check["status"], "unavailable", "{body}");
        let keys: Vec<&str> = check.keys().map(String::as_str).collect();
        assert_eq!(keys, ["latency_ms", "status"], "{body}");
    }
    let text = body.to_string();
    for secret in [
        "127.0.0.1",
        "llm.internal.example",
        "sk-a-wrong-key",
        "refused",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn readiness_says_when_no_llm_is_available_but_stays_ready() {
    let app =
        TestApp::spawn_with(&[("ollama_url", &format!("http://127.0.0.1:{}", closed_port()))]);
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["qwen"]["status"], "not_configured");
    assert_eq!(body["checks"]["ollama"]["status"], "unavailable");
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
    let (status, body) = get(&app, "/health/ready");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert_eq!(
        body["checks"]["database"]["migration"],
        todo_core::LATEST_MIGRATION - 1
    );
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
