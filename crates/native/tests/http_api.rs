//! The app's shared HTTP behaviour over real HTTP, served from the
//! repository's spin.toml by the native harness: errors, limits, request ids,
//! CORS and the static page. Component-specific behaviour is tested elsewhere.

use native::testing::ureq::http::Response;
use native::testing::ureq::Body;
use native::testing::{client, TestApp};
use serde_json::Value;

fn json(response: &mut Response<Body>) -> Value {
    let text = response.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn an_unknown_api_route_is_a_json_404() {
    let app = TestApp::spawn();
    let mut response = client().get(app.url("/api/nope")).call().unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let body = json(&mut response);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[test]
fn a_wrong_method_is_405_and_names_the_allowed_ones() {
    let app = TestApp::spawn();
    let mut response = client().delete(app.url("/")).call().unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "allow"), Some("GET, HEAD"));
    assert_eq!(json(&mut response)["error"]["code"], "method_not_allowed");
}

#[test]
fn a_body_over_one_mebibyte_is_refused_with_413() {
    let app = TestApp::spawn();
    let body = vec![b'x'; 1024 * 1024 + 1];
    let mut response = client()
        .post(app.url("/api/todos"))
        .header("content-type", "application/json")
        .send(&body[..])
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(json(&mut response)["error"]["code"], "payload_too_large");
}

#[test]
fn a_body_of_exactly_one_mebibyte_is_not_refused_for_its_size() {
    let app = TestApp::spawn();
    let body = vec![b'x'; 1024 * 1024];
    let response = client().post(app.url("/")).send(&body[..]).unwrap();
    // The web component only serves GET and HEAD, but it got to decide.
    assert_eq!(response.status(), 405);
}

#[test]
fn a_sent_request_id_is_echoed() {
    let app = TestApp::spawn();
    let response = client()
        .get(app.url("/"))
        .header("x-request-id", "trace-42.a_b:c")
        .call()
        .unwrap();
    assert_eq!(header(&response, "x-request-id"), Some("trace-42.a_b:c"));
}

#[test]
fn a_request_id_is_generated_when_none_is_sent() {
    let app = TestApp::spawn();
    let first = client().get(app.url("/")).call().unwrap();
    let second = client().get(app.url("/api/nope")).call().unwrap();
    let first = header(&first, "x-request-id").unwrap().to_owned();
    let second = header(&second, "x-request-id").unwrap().to_owned();
    assert!(!first.is_empty());
    assert_ne!(first, second);
}

#[test]
fn a_cors_preflight_from_an_allowed_origin_is_answered() {
    let app = TestApp::spawn_with(&[("cors_allowed_origins", "https://app.example")]);
    let response = client()
        .options(app.url("/api/todos"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .call()
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(header(&response, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
}

#[test]
fn a_cors_preflight_from_another_origin_is_forbidden() {
    let app = TestApp::spawn_with(&[("cors_allowed_origins", "https://app.example")]);
    let mut response = client()
        .options(app.url("/api/todos"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .call()
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(json(&mut response)["error"]["code"], "origin_not_allowed");
}

#[test]
fn the_root_serves_the_static_index_page() {
    let app = TestApp::spawn();
    let mut response = client().get(app.url("/")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let expected = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static/index.html"),
    )
    .unwrap();
    assert_eq!(response.body_mut().read_to_string().unwrap(), expected);
}

#[test]
fn head_of_the_root_has_headers_and_no_body() {
    let app = TestApp::spawn();
    let mut response = client().head(app.url("/")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body_mut().read_to_vec().unwrap(), Vec::<u8>::new());
}
