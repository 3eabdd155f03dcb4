//! The todos API over real HTTP, through the native harness, against a fresh
//! database per test. Every response a test receives is also checked against
//! the OpenAPI document (`crates/core/openapi.json`): its status must be
//! documented for that operation and its body must match the schema.

mod api_document;

use std::collections::HashSet;

use api_document::{check_against_document, DOCUMENT};

use chrono::{DateTime, Duration, Utc};
use native::testing::{Reply, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};
use todo_core::db::SqlParam;
use todo_core::ports::Db;
use todo_core::todos::http::ROUTES;

// ---------------------------------------------------------------- helpers

/// A request to the app; the response is checked against the API document.
fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let reply = app.send(method, path, token, headers, body);
    check_against_document(method, path, &reply);
    reply
}

/// A signed-up user of the app.
struct User<'a> {
    app: &'a TestApp,
    token: String,
    id: String,
}

impl<'a> User<'a> {
    fn signup(app: &'a TestApp, email: &str) -> Self {
        let account = app.signup(email);
        User {
            app,
            token: account.token,
            id: account.id,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        send(
            self.app,
            method,
            path,
            Some(&self.token),
            &[],
            body.as_ref(),
        )
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        send(
            self.app,
            method,
            path,
            Some(&self.token),
            headers,
            body.as_ref(),
        )
    }

    fn create(&self, body: Value) -> Value {
        self.call("POST", "/api/todos", Some(body)).expect(201).body
    }

    fn list(&self, query: &str) -> Value {
        self.call("GET", &format!("/api/todos?{query}"), None)
            .expect(200)
            .body
    }

    fn titles(&self, query: &str) -> Vec<String> {
        titles(&self.list(query)["items"])
    }
}

fn titles(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(todo: &Value) -> String {
    todo["id"].as_str().unwrap().to_owned()
}

fn time(raw: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------- creating

#[test]
fn creating_a_todo_answers_201_with_location_etag_and_defaults() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let reply = ada
        .call("POST", "/api/todos", Some(json!({"title": "  Buy milk  "})))
        .expect(201);
    let todo = &reply.body;
    assert_eq!(todo["title"], "Buy milk");
    assert_eq!(todo["description"], "");
    assert_eq!(todo["priority"], "medium");
    assert_eq!(todo["completed"], false);
    assert_eq!(todo["completed_at"], Value::Null);
    assert_eq!(todo["due_at"], Value::Null);
    assert_eq!(todo["tags"], json!([]));
    assert_eq!(todo["recurrence"], "none");
    assert_eq!(todo["version"], 1);
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/todos/{}", id_of(todo)).as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));

    let got = ada
        .call("GET", reply.header("location").unwrap(), None)
        .expect(200);
    assert_eq!(&got.body, todo);
}

#[test]
fn input_is_normalised_and_answered_in_utc_and_lowercase() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({
        "title": "Buy milk", "description": " 2 litres ", "priority": "HIGH",
        "due_at": "2026-12-01T18:00:00+01:00", "tags": [" Shopping", "shopping", "Home"],
        "recurrence": "Weekly"
    }));
    assert_eq!(todo["description"], "2 litres");
    assert_eq!(todo["priority"], "high");
    assert_eq!(todo["due_at"], "2026-12-01T17:00:00Z");
    assert_eq!(todo["tags"], json!(["shopping", "home"]));
    assert_eq!(todo["recurrence"], "weekly");
}

#[test]
fn each_invalid_field_is_named_in_the_422() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (
            json!({"title": "a", "description": "x".repeat(2001)}),
            "description",
        ),
        (json!({"title": "a", "priority": "asap"}), "priority"),
        (json!({"title": "a", "due_at": "next tuesday"}), "due_at"),
        (json!({"title": "a", "tags": ["ok", ""]}), "tags"),
        (json!({"title": "a", "tags": ["x".repeat(33)]}), "tags"),
        (
            json!({"title": "a", "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
        ),
        (json!({"title": "a", "recurrence": "hourly"}), "recurrence"),
        (json!({"title": 42}), "title"),
        (json!({"description": "no title"}), "title"),
    ];
    for (body, field) in cases {
        let reply = ada
            .call("POST", "/api/todos", Some(body.clone()))
            .expect_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), vec![field.to_owned()], "{body}");
    }
    // All at once: every bad field is reported.
    let reply = ada
        .call(
            "POST",
            "/api/todos",
            Some(json!({"title": "", "priority": "x", "recurrence": "y", "due_at": "z"})),
        )
        .expect(422);
    assert_eq!(
        reply.field_errors(),
        vec!["due_at", "priority", "recurrence", "title"]
    );
    // Nothing was created along the way.
    assert_eq!(ada.list("")["total"], 0);
}

#[test]
fn unknown_fields_are_refused_with_422_naming_them() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let reply = ada
        .call(
            "POST",
            "/api/todos",
            Some(json!({"title": "a", "priorty": "high"})),
        )
        .expect_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), vec!["priorty"]);

    let todo = ada.create(json!({"title": "a"}));
    let path = format!("/api/todos/{}", id_of(&todo));
    for (method, body) in [
        ("PATCH", json!({"titel": "b"})),
        ("PUT", json!({"title": "b", "done": true})),
        ("PATCH", json!({"completed": true})),
    ] {
        let reply = ada
            .call(method, &path, Some(body.clone()))
            .expect_error(422, "validation_failed");
        let field = body
            .as_object()
            .unwrap()
            .keys()
            .find(|k| *k != "title")
            .unwrap()
            .clone();
        assert_eq!(reply.field_errors(), vec![field], "{method} {body}");
    }
    assert_eq!(ada.call("GET", &path, None).body["version"], 1);
}

#[test]
fn bodies_must_be_json() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let reply = send(
        &app,
        "POST",
        "/api/todos",
        Some(&ada.token),
        &[("content-type", "text/plain")],
        None,
    );
    assert_eq!(reply.status, 415, "{}", reply.body);
    let req = http::Request::builder()
        .method("POST")
        .uri(app.url("/api/todos"))
        .header("authorization", format!("Bearer {}", ada.token))
        .header("content-type", "application/json");
    app.send_raw(req.body(b"{\"title\":".to_vec()).unwrap())
        .expect_error(400, "bad_request");
}

// ---------------------------------------------------------------- access

#[test]
fn every_todo_route_requires_a_valid_token() {
    let app = TestApp::spawn();
    let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    for (method, path) in [
        ("GET", "/api/todos".to_owned()),
        ("POST", "/api/todos".to_owned()),
        ("DELETE", "/api/todos?status=done".to_owned()),
        ("GET", "/api/todos/stats".to_owned()),
        ("GET", format!("/api/todos/{id}")),
        ("PATCH", format!("/api/todos/{id}")),
        ("PUT", format!("/api/todos/{id}")),
        ("DELETE", format!("/api/todos/{id}")),
        ("POST", format!("/api/todos/{id}/toggle")),
        ("GET", format!("/api/todos/{id}/history")),
    ] {
        let reply = send(&app, method, &path, None, &[], None);
        assert_eq!(reply.status, 401, "{method} {path}");
        let reply = send(&app, method, &path, Some("not.a.token"), &[], None);
        assert_eq!(reply.status, 401, "{method} {path}");
    }
}

/// The token check rides in the statement that does the work: a revoked
/// token must still be refused by every route, and change nothing.
#[test]
fn a_revoked_token_is_refused_everywhere_and_changes_nothing() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let open = ada.create(json!({"title": "open", "recurrence": "daily"}));
    let done = ada.create(json!({"title": "done"}));
    ada.call("POST", &format!("/api/todos/{}/toggle", id_of(&done)), None)
        .expect(200);
    let login = send(
        &app,
        "POST",
        "/api/auth/login",
        None,
        &[],
        Some(&json!({"email": "ada@example.com", "password": TEST_PASSWORD})),
    )
    .expect(200);
    ada.call("POST", "/api/auth/logout", None).expect(204);

    let item = format!("/api/todos/{}", id_of(&open));
    let title = Some(json!({"title": "changed"}));
    for (method, path, body) in [
        ("GET", "/api/todos".to_owned(), None),
        ("POST", "/api/todos".to_owned(), title.clone()),
        ("DELETE", "/api/todos?status=done".to_owned(), None),
        ("GET", "/api/todos/stats".to_owned(), None),
        ("GET", item.clone(), None),
        ("PATCH", item.clone(), title.clone()),
        ("PUT", item.clone(), title.clone()),
        ("POST", format!("{item}/toggle"), None),
        ("GET", format!("{item}/history"), None),
        ("DELETE", item.clone(), None),
    ] {
        ada.call(method, &path, body)
            .expect_error(401, "unauthorized");
    }

    // Another session of the same account sees everything as it was.
    let fresh = User {
        app: &app,
        token: login.body["access_token"].as_str().unwrap().to_owned(),
        id: ada.id.clone(),
    };
    let page = fresh.list("sort=title");
    assert_eq!(titles(&page["items"]), ["done", "open"]);
    assert_eq!(page["items"][1]["version"], 1);
    let history = fresh
        .call("GET", &format!("{item}/history"), None)
        .expect(200);
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
}

#[test]
fn another_users_todo_is_404_and_never_listed() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let bob = User::signup(&app, "bob@example.com");
    let todo = ada.create(json!({"title": "Ada's secret", "tags": ["x"]}));
    ada.call("POST", &format!("/api/todos/{}/toggle", id_of(&todo)), None)
        .expect(200);
    let path = format!("/api/todos/{}", id_of(&todo));

    bob.call("GET", &path, None).expect_error(404, "not_found");
    bob.call("PATCH", &path, Some(json!({"title": "mine"})))
        .expect(404);
    bob.call("PUT", &path, Some(json!({"title": "mine"})))
        .expect(404);
    bob.call("POST", &format!("{path}/toggle"), None)
        .expect(404);
    bob.call("GET", &format!("{path}/history"), None)
        .expect(404);
    bob.call("DELETE", &path, None).expect(404);
    assert_eq!(bob.list("")["total"], 0);
    assert_eq!(bob.list("tag=x")["items"], json!([]));
    bob.call("DELETE", "/api/todos?status=done", None)
        .expect(200);
    let stats = bob.call("GET", "/api/todos/stats", None).expect(200).body;
    assert_eq!(stats["total"], 0);

    // Ada's todo is untouched by all of that.
    let mine = ada.call("GET", &path, None).expect(200).body;
    assert_eq!(mine["title"], "Ada's secret");
    assert_eq!(mine["version"], 2);
}

#[test]
fn a_malformed_id_is_404_not_500() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    for id in [
        "42",
        "not-a-uuid",
        "7c9e6679742540de944be07fc1f90ae7",
        "7c9e6679-7425-40de-944b-e07fc1f90aeX",
        "%27%3B%20drop%20table%20todos",
    ] {
        for (method, suffix) in [
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("POST", "/toggle"),
            ("GET", "/history"),
        ] {
            let path = format!("/api/todos/{id}{suffix}");
            let body = (method == "PATCH").then(|| json!({"title": "x"}));
            ada.call(method, &path, body).expect_error(404, "not_found");
        }
    }
}

#[test]
fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "a"}));
    let id = id_of(&todo);
    for path in [
        format!("/api/todos/{id}/nope"),
        format!("/api/todos/{id}/toggle/again"),
        "/api/todos/stats/today".to_owned(),
    ] {
        ada.call("GET", &path, None).expect_error(404, "not_found");
    }
    let cases = [
        ("PUT", "/api/todos".to_owned(), "GET, POST, DELETE"),
        ("POST", "/api/todos/stats".to_owned(), "GET"),
        (
            "POST",
            format!("/api/todos/{id}"),
            "GET, PUT, PATCH, DELETE",
        ),
        ("GET", format!("/api/todos/{id}/toggle"), "POST"),
        ("DELETE", format!("/api/todos/{id}/history"), "GET"),
    ];
    for (method, path, allow) in cases {
        let reply = ada
            .call(method, &path, None)
            .expect_error(405, "method_not_allowed");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
    }
}

// ---------------------------------------------------------------- reading and changing

#[test]
fn get_answers_an_etag_and_304_while_it_is_current() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "a"}));
    let path = format!("/api/todos/{}", id_of(&todo));
    let reply = ada.call("GET", &path, None).expect(200);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    ada.call_with("GET", &path, &[("if-none-match", "\"1\"")], None)
        .expect(304);
    ada.call("PATCH", &path, Some(json!({"title": "b"})))
        .expect(200);
    let reply = ada
        .call_with("GET", &path, &[("if-none-match", "\"1\"")], None)
        .expect(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
}

#[test]
fn patch_changes_only_the_given_fields_and_null_clears_the_due_date() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({
        "title": "Buy milk", "description": "2 litres", "priority": "high",
        "due_at": "2026-12-01T17:00:00Z", "tags": ["shopping"], "recurrence": "weekly"
    }));
    let path = format!("/api/todos/{}", id_of(&todo));

    let reply = ada
        .call("PATCH", &path, Some(json!({"priority": "Urgent"})))
        .expect(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let patched = reply.body;
    assert_eq!(patched["priority"], "urgent");
    assert_eq!(patched["version"], 2);
    for field in [
        "title",
        "description",
        "due_at",
        "tags",
        "recurrence",
        "created_at",
    ] {
        assert_eq!(patched[field], todo[field], "{field}");
    }
    assert!(time(&patched["updated_at"]) >= time(&todo["updated_at"]));

    let patched = ada
        .call(
            "PATCH",
            &path,
            Some(json!({"due_at": null, "tags": ["a", "B"]})),
        )
        .expect(200)
        .body;
    assert_eq!(patched["due_at"], Value::Null);
    assert_eq!(patched["tags"], json!(["a", "b"]));
    assert_eq!(patched["title"], "Buy milk");
    assert_eq!(patched["version"], 3);

    // `application/merge-patch+json` is JSON too.
    let patched = send(
        &app,
        "PATCH",
        &path,
        Some(&ada.token),
        &[("content-type", "application/merge-patch+json")],
        Some(&json!({"description": "oat"})),
    )
    .expect(200)
    .body;
    assert_eq!(patched["description"], "oat");
    assert_eq!(patched["version"], 4);

    // Invalid values name the field and change nothing.
    let reply = ada
        .call(
            "PATCH",
            &path,
            Some(json!({"title": null, "priority": "meh"})),
        )
        .expect(422);
    assert_eq!(reply.field_errors(), vec!["priority", "title"]);
    assert_eq!(ada.call("GET", &path, None).body["version"], 4);
}

#[test]
fn put_replaces_every_field_and_resets_what_it_leaves_out() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({
        "title": "Buy milk", "description": "2 litres", "priority": "high",
        "due_at": "2026-12-01T17:00:00Z", "tags": ["shopping"], "recurrence": "weekly"
    }));
    let path = format!("/api/todos/{}", id_of(&todo));
    let put = ada
        .call(
            "PUT",
            &path,
            Some(json!({"title": "Buy oat milk", "tags": ["vegan"]})),
        )
        .expect(200)
        .body;
    assert_eq!(put["title"], "Buy oat milk");
    assert_eq!(put["description"], "");
    assert_eq!(put["priority"], "medium");
    assert_eq!(put["due_at"], Value::Null);
    assert_eq!(put["tags"], json!(["vegan"]));
    assert_eq!(put["recurrence"], "none");
    assert_eq!(put["version"], 2);
    assert_eq!(put["created_at"], todo["created_at"]);
    ada.call("PUT", &path, Some(json!({"description": "no title"})))
        .expect(422);
}

#[test]
fn a_stale_if_match_is_412_and_leaves_the_todo_unchanged() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "a"}));
    let path = format!("/api/todos/{}", id_of(&todo));
    // Someone else changes it first: version 2.
    ada.call_with(
        "PATCH",
        &path,
        &[("if-match", "\"1\"")],
        Some(json!({"title": "b"})),
    )
    .expect(200);

    let stale = [("if-match", "\"1\"")];
    let reply = ada
        .call_with("PATCH", &path, &stale, Some(json!({"title": "c"})))
        .expect_error(412, "precondition_failed");
    assert_eq!(reply.header("etag"), Some("\"2\""));
    ada.call_with("PUT", &path, &stale, Some(json!({"title": "c"})))
        .expect(412);
    ada.call_with("POST", &format!("{path}/toggle"), &stale, None)
        .expect(412);
    ada.call_with("DELETE", &path, &stale, None).expect(412);
    ada.call_with(
        "PATCH",
        &path,
        &[("if-match", "\"two\"")],
        Some(json!({"title": "c"})),
    )
    .expect(412);

    let now = ada.call("GET", &path, None).expect(200).body;
    assert_eq!(now["title"], "b");
    assert_eq!(now["version"], 2);
    assert_eq!(now["completed"], false);
    let history = ada.call("GET", &format!("{path}/history"), None).body;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);

    // A weak tag never matches (If-Match compares strongly).
    ada.call_with(
        "PATCH",
        &path,
        &[("if-match", "W/\"2\"")],
        Some(json!({"title": "weak"})),
    )
    .expect_error(412, "precondition_failed");
    // The current version, alone or in a list, or `*` match.
    for (tag, now_at) in [("\"2\"", 3), ("\"7\", \"3\"", 4), ("*", 5)] {
        let reply = ada
            .call_with(
                "PATCH",
                &path,
                &[("if-match", tag)],
                Some(json!({"title": format!("d{now_at}")})),
            )
            .expect(200);
        assert_eq!(reply.body["version"], now_at, "{tag}");
    }
    ada.call_with(
        "POST",
        &format!("{path}/toggle"),
        &[("if-match", "\"5\"")],
        None,
    )
    .expect(200);
    ada.call_with("DELETE", &path, &[("if-match", "\"6\"")], None)
        .expect(204);
}

#[test]
fn toggling_sets_and_clears_completed_at() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "a"}));
    let path = format!("/api/todos/{}/toggle", id_of(&todo));
    let reply = ada.call("POST", &path, None).expect(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let done = &reply.body;
    assert_eq!(done["todo"]["completed"], true);
    assert!(done["todo"]["completed_at"].is_string());
    assert_eq!(done["next"], Value::Null);
    let open = ada.call("POST", &path, None).expect(200).body;
    assert_eq!(open["todo"]["completed"], false);
    assert_eq!(open["todo"]["completed_at"], Value::Null);
    assert_eq!(open["todo"]["version"], 3);
}

#[test]
fn completing_a_recurring_todo_creates_its_next_occurrence() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cases = [
        ("daily", "2026-03-28T23:30:00Z", "2026-03-29T23:30:00Z"),
        ("weekly", "2026-12-01T17:00:00Z", "2026-12-08T17:00:00Z"),
        ("monthly", "2026-01-31T09:00:00Z", "2026-02-28T09:00:00Z"),
        ("monthly", "2026-12-15T09:00:00Z", "2027-01-15T09:00:00Z"),
    ];
    for (recurrence, due, next_due) in cases {
        let todo = ada.create(json!({
            "title": format!("{recurrence} chore"), "description": "d", "priority": "high",
            "tags": ["home"], "recurrence": recurrence, "due_at": due
        }));
        let toggled = ada
            .call("POST", &format!("/api/todos/{}/toggle", id_of(&todo)), None)
            .expect(200)
            .body;
        assert_eq!(toggled["todo"]["completed"], true);
        let next = &toggled["next"];
        assert_eq!(next["due_at"], next_due, "{recurrence} from {due}");
        assert_ne!(next["id"], todo["id"]);
        assert_eq!(next["completed"], false);
        assert_eq!(next["version"], 1);
        for field in ["title", "description", "priority", "tags", "recurrence"] {
            assert_eq!(next[field], todo[field], "{field}");
        }
        // It is a todo like any other.
        ada.call("GET", &format!("/api/todos/{}", id_of(next)), None)
            .expect(200);
    }

    // Without a due date it counts from now.
    let todo = ada.create(json!({"title": "water plants", "recurrence": "daily"}));
    let before = Utc::now();
    let toggled = ada
        .call("POST", &format!("/api/todos/{}/toggle", id_of(&todo)), None)
        .expect(200)
        .body;
    let due = time(&toggled["next"]["due_at"]);
    assert!(
        due >= before + Duration::days(1) - Duration::seconds(1),
        "{due}"
    );
    assert!(due <= Utc::now() + Duration::days(1), "{due}");

    // Reopening does not create another one.
    let reopened = ada
        .call("POST", &format!("/api/todos/{}/toggle", id_of(&todo)), None)
        .expect(200)
        .body;
    assert_eq!(reopened["next"], Value::Null);
    assert_eq!(ada.list("")["total"], 10);
}

#[test]
fn deleting_answers_204_and_then_404() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "a"}));
    let path = format!("/api/todos/{}", id_of(&todo));
    let reply = ada.call("DELETE", &path, None).expect(204);
    assert_eq!(reply.body, Value::Null);
    ada.call("DELETE", &path, None)
        .expect_error(404, "not_found");
    ada.call("GET", &path, None).expect(404);
    ada.call("PATCH", &path, Some(json!({"title": "b"})))
        .expect(404);
}

#[test]
fn clearing_completed_deletes_only_the_done_todos() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    for i in 0..5 {
        let todo = ada.create(json!({"title": format!("t{i}")}));
        if i % 2 == 0 {
            ada.call("POST", &format!("/api/todos/{}/toggle", id_of(&todo)), None)
                .expect(200);
        }
    }
    // A bare DELETE never empties the list.
    let reply = ada.call("DELETE", "/api/todos", None).expect(422);
    assert_eq!(reply.field_errors(), vec!["status"]);
    let reply = ada
        .call("DELETE", "/api/todos?status=open", None)
        .expect(422);
    assert_eq!(reply.field_errors(), vec!["status"]);

    let reply = ada
        .call("DELETE", "/api/todos?status=done", None)
        .expect(200);
    assert_eq!(reply.body, json!({"deleted": 3}));
    let mut left = ada.titles("");
    left.sort();
    assert_eq!(left, vec!["t1", "t3"]);
    let reply = ada
        .call("DELETE", "/api/todos?status=done", None)
        .expect(200);
    assert_eq!(reply.body, json!({"deleted": 0}));
}

#[test]
fn clearing_completed_unchanged_since_a_sync_token_keeps_what_changed_after_it() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let toggle = |todo: &Value| {
        ada.call("POST", &format!("/api/todos/{}/toggle", id_of(todo)), None)
            .expect(200);
    };
    let seen = ada.create(json!({"title": "seen done"}));
    let later = ada.create(json!({"title": "done later"}));
    let edited = ada.create(json!({"title": "edited later"}));
    toggle(&seen);
    toggle(&edited);
    // What a client saw when its user asked to clear the completed todos.
    let token = ada
        .call("GET", "/api/todos?status=all", None)
        .expect(200)
        .body["sync_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Meanwhile, elsewhere: one more completed, a completed one renamed.
    toggle(&later);
    ada.call(
        "PATCH",
        &format!("/api/todos/{}", id_of(&edited)),
        Some(json!({"title": "edited later, still done"})),
    )
    .expect(200);
    let reply = ada
        .call(
            "DELETE",
            &format!("/api/todos?status=done&unchanged_since={token}"),
            None,
        )
        .expect(200);
    assert_eq!(reply.body, json!({"deleted": 1}));
    let mut left = ada.titles("status=all");
    left.sort();
    assert_eq!(left, ["done later", "edited later, still done"]);
    // The sync feed reports the clear like any delete.
    let feed = ada
        .call("GET", &format!("/api/todos?since={token}"), None)
        .expect(200)
        .body;
    assert_eq!(feed["deleted"], json!([id_of(&seen)]));

    let reply = ada
        .call("DELETE", "/api/todos?status=done&unchanged_since=zz", None)
        .expect(422);
    assert_eq!(reply.field_errors(), vec!["unchanged_since"]);
}

#[test]
fn history_lists_every_change_newest_first_with_old_and_new_values() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "Buy milk", "priority": "low", "tags": ["a"]}));
    let path = format!("/api/todos/{}", id_of(&todo));
    ada.call(
        "PATCH",
        &path,
        Some(
            json!({"title": "Buy oat milk", "priority": "high", "due_at": "2026-12-01T17:00:00Z"}),
        ),
    )
    .expect(200);
    ada.call("POST", &format!("{path}/toggle"), None)
        .expect(200);
    ada.call("DELETE", &path, None).expect(204);

    let history = ada
        .call("GET", &format!("{path}/history"), None)
        .expect(200)
        .body;
    let items = history["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "toggle", "update", "create"]);
    // Each entry names who made the change.
    for item in items {
        assert_eq!(
            item["actor"],
            json!({"id": ada.id, "name": "Ada"}),
            "{item}"
        );
    }
    let times: Vec<DateTime<Utc>> = items.iter().map(|i| time(&i["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    let update = &items[2]["changes"];
    assert_eq!(
        update,
        &json!({
            "title": {"old": "Buy milk", "new": "Buy oat milk"},
            "priority": {"old": "low", "new": "high"},
            "due_at": {"old": null, "new": "2026-12-01T17:00:00.000000Z"},
        })
    );
    let toggle = &items[1]["changes"];
    assert_eq!(toggle["completed"], json!({"old": false, "new": true}));
    assert_eq!(toggle["completed_at"]["old"], Value::Null);
    assert!(toggle["completed_at"]["new"].is_string());
    let create = &items[3]["changes"];
    assert_eq!(create["title"], json!({"old": null, "new": "Buy milk"}));
    assert_eq!(create["tags"], json!({"old": null, "new": ["a"]}));
    let delete = &items[0]["changes"];
    assert_eq!(delete["title"], json!({"old": "Buy oat milk", "new": null}));
    assert_eq!(history["next_cursor"], Value::Null);

    // Page by page, the same trail.
    let mut actions = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let page = ada
            .call("GET", &format!("{path}/history?{query}"), None)
            .expect(200)
            .body;
        assert!(page["items"].as_array().unwrap().len() <= 3);
        actions.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["action"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(actions, ["delete", "toggle", "update", "create"]);
    // A cursor belongs to its todo's history.
    let other = ada.create(json!({"title": "other"}));
    let first = ada
        .call("GET", &format!("{path}/history?limit=1"), None)
        .expect(200)
        .body;
    let cursor = first["next_cursor"].as_str().unwrap();
    ada.call(
        "GET",
        &format!("/api/todos/{}/history?cursor={cursor}", id_of(&other)),
        None,
    )
    .expect_error(400, "bad_request");
    ada.call("GET", &format!("{path}/history?limit=0"), None)
        .expect_error(422, "validation_failed");
}

// ---------------------------------------------------------------- listing

#[test]
fn the_list_filters_by_status_priority_tag_search_and_due_date() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let now = Utc::now();
    let past = iso(now - Duration::days(2));
    let soon = iso(now + Duration::days(2));
    let later = iso(now + Duration::days(20));
    ada.create(
        json!({"title": "Buy milk", "priority": "high", "tags": ["shopping"], "due_at": past}),
    );
    ada.create(json!({"title": "Call mum", "priority": "urgent", "due_at": soon}));
    ada.create(json!({"title": "Tax return", "description": "Ask about 50% relief", "priority": "low", "due_at": later, "tags": ["admin"]}));
    let done = ada.create(json!({"title": "Old chore", "due_at": past, "tags": ["Shopping"]}));
    ada.call("POST", &format!("/api/todos/{}/toggle", id_of(&done)), None)
        .expect(200);
    ada.create(json!({"title": "Someday_maybe"}));

    let sorted = |query: &str| {
        let mut t = ada.titles(query);
        t.sort();
        t
    };
    assert_eq!(ada.list("")["total"], 5);
    assert_eq!(sorted("status=done"), ["Old chore"]);
    assert_eq!(sorted("status=open").len(), 4);
    assert_eq!(sorted("status=all").len(), 5);
    assert_eq!(sorted("priority=high"), ["Buy milk"]);
    assert_eq!(sorted("priority=HIGH,urgent"), ["Buy milk", "Call mum"]);
    assert_eq!(sorted("tag=shopping"), ["Buy milk", "Old chore"]);
    assert_eq!(sorted("tag=SHOPPING&status=open"), ["Buy milk"]);
    assert_eq!(sorted("q=MILK"), ["Buy milk"]);
    assert_eq!(
        sorted("q=relief"),
        ["Tax return"],
        "search covers the description"
    );
    assert_eq!(sorted("q=50%25"), ["Tax return"]);
    assert_eq!(
        sorted("q=%25"),
        ["Tax return"],
        "% is a literal, not a wildcard"
    );
    assert_eq!(
        sorted("q=_"),
        ["Someday_maybe"],
        "_ is a literal, not a wildcard"
    );
    assert_eq!(
        sorted(&format!("due_before={}", iso(now))),
        ["Buy milk", "Old chore"]
    );
    assert_eq!(
        sorted(&format!("due_after={}", iso(now))),
        ["Call mum", "Tax return"]
    );
    assert_eq!(
        sorted(&format!(
            "due_after={}&due_before={}",
            iso(now),
            iso(now + Duration::days(5))
        )),
        ["Call mum"]
    );
    assert_eq!(sorted("overdue=true"), ["Buy milk"]);
    assert_eq!(
        sorted("overdue=false"),
        ["Call mum", "Old chore", "Someday_maybe", "Tax return"]
    );
    let page = ada.list("status=open&limit=2");
    assert_eq!(page["total"], 4, "total counts every page");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_string());
    assert!(page.get("deleted").is_none());
}

#[test]
fn each_sort_order_holds_including_undated_todos_last() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    ada.create(json!({"title": "banana", "priority": "low", "due_at": "2026-12-03T00:00:00Z"}));
    ada.create(json!({"title": "Apple", "priority": "urgent"}));
    ada.create(json!({"title": "cherry", "priority": "medium", "due_at": "2026-12-01T00:00:00Z"}));
    ada.create(json!({"title": "date", "priority": "high", "due_at": "2026-12-02T00:00:00Z"}));
    ada.create(json!({"title": "elder", "priority": "urgent"}));

    assert_eq!(
        ada.titles(""),
        ["elder", "date", "cherry", "Apple", "banana"]
    );
    assert_eq!(
        ada.titles("sort=created_at"),
        ["banana", "Apple", "cherry", "date", "elder"]
    );
    assert_eq!(
        ada.titles("sort=title"),
        ["Apple", "banana", "cherry", "date", "elder"]
    );
    assert_eq!(
        ada.titles("sort=-title"),
        ["elder", "date", "cherry", "banana", "Apple"]
    );
    assert_eq!(
        ada.titles("sort=priority"),
        ["elder", "Apple", "date", "cherry", "banana"],
        "urgent first, newest first within a priority"
    );
    assert_eq!(
        ada.titles("sort=-priority"),
        ["banana", "cherry", "date", "Apple", "elder"]
    );
    let asc = ada.titles("sort=due_at");
    assert_eq!(asc[..3], ["cherry", "date", "banana"]);
    let mut undated = asc[3..].to_vec();
    undated.sort();
    assert_eq!(undated, ["Apple", "elder"], "undated todos come last");
    let desc = ada.titles("sort=-due_at");
    assert_eq!(desc[..3], ["banana", "date", "cherry"]);
    let mut undated = desc[3..].to_vec();
    undated.sort();
    assert_eq!(undated, ["Apple", "elder"], "undated todos come last");
}

#[test]
fn invalid_query_parameters_are_422_naming_the_parameter() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cases = [
        ("status=finished", "status"),
        ("priority=high,asap", "priority"),
        ("tag=", "tag"),
        ("due_before=soon", "due_before"),
        ("due_after=2026-02-30", "due_after"),
        ("overdue=1", "overdue"),
        ("updated_since=yesterday", "updated_since"),
        ("sort=colour", "sort"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("colour=red", "colour"),
    ];
    for (query, param) in cases {
        let reply = ada
            .call("GET", &format!("/api/todos?{query}"), None)
            .expect_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), vec![param.to_owned()], "{query}");
    }
}

#[test]
fn cursors_are_opaque_and_a_tampered_or_foreign_one_is_400() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    for title in ["Secret plan A", "Secret plan B", "Secret plan C"] {
        ada.create(json!({"title": title}));
    }
    let cursor = ada.list("sort=title&limit=1")["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    // The title the page ended on is not readable from the cursor.
    assert!(!cursor.to_lowercase().contains("secret"), "{cursor}");
    let hex: String = "secret plan a"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!cursor.contains(&hex));
    assert_eq!(
        ada.titles(&format!("sort=title&limit=1&cursor={cursor}")),
        ["Secret plan B"]
    );

    let mut flipped = cursor.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let bob = User::signup(&app, "bob@example.com");
    for (user, query) in [
        (&ada, "cursor=nonsense".to_owned()),
        (&ada, format!("sort=title&cursor={flipped}")),
        // A cursor only continues the sort order it came from.
        (&ada, format!("sort=-title&cursor={cursor}")),
        (&ada, format!("cursor={}", "A".repeat(5000))),
    ] {
        user.call("GET", &format!("/api/todos?{query}"), None)
            .expect_error(400, "bad_request");
    }
    // Another user may replay a cursor: it only positions within their own list.
    assert_eq!(
        bob.list(&format!("sort=title&cursor={cursor}"))["items"],
        json!([])
    );
}

/// Pages through the whole list with `limit`, creating `per_page` todos
/// from another thread while each page is fetched. Returns the ids seen.
fn page_through_while_inserting(
    user: &User,
    sort: &str,
    limit: usize,
    per_page: usize,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page_no in 0.. {
        assert!(page_no < 60, "{sort}: paging does not end");
        let query = match &cursor {
            Some(c) => format!("sort={sort}&limit={limit}&cursor={c}"),
            None => format!("sort={sort}&limit={limit}"),
        };
        let page = std::thread::scope(|s| {
            let inserter = s.spawn(|| {
                for i in 0..per_page {
                    user.create(json!({
                        "title": format!("task {}", i % 3),
                        "priority": (["low", "urgent"][i % 2]),
                    }));
                }
            });
            let page = user.list(&query);
            inserter.join().unwrap();
            page
        });
        seen.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen
}

#[test]
fn pagination_neither_skips_nor_repeats_under_concurrent_inserts() {
    let app = TestApp::spawn();
    for (n, sort) in [
        "-created_at",
        "created_at",
        "priority",
        "-priority",
        "due_at",
        "-due_at",
        "title",
        "-title",
    ]
    .into_iter()
    .enumerate()
    {
        // A user of its own per order, holding todos with many ties
        // (equal titles, priorities and due dates, and undated ones).
        let user = User::signup(&app, &format!("user{n}@example.com"));
        let originals: Vec<String> = (0..23)
            .map(|i| {
                let due = (i % 3 != 0).then(|| format!("2026-12-{:02}T00:00:00Z", 1 + i % 5));
                id_of(&user.create(json!({
                    "title": format!("task {}", i % 7),
                    "priority": (["low", "medium", "high", "urgent"][i % 4]),
                    "due_at": due,
                })))
            })
            .collect();
        let seen = page_through_while_inserting(&user, sort, 4, 2);
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: a todo was repeated");
        for id in &originals {
            assert!(seen.contains(id), "{sort}: todo {id} was skipped");
        }
    }
}

#[test]
fn delta_sync_reports_changed_todos_and_deleted_ids() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let bob = User::signup(&app, "bob@example.com");
    let keep = ada.create(json!({"title": "unchanged"}));
    let change = ada.create(json!({"title": "to change"}));
    let gone = ada.create(json!({"title": "to delete"}));
    let bobs = bob.create(json!({"title": "bob's"}));

    // The client's last sync: the newest updated_at it has seen.
    let since = ada.list("")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["updated_at"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    ada.call(
        "PATCH",
        &format!("/api/todos/{}", id_of(&change)),
        Some(json!({"title": "changed"})),
    )
    .expect(200);
    ada.call("DELETE", &format!("/api/todos/{}", id_of(&gone)), None)
        .expect(204);
    ada.create(json!({"title": "added"}));
    bob.call("DELETE", &format!("/api/todos/{}", id_of(&bobs)), None)
        .expect(204);

    let sync = ada.list(&format!("updated_since={since}"));
    let mut changed = titles(&sync["items"]);
    changed.sort();
    assert_eq!(changed, ["added", "changed"]);
    assert_eq!(sync["total"], 2);
    assert_eq!(
        sync["deleted"],
        json!([id_of(&gone)]),
        "only Ada's deletions"
    );
    assert!(!changed.contains(&keep["title"].as_str().unwrap().to_owned()));

    // Nothing new since now.
    let now = iso(Utc::now() + Duration::seconds(1));
    let sync = ada.list(&format!("updated_since={now}"));
    assert_eq!(sync["items"], json!([]));
    assert_eq!(sync["deleted"], json!([]));
}

// ---------------------------------------------------------------- long-poll

/// Ada's sync token after she listed her todos.
fn sync_token(user: &User) -> String {
    user.list("")["sync_token"].as_str().unwrap().to_owned()
}

fn half_seconds(n: usize) -> Vec<std::time::Duration> {
    vec![std::time::Duration::from_millis(500); n]
}

/// Stops the app's clock at the current time: then only the sleeps move
/// it, and a wait is cut into the same pauses every time.
fn stop_the_clock(app: &TestApp) {
    app.clock.set(&Utc::now().to_rfc3339());
}

#[test]
fn a_long_poll_with_nothing_new_checks_every_half_second_and_answers_the_same_token() {
    let app = TestApp::spawn();
    stop_the_clock(&app);
    let ada = User::signup(&app, "ada@example.com");
    ada.create(json!({"title": "already seen"}));
    let token = sync_token(&ada);
    let bob = User::signup(&app, "bob@example.com");
    bob.create(json!({"title": "not Ada's"}));

    let reply = ada.list(&format!("since={token}&wait=2"));
    assert_eq!(
        reply,
        json!({
            "items": [], "deleted": [], "reminders": [], "lists": [], "removed_lists": [],
            "sync_token": token, "has_more": false,
        })
    );
    // The test clock fast-forwards the sleeps: 2 s in four checks' pauses.
    assert_eq!(app.clock.sleeps(), half_seconds(4));
}

#[test]
fn a_long_poll_answers_at_once_when_there_are_changes_and_limit_still_pages() {
    let app = TestApp::spawn();
    stop_the_clock(&app);
    let ada = User::signup(&app, "ada@example.com");
    let token = sync_token(&ada);
    ada.create(json!({"title": "first"}));
    ada.create(json!({"title": "second"}));

    let page = ada.list(&format!("since={token}&wait=25&limit=1"));
    assert_eq!(titles(&page["items"]), ["first"]);
    assert_eq!(page["has_more"], true);
    let next = page["sync_token"].as_str().unwrap();
    let rest = ada.list(&format!("wait=25&since={next}&limit=1"));
    assert_eq!(titles(&rest["items"]), ["second"]);
    assert_eq!(rest["has_more"], false);
    assert_eq!(app.clock.sleeps(), half_seconds(0), "no check waited");

    // Caught up, the next one waits for the next change.
    let last = rest["sync_token"].as_str().unwrap();
    let empty = ada.list(&format!("since={last}&wait=1"));
    assert_eq!(empty["sync_token"], last);
    assert_eq!(app.clock.sleeps(), half_seconds(2));
}

#[test]
fn a_change_made_during_a_long_poll_answers_it_well_before_the_wait_ends() {
    let app = TestApp::spawn();
    app.clock.sleep_for_real();
    let ada = User::signup(&app, "ada@example.com");
    let bob = User::signup(&app, "bob@example.com");
    let token = sync_token(&ada);
    let started = std::time::Instant::now();
    let (reply, changing, answered) = std::thread::scope(|s| {
        let poll = s.spawn(|| {
            let reply = ada.list(&format!("since={token}&wait=10"));
            (reply, started.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(400));
        bob.create(json!({"title": "Bob's change wakes no one else"}));
        std::thread::sleep(std::time::Duration::from_millis(600));
        let changing = started.elapsed();
        ada.create(json!({"title": "made in another tab"}));
        let (reply, answered) = poll.join().unwrap();
        (reply, changing, answered)
    });
    assert_eq!(titles(&reply["items"]), ["made in another tab"]);
    // It waited for the change, then answered within about one interval.
    assert!(answered > changing, "{answered:?} {changing:?}");
    assert!(
        answered - changing < std::time::Duration::from_millis(1500),
        "{answered:?} {changing:?}"
    );
}

/// Long-polls with `token` for 10 s, `revoke`s it 0.7 s into the wait, and
/// checks that the long-poll was answered 401 at its next check.
fn assert_revoking_ends_a_long_poll(app: &TestApp, token: &str, since: &str, revoke: impl Fn()) {
    app.clock.sleep_for_real();
    let started = std::time::Instant::now();
    let (reply, answered) = std::thread::scope(|s| {
        let poll = s.spawn(|| {
            let path = format!("/api/todos?since={since}&wait=10");
            (
                app.send("GET", &path, Some(token), &[], None),
                started.elapsed(),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(700));
        revoke();
        poll.join().unwrap()
    });
    reply.assert_error(401, "unauthorized");
    assert!(
        answered < std::time::Duration::from_millis(2500),
        "{answered:?}"
    );
}

#[test]
fn a_token_revoked_during_a_long_poll_is_answered_401_at_the_next_check() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let since = sync_token(&ada);
    assert_revoking_ends_a_long_poll(&app, &ada.token, &since, || {
        ada.call("POST", "/api/auth/logout", None).expect(204);
    });
}

#[test]
fn a_personal_access_token_revoked_during_a_long_poll_is_answered_401_at_the_next_check() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let since = sync_token(&ada);
    let pat = ada
        .call(
            "POST",
            "/api/auth/tokens",
            Some(json!({"name": "a watcher", "read_only": true})),
        )
        .expect(201)
        .body;
    let revoke = format!("/api/auth/tokens/{}", pat["id"].as_str().unwrap());
    assert_revoking_ends_a_long_poll(&app, pat["token"].as_str().unwrap(), &since, || {
        ada.call("DELETE", &revoke, None).expect(204);
    });
}

#[test]
fn a_refused_long_poll_answers_at_once_and_wait_needs_since() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let token = sync_token(&ada);
    for (query, field) in [
        ("wait=5".to_owned(), "wait"),
        ("wait=5&updated_since=2026-01-01".to_owned(), "wait"),
        (format!("since={token}&wait=0"), "wait"),
        (format!("since={token}&wait=26"), "wait"),
        (format!("since={token}&wait=soon"), "wait"),
        ("since=zz&wait=5".to_owned(), "since"),
        (format!("since={token}&wait=5&status=open"), "since"),
    ] {
        let reply = ada.call("GET", &format!("/api/todos?{query}"), None);
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), [field], "{query}");
    }
    let path = format!("/api/todos?since={token}&wait=5");
    send(&app, "GET", &path, Some("not-a-token"), &[], None).expect_error(401, "unauthorized");
    ada.call("POST", "/api/auth/logout", None).expect(204);
    ada.call("GET", &path, None)
        .expect_error(401, "unauthorized");
    assert_eq!(app.clock.sleeps(), half_seconds(0), "none of them waited");
}

#[test]
fn stats_count_open_done_overdue_due_today_priorities_and_tags() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let now = Utc::now();
    let today_end = now.date_naive().and_hms_opt(23, 59, 59).unwrap().and_utc();
    ada.create(json!({
        "title": "overdue", "priority": "urgent", "due_at": iso(now - Duration::days(3)),
        "tags": ["work", "admin"]
    }));
    ada.create(json!({
        "title": "later today", "priority": "high", "due_at": iso(today_end), "tags": ["home"]
    }));
    ada.create(json!({"title": "undated", "priority": "low", "tags": ["work"]}));
    // Another user's tags are not counted.
    User::signup(&app, "bob@example.com").create(json!({"title": "bob's", "tags": ["bob"]}));
    ada.create(json!({"title": "next week", "due_at": iso(now + Duration::days(7))}));
    let done = ada.create(json!({"title": "done overdue", "due_at": iso(now - Duration::days(1))}));
    ada.call("POST", &format!("/api/todos/{}/toggle", id_of(&done)), None)
        .expect(200);
    let stats = ada.call("GET", "/api/todos/stats", None).expect(200).body;
    let due_today = if today_end > now { 1 } else { 0 };
    assert_eq!(
        stats,
        json!({
            "total": 5, "open": 4, "done": 1, "overdue": 1, "due_today": due_today,
            "by_priority": {"low": 1, "medium": 2, "high": 1, "urgent": 1},
            "by_tag": [
                {"tag": "work", "count": 2},
                {"tag": "admin", "count": 1},
                {"tag": "home", "count": 1},
            ]
        })
    );
}

#[test]
fn the_10001st_todo_is_refused_with_limit_reached() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let db = app.db.db();
    let seeded = db
        .execute(
            "INSERT INTO todos (user_id, title) \
             SELECT $1::text::uuid, 'seeded ' || i FROM generate_series(1, 9999) AS i",
            &[SqlParam::Text(ada.id.clone())],
        )
        .unwrap();
    assert_eq!(seeded, 9999);
    // The app counts a user's todos on the user row; seeding behind its back must too.
    db.execute(
        "UPDATE users SET todo_count = 9999 WHERE id = $1::text::uuid",
        &[SqlParam::Text(ada.id.clone())],
    )
    .unwrap();
    let last = ada.create(json!({"title": "number 10000", "recurrence": "daily"}));
    ada.call("POST", "/api/todos", Some(json!({"title": "one too many"})))
        .expect_error(409, "limit_reached");
    // Completing a recurring todo would need room for its next occurrence.
    let path = format!("/api/todos/{}", id_of(&last));
    ada.call("POST", &format!("{path}/toggle"), None)
        .expect_error(409, "limit_reached");
    assert_eq!(ada.call("GET", &path, None).body["completed"], false);
    assert_eq!(ada.list("limit=1")["total"], 10_000);
    // Another user is not affected; deleting one makes room again.
    User::signup(&app, "bob@example.com").create(json!({"title": "bob's first"}));
    ada.call("DELETE", &path, None).expect(204);
    ada.create(json!({"title": "fits again"}));
}

// ---------------------------------------------------------------- the API document

#[test]
fn the_api_document_is_served_as_openapi_3_1() {
    let app = TestApp::spawn();
    let reply = send(&app, "GET", "/api/openapi.json", None, &[], None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, *DOCUMENT);
    assert_eq!(reply.body["openapi"], "3.1.0");
    // Every $ref points somewhere.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&DOCUMENT, &mut all);
    for r in all {
        assert!(DOCUMENT.pointer(r.trim_start_matches('#')).is_some(), "{r}");
    }
    // Other /api/ paths stay 404 in the web component.
    assert_eq!(
        send(&app, "GET", "/api/nothing", None, &[], None).status,
        404
    );
}

#[test]
fn every_todos_and_lists_route_is_documented_and_every_documented_one_exists() {
    let documented: HashSet<(String, String)> = DOCUMENT["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| {
            ["/api/todos", "/api/lists", "/api/invitations"]
                .iter()
                .any(|prefix| path.starts_with(prefix))
        })
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(|m| (path.clone(), m.to_uppercase()))
                .collect::<Vec<_>>()
        })
        .collect();
    let implemented: HashSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|r| r.methods.iter().map(|m| (r.path.to_owned(), m.to_string())))
        .chain(
            todo_core::lists::http::ROUTES
                .iter()
                .flat_map(|r| r.methods.iter().map(|m| (r.path.to_owned(), m.to_string()))),
        )
        .collect();
    assert_eq!(documented, implemented);
}

/// For every documented path, each method answers as documented: a
/// documented method is routed (not 404/405), and any other method is 405
/// (or 501 from a component that is not implemented yet). The probes carry
/// no token and a body no operation accepts, so they change nothing; only
/// the scheduler's routes, which are off (404) without `internal_token` and
/// answer nothing but 401 without it, get theirs.
#[test]
fn every_documented_operation_is_routed_and_no_other_method_is() {
    const INTERNAL: &str = "internal-test-token-0123456789";
    let app = TestApp::spawn_with(&[("internal_token", INTERNAL)]);
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({"title": "a"}));
    for (template, item) in DOCUMENT["paths"].as_object().unwrap() {
        let path = template.replace("{id}", &id_of(&todo));
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] {
            let documented = item.get(method.to_lowercase()).is_some();
            // Send a body the operation cannot accept, so nothing changes.
            let body = (method != "GET" && method != "HEAD").then(|| json!({"unknown": 1}));
            let mut req = http::Request::builder().method(method).uri(app.url(&path));
            if path.starts_with("/internal/") {
                req = req.header("authorization", format!("Bearer {INTERNAL}"));
            }
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
            let status = app.send_raw(req.body(bytes).unwrap()).status;
            if documented {
                assert!(
                    status != 404 && status != 405,
                    "{method} {template} is documented but answers {status}"
                );
            } else {
                assert!(
                    status == 405 || status == 501,
                    "{method} {template} answers {status} but is not documented"
                );
            }
        }
    }
    // The probing changed nothing.
    assert_eq!(
        ada.call("GET", &format!("/api/todos/{}", id_of(&todo)), None)
            .body["version"],
        1
    );
}

#[test]
fn input_postgres_would_refuse_is_a_422_on_its_field_not_a_500() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let cases = [
        (json!({"title": "a\u{0}b"}), "title"),
        (
            json!({"title": "t", "description": "a\u{0}b"}),
            "description",
        ),
        (json!({"title": "t", "tags": ["x\u{0}"]}), "tags"),
        (
            json!({"title": "t", "due_at": "0000-01-01T00:00:00Z"}),
            "due_at",
        ),
        (
            json!({"title": "t", "due_at": "10000-01-01T00:00:00Z"}),
            "due_at",
        ),
        (
            json!({"title": "t", "due_at": "9999-12-31T23:30:00-01:00"}),
            "due_at",
        ),
        (json!({"title": "t", "due_at": "1969-12-31"}), "due_at"),
    ];
    for (body, field) in cases {
        let reply = ada
            .call("POST", "/api/todos", Some(body.clone()))
            .expect_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), [field], "{body}");
    }
    let many: Vec<String> = (0..60_000).map(|i| format!("t{i}")).collect();
    let reply = ada
        .call(
            "POST",
            "/api/todos",
            Some(json!({"title": "t", "tags": many})),
        )
        .expect_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), ["tags"]);
    for (query, field) in [
        ("q=a%00b", "q"),
        ("due_before=0000-01-01", "due_before"),
        ("due_after=10000-01-01T00:00:00Z", "due_after"),
        ("updated_since=1960-01-01", "updated_since"),
    ] {
        let reply = ada
            .call("GET", &format!("/api/todos?{query}"), None)
            .expect_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), [field], "{query}");
    }
    // Nothing was stored on the way.
    assert_eq!(ada.list("")["total"], 0);
}
