//! The web component over real HTTP: the single-page app's files with their
//! content types, validators (ETag, 304), cache and security headers,
//! client-side routes, and paths that try to climb out of `static/`.
//! Requests are written by hand on a socket, so that the path arrives
//! exactly as written (no client normalises `..` or escapes away).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use native::testing::TestApp;

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `method path` with `headers` and reads the whole answer.
fn request(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(app.addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        app.addr
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if method == "HEAD" || status == 304 {
        Vec::new()
    } else {
        raw[split + 4..].to_vec()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn get(app: &TestApp, path: &str) -> Answer {
    request(app, "GET", path, &[])
}

fn static_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../static")
            .join(name),
    )
    .unwrap()
}

fn assert_security_headers(answer: &Answer, what: &str) {
    let csp = answer
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no content-security-policy"));
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp} lacks {directive}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        answer.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{what}");
}

#[test]
fn the_app_shell_is_served_with_security_and_cache_headers() {
    let app = TestApp::spawn();
    let answer = get(&app, "/");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(answer.header("cache-control"), Some("no-cache"));
    assert_eq!(answer.body, static_file("index.html"));
    assert_security_headers(&answer, "GET /");
    let etag = answer.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
}

#[test]
fn every_kind_of_file_has_its_content_type() {
    let app = TestApp::spawn();
    for (path, file, content_type) in [
        ("/app.css", "app.css", "text/css; charset=utf-8"),
        ("/js/app.js", "js/app.js", "text/javascript; charset=utf-8"),
        (
            "/js/todos.js",
            "js/todos.js",
            "text/javascript; charset=utf-8",
        ),
        ("/favicon.svg", "favicon.svg", "image/svg+xml"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
    ] {
        let answer = get(&app, path);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_eq!(answer.body, static_file(file), "{path}");
        assert_security_headers(&answer, path);
    }
}

#[test]
fn a_matching_if_none_match_is_answered_304_with_the_etag() {
    let app = TestApp::spawn();
    let first = get(&app, "/js/app.js");
    let etag = first.header("etag").unwrap().to_owned();
    for sent in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".into(),
    ] {
        let again = request(&app, "GET", "/js/app.js", &[("if-none-match", &sent)]);
        assert_eq!(again.status, 304, "If-None-Match: {sent}");
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        assert_eq!(again.header("cache-control"), Some("no-cache"));
        assert_security_headers(&again, "304");
    }
    let stale = request(&app, "GET", "/js/app.js", &[("if-none-match", "\"old\"")]);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, static_file("js/app.js"));
}

#[test]
fn different_files_have_different_etags() {
    let app = TestApp::spawn();
    let a = get(&app, "/js/app.js");
    let b = get(&app, "/app.css");
    assert_ne!(a.header("etag"), b.header("etag"));
    assert_eq!(a.header("etag"), get(&app, "/js/app.js").header("etag"));
}

#[test]
fn head_answers_the_headers_of_get_without_a_body() {
    let app = TestApp::spawn();
    let got = get(&app, "/app.css");
    let head = request(&app, "HEAD", "/app.css", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), got.header("etag"));
    assert_eq!(head.header("content-type"), Some("text/css; charset=utf-8"));
    assert_security_headers(&head, "HEAD");
    let head_304 = request(
        &app,
        "HEAD",
        "/app.css",
        &[("if-none-match", got.header("etag").unwrap())],
    );
    assert_eq!(head_304.status, 304);
}

#[test]
fn client_side_routes_get_the_app_shell() {
    let app = TestApp::spawn();
    let index = static_file("index.html");
    for path in [
        "/login",
        "/signup",
        "/todos/some/deep/route",
        "/js",
        "/login?next=%2F",
    ] {
        let answer = get(&app, path);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(answer.body, index, "{path}");
    }
}

#[test]
fn a_missing_file_with_an_extension_is_404() {
    let app = TestApp::spawn();
    for path in ["/missing.js", "/js/nope.js", "/favicon.ico", "/robots.txt"] {
        let answer = get(&app, path);
        assert_eq!(answer.status, 404, "{path}");
        assert_security_headers(&answer, path);
    }
}

#[test]
fn unknown_api_paths_are_json_404_not_the_app() {
    let app = TestApp::spawn();
    for path in ["/api/nope", "/api/nope/deeper", "/api/x.js"] {
        let answer = get(&app, path);
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
}

#[test]
fn the_openapi_document_is_served_with_a_validator() {
    let app = TestApp::spawn();
    let answer = get(&app, "/api/openapi.json");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let etag = answer.header("etag").unwrap();
    let again = request(&app, "GET", "/api/openapi.json", &[("if-none-match", etag)]);
    assert_eq!(again.status, 304);
}

#[test]
fn other_methods_are_405_with_the_security_headers() {
    let app = TestApp::spawn();
    let answer = request(&app, "DELETE", "/app.css", &[]);
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET, HEAD"));
    assert_security_headers(&answer, "DELETE");
}

#[test]
fn traversal_never_leaves_the_static_folder() {
    let app = TestApp::spawn();
    let secrets = [
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
            .unwrap(),
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml"))
            .unwrap(),
    ];
    for path in [
        "/../Cargo.toml",
        "/../../Cargo.toml",
        "/js/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/spin.toml",
        "/.%2e/Cargo.toml",
        "/%2e%2e%2fCargo.toml",
        "/js%2f..%2f..%2fCargo.toml",
        "/js/%2e%2e/%2e%2e/spin.toml",
        "/..%5cCargo.toml",
        "/%5c..%5cCargo.toml",
        "/..\\Cargo.toml",
        "/%2e%2e%5cspin.toml",
        "/index.html%00.js",
        "/%00",
        "/%252e%252e/Cargo.toml",
        "/%c0%ae%c0%ae/Cargo.toml",
        "/%",
        "/..",
        "/.git/config",
        "/%2egit/HEAD",
    ] {
        let answer = get(&app, path);
        let text = answer.text();
        assert!(
            answer.status == 404 || answer.status == 400,
            "{path}: {} {text}",
            answer.status
        );
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{path} leaked a file");
        }
        if answer.status == 404 {
            assert_security_headers(&answer, path);
        }
    }
}

#[test]
fn an_escaped_path_inside_the_folder_is_decoded() {
    let app = TestApp::spawn();
    let answer = get(&app, "/js%2fapp%2Ejs");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, static_file("js/app.js"));
}
