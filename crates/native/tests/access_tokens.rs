//! Personal access tokens over real HTTP, through the native harness; every
//! answer is checked against the API document.

mod api_document;

use chrono::{DateTime, Duration, Utc};
use native::testing::{Reply, TestApp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `app.send`, with the answer checked against the API document.
fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let reply = app.send(method, path, token, &[], body);
    api_document::check_against_document(method, path, &reply);
    reply
}

fn signup(app: &TestApp, email: &str) -> String {
    app.signup(email).token
}

fn create(app: &TestApp, session: &str, body: Value) -> Reply {
    send(app, "POST", "/api/auth/tokens", Some(session), Some(&body))
}

/// A new token's secret text.
fn new_token(app: &TestApp, session: &str, body: Value) -> String {
    let reply = create(app, session, body).expect(201);
    reply.body["token"].as_str().unwrap().to_owned()
}

fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    send(app, "GET", path, Some(token), None)
}

fn add_todo(app: &TestApp, token: &str, title: &str) -> Reply {
    send(
        app,
        "POST",
        "/api/todos",
        Some(token),
        Some(&json!({ "title": title })),
    )
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_new_token_is_shown_once_and_then_works_like_a_session() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let before = Utc::now();
    let reply = create(&app, &session, json!({"name": "  Claude Desktop "})).expect(201);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("todo_pat_"), "{token}");
    assert_eq!(token.len(), "todo_pat_".len() + 32 + 43);
    assert_eq!(reply.body["name"], "Claude Desktop");
    assert_eq!(reply.body["read_only"], false);
    assert_eq!(reply.body["last_used_at"], Value::Null);
    assert!(token.starts_with(reply.body["hint"].as_str().unwrap()));
    // Unless told otherwise, a token lives 30 days.
    let expires = time(&reply.body["expires_at"]);
    assert!(expires >= before + Duration::days(30) && expires <= Utc::now() + Duration::days(30));

    let me = get(&app, "/api/auth/me", &token).expect(200);
    assert_eq!(me.body["email"], "ada@example.com");
    let todo = add_todo(&app, &token, "made by an agent").expect(201);
    let listed = get(&app, "/api/todos", &session).expect(200);
    assert_eq!(listed.body["items"][0]["id"], todo.body["id"]);

    // The listing names the token and when it was last used, never its secret.
    let tokens = get(&app, "/api/auth/tokens", &session).expect(200);
    let items = tokens.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], reply.body["id"]);
    assert_eq!(items[0]["name"], "Claude Desktop");
    assert!(items[0].get("token").is_none());
    assert!(!tokens.body.to_string().contains(&token[40..]));
    assert!(time(&items[0]["last_used_at"]) >= before);
}

#[test]
fn only_a_digest_of_the_secret_is_stored() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let token = new_token(&app, &session, json!({"name": "ci"}));
    let secret = &token[token.len() - 43..];
    let row: String = app
        .db
        .client()
        .query_one("SELECT row_to_json(t)::text FROM access_tokens t", &[])
        .unwrap()
        .get(0);
    assert!(!row.contains(secret), "{row}");
    let digest: String = Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(row.contains(&digest), "{row}");
}

#[test]
fn revoked_expired_tampered_and_unknown_tokens_are_refused_at_once() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let token = new_token(&app, &session, json!({"name": "agent"}));
    get(&app, "/api/todos", &token).expect(200);

    // The same id with another secret, a token of no row, a malformed one.
    // (A character well inside the secret: the last one also carries
    // padding bits, and most changes to it make no valid base64 at all.)
    let mut tampered = token.clone();
    let at = tampered.len() - 10;
    let swapped = if &tampered[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, swapped);
    let unknown = new_token(&app, &session, json!({"name": "other"}));
    let unknown_id: String = unknown["todo_pat_".len().."todo_pat_".len() + 32].into();
    app.db
        .client()
        .execute(
            "DELETE FROM access_tokens WHERE id = $1::text::uuid",
            &[&unknown_id],
        )
        .unwrap();
    for bad in [tampered.as_str(), unknown.as_str(), "todo_pat_short"] {
        get(&app, "/api/todos", bad).expect_error(401, "unauthorized");
        add_todo(&app, bad, "x").expect_error(401, "unauthorized");
    }
    // A wrong secret does not count as a use of the token.
    let used: Option<String> = app
        .db
        .client()
        .query_one("SELECT last_used_at::text FROM access_tokens", &[])
        .unwrap()
        .get(0);
    assert!(used.is_some());
    app.db
        .client()
        .execute("UPDATE access_tokens SET last_used_at = NULL", &[])
        .unwrap();
    get(&app, "/api/todos", &tampered).expect_error(401, "unauthorized");
    let used: Option<String> = app
        .db
        .client()
        .query_one("SELECT last_used_at::text FROM access_tokens", &[])
        .unwrap()
        .get(0);
    assert_eq!(used, None);

    // Expired: refused, and no longer listed.
    app.db
        .client()
        .execute(
            "UPDATE access_tokens SET expires_at = now() - interval '1 second'",
            &[],
        )
        .unwrap();
    get(&app, "/api/auth/me", &token).expect_error(401, "unauthorized");
    let tokens = get(&app, "/api/auth/tokens", &session).expect(200);
    assert_eq!(tokens.body["items"], json!([]));

    // Revoked: refused on the very next request.
    let token = new_token(&app, &session, json!({"name": "agent 2"}));
    let id = get(&app, "/api/auth/tokens", &session).body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    get(&app, "/api/todos", &token).expect(200);
    send(
        &app,
        "DELETE",
        &format!("/api/auth/tokens/{id}"),
        Some(&session),
        None,
    )
    .expect(204);
    get(&app, "/api/todos", &token).expect_error(401, "unauthorized");
    send(
        &app,
        "DELETE",
        &format!("/api/auth/tokens/{id}"),
        Some(&session),
        None,
    )
    .expect_error(404, "not_found");
}

#[test]
fn a_token_reaches_only_its_owners_data_and_only_its_owner_revokes_it() {
    let app = TestApp::spawn();
    let ada = signup(&app, "ada@example.com");
    let bob = signup(&app, "bob@example.com");
    let ada_token = new_token(&app, &ada, json!({"name": "agent"}));
    let ada_todo = add_todo(&app, &ada, "ada's").expect(201);
    let id = ada_todo.body["id"].as_str().unwrap();

    let bob_token = new_token(&app, &bob, json!({"name": "agent"}));
    get(&app, &format!("/api/todos/{id}"), &bob_token).expect_error(404, "not_found");
    assert_eq!(get(&app, "/api/todos", &bob_token).body["items"], json!([]));
    get(&app, &format!("/api/todos/{id}"), &ada_token).expect(200);

    let ada_token_id = get(&app, "/api/auth/tokens", &ada).body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        &app,
        "DELETE",
        &format!("/api/auth/tokens/{ada_token_id}"),
        Some(&bob),
        None,
    )
    .expect_error(404, "not_found");
    get(&app, "/api/todos", &ada_token).expect(200);
    assert_eq!(
        get(&app, "/api/auth/tokens", &bob).body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_read_only_token_reads_but_changes_nothing() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let todo = add_todo(&app, &session, "kept").expect(201);
    let id = todo.body["id"].as_str().unwrap();
    let reply = create(&app, &session, json!({"name": "reader", "read_only": true})).expect(201);
    assert_eq!(reply.body["read_only"], true);
    let token = reply.body["token"].as_str().unwrap();

    get(&app, "/api/todos", token).expect(200);
    get(&app, &format!("/api/todos/{id}"), token).expect(200);
    get(&app, "/api/todos/stats", token).expect(200);
    add_todo(&app, token, "new").expect_error(403, "read_only_token");
    send(
        &app,
        "PATCH",
        &format!("/api/todos/{id}"),
        Some(token),
        Some(&json!({"title": "changed"})),
    )
    .expect_error(403, "read_only_token");
    send(
        &app,
        "DELETE",
        &format!("/api/todos/{id}"),
        Some(token),
        None,
    )
    .expect_error(403, "read_only_token");
    send(
        &app,
        "POST",
        "/api/chat",
        Some(token),
        Some(&json!({"message": "add buy milk"})),
    )
    .expect_error(403, "read_only_token");
    let listed = get(&app, "/api/todos", &session).expect(200);
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["title"], "kept");
}

#[test]
fn tokens_are_managed_only_with_a_session() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let token = new_token(&app, &session, json!({"name": "agent"}));
    create(&app, &token, json!({"name": "minted by a token"}))
        .expect_error(403, "session_required");
    get(&app, "/api/auth/tokens", &token).expect_error(403, "session_required");
    let id = get(&app, "/api/auth/tokens", &session).body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        &app,
        "DELETE",
        &format!("/api/auth/tokens/{id}"),
        Some(&token),
        None,
    )
    .expect_error(403, "session_required");
    for (method, path) in [
        ("GET", "/api/auth/tokens"),
        ("POST", "/api/auth/tokens"),
        ("DELETE", "/api/auth/tokens/not-a-uuid"),
    ] {
        send(&app, method, path, None, Some(&json!({"name": "x"})))
            .expect_error(401, "unauthorized");
    }
    send(
        &app,
        "DELETE",
        "/api/auth/tokens/not-a-uuid",
        Some(&session),
        None,
    )
    .expect_error(404, "not_found");
    send(&app, "PUT", "/api/auth/tokens", Some(&session), None)
        .expect_error(405, "method_not_allowed");
}

#[test]
fn logout_with_a_token_revokes_that_token_only() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let token = new_token(&app, &session, json!({"name": "agent"}));
    let other = new_token(&app, &session, json!({"name": "other agent"}));
    send(&app, "POST", "/api/auth/logout", Some(&token), None).expect(204);
    get(&app, "/api/todos", &token).expect_error(401, "unauthorized");
    get(&app, "/api/todos", &other).expect(200);
    get(&app, "/api/todos", &session).expect(200);
    let items = get(&app, "/api/auth/tokens", &session).body["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["name"], "other agent");
}

#[test]
fn invalid_token_requests_name_their_fields() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let cases = [
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"name": "a\nb"}), "name"),
        (
            json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "expires_in_days": 1.5}),
            "expires_in_days",
        ),
        (json!({"name": "x", "read_only": "yes"}), "read_only"),
        (json!({"name": "x", "scope": "all"}), "scope"),
        (json!({}), "name"),
    ];
    for (body, field) in cases {
        let reply = create(&app, &session, body.clone());
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), vec![field.to_owned()], "{body}");
    }
    let reply = create(
        &app,
        &session,
        json!({"name": "year", "expires_in_days": 365}),
    )
    .expect(201);
    let expires = time(&reply.body["expires_at"]);
    assert!(expires > Utc::now() + Duration::days(364));
}

#[test]
fn an_account_holds_at_most_fifty_live_tokens() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    for n in 0..50 {
        create(&app, &session, json!({"name": format!("t{n}")})).expect(201);
    }
    create(&app, &session, json!({"name": "one too many"})).expect_error(409, "too_many_tokens");
    // Expired tokens do not count (and are forgotten).
    app.db
        .client()
        .execute(
            "UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE name = 't0'",
            &[],
        )
        .unwrap();
    create(&app, &session, json!({"name": "replacement"})).expect(201);
    let count: i64 = app
        .db
        .client()
        .query_one("SELECT count(*) FROM access_tokens", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 50);
}

/// Statements of this test's database that wait for a lock.
fn waiting_for_a_lock(app: &TestApp) -> i64 {
    app.db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// 20 token creations by Ada sent in parallel. Her account row is held
/// meanwhile, so that all 20 statements start (and take their snapshots)
/// before any of them commits: the worst interleaving, every time, rather
/// than by luck.
fn twenty_creates_at_once(app: &TestApp, session: &str) -> Vec<Reply> {
    let mut holder = app.db.client();
    let mut held = holder.transaction().unwrap();
    held.execute(
        "SELECT FROM users WHERE email = 'ada@example.com' FOR UPDATE",
        &[],
    )
    .unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|n| s.spawn(move || create(app, session, json!({"name": format!("racer {n}")}))))
            .collect();
        let started = std::time::Instant::now();
        while waiting_for_a_lock(app) < 20 {
            assert!(
                started.elapsed().as_secs() < 20,
                "the creates never queued up"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        held.commit().unwrap();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// How many of `replies` created a token; the others must be 409s.
fn created(replies: &[Reply]) -> usize {
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_error(409, "too_many_tokens");
    }
    replies.iter().filter(|r| r.status == 201).count()
}

#[test]
fn parallel_creates_at_forty_nine_tokens_end_with_exactly_fifty() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    for n in 0..49 {
        create(&app, &session, json!({"name": format!("t{n}")})).expect(201);
    }
    assert_eq!(created(&twenty_creates_at_once(&app, &session)), 1);
    let listed = get(&app, "/api/auth/tokens", &session).expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 50);
    assert_eq!(stored(&app.db), (50, 50));
}

#[test]
fn parallel_creates_forget_each_expired_token_once() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    for n in 0..49 {
        create(&app, &session, json!({"name": format!("t{n}")})).expect(201);
    }
    app.db
        .client()
        .execute(
            "UPDATE access_tokens SET expires_at = now() - interval '1 second'
             WHERE name IN ('t0', 't1', 't2', 't3', 't4')",
            &[],
        )
        .unwrap();
    // 44 live tokens: room for 6, whoever deletes the expired ones.
    assert_eq!(created(&twenty_creates_at_once(&app, &session)), 6);
    assert_eq!(stored(&app.db), (50, 50));
}

/// The account's token rows and its counter of them.
fn stored(db: &native::testing::TestDb) -> (i64, i64) {
    let row = db
        .client()
        .query_one(
            "SELECT (SELECT count(*) FROM access_tokens), access_token_count::int8 FROM users",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn revoking_a_token_makes_room_for_exactly_one_more() {
    let app = TestApp::spawn();
    let session = signup(&app, "ada@example.com");
    let mut tokens = Vec::new();
    for n in 0..50 {
        tokens.push(create(&app, &session, json!({"name": format!("t{n}")})).expect(201));
    }
    create(&app, &session, json!({"name": "full"})).expect_error(409, "too_many_tokens");

    // Revoked by id, twice: the second finds nothing and frees nothing.
    let id = tokens[0].body["id"].as_str().unwrap();
    let path = format!("/api/auth/tokens/{id}");
    send(&app, "DELETE", &path, Some(&session), None).expect(204);
    send(&app, "DELETE", &path, Some(&session), None).expect_error(404, "not_found");
    assert_eq!(stored(&app.db), (49, 49));
    create(&app, &session, json!({"name": "after a revoke"})).expect(201);
    create(&app, &session, json!({"name": "full again"})).expect_error(409, "too_many_tokens");

    // Logging out with a token revokes it the same way.
    let secret = tokens[1].body["token"].as_str().unwrap();
    send(&app, "POST", "/api/auth/logout", Some(secret), None).expect(204);
    assert_eq!(stored(&app.db), (49, 49));
    create(&app, &session, json!({"name": "after a logout"})).expect(201);
    create(&app, &session, json!({"name": "full once more"})).expect_error(409, "too_many_tokens");
    assert_eq!(stored(&app.db), (50, 50));
}

/// Auth requests straight into the core, with a clock the test moves.
struct Clocked {
    db: native::NativeDb,
    http: native::NativeHttp,
    vars: native::testing::TestVars,
    clock: native::testing::TestClock,
}

impl Clocked {
    fn new(app: &TestApp, now: &str) -> Self {
        Clocked {
            db: app.db.db(),
            http: native::NativeHttp::new(std::sync::Arc::new(native::AllowedHosts::none())),
            vars: app.db.vars().with("jwt_secret", app.jwt_secret.clone()),
            clock: native::testing::TestClock::at(now),
        }
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let ctx = todo_core::Ctx::new(&self.db, &self.http, &self.vars, &self.clock);
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"))
            .header("content-type", "application/json")
            .header("spin-client-addr", "127.0.0.1:4000");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(bytes::Bytes::from(body.to_string())).unwrap();
        let resp = todo_core::serve(req, &ctx, todo_core::auth::handle);
        let body = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        (resp.status().as_u16(), body)
    }

    /// A session token for Ada, from signing up (`name` given) or logging in.
    fn session(&self, name: Option<&str>) -> String {
        let mut body =
            json!({"email": "ada@example.com", "password": native::testing::TEST_PASSWORD});
        let path = match name {
            Some(name) => {
                body["name"] = json!(name);
                "/api/auth/signup"
            }
            None => "/api/auth/login",
        };
        let (status, body) = self.send("POST", path, None, body);
        assert!(status == 200 || status == 201, "{status} {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn create(&self, session: &str, days: i64) -> u16 {
        let body = json!({"name": "agent", "expires_in_days": days});
        self.send("POST", "/api/auth/tokens", Some(session), body).0
    }
}

#[test]
fn expired_tokens_make_room_for_exactly_as_many_new_ones() {
    let app = TestApp::spawn();
    let core = Clocked::new(&app, "2026-06-01T12:00:00Z");
    let session = core.session(Some("Ada"));
    for n in 0..50 {
        let days = if n < 20 { 1 } else { 30 };
        assert_eq!(core.create(&session, days), 201);
    }
    assert_eq!(core.create(&session, 1), 409);

    // Two days on, 20 have expired: 20 more fit, and the 21st does not.
    core.clock.advance(2 * 24 * 3600);
    let session = core.session(None);
    for _ in 0..20 {
        assert_eq!(core.create(&session, 30), 201);
    }
    assert_eq!(core.create(&session, 30), 409);
    assert_eq!(stored(&app.db), (50, 50));

    // A month on, all have expired; the next creation forgets them all.
    core.clock.advance(40 * 24 * 3600);
    let session = core.session(None);
    assert_eq!(core.create(&session, 30), 201);
    assert_eq!(stored(&app.db), (1, 1));
}
