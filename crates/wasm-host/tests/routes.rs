//! One pass over every route family of `spin.toml` through the compiled
//! `.wasm` components (the release build `scripts/test` makes first), so
//! that a fault only the wasm build has fails the tests.

use std::collections::HashMap;

use base64::Engine;

use native::testing::{client, manifest_path, random_secret, TestDb, TEST_PASSWORD};
use serde_json::{json, Value};
use todo_core::ports::Variables;
use wasm_host::server::{WasmServer, CPU_STATS_PATH};
use wasm_host::WasmApp;

const INTERNAL_TOKEN: &str = "internal-test-token-wasm-host";

struct Host {
    server: WasmServer,
    // Kept for the test's length: dropped, the database goes too.
    _db: TestDb,
}

/// The app's answer: status and body (JSON when it is JSON, else a string).
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    etag: String,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }
}

impl Host {
    /// The wasm host serving spin.toml against a fresh database, or `None`
    /// (with a message) when the release components are not built.
    fn start() -> Option<Host> {
        let release = manifest_path()
            .parent()
            .unwrap()
            .join("target/wasm32-wasip1/release");
        let missing: Vec<_> = [
            "auth",
            "todos",
            "chat",
            "dav",
            "health",
            "internal",
            "notifications",
            "web",
            "mcp",
        ]
        .iter()
        .filter(|c| !release.join(format!("{c}.wasm")).exists())
        .collect();
        if !missing.is_empty() {
            eprintln!(
                "SKIPPED: the release components {missing:?} are not built; scripts/test builds \
                 them (cargo build --target wasm32-wasip1 --release -p <component>)"
            );
            return None;
        }
        let db = TestDb::fresh();
        let vars = db.vars();
        let mut overrides = HashMap::new();
        for (name, _) in todo_core::config::DATABASE_SETTINGS {
            overrides.insert(name.to_owned(), vars.get(name).unwrap_or_default());
        }
        overrides.insert("jwt_secret".into(), random_secret(48));
        overrides.insert("internal_token".into(), INTERNAL_TOKEN.into());
        let app = WasmApp::load_isolated(&manifest_path(), &overrides).unwrap();
        let server = WasmServer::start(app, "127.0.0.1:0").unwrap();
        Some(Host { server, _db: db })
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.send_with(method, path, token, &[], body)
    }

    fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.server.addr));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let mut resp = client().run(req.body(bytes).unwrap()).unwrap();
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let content_type = header("content-type");
        let etag = header("etag");
        let text = resp.body_mut().read_to_string().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            content_type,
            etag,
            body,
        }
    }
}

impl Host {
    /// A request with a body as given (CalDAV's XML and iCalendar).
    fn send_raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.server.addr));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut resp = client()
            .run(req.body(body.as_bytes().to_vec()).unwrap())
            .unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, etag) = (header("content-type"), header("etag"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        Reply {
            status,
            content_type,
            etag,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

#[test]
fn every_route_family_answers_through_the_compiled_wasm_components() {
    let Some(host) = Host::start() else { return };

    // health
    let health = host.send("GET", "/health", None, None).expect(200);
    assert_eq!(health.body, json!({"status": "ok"}));
    let ready = host.send("GET", "/health/ready", None, None).expect(200);
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    assert_eq!(ready.body["checks"]["database"]["status"], "up");

    // auth
    let signup = json!({"email": "ada@example.com", "password": TEST_PASSWORD, "name": "Ada"});
    let signed_up = host
        .send("POST", "/api/auth/signup", None, Some(signup))
        .expect(201);
    assert_eq!(signed_up.body["user"]["email"], "ada@example.com");
    let login = json!({"email": "ada@example.com", "password": TEST_PASSWORD});
    let token = text(
        &host
            .send("POST", "/api/auth/login", None, Some(login))
            .expect(200)
            .body["access_token"],
    );
    let wrong = json!({"email": "ada@example.com", "password": "not the password"});
    host.send("POST", "/api/auth/login", None, Some(wrong))
        .expect(401);
    let me = host
        .send("GET", "/api/auth/me", Some(&token), None)
        .expect(200);
    assert_eq!(me.body["email"], "ada@example.com", "{}", me.body);
    // A GET's body is never read: answered as without one.
    let with_body = host
        .send(
            "GET",
            "/api/auth/me",
            Some(&token),
            Some(json!({"ignored": true})),
        )
        .expect(200);
    assert_eq!(with_body.body, me.body);
    host.send("GET", "/api/auth/me", None, None).expect(401);
    let t = Some(token.as_str());

    // Each variable a request reads is a host call under Spin: the six
    // database settings come as one (`database`), with the signing secret.
    let calls = |method: &str, path: &str, body: Option<Value>, status: u16, component: &str| {
        host.send("GET", CPU_STATS_PATH, None, None);
        let reply = host.send(method, path, t, body).expect(status);
        let stats = host.send("GET", CPU_STATS_PATH, None, None).body;
        assert_eq!(stats[component]["requests"], 1, "{stats}");
        (reply, stats[component]["variable_calls"].clone())
    };
    assert_eq!(calls("GET", "/api/auth/me", None, 200, "auth").1, 2);
    assert_eq!(calls("GET", "/api/todos", None, 200, "todos").1, 2);
    let (counted, variables) = calls(
        "POST",
        "/api/todos",
        Some(json!({"title": "x"})),
        201,
        "todos",
    );
    assert_eq!(variables, 2);
    let counted = format!("/api/todos/{}", text(&counted.body["id"]));
    assert_eq!(calls("DELETE", &counted, None, 204, "todos").1, 2);

    // todos: create, list, get, patch, toggle, a delta sync, delete
    let sync_token = text(&host.send("GET", "/api/todos", t, None).expect(200).body["sync_token"]);
    let created = host
        .send("POST", "/api/todos", t, Some(json!({"title": "buy milk"})))
        .expect(201)
        .body;
    assert_eq!(created["title"], "buy milk");
    let id = text(&created["id"]);
    let item = format!("/api/todos/{id}");
    let listed = host.send("GET", "/api/todos", t, None).expect(200).body;
    assert_eq!(listed["items"][0]["id"], created["id"], "{listed}");
    assert_eq!(
        host.send("GET", &item, t, None).expect(200).body["title"],
        "buy milk"
    );
    let patched = host
        .send("PATCH", &item, t, Some(json!({"title": "buy oat milk"})))
        .expect(200)
        .body;
    assert_eq!(patched["title"], "buy oat milk");
    let toggled = host
        .send("POST", &format!("{item}/toggle"), t, None)
        .expect(200)
        .body;
    assert_eq!(toggled["todo"]["completed"], true, "{toggled}");
    let feed = host
        .send("GET", &format!("/api/todos?since={sync_token}"), t, None)
        .expect(200)
        .body;
    assert_eq!(feed["items"][0]["title"], "buy oat milk", "{feed}");
    host.send("DELETE", &item, t, None).expect(204);
    host.send("GET", &item, t, None).expect(404);
    let feed = host
        .send("GET", &format!("/api/todos?since={sync_token}"), t, None)
        .expect(200)
        .body;
    assert_eq!(feed["deleted"], json!([id]), "{feed}");

    // lists: one of the caller's, a todo in it, its page, then gone from
    // the sync when deleted
    let list = host
        .send("POST", "/api/lists", t, Some(json!({"name": "Groceries"})))
        .expect(201)
        .body;
    let list_id = text(&list["id"]);
    let before = text(&host.send("GET", "/api/todos", t, None).expect(200).body["sync_token"]);
    let in_list = host
        .send(
            "POST",
            "/api/todos",
            t,
            Some(json!({"title": "bread", "list_id": list_id})),
        )
        .expect(201)
        .body;
    let page = host
        .send("GET", &format!("/api/todos?list={list_id}"), t, None)
        .expect(200)
        .body;
    assert_eq!(page["items"][0]["id"], in_list["id"], "{page}");
    host.send("GET", "/api/lists", t, None).expect(200);
    host.send("GET", "/api/invitations", t, None).expect(200);
    host.send("DELETE", &format!("/api/lists/{list_id}"), t, None)
        .expect(204);
    let feed = host
        .send("GET", &format!("/api/todos?since={before}"), t, None)
        .expect(200)
        .body;
    assert_eq!(feed["removed_lists"], json!([list_id]), "{feed}");
    assert_eq!(feed["deleted"], json!([in_list["id"]]), "{feed}");

    // chat, rule tier
    host.send("POST", "/api/todos", t, Some(json!({"title": "pay rent"})))
        .expect(201);
    let chat = host
        .send(
            "POST",
            "/api/chat",
            t,
            Some(json!({"message": "show my tasks"})),
        )
        .expect(200)
        .body;
    assert_eq!(chat["intent"]["action"], "list", "{chat}");
    assert_eq!(chat["result"]["count"], 1, "{chat}");
    // Named by whole words of its title: the separators reach PostgreSQL
    // as a parameter, through Spin's statements too.
    let say = |message: &str| {
        host.send("POST", "/api/chat", t, Some(json!({ "message": message })))
            .expect(200)
            .body
    };
    let partly = say("mark done pay ren");
    assert!(partly["result"].get("updated").is_none(), "{partly}");
    let done = say("mark done rent");
    assert_eq!(done["result"]["updated"][0]["completed"], true, "{done}");
    let deleted = say("delete pay rent");
    assert_eq!(deleted["result"]["count"], 1, "{deleted}");

    // MCP with a personal access token
    let pat = text(
        &host
            .send("POST", "/api/auth/tokens", t, Some(json!({"name": "ci"})))
            .expect(201)
            .body["token"],
    );
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "wasm-host-test", "version": "1.0.0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    let tools = host
        .send_with(
            "POST",
            "/mcp",
            Some(&pat),
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
                ("accept", "application/json, text/event-stream"),
            ],
            Some(list),
        )
        .expect(200)
        .body;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{tools}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"list_tasks"), "{names:?}");

    // CalDAV: WebDAV's methods reach the component (wasi:http's `other`
    // method), signed in with HTTP Basic and the same token
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ada@example.com:{pat}"))
    );
    let user = text(&me.body["id"]);
    let lists = host.send("GET", "/api/lists", t, None).expect(200).body;
    let inbox = text(&lists["items"][0]["id"]);
    let cal = format!("/dav/calendars/{user}/{inbox}/");
    let dav = |method: &str, path: &str, body: &str| {
        host.send_raw(
            method,
            path,
            &[("authorization", &basic), ("depth", "1")],
            body,
        )
    };
    let vtodo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VTODO\r\nUID:wasm-1\r\n\
                 SUMMARY:From the phone\r\nDUE;VALUE=DATE:20261224\r\nX-APPLE-SORT-ORDER:7\r\n\
                 END:VTODO\r\nEND:VCALENDAR\r\n";
    let put = dav("PUT", &format!("{cal}wasm-1.ics"), vtodo).expect(201);
    assert!(put.etag.starts_with('"'), "{}", put.etag);
    let listing = dav("PROPFIND", &cal, "").expect(207);
    assert!(
        text(&listing.body).contains("wasm-1.ics"),
        "{}",
        listing.body
    );
    let sync = dav(
        "REPORT",
        &cal,
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:prop><d:getetag/></d:prop></d:sync-collection>"#,
    )
    .expect(207);
    let etag = put.etag.replace('"', "&quot;");
    assert!(text(&sync.body).contains(&etag), "{}", sync.body);
    let got = dav("GET", &format!("{cal}wasm-1.ics"), "").expect(200);
    assert!(
        text(&got.body).contains("X-APPLE-SORT-ORDER:7"),
        "{}",
        got.body
    );
    let found = host
        .send("GET", "/api/todos?q=phone", t, None)
        .expect(200)
        .body;
    assert_eq!(found["items"][0]["due_all_day"], true, "{found}");
    host.send_raw("PROPFIND", "/dav/", &[], "").expect(401);

    // web: the page and a script, from the files embedded in the build
    let page = host.send("GET", "/", None, None).expect(200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(text(&page.body).contains("<html"), "{}", page.body);
    let script = host.send("GET", "/js/app.js", None, None).expect(200);
    assert_eq!(script.content_type, "text/javascript; charset=utf-8");
    let on_disk =
        std::fs::read_to_string(manifest_path().parent().unwrap().join("static/js/app.js"))
            .unwrap();
    assert_eq!(text(&script.body), on_disk);
    assert!(script.etag.starts_with('"'), "{}", script.etag);
    assert_ne!(script.etag, page.etag);
    let unchanged = host
        .send_with(
            "GET",
            "/js/app.js",
            None,
            &[("if-none-match", &script.etag)],
            None,
        )
        .expect(304);
    assert_eq!(unchanged.etag, script.etag);
    assert_eq!(unchanged.body, json!(""));

    // notifications
    let prefs = host
        .send("GET", "/api/notifications/preferences", t, None)
        .expect(200)
        .body;
    assert_eq!(
        prefs,
        json!({"enabled": true, "lead_minutes": 30, "quiet_hours": null, "time_zone": "UTC"})
    );
    host.send("GET", "/api/notifications/preferences", None, None)
        .expect(401);

    // internal: the reminder sweep, with the internal token only
    let swept = host
        .send(
            "POST",
            "/internal/reminders/run",
            Some(INTERNAL_TOKEN),
            None,
        )
        .expect(200)
        .body;
    assert!(swept["fired"].is_i64(), "{swept}");
    host.send("POST", "/internal/reminders/run", t, None)
        .expect(401);
}
