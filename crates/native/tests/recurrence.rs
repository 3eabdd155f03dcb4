//! Custom recurrence over real HTTP: RRULE values through the REST API, the
//! next occurrence in the user's time zone (across DST), COUNT ending a
//! series, the chat completing a repeating todo, and what each costs.

use native::testing::{Reply, TestApp};
use serde_json::{json, Value};

struct User<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> User<'a> {
    fn signup(app: &'a TestApp, email: &str) -> Self {
        User {
            app,
            token: app.signup(email).token,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.app
            .send(method, path, Some(&self.token), &[], body.as_ref())
    }

    fn create(&self, body: Value) -> Value {
        self.call("POST", "/api/todos", Some(body)).expect(201).body
    }

    /// Completes the todo; the toggle's answer.
    fn complete(&self, todo: &Value) -> Value {
        let id = todo["id"].as_str().unwrap();
        self.call("POST", &format!("/api/todos/{id}/toggle"), None)
            .expect(200)
            .body
    }
}

#[test]
fn a_rule_is_kept_in_its_canonical_form_and_a_rule_outside_the_subset_is_named() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let todo = ada.create(json!({
        "title": "Stand-up notes",
        "recurrence": "rrule:byday=fr,mo;freq=weekly;interval=2",
    }));
    assert_eq!(
        todo["recurrence"],
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"
    );
    let id = todo["id"].as_str().unwrap();
    let patched = ada
        .call(
            "PATCH",
            &format!("/api/todos/{id}"),
            Some(json!({"recurrence": "RRULE:FREQ=MONTHLY;BYDAY=-1FR"})),
        )
        .expect(200)
        .body;
    assert_eq!(patched["recurrence"], "RRULE:FREQ=MONTHLY;BYDAY=-1FR");

    for (rule, part) in [
        ("RRULE:FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS"),
        ("RRULE:FREQ=HOURLY", "HOURLY"),
        ("RRULE:FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("RRULE:FREQ=WEEKLY;BYDAY=2MO", "BYDAY"),
        ("RRULE:FREQ=DAILY;COUNT=2;UNTIL=20271231", "COUNT"),
    ] {
        let refused = ada.call(
            "POST",
            "/api/todos",
            Some(json!({"title": "x", "recurrence": rule})),
        );
        refused.assert_error(422, "validation_failed");
        let message = refused.body["error"]["fields"]["recurrence"][0]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(part), "{rule}: {message}");
    }
}

#[test]
fn the_next_occurrence_keeps_the_local_time_across_daylight_saving() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    ada.call(
        "PUT",
        "/api/notifications/preferences",
        Some(json!({"time_zone": "Europe/Berlin"})),
    )
    .expect(200);
    // Every other Monday at 09:00 in Berlin: 08:00 UTC in winter, and on
    // 6 April 2026 (summer time since 29 March) 07:00 UTC.
    let todo = ada.create(json!({
        "title": "Team retro",
        "due_at": "2026-03-23T08:00:00Z",
        "recurrence": "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    }));
    let before = app.statements_sent();
    let toggled = ada.complete(&todo);
    assert_eq!(
        app.statements_sent() - before,
        2,
        "a rule's next occurrence is computed by the app and made by a second statement"
    );
    assert_eq!(toggled["todo"]["completed"], true);
    let next = &toggled["next"];
    assert_eq!(next["due_at"], "2026-04-06T07:00:00Z", "{toggled}");
    assert_eq!(next["recurrence"], todo["recurrence"]);
    assert_eq!(next["title"], "Team retro");

    // Reopened and completed again, it makes no second next occurrence.
    let id = todo["id"].as_str().unwrap();
    ada.call("POST", &format!("/api/todos/{id}/toggle"), None)
        .expect(200);
    let again = ada.complete(&todo);
    assert_eq!(again["next"], Value::Null, "{again}");

    // A word's next occurrence still comes with the toggle, in one statement.
    let daily = ada
        .create(json!({"title": "Water", "due_at": "2026-03-28T18:00:00Z", "recurrence": "daily"}));
    let before = app.statements_sent();
    let toggled = ada.complete(&daily);
    assert_eq!(app.statements_sent() - before, 1);
    assert_eq!(toggled["next"]["due_at"], "2026-03-29T18:00:00Z");
}

#[test]
fn count_ends_a_series_and_the_issues_phrases_give_their_dates() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    let first = ada.create(json!({
        "title": "Physio",
        "due_at": "2026-12-01T10:00:00Z",
        "recurrence": "RRULE:FREQ=DAILY;INTERVAL=3;COUNT=2",
    }));
    let second = ada.complete(&first)["next"].clone();
    assert_eq!(second["due_at"], "2026-12-04T10:00:00Z");
    let last = ada.complete(&second);
    assert_eq!(last["next"], Value::Null, "{last}");

    // Friday 4 December 2026 onwards.
    for (rule, due, next) in [
        (
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "2026-12-04T09:00:00Z",
            "2026-12-07T09:00:00Z",
        ),
        (
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
            "2026-12-15T09:00:00Z",
            "2027-01-15T09:00:00Z",
        ),
        (
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
            "2026-12-25T09:00:00Z",
            "2027-01-29T09:00:00Z",
        ),
        (
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3",
            "2027-03-03T09:00:00Z",
            "2028-03-03T09:00:00Z",
        ),
    ] {
        let todo = ada.create(json!({"title": "t", "due_at": due, "recurrence": rule}));
        assert_eq!(ada.complete(&todo)["next"]["due_at"], next, "{rule}");
    }

    // An all-day due stays a day.
    let day = ada.create(json!({
        "title": "Bins out",
        "due_at": "2026-12-04",
        "due_all_day": true,
        "recurrence": "RRULE:FREQ=WEEKLY;INTERVAL=2",
    }));
    let next = ada.complete(&day)["next"].clone();
    assert_eq!(next["due_at"], "2026-12-18T00:00:00Z");
    assert_eq!(next["due_all_day"], true);
}

#[test]
fn the_chat_completing_a_repeating_todo_names_the_next_one() {
    let app = TestApp::spawn();
    let ada = User::signup(&app, "ada@example.com");
    ada.create(json!({
        "title": "water the ferns",
        "due_at": "2026-12-07T08:00:00Z",
        "recurrence": "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    }));
    let said = ada
        .call(
            "POST",
            "/api/chat",
            Some(json!({"message": "mark water the ferns as done"})),
        )
        .expect(200)
        .body;
    let response = said["response"].as_str().unwrap();
    assert!(response.contains("Marked done"), "{said}");
    assert!(response.contains("Next one"), "{said}");
    assert_eq!(
        said["result"]["next"]["due_at"], "2026-12-21T08:00:00Z",
        "{said}"
    );
    let open = ada
        .call("GET", "/api/todos?status=open", None)
        .expect(200)
        .body;
    assert_eq!(open["items"][0]["due_at"], "2026-12-21T08:00:00Z");
}
