//! The MCP server at `/mcp` over real HTTP, through the native harness,
//! against a fresh database per test: the transport and protocol rules of
//! the 2026-07-28 revision and of the initialize-based 2025-11-25 and
//! 2025-06-18 ones, and every tool, with its effect checked through the
//! REST API (and the other way round). Every structured result is checked
//! against the tool's own `outputSchema`.

use native::testing::{Reply, TestApp};
use serde_json::{json, Map, Value};

const MODERN: &str = "2026-07-28";
const LEGACY: [&str; 2] = ["2025-11-25", "2025-06-18"];

/// How a request speaks MCP.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rev {
    /// 2026-07-28: `_meta` in every request, headers mirroring the body.
    Modern,
    /// After `initialize` at this version: the `MCP-Protocol-Version` header.
    Legacy(&'static str),
}

const REVISIONS: [Rev; 3] = [Rev::Modern, Rev::Legacy(LEGACY[0]), Rev::Legacy(LEGACY[1])];

// ---------------------------------------------------------------- helpers

/// A signed-up user and their session token.
struct User<'a> {
    app: &'a TestApp,
    token: String,
}

fn signup<'a>(app: &'a TestApp, email: &str) -> User<'a> {
    User {
        app,
        token: app.signup(email).token,
    }
}

/// The JSON-RPC request body of `method` as `rev` sends it.
fn request_body(rev: Rev, id: Value, method: &str, params: Value) -> Value {
    let mut params = match params {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if rev == Rev::Modern {
        params.insert(
            "_meta".into(),
            json!({
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo": {"name": "mcp-test", "version": "1.0.0"},
                "io.modelcontextprotocol/clientCapabilities": {},
            }),
        );
    }
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The headers `rev` sends with `method` (`name`: the tool of a call).
fn request_headers(rev: Rev, method: &str, name: Option<&str>) -> Vec<(String, String)> {
    match rev {
        Rev::Modern => {
            let mut h = vec![
                ("mcp-protocol-version".into(), MODERN.into()),
                ("mcp-method".into(), method.into()),
            ];
            if let Some(name) = name {
                h.push(("mcp-name".into(), name.into()));
            }
            h
        }
        Rev::Legacy(version) => vec![("mcp-protocol-version".into(), version.into())],
    }
}

fn post(app: &TestApp, token: Option<&str>, headers: &[(String, String)], body: &Value) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    app.send("POST", "/mcp", token, &headers, Some(body))
}

/// Sends raw bytes as the body.
fn post_raw(app: &TestApp, token: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = http::Request::builder()
        .method("POST")
        .uri(app.url("/mcp"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    app.send_raw(req.body(body.to_vec()).unwrap())
}

#[track_caller]
fn assert_json(reply: &Reply) {
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{}",
        reply.body
    );
}

/// Asserts a JSON-RPC error with `code` at HTTP `status`, answering `id`.
#[track_caller]
fn assert_rpc_error(reply: &Reply, status: u16, code: i64, id: Option<Value>) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_json(reply);
    assert_eq!(reply.body["jsonrpc"], "2.0", "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    assert!(reply.body["error"]["message"].is_string(), "{}", reply.body);
    assert_eq!(reply.body.get("id").cloned(), id, "{}", reply.body);
    assert!(reply.body.get("result").is_none(), "{}", reply.body);
}

impl User<'_> {
    /// A request `rev` would send; the answer as it came.
    fn rpc(&self, rev: Rev, method: &str, params: Value) -> Reply {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let body = request_body(rev, json!(7), method, params);
        post(
            self.app,
            Some(&self.token),
            &request_headers(rev, method, name.as_deref()),
            &body,
        )
    }

    /// The result of a successful request, with the checks every result gets.
    #[track_caller]
    fn result(&self, rev: Rev, method: &str, params: Value) -> Value {
        let reply = self.rpc(rev, method, params);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_json(&reply);
        assert_eq!(reply.body["jsonrpc"], "2.0");
        assert_eq!(reply.body["id"], 7);
        assert!(reply.header("mcp-session-id").is_none());
        let result = reply.body["result"].clone();
        assert!(result.is_object(), "{}", reply.body);
        match rev {
            Rev::Modern => {
                assert_eq!(result["resultType"], "complete", "{result}");
                assert_eq!(
                    result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
                    "todo-spin"
                );
            }
            Rev::Legacy(_) => assert!(result.get("resultType").is_none(), "{result}"),
        }
        result
    }

    /// Calls a tool; the whole `CallToolResult`. A successful one must match
    /// the tool's `outputSchema` and carry a text summary.
    #[track_caller]
    fn call(&self, rev: Rev, tool: &str, arguments: Value) -> Value {
        let result = self.result(
            rev,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        );
        let content = result["content"].as_array().unwrap();
        assert_eq!(content.len(), 1, "{result}");
        assert_eq!(content[0]["type"], "text");
        assert!(!content[0]["text"].as_str().unwrap().is_empty());
        if result["isError"] == false {
            let tools = self.result(rev, "tools/list", json!({}));
            let schema = tools["tools"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == tool)
                .unwrap()["outputSchema"]
                .clone();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let structured = &result["structuredContent"];
            let errors: Vec<String> = validator
                .iter_errors(structured)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{tool}: {errors:?} in {structured}");
        } else {
            assert_eq!(result["isError"], true, "{result}");
            assert!(result.get("structuredContent").is_none(), "{result}");
        }
        result
    }

    /// A tool's structured result; fails unless the call succeeded.
    #[track_caller]
    fn tool(&self, rev: Rev, tool: &str, arguments: Value) -> Value {
        let result = self.call(rev, tool, arguments);
        assert_eq!(result["isError"], false, "{tool}: {result}");
        result["structuredContent"].clone()
    }

    /// A failed tool's message; fails unless the call answered `isError`.
    #[track_caller]
    fn tool_error(&self, rev: Rev, tool: &str, arguments: Value) -> String {
        let result = self.call(rev, tool, arguments);
        assert_eq!(result["isError"], true, "{tool}: {result}");
        result["content"][0]["text"].as_str().unwrap().to_owned()
    }

    fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.app
            .send(method, path, Some(&self.token), &[], body.as_ref())
    }
}

fn id_of(todo: &Value) -> String {
    todo["id"].as_str().unwrap().to_owned()
}

fn modern_headers(method: &str) -> Vec<(String, String)> {
    request_headers(Rev::Modern, method, None)
}

// ---------------------------------------------------------------- transport

#[test]
fn only_post_is_allowed_on_the_endpoint() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    for method in ["GET", "DELETE", "PUT", "PATCH"] {
        let reply = app.send(method, "/mcp", Some(&ada.token), &[], None);
        reply.assert_error(405, "method_not_allowed");
        assert_eq!(reply.header("allow"), Some("POST"), "{method}");
    }
    // Without a token too: the method is wrong whoever asks.
    let reply = app.send(
        "GET",
        "/mcp",
        None,
        &[("accept", "text/event-stream")],
        None,
    );
    assert_eq!(reply.status, 405);
}

#[test]
fn an_origin_that_is_not_listed_is_refused_with_403() {
    let app = TestApp::spawn_with(&[("cors_allowed_origins", "https://app.example")]);
    let ada = signup(&app, "ada@example.com");
    let body = request_body(Rev::Modern, json!(1), "server/discover", json!({}));
    let mut headers = modern_headers("server/discover");
    for (origin, status) in [
        ("https://evil.example", 403),
        ("http://127.0.0.1", 403),
        ("null", 403),
        ("https://app.example", 200),
    ] {
        headers.retain(|(n, _)| n != "origin");
        headers.push(("origin".into(), origin.into()));
        let reply = post(&app, Some(&ada.token), &headers, &body);
        assert_eq!(reply.status, status, "{origin}: {}", reply.body);
        assert_json(&reply);
        if status == 403 {
            // The refusal comes before the token is even looked at.
            let anonymous = post(&app, None, &headers, &body);
            assert_rpc_error(&anonymous, 403, -32600, None);
            assert_rpc_error(&reply, 403, -32600, None);
        } else {
            assert_eq!(
                reply.header("access-control-allow-origin"),
                Some("https://app.example")
            );
        }
    }
    // No Origin (a non-browser client) is fine.
    headers.retain(|(n, _)| n != "origin");
    post(&app, Some(&ada.token), &headers, &body).expect(200);

    // With no origins configured, every browser origin is refused, even
    // one naming this very host (what DNS rebinding looks like).
    let strict = TestApp::spawn();
    let bob = signup(&strict, "bob@example.com");
    headers.push(("origin".into(), strict.base_url.clone()));
    let reply = post(&strict, Some(&bob.token), &headers, &body);
    assert_rpc_error(&reply, 403, -32600, None);
}

#[test]
fn a_missing_bad_or_revoked_token_is_401_with_www_authenticate() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let tools_list = request_body(Rev::Modern, json!(1), "tools/list", json!({}));
    let call = request_body(
        Rev::Modern,
        json!(2),
        "tools/call",
        json!({"name": "list_tasks", "arguments": {}}),
    );
    let mut call_headers = modern_headers("tools/call");
    call_headers.push(("mcp-name".into(), "list_tasks".into()));
    let initialize = json!({"jsonrpc": "2.0", "id": 3, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}});
    let unknown_tool = request_body(
        Rev::Modern,
        json!(4),
        "tools/call",
        json!({"name": "no_such_tool", "arguments": {}}),
    );
    let mut unknown_headers = modern_headers("tools/call");
    unknown_headers.push(("mcp-name".into(), "no_such_tool".into()));
    let bad_arguments = request_body(
        Rev::Modern,
        json!(5),
        "tools/call",
        json!({"name": "add_task", "arguments": {"title": ""}}),
    );
    let mut add_headers = modern_headers("tools/call");
    add_headers.push(("mcp-name".into(), "add_task".into()));
    let cases: [(&Value, Vec<(String, String)>); 5] = [
        (&tools_list, modern_headers("tools/list")),
        (&call, call_headers),
        (&initialize, vec![]),
        (&unknown_tool, unknown_headers),
        (&bad_arguments, add_headers),
    ];
    let check = |reply: Reply| {
        reply.assert_error(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    };
    for (body, headers) in &cases {
        check(post(&app, None, headers, body));
        check(post(&app, Some("not-a-token"), headers, body));
        let ok = post(&app, Some(&ada.token), headers, body);
        assert!(ok.status == 200 || ok.status == 400, "{}", ok.body);
        assert!(ok.body["jsonrpc"] == "2.0", "{}", ok.body);
    }
    // After logout the token is revoked: refused at once, for every method.
    app.send("POST", "/api/auth/logout", Some(&ada.token), &[], None)
        .expect(204);
    for (body, headers) in &cases {
        check(post(&app, Some(&ada.token), headers, body));
    }
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    check(post(
        &app,
        Some(&ada.token),
        &[("mcp-protocol-version".into(), "2025-11-25".into())],
        &note,
    ));
}

#[test]
fn malformed_messages_get_json_rpc_errors_with_400() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let h = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/list"),
    ];
    let cases: [(&[u8], i64, Option<Value>); 9] = [
        (b"{not json", -32700, None),
        (b"", -32700, None),
        (
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            -32600,
            None,
        ),
        (b"42", -32600, None),
        (
            br#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#,
            -32600,
            None,
        ),
        (br#"{"id":4,"method":"tools/list"}"#, -32600, Some(json!(4))),
        (
            br#"{"jsonrpc":"2.0","id":5,"method":7}"#,
            -32600,
            Some(json!(5)),
        ),
        // A response: this server never asked anything.
        (
            br#"{"jsonrpc":"2.0","id":6,"result":{}}"#,
            -32600,
            Some(json!(6)),
        ),
        (
            br#"{"jsonrpc":"2.0","id":"x","method":"tools/list","params":[1,2]}"#,
            -32602,
            Some(json!("x")),
        ),
    ];
    for (body, code, id) in cases {
        let reply = post_raw(&app, &ada.token, &h, body);
        assert_rpc_error(&reply, 400, code, id);
    }
}

#[test]
fn notifications_are_accepted_with_202_and_no_body() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    for (method, headers) in [
        (
            "notifications/initialized",
            vec![("mcp-protocol-version".to_owned(), "2025-11-25".to_owned())],
        ),
        (
            "notifications/cancelled",
            modern_headers("notifications/cancelled"),
        ),
        ("notifications/whatever", vec![]),
    ] {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": {"requestId": 1}});
        let reply = post(&app, Some(&ada.token), &headers, &body);
        assert_eq!(reply.status, 202, "{method}: {}", reply.body);
        assert_eq!(reply.body, Value::Null, "{method}");
    }
}

#[test]
fn a_notification_whose_headers_disagree_gets_400_like_a_request() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let method = "notifications/cancelled";
    let plain = json!({"jsonrpc": "2.0", "method": method, "params": {"requestId": 1}});
    let modern = json!({"jsonrpc": "2.0", "method": method, "params": {"requestId": 1,
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                  "io.modelcontextprotocol/clientCapabilities": {}}}});
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let cases = [
        // Mcp-Method naming another method than the body's.
        (
            &plain,
            vec![
                header("mcp-protocol-version", MODERN),
                header("mcp-method", "tools/list"),
            ],
            -32020,
        ),
        (
            &plain,
            vec![
                header("mcp-protocol-version", LEGACY[0]),
                header("mcp-method", "notifications/initialized"),
            ],
            -32020,
        ),
        // The version header disagreeing with _meta.
        (
            &modern,
            vec![
                header("mcp-protocol-version", LEGACY[0]),
                header("mcp-method", method),
            ],
            -32020,
        ),
        // A version this server does not speak, in either era.
        (
            &plain,
            vec![
                header("mcp-protocol-version", "2099-01-01"),
                header("mcp-method", method),
            ],
            -32022,
        ),
        (
            &plain,
            vec![header("mcp-protocol-version", "2024-11-05")],
            -32022,
        ),
    ];
    for (body, headers, code) in cases {
        let reply = post(&app, Some(&ada.token), &headers, body);
        // A notification has no id, so neither has the error.
        assert_rpc_error(&reply, 400, code, None);
        if code == -32022 {
            assert_eq!(
                reply.body["error"]["data"]["supported"],
                json!([MODERN, LEGACY[0], LEGACY[1]]),
                "{}",
                reply.body
            );
        }
    }
    // Headers that agree are accepted, with or without _meta.
    for body in [&plain, &modern] {
        let reply = post(&app, Some(&ada.token), &modern_headers(method), body);
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
}

// ---------------------------------------------------------------- 2026-07-28

#[test]
fn server_discover_advertises_versions_capabilities_and_identity() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let result = ada.result(Rev::Modern, "server/discover", json!({}));
    assert_eq!(
        result["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18"])
    );
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": false}})
    );
    assert!(result["instructions"]
        .as_str()
        .unwrap()
        .contains("list_tasks"));
    assert_eq!(result["ttlMs"], 300_000);
    assert_eq!(result["cacheScope"], "public");
    let info = &result["_meta"]["io.modelcontextprotocol/serverInfo"];
    assert_eq!(info["name"], "todo-spin");
    assert!(info["version"].is_string());
}

#[test]
fn modern_headers_must_agree_with_the_body_or_header_mismatch() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let call = request_body(
        Rev::Modern,
        json!(9),
        "tools/call",
        json!({"name": "list_tasks", "arguments": {}}),
    );
    let with = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    let mismatches = [
        with(&[("mcp-method", "tools/call"), ("mcp-name", "list_tasks")]),
        with(&[
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "list_tasks"),
        ]),
        with(&[("mcp-protocol-version", MODERN), ("mcp-name", "list_tasks")]),
        with(&[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/list"),
            ("mcp-name", "list_tasks"),
        ]),
        with(&[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "TOOLS/CALL"),
            ("mcp-name", "list_tasks"),
        ]),
        with(&[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
        ]),
        with(&[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "delete_task"),
        ]),
        with(&[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?not base64?="),
        ]),
    ];
    for headers in mismatches {
        let reply = post(&app, Some(&ada.token), &headers, &call);
        assert_rpc_error(&reply, 400, -32020, Some(json!(9)));
    }
    // Header names are case-insensitive, and Mcp-Name may be base64-encoded.
    for name in ["list_tasks", "=?base64?bGlzdF90YXNrcw==?="] {
        let headers = with(&[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", name),
        ]);
        post(&app, Some(&ada.token), &headers, &call).expect(200);
    }
    // A session id from an older client is ignored, not echoed.
    let mut headers = with(&[
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "list_tasks"),
    ]);
    headers.push(("mcp-session-id".into(), "some-old-session".into()));
    let reply = post(&app, Some(&ada.token), &headers, &call).expect(200);
    assert!(reply.header("mcp-session-id").is_none());
}

#[test]
fn a_modern_request_without_its_required_meta_fields_is_invalid_params() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let headers = modern_headers("tools/list");
    for params in [
        json!({}),
        json!({"_meta": {}}),
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
        json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}),
        json!({"_meta": "2026-07-28"}),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params});
        let reply = post(&app, Some(&ada.token), &headers, &body);
        assert_rpc_error(&reply, 400, -32602, Some(json!(1)));
    }
}

#[test]
fn an_unsupported_version_is_refused_naming_the_supported_ones() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let supported = json!(["2026-07-28", "2025-11-25", "2025-06-18"]);

    // Modern: header and _meta agree on a version this server does not speak.
    let mut body = request_body(Rev::Modern, json!(1), "tools/list", json!({}));
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1900-01-01");
    let headers = vec![
        ("mcp-protocol-version".to_owned(), "1900-01-01".to_owned()),
        ("mcp-method".to_owned(), "tools/list".to_owned()),
    ];
    let reply = post(&app, Some(&ada.token), &headers, &body);
    assert_rpc_error(&reply, 400, -32022, Some(json!(1)));
    assert_eq!(
        reply.body["error"]["data"],
        json!({"supported": supported, "requested": "1900-01-01"})
    );

    // Legacy: an unknown version header, or none at all (taken as 2025-03-26).
    let plain = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    for (headers, requested) in [
        (
            vec![("mcp-protocol-version".to_owned(), "2024-11-05".to_owned())],
            "2024-11-05",
        ),
        (vec![], "2025-03-26"),
    ] {
        let reply = post(&app, Some(&ada.token), &headers, &plain);
        assert_rpc_error(&reply, 400, -32022, Some(json!(2)));
        assert_eq!(reply.body["error"]["data"]["requested"], requested);
        assert_eq!(reply.body["error"]["data"]["supported"], supported);
    }
    // The modern version header without _meta is a malformed modern request.
    let headers = modern_headers("tools/list");
    let reply = post(&app, Some(&ada.token), &headers, &plain);
    assert_rpc_error(&reply, 400, -32602, Some(json!(2)));
}

#[test]
fn unknown_methods_are_method_not_found_404_in_2026_and_200_before() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    // ping was removed in 2026-07-28; initialize never is a modern request
    // but opens a legacy exchange, so it is not in this list.
    for method in ["resources/list", "ping", "prompts/list", "logging/setLevel"] {
        let reply = ada.rpc(Rev::Modern, method, json!({}));
        assert_rpc_error(&reply, 404, -32601, Some(json!(7)));
    }
    for version in LEGACY {
        for method in ["resources/list", "server/discover", "nope"] {
            let reply = ada.rpc(Rev::Legacy(version), method, json!({}));
            assert_rpc_error(&reply, 200, -32601, Some(json!(7)));
        }
    }
}

// ---------------------------------------------------------------- legacy

#[test]
fn initialize_negotiates_a_legacy_version_and_mints_no_session() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    for (offered, answered) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": offered,
            "capabilities": {"roots": {}},
            "clientInfo": {"name": "legacy-test", "version": "0.1"}}});
        let reply = post(&app, Some(&ada.token), &[], &body).expect(200);
        assert_json(&reply);
        assert!(reply.header("mcp-session-id").is_none());
        assert_eq!(reply.body["id"], "init");
        let result = &reply.body["result"];
        assert_eq!(result["protocolVersion"], answered, "{offered}");
        assert_eq!(
            result["capabilities"],
            json!({"tools": {"listChanged": false}})
        );
        assert_eq!(result["serverInfo"]["name"], "todo-spin");
        assert!(result["instructions"].is_string());
        assert!(result.get("resultType").is_none());
    }
    let no_version = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    let reply = post(&app, Some(&ada.token), &[], &no_version);
    assert_rpc_error(&reply, 200, -32602, Some(json!(1)));

    // After it, each request names the version in its header; no session
    // id is needed, and a stale one is ignored.
    for version in LEGACY {
        assert_eq!(
            ada.result(Rev::Legacy(version), "ping", json!({})),
            json!({})
        );
        let headers = vec![
            ("mcp-protocol-version".to_owned(), version.to_owned()),
            ("mcp-session-id".to_owned(), "1868a90c".to_owned()),
        ];
        let body = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"});
        let reply = post(&app, Some(&ada.token), &headers, &body).expect(200);
        assert_eq!(reply.body["result"], json!({}));
    }
}

#[test]
fn legacy_requests_that_send_routing_headers_must_match_them_too() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let headers = vec![
        ("mcp-protocol-version".to_owned(), "2025-11-25".to_owned()),
        ("mcp-method".to_owned(), "tools/call".to_owned()),
    ];
    let reply = post(&app, Some(&ada.token), &headers, &body);
    assert_rpc_error(&reply, 400, -32020, Some(json!(1)));
}

// ---------------------------------------------------------------- tools/list

#[test]
fn tools_list_is_deterministic_with_schemas_and_annotations() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let names = [
        "list_lists",
        "add_task",
        "list_tasks",
        "get_task",
        "update_task",
        "complete_task",
        "reopen_task",
        "delete_task",
        "task_history",
    ];
    let mut lists = Vec::new();
    for rev in REVISIONS {
        let result = ada.result(rev, "tools/list", json!({}));
        match rev {
            Rev::Modern => {
                assert_eq!(result["ttlMs"], 300_000);
                assert_eq!(result["cacheScope"], "public");
            }
            Rev::Legacy(_) => {
                assert!(result.get("ttlMs").is_none());
                assert!(result.get("cacheScope").is_none());
            }
        }
        assert!(result.get("nextCursor").is_none());
        let tools = result["tools"].as_array().unwrap().clone();
        let listed: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(listed, names);
        for tool in &tools {
            let name = tool["name"].as_str().unwrap();
            assert!(tool["title"].is_string());
            let description = tool["description"].as_str().unwrap();
            assert!(
                description.len() > 80 && description.contains("Example"),
                "{name}"
            );
            for schema in ["inputSchema", "outputSchema"] {
                assert_eq!(tool[schema]["type"], "object", "{name} {schema}");
                jsonschema::validator_for(&tool[schema])
                    .unwrap_or_else(|e| panic!("{name} {schema}: {e}"));
            }
            assert_eq!(tool["inputSchema"]["additionalProperties"], false, "{name}");
            let a = &tool["annotations"];
            let reads = matches!(
                name,
                "list_lists" | "list_tasks" | "get_task" | "task_history"
            );
            assert_eq!(a["readOnlyHint"], reads, "{name}");
            assert_eq!(a["openWorldHint"], false, "{name}");
            if !reads {
                assert_eq!(a["destructiveHint"], name == "delete_task", "{name}");
                let idempotent = name != "add_task";
                assert_eq!(a["idempotentHint"], idempotent, "{name}");
            }
        }
        let required = |name: &str| {
            tools.iter().find(|t| t["name"] == name).unwrap()["inputSchema"]["required"].clone()
        };
        assert_eq!(required("add_task"), json!(["title"]));
        assert_eq!(required("update_task"), json!(["id"]));
        assert_eq!(required("list_tasks"), json!([]));
        assert_eq!(required("list_lists"), json!([]));
        // No tool shares a list or changes its members: a leaked agent
        // token must never give anyone access.
        for tool in &tools {
            let schema = tool["inputSchema"].to_string();
            for word in ["email", "invit", "member", "role"] {
                assert!(!schema.contains(word), "{}: {word}", tool["name"]);
            }
        }
        lists.push(tools);
    }
    // The same tools, in the same order, whatever the revision.
    assert_eq!(lists[0], lists[1]);
    assert_eq!(lists[1], lists[2]);
    assert_eq!(
        lists[0],
        ada.result(Rev::Modern, "tools/list", json!({}))["tools"]
            .as_array()
            .unwrap()
            .clone()
    );

    let reply = ada.rpc(Rev::Modern, "tools/list", json!({"cursor": "page-2"}));
    assert_rpc_error(&reply, 400, -32602, Some(json!(7)));
}

// ---------------------------------------------------------------- tools/call

#[test]
fn unknown_tools_and_malformed_calls_are_invalid_params() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    for rev in REVISIONS {
        let status = if rev == Rev::Modern { 400 } else { 200 };
        for params in [
            json!({"name": "drop_tables", "arguments": {}}),
            json!({"name": "Add_Task", "arguments": {"title": "x"}}),
            json!({"arguments": {}}),
            json!({"name": "add_task", "arguments": ["x"]}),
        ] {
            let reply = ada.rpc(rev, "tools/call", params.clone());
            assert_rpc_error(&reply, status, -32602, Some(json!(7)));
        }
    }
    // None of that created anything.
    assert_eq!(
        ada.rest("GET", "/api/todos", None).expect(200).body["total"],
        0
    );
}

#[test]
fn every_tool_works_and_its_effect_shows_in_the_rest_api() {
    let app = TestApp::spawn();
    for (n, rev) in REVISIONS.into_iter().enumerate() {
        let ada = signup(&app, &format!("ada{n}@example.com"));

        // add_task → REST sees exactly the structured result.
        let added = ada.tool(
            rev,
            "add_task",
            json!({"title": "  Buy milk ", "priority": "HIGH", "due_at": "2026-12-01T18:00:00+01:00",
                   "tags": ["Shopping", "shopping"], "description": "2 litres"}),
        );
        assert_eq!(added["title"], "Buy milk");
        assert_eq!(added["priority"], "high");
        assert_eq!(added["due_at"], "2026-12-01T17:00:00Z");
        assert_eq!(added["tags"], json!(["shopping"]));
        assert_eq!(added["version"], 1);
        let id = id_of(&added);
        let rest = ada
            .rest("GET", &format!("/api/todos/{id}"), None)
            .expect(200);
        assert_eq!(rest.body, added, "{rev:?}");

        // REST → list_tasks and get_task.
        let made = ada
            .rest(
                "POST",
                "/api/todos",
                Some(json!({"title": "Call mum", "tags": ["family"]})),
            )
            .expect(201)
            .body;
        let listed = ada.tool(rev, "list_tasks", json!({}));
        assert_eq!(listed["total"], 2);
        assert_eq!(listed["items"], json!([made.clone(), added.clone()]));
        let rest_list = ada.rest("GET", "/api/todos", None).expect(200).body;
        assert_eq!(listed["items"], rest_list["items"]);
        assert_eq!(listed["next_cursor"], Value::Null);
        assert_eq!(ada.tool(rev, "get_task", json!({"id": id_of(&made)})), made);

        // update_task: only the given fields; null resets.
        let updated = ada.tool(
            rev,
            "update_task",
            json!({"id": id, "priority": "urgent", "due_at": null, "tags": ["errand"]}),
        );
        assert_eq!(updated["priority"], "urgent");
        assert_eq!(updated["due_at"], Value::Null);
        assert_eq!(updated["tags"], json!(["errand"]));
        assert_eq!(updated["title"], "Buy milk");
        assert_eq!(updated["description"], "2 litres");
        assert_eq!(updated["version"], 2);
        let rest = ada
            .rest("GET", &format!("/api/todos/{id}"), None)
            .expect(200);
        assert_eq!(rest.body, updated);
        // The same update again changes nothing (no new version).
        let again = ada.tool(
            rev,
            "update_task",
            json!({"id": id, "priority": "urgent", "due_at": null, "tags": ["errand"]}),
        );
        assert_eq!(again, updated);

        // complete_task is idempotent in effect, unlike a toggle.
        let done = ada.tool(rev, "complete_task", json!({"id": id}));
        assert_eq!(done["todo"]["completed"], true);
        assert!(done["todo"]["completed_at"].is_string());
        assert_eq!(done["next"], Value::Null);
        assert_eq!(done["todo"]["version"], 3);
        let twice = ada.tool(rev, "complete_task", json!({"id": id}));
        assert_eq!(twice, done);
        let rest = ada
            .rest("GET", &format!("/api/todos/{id}"), None)
            .expect(200);
        assert_eq!(rest.body, done["todo"]);

        // reopen_task likewise.
        let open = ada.tool(rev, "reopen_task", json!({"id": id}));
        assert_eq!(open["todo"]["completed"], false);
        assert_eq!(open["todo"]["completed_at"], Value::Null);
        assert_eq!(open["todo"]["version"], 4);
        assert_eq!(ada.tool(rev, "reopen_task", json!({"id": id})), open);
        // A todo completed over REST is seen as done.
        ada.rest("POST", &format!("/api/todos/{}/toggle", id_of(&made)), None)
            .expect(200);
        let seen = ada.tool(rev, "complete_task", json!({"id": id_of(&made)}));
        assert_eq!(seen["todo"]["version"], 2, "no second toggle: {seen}");

        // task_history: exactly the REST history.
        let history = ada.tool(rev, "task_history", json!({"id": id}));
        let rest_history = ada
            .rest("GET", &format!("/api/todos/{id}/history"), None)
            .expect(200)
            .body;
        assert_eq!(history, rest_history);
        let actions: Vec<&str> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["toggle", "toggle", "update", "create"]);
        let page = ada.tool(rev, "task_history", json!({"id": id, "limit": 3}));
        assert_eq!(page["items"].as_array().unwrap().len(), 3);
        let cursor = page["next_cursor"].as_str().unwrap();
        let rest_page = ada
            .rest("GET", &format!("/api/todos/{id}/history?limit=3"), None)
            .expect(200)
            .body;
        assert_eq!(page["items"], rest_page["items"]);
        let older = ada.tool(
            rev,
            "task_history",
            json!({"id": id, "limit": 3, "cursor": cursor}),
        );
        assert_eq!(older["items"].as_array().unwrap().len(), 1);
        assert_eq!(older["items"][0]["action"], "create");

        // delete_task: gone from REST, history kept, a second delete says so.
        let deleted = ada.tool(rev, "delete_task", json!({"id": id}));
        assert_eq!(deleted, json!({"id": id, "deleted": true}));
        ada.rest("GET", &format!("/api/todos/{id}"), None)
            .expect_error(404, "not_found");
        let message = ada.tool_error(rev, "delete_task", json!({"id": id}));
        assert!(message.contains("No task with that id"), "{message}");
        let history = ada.tool(rev, "task_history", json!({"id": id}));
        assert_eq!(history["items"][0]["action"], "delete");
        // Deleted over REST → gone for the tools too.
        ada.rest("DELETE", &format!("/api/todos/{}", id_of(&made)), None)
            .expect(204);
        let listed = ada.tool(rev, "list_tasks", json!({}));
        assert_eq!(listed["total"], 0);
        assert_eq!(listed["items"], json!([]));
    }
}

#[test]
fn a_task_can_repeat_by_a_rule_and_completing_it_makes_the_next_one() {
    let app = TestApp::spawn();
    for (n, rev) in REVISIONS.into_iter().enumerate() {
        let ada = signup(&app, &format!("ada{n}@example.com"));
        let rule = "RRULE:FREQ=MONTHLY;BYDAY=-1FR";
        let rent = ada.tool(
            rev,
            "add_task",
            json!({"title": "Pay rent", "due_at": "2026-12-25T09:00:00Z", "recurrence": rule}),
        );
        assert_eq!(rent["recurrence"], rule);
        let done = ada.tool(rev, "complete_task", json!({"id": id_of(&rent)}));
        assert_eq!(done["next"]["due_at"], "2027-01-29T09:00:00Z", "{done}");
        assert_eq!(done["next"]["recurrence"], rule);
    }
}

#[test]
fn completing_a_recurring_task_creates_its_next_occurrence_once() {
    let app = TestApp::spawn();
    for (n, rev) in REVISIONS.into_iter().enumerate() {
        let ada = signup(&app, &format!("ada{n}@example.com"));
        let weekly = ada.tool(
            rev,
            "add_task",
            json!({"title": "Water plants", "due_at": "2026-12-01", "recurrence": "weekly"}),
        );
        let done = ada.tool(rev, "complete_task", json!({"id": id_of(&weekly)}));
        let next = &done["next"];
        assert_eq!(next["title"], "Water plants");
        assert_eq!(next["due_at"], "2026-12-08T00:00:00Z");
        assert_eq!(next["recurrence"], "weekly");
        assert_eq!(next["completed"], false);
        // Completing again creates nothing; reopening and completing again
        // neither (as over REST: once per occurrence).
        assert_eq!(
            ada.tool(rev, "complete_task", json!({"id": id_of(&weekly)}))["next"],
            Value::Null
        );
        ada.tool(rev, "reopen_task", json!({"id": id_of(&weekly)}));
        assert_eq!(
            ada.tool(rev, "complete_task", json!({"id": id_of(&weekly)}))["next"],
            Value::Null
        );
        let rest = ada.rest("GET", "/api/todos", None).expect(200).body;
        assert_eq!(rest["total"], 2);
    }
}

#[test]
fn list_tasks_takes_the_filters_of_the_rest_list() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    for body in [
        json!({"title": "Buy milk", "priority": "high", "tags": ["shopping"], "due_at": "2020-01-01"}),
        json!({"title": "Buy bread", "priority": "low", "tags": ["shopping"], "due_at": "2030-06-01"}),
        json!({"title": "Call mum", "priority": "urgent", "tags": ["family"]}),
        json!({"title": "File taxes", "priority": "urgent", "description": "before the bread runs out",
               "due_at": "2031-01-01"}),
        json!({"title": "Read a book"}),
    ] {
        ada.rest("POST", "/api/todos", Some(body)).expect(201);
    }
    let call_mum = ada.rest("GET", "/api/todos?q=mum", None).expect(200).body["items"][0].clone();
    ada.rest(
        "POST",
        &format!("/api/todos/{}/toggle", id_of(&call_mum)),
        None,
    )
    .expect(200);

    let cases = [
        (json!({}), ""),
        (json!({"status": "open"}), "status=open"),
        (json!({"status": "done"}), "status=done"),
        (json!({"priority": "urgent"}), "priority=urgent"),
        (json!({"priority": ["low", "high"]}), "priority=low,high"),
        (json!({"tag": "Shopping"}), "tag=Shopping"),
        (json!({"q": "BREAD"}), "q=BREAD"),
        (json!({"due_before": "2029-01-01"}), "due_before=2029-01-01"),
        (
            json!({"due_after": "2029-01-01T00:00:00Z", "due_before": "2030-12-31"}),
            "due_after=2029-01-01T00:00:00Z&due_before=2030-12-31",
        ),
        (json!({"overdue": true}), "overdue=true"),
        (
            json!({"overdue": false, "sort": "title"}),
            "overdue=false&sort=title",
        ),
        (json!({"sort": "priority"}), "sort=priority"),
        (
            json!({"sort": "-due_at", "limit": 2}),
            "sort=-due_at&limit=2",
        ),
        (json!({"status": null, "tag": null}), ""),
    ];
    for rev in REVISIONS {
        for (args, query) in &cases {
            let tool = ada.tool(rev, "list_tasks", args.clone());
            let rest = ada
                .rest("GET", &format!("/api/todos?{query}"), None)
                .expect(200)
                .body;
            assert_eq!(tool["items"], rest["items"], "{args} vs {query}");
            assert_eq!(tool["total"], rest["total"], "{args}");
            assert!(!tool["items"].as_array().unwrap().is_empty() || tool["total"] == 0);
        }
        // Paging with the cursor walks the whole list, two at a time.
        let mut seen = Vec::new();
        let mut args = json!({"sort": "title", "limit": 2});
        loop {
            let page = ada.tool(rev, "list_tasks", args.clone());
            assert_eq!(page["total"], 5);
            for item in page["items"].as_array().unwrap() {
                seen.push(item["title"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => args["cursor"] = json!(cursor),
                None => break,
            }
        }
        assert_eq!(
            seen,
            [
                "Buy bread",
                "Buy milk",
                "Call mum",
                "File taxes",
                "Read a book"
            ]
        );
    }
}

#[test]
fn tool_input_failures_are_results_with_is_error_and_change_nothing() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let todo = ada
        .rest("POST", "/api/todos", Some(json!({"title": "Keep me"})))
        .expect(201)
        .body;
    let id = id_of(&todo);
    let missing = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    for rev in REVISIONS {
        let cases: Vec<(&str, Value, &[&str])> = vec![
            ("add_task", json!({}), &["title"]),
            (
                "add_task",
                json!({"title": ""}),
                &["title", "must not be empty"],
            ),
            (
                "add_task",
                json!({"title": "x".repeat(201)}),
                &["title", "200"],
            ),
            (
                "add_task",
                json!({"title": "a", "priority": "asap"}),
                &["priority", "low, medium, high, urgent"],
            ),
            (
                "add_task",
                json!({"title": "a", "due_at": "next tuesday"}),
                &["due_at", "RFC 3339"],
            ),
            (
                "add_task",
                json!({"title": "a", "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
                &["tags", "10"],
            ),
            (
                "add_task",
                json!({"title": "a", "recurrence": "hourly"}),
                &["recurrence"],
            ),
            (
                "add_task",
                json!({"title": "a", "colour": "red"}),
                &["colour"],
            ),
            ("add_task", json!({"title": 42}), &["title"]),
            (
                "update_task",
                json!({"title": "no id"}),
                &["`id` is required"],
            ),
            (
                "update_task",
                json!({"id": id, "title": null}),
                &["title", "must not be null"],
            ),
            ("update_task", json!({"id": id, "done": true}), &["done"]),
            (
                "get_task",
                json!({"id": "42"}),
                &["No task has the id", "list_tasks"],
            ),
            ("get_task", json!({"id": 42}), &["`id` must be a string"]),
            (
                "get_task",
                json!({"id": missing}),
                &["No task with that id", "list_tasks"],
            ),
            ("get_task", json!({"id": id, "verbose": true}), &["verbose"]),
            (
                "complete_task",
                json!({"id": missing}),
                &["No task with that id"],
            ),
            ("reopen_task", json!({}), &["`id` is required"]),
            (
                "delete_task",
                json!({"id": missing}),
                &["No task with that id"],
            ),
            (
                "task_history",
                json!({"id": missing}),
                &["No task with that id"],
            ),
            (
                "task_history",
                json!({"id": id, "limit": 0}),
                &["limit", "1 to 100"],
            ),
            (
                "task_history",
                json!({"id": id, "cursor": "forged"}),
                &["cursor"],
            ),
            ("list_tasks", json!({"limit": 101}), &["limit", "1 to 100"]),
            (
                "list_tasks",
                json!({"status": "finished"}),
                &["status", "open, done, all"],
            ),
            ("list_tasks", json!({"sort": "name"}), &["sort"]),
            (
                "list_tasks",
                json!({"due_before": "tomorrow"}),
                &["due_before"],
            ),
            (
                "list_tasks",
                json!({"cursor": "forged"}),
                &["cursor", "next_cursor"],
            ),
            (
                "list_tasks",
                json!({"since": "0000000000000001"}),
                &["since"],
            ),
            (
                "list_tasks",
                json!({"updated_since": "2026-01-01"}),
                &["updated_since"],
            ),
            ("list_tasks", json!({"limit": {"n": 1}}), &["limit"]),
        ];
        for (tool, args, words) in cases {
            let message = ada.tool_error(rev, tool, args.clone());
            for word in words {
                assert!(
                    message.contains(word),
                    "{tool} {args}: {message:?} lacks {word:?}"
                );
            }
        }
    }
    // Nothing changed.
    let rest = ada.rest("GET", "/api/todos", None).expect(200).body;
    assert_eq!(rest["total"], 1);
    assert_eq!(rest["items"][0], todo);
}

#[test]
fn one_users_token_never_reaches_another_users_todos() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let bob = signup(&app, "bob@example.com");
    let mine = ada
        .rest("POST", "/api/todos", Some(json!({"title": "Ada's secret"})))
        .expect(201)
        .body;
    let id = id_of(&mine);
    for rev in REVISIONS {
        for (tool, args) in [
            ("get_task", json!({"id": id})),
            ("update_task", json!({"id": id, "title": "Bob was here"})),
            ("complete_task", json!({"id": id})),
            ("reopen_task", json!({"id": id})),
            ("delete_task", json!({"id": id})),
            ("task_history", json!({"id": id})),
        ] {
            let message = bob.tool_error(rev, tool, args);
            assert!(
                message.contains("No task with that id"),
                "{tool}: {message}"
            );
            assert!(!message.contains("secret"), "{tool}: {message}");
        }
        let listed = bob.tool(rev, "list_tasks", json!({"q": "secret"}));
        assert_eq!(listed["total"], 0);
        // Bob's own task is his alone.
        let his = bob.tool(rev, "add_task", json!({"title": "Bob's task"}));
        ada.tool_error(rev, "get_task", json!({"id": id_of(&his)}));
        assert_eq!(ada.tool(rev, "list_tasks", json!({}))["total"], 1);
    }
    // Ada's todo is untouched.
    let rest = ada
        .rest("GET", &format!("/api/todos/{id}"), None)
        .expect(200)
        .body;
    assert_eq!(rest, mine);
    let history = ada
        .rest("GET", &format!("/api/todos/{id}/history"), None)
        .expect(200)
        .body;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
}

#[test]
fn the_tools_keep_the_rest_apis_limits() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    // Fill the list to the limit underneath the app, as todos_api.rs does.
    let mut client = app.db.client();
    client
        .execute(
            "UPDATE users SET todo_count = $1 WHERE email = 'ada@example.com'",
            &[&10_000i32],
        )
        .unwrap();
    for rev in REVISIONS {
        let message = ada.tool_error(rev, "add_task", json!({"title": "One too many"}));
        assert!(message.contains("10000"), "{message}");
    }
    ada.rest("POST", "/api/todos", Some(json!({"title": "One too many"})))
        .expect_error(409, "limit_reached");
}

// ---------------------------------------------------------------- access tokens

/// A personal access token of `user` (`POST /api/auth/tokens`).
fn access_token(user: &User, body: Value) -> String {
    let reply = user
        .rest("POST", "/api/auth/tokens", Some(body))
        .expect(201);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("todo_pat_"), "{token}");
    token
}

#[test]
fn a_personal_access_token_works_and_a_revoked_one_is_401_at_once() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let reply = ada
        .rest("POST", "/api/auth/tokens", Some(json!({"name": "agent"})))
        .expect(201);
    let agent = User {
        app: &app,
        token: reply.body["token"].as_str().unwrap().to_owned(),
    };
    for rev in REVISIONS {
        let added = agent.tool(rev, "add_task", json!({"title": "Via a token"}));
        let id = id_of(&added);
        assert_eq!(
            ada.rest("GET", &format!("/api/todos/{id}"), None)
                .expect(200)
                .body,
            added
        );
        agent.tool(rev, "complete_task", json!({"id": id}));
    }
    let token_id = reply.body["id"].as_str().unwrap();
    ada.rest("DELETE", &format!("/api/auth/tokens/{token_id}"), None)
        .expect(204);
    for rev in REVISIONS {
        for (method, params) in [
            ("tools/list", json!({})),
            ("tools/call", json!({"name": "list_tasks", "arguments": {}})),
        ] {
            let reply = agent.rpc(rev, method, params);
            reply.assert_error(401, "unauthorized");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
    }
}

#[test]
fn a_read_only_token_may_read_but_every_write_tool_says_it_is_read_only() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let todo = ada
        .rest("POST", "/api/todos", Some(json!({"title": "Read me"})))
        .expect(201)
        .body;
    let id = id_of(&todo);
    let reader = User {
        app: &app,
        token: access_token(&ada, json!({"name": "reader", "read_only": true})),
    };
    for rev in REVISIONS {
        assert_eq!(
            reader.result(rev, "tools/list", json!({}))["tools"]
                .as_array()
                .unwrap()
                .len(),
            9
        );
        assert_eq!(
            reader.tool(rev, "list_lists", json!({}))["items"][0]["is_inbox"],
            true
        );
        assert_eq!(
            reader.tool(rev, "list_tasks", json!({}))["items"],
            json!([todo])
        );
        assert_eq!(reader.tool(rev, "get_task", json!({"id": id})), todo);
        reader.tool(rev, "task_history", json!({"id": id}));
        for (tool, args) in [
            ("add_task", json!({"title": "Nope"})),
            ("update_task", json!({"id": id, "title": "Nope"})),
            ("complete_task", json!({"id": id})),
            ("reopen_task", json!({"id": id})),
            ("delete_task", json!({"id": id})),
        ] {
            let message = reader.tool_error(rev, tool, args);
            assert!(message.contains("read-only"), "{tool}: {message}");
        }
    }
    let rest = ada.rest("GET", "/api/todos", None).expect(200).body;
    assert_eq!(rest["items"], json!([todo]));
}

#[test]
fn tool_calls_are_limited_per_user_and_minute() {
    let app = TestApp::spawn_with(&[("mcp_rate_per_minute", "3")]);
    let ada = signup(&app, "ada@example.com");
    let bob = signup(&app, "bob@example.com");
    // A revoked token of hers is refused before it can use up her calls.
    let revoked = User {
        app: &app,
        token: app.login("ada@example.com"),
    };
    revoked.rest("POST", "/api/auth/logout", None).expect(204);
    for _ in 0..5 {
        let reply = revoked.rpc(
            Rev::Modern,
            "tools/call",
            json!({"name": "list_tasks", "arguments": {}}),
        );
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    for n in 0..3 {
        ada.tool(
            Rev::Modern,
            "add_task",
            json!({"title": format!("task {n}")}),
        );
    }
    let message = ada.tool_error(Rev::Modern, "add_task", json!({"title": "one too many"}));
    assert!(message.contains("Too many tool calls"), "{message}");
    assert!(message.contains("seconds"), "{message}");
    // Listing the tools is no tool call, and another user has calls of their own.
    ada.result(Rev::Modern, "tools/list", json!({}));
    bob.tool(Rev::Modern, "list_tasks", json!({}));
    let rest = ada.rest("GET", "/api/todos", None).expect(200).body;
    assert_eq!(rest["total"], 3);
}

// ---------------------------------------------------------------- failures

/// Asserts a JSON-RPC `-32603` (Internal error) at HTTP `status`, answering
/// `id`, that names no table, statement or host.
#[track_caller]
fn assert_internal_error(reply: &Reply, status: u16, id: Option<Value>) {
    assert_rpc_error(reply, status, -32603, id);
    let message = reply.body["error"]["message"].as_str().unwrap();
    for leak in ["todos", "relation", "127.0.0.1", "connection"] {
        assert!(!message.contains(leak), "{message}");
    }
}

#[test]
fn a_database_failure_in_a_tool_is_a_json_rpc_error_not_the_rest_error_body() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let added = ada.tool(Rev::Modern, "add_task", json!({"title": "Before"}));
    // The tool's own statement fails (its table is gone); the token check
    // and the call's reservation, on other tables, still work.
    let mut db = app.db.client();
    db.batch_execute("ALTER TABLE todos RENAME TO todos_away")
        .unwrap();
    for rev in REVISIONS {
        for (tool, arguments) in [
            ("add_task", json!({"title": "After"})),
            ("list_tasks", json!({})),
            ("complete_task", json!({"id": id_of(&added)})),
        ] {
            let reply = ada.rpc(
                rev,
                "tools/call",
                json!({"name": tool, "arguments": arguments}),
            );
            assert_internal_error(&reply, 500, Some(json!(7)));
        }
    }
    db.batch_execute("ALTER TABLE todos_away RENAME TO todos")
        .unwrap();
    ada.tool(Rev::Modern, "list_tasks", json!({}));
}

#[test]
fn a_database_that_is_down_is_a_json_rpc_error_503_for_every_method() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let agent = User {
        app: &app,
        token: access_token(&ada, json!({"name": "agent"})),
    };
    app.db.accept_connections(false);
    // A session token is checked by the method's statement, a personal
    // access token by its lookup before the message is looked at: either
    // way the answer is the request's JSON-RPC error.
    for user in [&ada, &agent] {
        for rev in REVISIONS {
            let mut calls = vec![
                ("tools/list", json!({})),
                ("tools/call", json!({"name": "list_tasks", "arguments": {}})),
                (
                    "tools/call",
                    json!({"name": "add_task", "arguments": {"title": "x"}}),
                ),
            ];
            calls.push(match rev {
                Rev::Modern => ("server/discover", json!({})),
                Rev::Legacy(_) => ("ping", json!({})),
            });
            for (method, params) in calls {
                let reply = user.rpc(rev, method, params);
                assert_internal_error(&reply, 503, Some(json!(7)));
            }
        }
        // A notification's error has no id, as it has none.
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let reply = post(
            &app,
            Some(&user.token),
            &[("mcp-protocol-version".into(), LEGACY[0].into())],
            &note,
        );
        assert_internal_error(&reply, 503, None);
    }
    app.db.accept_connections(true);
    ada.tool(Rev::Modern, "list_tasks", json!({}));
    agent.tool(Rev::Modern, "list_tasks", json!({}));
}

// ---------------------------------------------------------------- lists

/// Signs up `email` with a name, as a person others share lists with.
fn signup_named<'a>(app: &'a TestApp, email: &str, name: &str) -> User<'a> {
    let body = json!({"email": email, "password": native::testing::TEST_PASSWORD, "name": name});
    let reply = app
        .send("POST", "/api/auth/signup", None, &[], Some(&body))
        .expect(201);
    User {
        app,
        token: reply.body["access_token"].as_str().unwrap().to_owned(),
    }
}

/// A list `owner` makes and shares with `member` as `role`; its id.
fn shared_list(owner: &User, member: &User, member_email: &str, name: &str, role: &str) -> String {
    let list = owner
        .rest("POST", "/api/lists", Some(json!({"name": name})))
        .expect(201)
        .body;
    let id = list["id"].as_str().unwrap().to_owned();
    owner
        .rest(
            "POST",
            &format!("/api/lists/{id}/invitations"),
            Some(json!({"email": member_email, "role": role})),
        )
        .expect(201);
    let received = member
        .rest("GET", "/api/invitations", None)
        .expect(200)
        .body;
    let invitation = received["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["list"]["id"] == id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    member
        .rest(
            "POST",
            &format!("/api/invitations/{invitation}/accept"),
            None,
        )
        .expect(200);
    id
}

#[test]
fn lists_are_listed_and_tasks_added_listed_and_moved_by_list_id_or_name() {
    let app = TestApp::spawn();
    let ada = signup_named(&app, "ada@example.com", "Ada");
    let bob = signup_named(&app, "bob@example.com", "Bob");
    let groceries = shared_list(&bob, &ada, "ada@example.com", "Groceries", "editor");
    let work = ada
        .rest("POST", "/api/lists", Some(json!({"name": "Work"})))
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for rev in REVISIONS {
        let lists = ada.tool(rev, "list_lists", json!({}))["items"].clone();
        let names: Vec<&str> = lists
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Inbox", "Groceries", "Work"], "{lists}");
        assert_eq!(lists[1]["role"], "editor");
        assert_eq!(lists[1]["owner"]["name"], "Bob");
        assert_eq!(lists[2]["role"], "owner");
    }
    let rev = Rev::Modern;
    // By name (case aside), by whole words, by id.
    let milk = ada.tool(
        rev,
        "add_task",
        json!({"title": "Milk", "list": "groceries"}),
    );
    assert_eq!(milk["list_id"], groceries.as_str());
    let report = ada.tool(rev, "add_task", json!({"title": "Report", "list": work}));
    assert_eq!(report["list_id"], work.as_str());
    let inbox = ada.tool(rev, "add_task", json!({"title": "Call mom"}));
    assert_ne!(inbox["list_id"], groceries.as_str());
    let listed = ada.tool(rev, "list_tasks", json!({"list": "Groceries"}));
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["title"], "Milk");
    let listed = ada.tool(rev, "list_tasks", json!({"list": work}));
    assert_eq!(listed["items"][0]["title"], "Report");
    assert_eq!(ada.tool(rev, "list_tasks", json!({}))["total"], 3);
    // Bob sees Ada's task in the list they share.
    let bobs = bob
        .rest("GET", &format!("/api/todos?list={groceries}"), None)
        .expect(200)
        .body;
    assert_eq!(bobs["items"][0]["title"], "Milk");

    // update_task moves a task.
    let moved = ada.tool(
        rev,
        "update_task",
        json!({"id": id_of(&inbox), "list_id": groceries}),
    );
    assert_eq!(moved["list_id"], groceries.as_str());
    assert_eq!(
        ada.tool(rev, "list_tasks", json!({"list": "Groceries"}))["total"],
        2
    );

    // Unknown lists are never made; a list not the user's is not found.
    let message = ada.tool_error(rev, "add_task", json!({"title": "X", "list": "Holidays"}));
    assert!(message.contains("no list called \"Holidays\""), "{message}");
    assert!(message.contains("Groceries"), "{message}");
    let message = ada.tool_error(rev, "list_tasks", json!({"list": "Holidays"}));
    assert!(message.contains("no list called"), "{message}");
    let carl = signup_named(&app, "carl@example.com", "Carl");
    let message = carl.tool_error(rev, "list_tasks", json!({"list": groceries}));
    assert!(message.contains("list_lists"), "{message}");
    let message = carl.tool_error(rev, "add_task", json!({"title": "X", "list": groceries}));
    assert!(message.contains("list_id"), "{message}");
    let message = carl.tool_error(
        rev,
        "update_task",
        json!({"id": id_of(&milk), "list_id": groceries}),
    );
    assert!(message.contains("No task"), "{message}");
    assert_eq!(carl.tool(rev, "list_tasks", json!({}))["total"], 0);
    // Two lists match by words: the agent is asked for an id; an exact
    // name wins over whole words.
    for name in ["Big Shop", "Small Shop", "Work trips"] {
        ada.rest("POST", "/api/lists", Some(json!({"name": name})))
            .expect(201);
    }
    let message = ada.tool_error(rev, "add_task", json!({"title": "X", "list": "shop"}));
    assert!(message.contains("Several"), "{message}");
    assert!(
        message.contains("Big Shop") && message.contains("Small Shop"),
        "{message}"
    );
    let listed = ada.tool(rev, "list_tasks", json!({"list": "work"}));
    assert_eq!(listed["items"][0]["title"], "Report");
}

#[test]
fn a_viewers_write_through_mcp_is_a_tool_error_that_says_so_and_changes_nothing() {
    let app = TestApp::spawn();
    let ada = signup_named(&app, "ada@example.com", "Ada");
    let vic = signup_named(&app, "vic@example.com", "Vic");
    let shop = shared_list(&ada, &vic, "vic@example.com", "Shop", "viewer");
    let milk = ada
        .rest(
            "POST",
            "/api/todos",
            Some(json!({"title": "Milk", "list_id": shop})),
        )
        .expect(201)
        .body;
    let id = id_of(&milk);
    let rev = Rev::Modern;
    // Vic reads it.
    let lists = vic.tool(rev, "list_lists", json!({}))["items"].clone();
    assert_eq!(lists[1]["role"], "viewer", "{lists}");
    assert_eq!(
        vic.tool(rev, "list_tasks", json!({"list": "Shop"}))["items"],
        json!([milk])
    );
    assert_eq!(vic.tool(rev, "get_task", json!({"id": id})), milk);
    // Every write is refused, saying why.
    let inbox_task = vic.tool(rev, "add_task", json!({"title": "Mine"}));
    for (tool, args) in [
        ("add_task", json!({"title": "Eggs", "list": "Shop"})),
        ("update_task", json!({"id": id, "title": "Oat milk"})),
        ("complete_task", json!({"id": id})),
        ("delete_task", json!({"id": id})),
        (
            "update_task",
            json!({"id": id_of(&inbox_task), "list_id": shop}),
        ),
    ] {
        let message = vic.tool_error(rev, tool, args.clone());
        assert!(message.contains("viewer"), "{tool} {args}: {message}");
    }
    let after = ada
        .rest("GET", &format!("/api/todos?list={shop}"), None)
        .expect(200)
        .body;
    assert_eq!(after["items"], json!([milk]));
}
