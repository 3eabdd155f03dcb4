//! How many SQL statements (round trips from a component to PostgreSQL) each
//! request costs, counted by the native harness. The README lists the same
//! numbers; this test keeps them from creeping back up.

use native::testing::{Reply, TestApp, TestRedis};
use serde_json::{json, Value};

/// One request and the statements it sent.
fn measure(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (Reply, u64) {
    let before = app.statements_sent();
    let reply = app.send(method, path, token, headers, body.as_ref());
    (reply, app.statements_sent() - before)
}

/// Signs Ada up; her token.
fn signed_up(app: &TestApp) -> String {
    app.signup("ada@example.com").token
}

struct Expect<'a> {
    what: &'a str,
    method: &'a str,
    path: String,
    token: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
    body: Option<Value>,
    status: u16,
    statements: u64,
}

fn check(app: &TestApp, cases: Vec<Expect<'_>>) -> Vec<Reply> {
    cases
        .into_iter()
        .map(|c| {
            let (reply, statements) = measure(app, c.method, &c.path, c.token, c.headers, c.body);
            assert_eq!(reply.status, c.status, "{}: {}", c.what, reply.body);
            assert_eq!(
                statements, c.statements,
                "{}: {} {} sent {statements} statements",
                c.what, c.method, c.path
            );
            reply
        })
        .collect()
}

fn case<'a>(
    what: &'a str,
    method: &'a str,
    path: impl Into<String>,
    token: Option<&'a str>,
    body: Option<Value>,
    status: u16,
    statements: u64,
) -> Expect<'a> {
    Expect {
        what,
        method,
        path: path.into(),
        token,
        headers: &[],
        body,
        status,
        statements,
    }
}

#[test]
fn every_auth_and_health_request_costs_its_documented_round_trips() {
    let app = TestApp::spawn_with(&[("ollama_url", "http://127.0.0.1:1")]);
    let ada = json!({"email": "ada@example.com", "password": "correct horse", "name": "Ada"});
    let right = json!({"email": "ada@example.com", "password": "correct horse"});
    let wrong = json!({"email": "ada@example.com", "password": "wrong horse!"});
    let wrong_again = wrong.clone();
    let replies = check(
        &app,
        vec![
            case("liveness", "GET", "/health", None, None, 200, 0),
            case("readiness", "GET", "/health/ready", None, None, 200, 1),
            // Sign-ups and logins first reserve an attempt (throttling).
            case(
                "signup",
                "POST",
                "/api/auth/signup",
                None,
                Some(ada.clone()),
                201,
                2,
            ),
            case(
                "duplicate signup",
                "POST",
                "/api/auth/signup",
                None,
                Some(ada),
                409,
                2,
            ),
            case(
                "login",
                "POST",
                "/api/auth/login",
                None,
                Some(right.clone()),
                200,
                2,
            ),
            case(
                "wrong password",
                "POST",
                "/api/auth/login",
                None,
                Some(wrong),
                401,
                1,
            ),
            case(
                "login after a failure clears it",
                "POST",
                "/api/auth/login",
                None,
                Some(right.clone()),
                200,
                2,
            ),
            case(
                "invalid signup",
                "POST",
                "/api/auth/signup",
                None,
                Some(json!({"email": "x"})),
                422,
                0,
            ),
            case(
                "bad token",
                "GET",
                "/api/auth/me",
                Some("not.a.token"),
                None,
                401,
                0,
            ),
        ],
    );
    for _ in 0..5 {
        app.send("POST", "/api/auth/login", None, &[], Some(&wrong_again))
            .expect(401);
    }
    check(
        &app,
        vec![case(
            "locked",
            "POST",
            "/api/auth/login",
            None,
            Some(right),
            429,
            1,
        )],
    );
    let token = replies[6].body["access_token"].as_str().unwrap().to_owned();
    let token = Some(token.as_str());
    check(
        &app,
        vec![
            case("me", "GET", "/api/auth/me", token, None, 200, 1),
            case("logout", "POST", "/api/auth/logout", token, None, 204, 1),
            case("me, revoked", "GET", "/api/auth/me", token, None, 401, 1),
            case(
                "logout, revoked",
                "POST",
                "/api/auth/logout",
                token,
                None,
                401,
                1,
            ),
        ],
    );
}

#[test]
fn a_personal_access_token_costs_one_more_round_trip() {
    let app = TestApp::spawn();
    let session = signed_up(&app);
    let session = Some(session.as_str());
    let replies = check(
        &app,
        vec![
            case(
                "create a token",
                "POST",
                "/api/auth/tokens",
                session,
                Some(json!({"name": "agent"})),
                201,
                1,
            ),
            case(
                "list tokens",
                "GET",
                "/api/auth/tokens",
                session,
                None,
                200,
                1,
            ),
        ],
    );
    let token = replies[0].body["token"].as_str().unwrap().to_owned();
    let id = replies[0].body["id"].as_str().unwrap().to_owned();
    let pat = Some(token.as_str());
    let unknown = format!("todo_pat_{}{}", "0".repeat(32), "A".repeat(43));
    check(
        &app,
        vec![
            // The token's row is read (and its use recorded), then the work
            // is done as for a session.
            case("me", "GET", "/api/auth/me", pat, None, 200, 2),
            case("list todos", "GET", "/api/todos", pat, None, 200, 2),
            case(
                "create a todo",
                "POST",
                "/api/todos",
                pat,
                Some(json!({"title": "x"})),
                201,
                2,
            ),
            case(
                "unknown token",
                "GET",
                "/api/todos",
                Some(&unknown),
                None,
                401,
                1,
            ),
            case(
                "malformed token",
                "GET",
                "/api/todos",
                Some("todo_pat_x"),
                None,
                401,
                0,
            ),
            case(
                "revoke",
                "DELETE",
                format!("/api/auth/tokens/{id}"),
                session,
                None,
                204,
                1,
            ),
            case("revoked token", "GET", "/api/todos", pat, None, 401, 1),
        ],
    );
}

#[test]
fn an_mcp_request_costs_its_documented_round_trips() {
    let app = TestApp::spawn();
    let token = signed_up(&app);
    let token = Some(token.as_str());
    let modern = |method: &str, params: Value| {
        let mut params = params;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    };
    // A tool call first reserves one of the user's calls per minute.
    let cases = [
        ("list tools", "tools/list", None, json!({}), 1),
        (
            "add a task",
            "tools/call",
            Some("add_task"),
            json!({"name": "add_task", "arguments": {"title": "x"}}),
            2,
        ),
        (
            "list tasks",
            "tools/call",
            Some("list_tasks"),
            json!({"name": "list_tasks", "arguments": {}}),
            2,
        ),
    ];
    for (what, method, name, params, statements) in cases {
        let mut headers = vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        if let Some(name) = name {
            headers.push(("mcp-name", name));
        }
        let before = app.statements_sent();
        let reply = app.send(
            "POST",
            "/mcp",
            token,
            &headers,
            Some(&modern(method, params)),
        );
        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
        assert!(reply.body.get("result").is_some(), "{what}: {}", reply.body);
        assert_eq!(app.statements_sent() - before, statements, "{what}");
    }
    // With a personal access token, its lookup is the token check.
    let reply = app
        .send(
            "POST",
            "/api/auth/tokens",
            token,
            &[],
            Some(&json!({"name": "agent"})),
        )
        .expect(201);
    let pat = reply.body["token"].as_str().unwrap();
    let before = app.statements_sent();
    let reply = app.send(
        "POST",
        "/mcp",
        Some(pat),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ],
        Some(&modern("tools/list", json!({}))),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(app.statements_sent() - before, 1, "tools/list with a token");
}

#[test]
fn every_todos_request_is_one_round_trip() {
    let app = TestApp::spawn();
    let token = signed_up(&app);
    let t = Some(token.as_str());
    let missing = "/api/todos/7c9e6679-7425-40de-944b-e07fc1f90ae7";

    let created = check(
        &app,
        vec![
            case("empty list", "GET", "/api/todos", t, None, 200, 1),
            case(
                "create",
                "POST",
                "/api/todos",
                t,
                Some(json!({"title": "Pay rent", "recurrence": "monthly", "tags": ["home"]})),
                201,
                1,
            ),
            case(
                "invalid create",
                "POST",
                "/api/todos",
                t,
                Some(json!({})),
                422,
                0,
            ),
            case("missing todo", "GET", missing, t, None, 404, 1),
            case(
                "patch missing",
                "PATCH",
                missing,
                t,
                Some(json!({"title": "x"})),
                404,
                1,
            ),
            case("delete missing", "DELETE", missing, t, None, 404, 1),
            case(
                "toggle missing",
                "POST",
                format!("{missing}/toggle"),
                t,
                None,
                404,
                1,
            ),
            case(
                "history missing",
                "GET",
                format!("{missing}/history"),
                t,
                None,
                404,
                1,
            ),
        ],
    );
    let item = format!("/api/todos/{}", created[1].body["id"].as_str().unwrap());
    check(
        &app,
        vec![
            case("list", "GET", "/api/todos?limit=50", t, None, 200, 1),
            case(
                "delta sync",
                "GET",
                "/api/todos?updated_since=2020-01-01T00:00:00Z&status=all&tag=home&q=rent",
                t,
                None,
                200,
                1,
            ),
            case("get", "GET", item.clone(), t, None, 200, 1),
            case(
                "patch",
                "PATCH",
                item.clone(),
                t,
                Some(json!({"priority": "high"})),
                200,
                1,
            ),
            case(
                "put",
                "PUT",
                item.clone(),
                t,
                Some(json!({"title": "Pay the rent", "recurrence": "monthly"})),
                200,
                1,
            ),
            case(
                "toggle, with next occurrence",
                "POST",
                format!("{item}/toggle"),
                t,
                None,
                200,
                1,
            ),
            case("history", "GET", format!("{item}/history"), t, None, 200, 1),
            case("stats", "GET", "/api/todos/stats", t, None, 200, 1),
            case(
                "clear completed",
                "DELETE",
                "/api/todos?status=done",
                t,
                None,
                200,
                1,
            ),
            case("delete, already cleared", "DELETE", item, t, None, 404, 1),
        ],
    );
    let other = app
        .send(
            "POST",
            "/api/todos",
            t,
            &[],
            Some(&json!({"title": "Call mom"})),
        )
        .expect(201);
    let mut stale = case(
        "stale If-Match",
        "PATCH",
        format!("/api/todos/{}", other.body["id"].as_str().unwrap()),
        t,
        Some(json!({"title": "x"})),
        412,
        1,
    );
    stale.headers = &[("if-match", "\"7\"")];
    check(&app, vec![stale]);
}

/// Every lists request is one statement too, its membership check and its
/// event included; so are a create in a shared list and a page of one list.
#[test]
fn every_lists_request_is_one_round_trip() {
    let app = TestApp::spawn();
    let token = signed_up(&app);
    let t = Some(token.as_str());
    let created = check(
        &app,
        vec![
            case("lists", "GET", "/api/lists", t, None, 200, 1),
            case(
                "create list",
                "POST",
                "/api/lists",
                t,
                Some(json!({"name": "Groceries", "color": "#00aa88"})),
                201,
                1,
            ),
            case("invitations", "GET", "/api/invitations", t, None, 200, 1),
        ],
    );
    let list = created[1].body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/lists/{list}");
    let in_list = check(
        &app,
        vec![
            case("get list", "GET", path.clone(), t, None, 200, 1),
            case(
                "rename",
                "PATCH",
                path.clone(),
                t,
                Some(json!({"name": "Food"})),
                200,
                1,
            ),
            case("members", "GET", format!("{path}/members"), t, None, 200, 1),
            case(
                "invite",
                "POST",
                format!("{path}/invitations"),
                t,
                Some(json!({"email": "bob@example.com", "role": "viewer"})),
                201,
                1,
            ),
            case(
                "create in the list",
                "POST",
                "/api/todos",
                t,
                Some(json!({"title": "milk", "list_id": list})),
                201,
                1,
            ),
            case(
                "page of the list",
                "GET",
                format!("/api/todos?list={list}&assignee=none&limit=50"),
                t,
                None,
                200,
                1,
            ),
        ],
    );
    let invitation = in_list[3].body["id"].as_str().unwrap();
    check(
        &app,
        vec![
            case(
                "revoke",
                "DELETE",
                format!("{path}/invitations/{invitation}"),
                t,
                None,
                204,
                1,
            ),
            case("delete list", "DELETE", path, t, None, 204, 1),
        ],
    );
}

/// Every change queues its event (the audit row and its outbox entry) in the
/// statement that makes it: no second round trip.
#[test]
fn a_change_and_its_event_are_one_round_trip() {
    let app = TestApp::spawn();
    let token = signed_up(&app);
    let t = Some(token.as_str());
    let queued = || -> i64 {
        app.db
            .client()
            .query_one("SELECT count(*) FROM event_outbox", &[])
            .unwrap()
            .get(0)
    };
    let (created, statements) = measure(
        &app,
        "POST",
        "/api/todos",
        t,
        &[],
        Some(json!({"title": "Pay rent"})),
    );
    assert_eq!((created.status, statements, queued()), (201, 1, 1));
    let item = format!("/api/todos/{}", created.body["id"].as_str().unwrap());
    let changes = [
        (
            "PATCH",
            item.clone(),
            Some(json!({"title": "Pay the rent"})),
            200,
        ),
        ("POST", format!("{item}/toggle"), None, 200),
        ("DELETE", item, None, 204),
    ];
    for (n, (method, path, body, status)) in changes.into_iter().enumerate() {
        let (reply, statements) = measure(&app, method, &path, t, &[], body);
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!((statements, queued()), (1, n as i64 + 2), "{method} {path}");
    }
}

/// A long-poll sends the delta sync's one statement at every check: at once,
/// then every 500 ms until a change appears or the wait is over. One that
/// waits takes one of its user's slots before and gives it back after: two
/// more.
#[test]
fn a_long_poll_costs_one_statement_per_check() {
    let app = TestApp::spawn();
    // Stopped, the clock moves only by the sleeps: each wait is cut into
    // the same pauses every time.
    app.clock.set(&chrono::Utc::now().to_rfc3339());
    let token = signed_up(&app);
    let t = Some(token.as_str());
    let page = app.send("GET", "/api/todos", t, &[], None).expect(200);
    let since = page.body["sync_token"].as_str().unwrap().to_owned();
    app.send("POST", "/api/todos", t, &[], Some(&json!({"title": "new"})))
        .expect(201);
    let feed = check(
        &app,
        vec![case(
            "long-poll with a change waiting",
            "GET",
            format!("/api/todos?since={since}&wait=25"),
            t,
            None,
            200,
            1,
        )],
    );
    let now = feed[0].body["sync_token"].as_str().unwrap().to_owned();
    check(
        &app,
        vec![
            case(
                "empty long-poll, wait=1: checks at 0, 0.5 and 1 s, and its slot",
                "GET",
                format!("/api/todos?since={now}&wait=1"),
                t,
                None,
                200,
                5,
            ),
            case(
                "empty long-poll, wait=25",
                "GET",
                format!("/api/todos?since={now}&wait=25"),
                t,
                None,
                200,
                53,
            ),
            case(
                "wait out of range",
                "GET",
                format!("/api/todos?since={now}&wait=26"),
                t,
                None,
                422,
                0,
            ),
        ],
    );
}

/// The events relay: one statement when nothing is queued (or with no
/// sink), two per batch (lease and read; mark and give back).
#[test]
fn the_events_relay_costs_two_statements_a_batch() {
    const INTERNAL: &str = "internal-test-token-0123456789";
    let redis = TestRedis::start();
    let mut vars: Vec<(&str, String)> = redis.sink_vars();
    vars.push(("internal_token", INTERNAL.into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let app = TestApp::spawn_with(&vars);
    let token = signed_up(&app);
    let relay = |what, statements| {
        case(
            what,
            "POST",
            "/internal/events/relay",
            Some(INTERNAL),
            None,
            200,
            statements,
        )
    };
    check(&app, vec![relay("relay, nothing queued", 1)]);
    for title in ["a", "b", "c"] {
        app.send(
            "POST",
            "/api/todos",
            Some(&token),
            &[],
            Some(&json!({ "title": title })),
        )
        .expect(201);
    }
    let replies = check(
        &app,
        vec![
            relay("relay, three queued", 2),
            relay("relay, all delivered", 1),
        ],
    );
    assert_eq!(replies[0].body["delivered"], 3);
    let none = TestApp::spawn_with(&[("internal_token", INTERNAL)]);
    check(&none, vec![relay("relay, no sink (prune)", 1)]);
}

/// A chat message answered by the rule tier costs two statements: one
/// opens it (the rate-limit reservation, the LLM breakers' state and the
/// conversation's last messages), one does the todos' part (finding the
/// todo its words name, too) and saves the exchange. A tier that was asked
/// costs one more, to record its failure or its answer. A new
/// conversation's message answered in words or by a list, with no tier to
/// ask, is one: it is saved as the request opens.
#[test]
fn a_chat_request_answered_by_the_rule_tier_costs_two_statements_or_one() {
    // Ollama "configured" where nothing listens, and paused by its breaker
    // after three failures; no Qwen key.
    let app = TestApp::spawn_with(&[("ollama_url", "http://127.0.0.1:1"), ("qwen_api_key", "")]);
    let token = signed_up(&app);
    let t = Some(token.as_str());
    let say = |message: &str| Some(json!({ "message": message }));
    // Ollama fails: its failure is counted in the breaker too.
    let ollama_down = || {
        case(
            "chat, Ollama down",
            "POST",
            "/api/chat",
            t,
            say("help"),
            200,
            3,
        )
    };
    check(&app, vec![ollama_down(), ollama_down(), ollama_down()]);
    // Paused now.
    let cases = [
        ("chat create", "task buy milk", 2),
        (
            "chat create, three todos",
            "task buy eggs and task buy flour and task buy sugar",
            2,
        ),
        ("chat list", "show my tasks", 1),
        ("chat complete", "done buy milk", 2),
        ("chat reopen", "reopen buy milk", 2),
        ("chat update", "make buy eggs urgent", 2),
        ("chat update, tags", "tag buy eggs #shop", 2),
        ("chat delete", "delete buy flour", 2),
        ("chat ambiguous", "complete buy", 2),
        ("chat no match", "complete buy bread", 2),
        ("chat help", "help", 1),
    ];
    check(
        &app,
        cases
            .into_iter()
            .map(|(what, message, statements)| {
                case(what, "POST", "/api/chat", t, say(message), 200, statements)
            })
            .collect(),
    );
    // Continuing a conversation reads it first: two statements.
    let list = app
        .send("POST", "/api/chat", t, &[], say("show my tasks").as_ref())
        .expect(200);
    let again =
        json!({"message": "show my tasks", "conversation_id": list.body["conversation_id"]});
    check(
        &app,
        vec![case(
            "chat list, continued",
            "POST",
            "/api/chat",
            t,
            Some(again),
            200,
            2,
        )],
    );
    // A proposed delete finds the todos; the user's yes asks no model: the
    // opening statement reads the conversation, and one statement deletes
    // exactly the listed todos and saves the exchange.
    app.send(
        "POST",
        "/api/chat",
        t,
        &[],
        say("task buy oat milk").as_ref(),
    )
    .expect(200);
    let counted = |message: Value| {
        let before = app.statements_sent();
        let reply = app
            .send("POST", "/api/chat", t, &[], Some(&message))
            .expect(200);
        (app.statements_sent() - before, reply.body)
    };
    let (statements, proposal) = counted(json!({"message": "delete all milk"}));
    assert_eq!(statements, 2, "{proposal}");
    assert_eq!(proposal["result"]["proposal"]["count"], 2, "{proposal}");
    let (statements, done) =
        counted(json!({"message": "yes", "conversation_id": proposal["conversation_id"]}));
    assert_eq!(statements, 2, "{done}");
    assert_eq!(done["result"]["count"], 2, "{done}");
}

#[test]
fn every_caldav_request_costs_its_documented_round_trips() {
    use base64::Engine;
    let app = TestApp::spawn();
    let session = signed_up(&app);
    let user = app
        .send("GET", "/api/auth/me", Some(&session), &[], None)
        .expect(200)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pat = app
        .send(
            "POST",
            "/api/auth/tokens",
            Some(&session),
            &[],
            Some(&json!({"name": "Phone"})),
        )
        .expect(201)
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lists = app
        .send("GET", "/api/lists", Some(&session), &[], None)
        .expect(200);
    let inbox = lists.body["items"][0]["id"].as_str().unwrap().to_owned();
    let todos: Vec<String> = (0..30)
        .map(|i| {
            let body = json!({"title": format!("todo {i}")});
            app.send("POST", "/api/todos", Some(&session), &[], Some(&body))
                .expect(201)
                .body["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let cal = format!("/dav/calendars/{user}/{inbox}/");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ada@example.com:{pat}"))
    );
    let dav = |method: &str, path: &str, body: String| {
        let before = app.statements_sent();
        let req = http::Request::builder()
            .method(method)
            .uri(app.url(path))
            .header("authorization", &basic)
            .header("depth", "1")
            .body(body.into_bytes())
            .unwrap();
        let reply = app.send_raw(req);
        (reply, app.statements_sent() - before)
    };
    let sync = |token: &str| {
        format!(
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token>
               <d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        )
    };
    let (first, _) = dav("REPORT", &cal, sync(""));
    assert_eq!(first.status, 207);
    let text = first.body.as_str().unwrap();
    let token = text
        .split("<d:sync-token>")
        .nth(1)
        .and_then(|t| t.split("</d:sync-token>").next())
        .unwrap()
        .to_owned();
    let (quiet, statements) = dav("REPORT", &cal, sync(&token));
    assert_eq!(quiet.status, 207, "{}", quiet.body);
    assert_eq!(statements, 1, "a sync-collection with no changes");

    let hrefs: String = todos
        .iter()
        .map(|id| format!("<d:href>{cal}{id}.ics</d:href>"))
        .collect();
    let multiget = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
           <d:prop><d:getetag/><c:calendar-data/></d:prop>{hrefs}</c:calendar-multiget>"#
    );
    let (got, statements) = dav("REPORT", &cal, multiget);
    assert_eq!(got.status, 207);
    assert_eq!(
        got.body.as_str().unwrap().matches("BEGIN:VTODO").count(),
        30
    );
    assert_eq!(statements, 1, "a multiget of 30 todos");

    let (listing, statements) = dav(
        "PROPFIND",
        &format!("/dav/calendars/{user}/"),
        String::new(),
    );
    assert_eq!(listing.status, 207);
    assert_eq!(statements, 1, "the calendars");
    // A wrong token costs one more: the failure is counted.
    let before = app.statements_sent();
    let wrong = http::Request::builder()
        .method("PROPFIND")
        .uri(app.url("/dav/"))
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("ada@example.com:{}", wrong_secret(&pat)))
            ),
        )
        .body(Vec::new())
        .unwrap();
    assert_eq!(app.send_raw(wrong).status, 401);
    assert_eq!(app.statements_sent() - before, 2, "a wrong token");
}

/// The token with one character of its secret changed: well formed, but no
/// live token's.
fn wrong_secret(token: &str) -> String {
    let at = token.len() - 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    format!("{}{swapped}{}", &token[..at], &token[at + 1..])
}
