//! Reminders over real HTTP against real PostgreSQL: when they go off
//! (their own time, or the owner's lead time before the due date, out of
//! quiet hours), exactly once however many sweeps run, re-armed by a new
//! time, cancelled by completion or deletion, and seen by the owner's sync;
//! and the notification preferences they follow.

use native::testing::{TestApp, TestRedis};
use serde_json::{json, Value};

const TOKEN: &str = "internal-test-token-reminders";

fn spawn() -> TestApp {
    TestApp::spawn_with(&[("internal_token", TOKEN)])
}

/// Runs the sweep; how many reminders went off.
fn sweep(app: &TestApp) -> i64 {
    let reply = app
        .send("POST", "/internal/reminders/run", Some(TOKEN), &[], None)
        .expect(200);
    reply.body["fired"].as_i64().unwrap()
}

fn create(app: &TestApp, token: &str, todo: Value) -> Value {
    app.send("POST", "/api/todos", Some(token), &[], Some(&todo))
        .expect(201)
        .body
}

fn sync_token(app: &TestApp, token: &str) -> String {
    let feed = app
        .send(
            "GET",
            "/api/todos?since=0000000000000000",
            Some(token),
            &[],
            None,
        )
        .expect(200)
        .body;
    feed["sync_token"].as_str().unwrap().to_owned()
}

/// The reminders the owner's delta sync shows after `since`.
fn reminders_since(app: &TestApp, token: &str, since: &str) -> Vec<Value> {
    let feed = app
        .send(
            "GET",
            &format!("/api/todos?since={since}"),
            Some(token),
            &[],
            None,
        )
        .expect(200)
        .body;
    feed["reminders"].as_array().unwrap().clone()
}

#[test]
fn a_reminder_goes_off_once_at_its_time_and_the_owners_sync_shows_it() {
    let app = spawn();
    app.clock.set("2026-06-01T12:00:00Z");
    let ada = app.signup("ada@example.com");
    let bob = app.signup("bob@example.com");
    let todo = create(
        &app,
        &ada.token,
        json!({"title": "Call the bank", "remind_at": "2026-06-01T12:10:00Z",
               "due_at": "2026-06-02T09:00:00Z"}),
    );
    assert_eq!(todo["remind_at"], "2026-06-01T12:10:00Z");
    let since = sync_token(&app, &ada.token);
    let bobs_since = sync_token(&app, &bob.token);

    assert_eq!(sweep(&app), 0, "not yet");
    app.clock.set("2026-06-01T12:10:00Z");
    assert_eq!(sweep(&app), 1);
    assert_eq!(sweep(&app), 0, "a reminder goes off once");

    let seen = reminders_since(&app, &ada.token, &since);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["todo_id"], todo["id"]);
    assert_eq!(seen[0]["title"], "Call the bank");
    assert_eq!(seen[0]["due_at"], "2026-06-02T09:00:00Z");
    assert_eq!(seen[0]["fired_at"], "2026-06-01T12:10:00Z");
    assert!(reminders_since(&app, &bob.token, &bobs_since).is_empty());
    // The todo itself did not change.
    let now = app
        .send(
            "GET",
            &format!("/api/todos/{}", todo["id"].as_str().unwrap()),
            Some(&ada.token),
            &[],
            None,
        )
        .expect(200)
        .body;
    assert_eq!(now["version"], 1);
}

#[test]
fn without_its_own_time_a_todo_reminds_the_owners_lead_time_before_it_is_due() {
    let app = spawn();
    app.clock.set("2026-06-01T12:00:00Z");
    let ada = app.signup("ada@example.com");
    create(
        &app,
        &ada.token,
        json!({"title": "Pay rent", "due_at": "2026-06-01T13:00:00Z"}),
    );
    // The default lead time is 30 minutes.
    app.clock.set("2026-06-01T12:29:00Z");
    assert_eq!(sweep(&app), 0);
    app.clock.set("2026-06-01T12:30:00Z");
    assert_eq!(sweep(&app), 1);

    // An hour's lead time reminds earlier; reminders off, never.
    app.send(
        "PUT",
        "/api/notifications/preferences",
        Some(&ada.token),
        &[],
        Some(&json!({"lead_minutes": 60})),
    )
    .expect(200);
    create(
        &app,
        &ada.token,
        json!({"title": "Water plants", "due_at": "2026-06-01T13:20:00Z"}),
    );
    assert_eq!(sweep(&app), 1, "12:30 is within an hour of 13:20");
    app.send(
        "PUT",
        "/api/notifications/preferences",
        Some(&ada.token),
        &[],
        Some(&json!({"enabled": false})),
    )
    .expect(200);
    create(
        &app,
        &ada.token,
        json!({"title": "Quiet one", "due_at": "2026-06-01T12:40:00Z"}),
    );
    app.clock.set("2026-06-01T14:00:00Z");
    assert_eq!(sweep(&app), 0);
}

#[test]
fn a_new_time_rearms_a_reminder_and_completing_or_deleting_cancels_it() {
    let app = spawn();
    app.clock.set("2026-06-01T12:00:00Z");
    let ada = app.signup("ada@example.com");
    let t = &ada.token;
    let rearmed = create(
        &app,
        t,
        json!({"title": "Re-armed", "remind_at": "2026-06-01T12:05:00Z"}),
    );
    let done = create(
        &app,
        t,
        json!({"title": "Done first", "remind_at": "2026-06-01T12:05:00Z"}),
    );
    let gone = create(
        &app,
        t,
        json!({"title": "Deleted first", "remind_at": "2026-06-01T12:05:00Z"}),
    );
    let path = |todo: &Value| format!("/api/todos/{}", todo["id"].as_str().unwrap());
    app.send(
        "POST",
        &format!("{}/toggle", path(&done)),
        Some(t),
        &[],
        None,
    )
    .expect(200);
    app.send("DELETE", &path(&gone), Some(t), &[], None)
        .expect(204);
    app.clock.set("2026-06-01T12:05:00Z");
    assert_eq!(sweep(&app), 1, "only the open todo reminds");

    // A new title changes nothing; a new reminder time re-arms it.
    let patch = |body: Value| {
        app.send("PATCH", &path(&rearmed), Some(t), &[], Some(&body))
            .expect(200)
    };
    patch(json!({"title": "Re-armed, renamed"}));
    assert_eq!(sweep(&app), 0);
    patch(json!({"remind_at": "2026-06-01T12:30:00Z"}));
    assert_eq!(sweep(&app), 0);
    app.clock.set("2026-06-01T12:30:00Z");
    assert_eq!(sweep(&app), 1);
    // So does a new due date (the lead time then counts from it).
    patch(json!({"remind_at": null, "due_at": "2026-06-01T13:00:00Z"}));
    assert_eq!(sweep(&app), 1, "12:30 is 30 minutes before 13:00");
}

#[test]
fn parallel_sweeps_fire_each_reminder_exactly_once() {
    let app = spawn();
    app.clock.set("2026-06-01T12:00:00Z");
    let ada = app.signup("ada@example.com");
    for i in 0..30 {
        create(
            &app,
            &ada.token,
            json!({"title": format!("Reminder {i}"), "remind_at": "2026-06-01T12:01:00Z"}),
        );
    }
    let since = sync_token(&app, &ada.token);
    app.clock.set("2026-06-01T12:01:00Z");
    let fired: i64 = std::thread::scope(|s| {
        let sweeps: Vec<_> = (0..6).map(|_| s.spawn(|| sweep(&app))).collect();
        sweeps.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(fired, 30);
    assert_eq!(reminders_since(&app, &ada.token, &since).len(), 30);
    // Paged, the sync hands out each of them once.
    let (mut token, mut seen) = (since, Vec::new());
    loop {
        let feed = app
            .send(
                "GET",
                &format!("/api/todos?since={token}&limit=7"),
                Some(&ada.token),
                &[],
                None,
            )
            .expect(200)
            .body;
        seen.extend(
            feed["reminders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["title"].clone()),
        );
        token = feed["sync_token"].as_str().unwrap().to_owned();
        if feed["has_more"] == false {
            break;
        }
    }
    seen.sort_by_key(|t| t.as_str().unwrap().to_owned());
    seen.dedup();
    assert_eq!(seen.len(), 30);
}

#[test]
fn a_reminder_in_quiet_hours_goes_off_when_they_end_across_a_dst_change() {
    let app = spawn();
    // Saturday 28 March 2026, 20:00 in Berlin (CET, UTC+1).
    app.clock.set("2026-03-28T19:00:00Z");
    let ada = app.signup("ada@example.com");
    app.send(
        "PUT",
        "/api/notifications/preferences",
        Some(&ada.token),
        &[],
        Some(&json!({"quiet_hours": {"start": "22:00", "end": "07:00"},
                     "time_zone": "Europe/Berlin"})),
    )
    .expect(200);
    // Due at 00:30 CET; that night the clocks go forward at 02:00.
    create(
        &app,
        &ada.token,
        json!({"title": "Night owl", "remind_at": "2026-03-28T23:30:00Z"}),
    );
    app.clock.set("2026-03-28T23:30:00Z");
    assert_eq!(sweep(&app), 0, "deferred to the end of quiet hours");
    // 07:00 CEST is 05:00 UTC (not 06:00, which it would be without DST).
    app.clock.set("2026-03-29T04:59:00Z");
    assert_eq!(sweep(&app), 0);
    app.clock.set("2026-03-29T05:00:00Z");
    assert_eq!(sweep(&app), 1);
}

/// Quiet hours 22:00 to 07:00 on each of the four nights the clocks change
/// in Berlin and New York in 2026: a reminder due at 21:30, before quiet
/// hours, but swept only during them (the scheduler was down), and one
/// created then with its time already past, both wait until 07:00 local
/// time, whichever offset the zone has by then.
#[test]
fn a_sweep_in_quiet_hours_defers_every_due_reminder_to_their_end_on_both_dst_nights() {
    let app = spawn();
    // (zone, due at 21:30 local, swept at about 23:30 local, 07:00 local).
    let nights = [
        // 8 March: 02:00 EST becomes 03:00 EDT.
        (
            "America/New_York",
            "2026-03-08T02:30:00Z",
            "2026-03-08T04:30:00Z",
            "2026-03-08T11:00:00Z",
        ),
        // 29 March: 02:00 CET becomes 03:00 CEST.
        (
            "Europe/Berlin",
            "2026-03-28T20:30:00Z",
            "2026-03-28T22:30:00Z",
            "2026-03-29T05:00:00Z",
        ),
        // 25 October: 03:00 CEST becomes 02:00 CET.
        (
            "Europe/Berlin",
            "2026-10-24T19:30:00Z",
            "2026-10-24T21:30:00Z",
            "2026-10-25T06:00:00Z",
        ),
        // 1 November: 02:00 EDT becomes 01:00 EST.
        (
            "America/New_York",
            "2026-11-01T01:30:00Z",
            "2026-11-01T03:30:00Z",
            "2026-11-01T12:00:00Z",
        ),
    ];
    for (n, (zone, due, swept, end)) in nights.into_iter().enumerate() {
        let night = format!("{zone}, {due}");
        let due_time = chrono::DateTime::parse_from_rfc3339(due).unwrap();
        app.clock
            .set(&(due_time - chrono::Duration::hours(1)).to_rfc3339());
        let email = format!("night{n}@example.com");
        let user = app.signup(&email);
        app.send(
            "PUT",
            "/api/notifications/preferences",
            Some(&user.token),
            &[],
            Some(&json!({"quiet_hours": {"start": "22:00", "end": "07:00"},
                         "time_zone": zone})),
        )
        .expect(200);
        create(
            &app,
            &user.token,
            json!({"title": "Due before quiet hours", "remind_at": due}),
        );

        app.clock.set(swept);
        // A session lasts an hour: the owner logs in again.
        let token = app.login(&email);
        create(
            &app,
            &token,
            json!({"title": "Set in the past", "remind_at": due}),
        );
        assert_eq!(sweep(&app), 0, "{night}: swept in quiet hours");
        assert_eq!(sweep(&app), 0, "{night}: and again");
        let end_time = chrono::DateTime::parse_from_rfc3339(end).unwrap();
        app.clock
            .set(&(end_time - chrono::Duration::minutes(1)).to_rfc3339());
        assert_eq!(sweep(&app), 0, "{night}: a minute before 07:00 local");
        app.clock.set(end);
        assert_eq!(sweep(&app), 2, "{night}: at 07:00 local");
        assert_eq!(sweep(&app), 0, "{night}: once");
    }
}

/// Quiet hours also hold for a reminder that was deferred once and whose
/// owner then moved their quiet hours: the sweep goes by the hours as they
/// are when it runs.
#[test]
fn a_deferred_reminder_follows_quiet_hours_changed_meanwhile() {
    let app = spawn();
    app.clock.set("2026-06-01T21:00:00Z");
    let ada = app.signup("ada@example.com");
    app.send(
        "PUT",
        "/api/notifications/preferences",
        Some(&ada.token),
        &[],
        Some(&json!({"quiet_hours": {"start": "22:00", "end": "07:00"}})),
    )
    .expect(200);
    create(
        &app,
        &ada.token,
        json!({"title": "Late", "remind_at": "2026-06-01T23:00:00Z"}),
    );
    app.clock.set("2026-06-01T23:00:00Z");
    assert_eq!(sweep(&app), 0, "deferred to 07:00");
    // Ada sleeps in now: at 07:00 her quiet hours last until 09:00.
    let token = app.login("ada@example.com");
    app.send(
        "PUT",
        "/api/notifications/preferences",
        Some(&token),
        &[],
        Some(&json!({"quiet_hours": {"start": "22:00", "end": "09:00"}})),
    )
    .expect(200);
    app.clock.set("2026-06-02T07:00:00Z");
    assert_eq!(sweep(&app), 0, "still quiet at 07:00");
    app.clock.set("2026-06-02T08:59:00Z");
    assert_eq!(sweep(&app), 0);
    app.clock.set("2026-06-02T09:00:00Z");
    assert_eq!(sweep(&app), 1);
}

#[test]
fn preferences_default_to_thirty_minutes_and_are_checked_and_kept_per_user() {
    let app = spawn();
    let ada = app.signup("ada@example.com");
    let bob = app.signup("bob@example.com");
    let get = |token: &str| {
        app.send(
            "GET",
            "/api/notifications/preferences",
            Some(token),
            &[],
            None,
        )
        .expect(200)
        .body
    };
    let defaults = json!({"enabled": true, "lead_minutes": 30, "quiet_hours": null,
                          "time_zone": "UTC"});
    assert_eq!(get(&ada.token), defaults);
    let mine = json!({"enabled": true, "lead_minutes": 90,
                      "quiet_hours": {"start": "22:30", "end": "06:45"},
                      "time_zone": "America/New_York"});
    let saved = app
        .send(
            "PUT",
            "/api/notifications/preferences",
            Some(&ada.token),
            &[],
            Some(&mine),
        )
        .expect(200)
        .body;
    assert_eq!(saved, mine);
    assert_eq!(get(&ada.token), mine);
    assert_eq!(get(&bob.token), defaults);

    for (body, field) in [
        (json!({"lead_minutes": 10081}), "lead_minutes"),
        (json!({"lead_minutes": -1}), "lead_minutes"),
        (json!({"time_zone": "Mars/Olympus_Mons"}), "time_zone"),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "22:00"}}),
            "quiet_hours",
        ),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00"}}),
            "quiet_hours",
        ),
    ] {
        let reply = app
            .send(
                "PUT",
                "/api/notifications/preferences",
                Some(&ada.token),
                &[],
                Some(&body),
            )
            .expect_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), [field], "{body}");
    }

    assert_eq!(get(&ada.token), mine, "refused changes keep what was saved");
    app.send("GET", "/api/notifications/preferences", None, &[], None)
        .expect_error(401, "unauthorized");
    let delete = app.send(
        "DELETE",
        "/api/notifications/preferences",
        Some(&ada.token),
        &[],
        None,
    );
    assert_eq!(delete.status, 405);
}

#[test]
fn a_fired_reminder_reaches_the_broker_as_a_todo_reminder_cloudevent() {
    let redis = TestRedis::start();
    let mut vars: Vec<(&str, String)> = redis.sink_vars();
    vars.push(("internal_token", TOKEN.into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let app = TestApp::spawn_with(&vars);
    app.clock.set("2026-06-01T12:00:00Z");
    let ada = app.signup("ada@example.com");
    let todo = create(
        &app,
        &ada.token,
        json!({"title": "Call the bank", "remind_at": "2026-06-01T12:05:00Z"}),
    );
    app.clock.set("2026-06-01T12:05:00Z");
    assert_eq!(sweep(&app), 1);
    let relayed = app
        .send("POST", "/internal/events/relay", Some(TOKEN), &[], None)
        .expect(200);
    assert_eq!(
        relayed.body["delivered"], 2,
        "the create, then the reminder"
    );
    let events: Vec<Value> = redis
        .entries()
        .iter()
        .map(|(_, fields)| serde_json::from_str(&fields[0].1).unwrap())
        .collect();
    let reminder = &events[1];
    assert_eq!(
        reminder["type"], "dev.todo-spin.todo.reminder",
        "{reminder}"
    );
    assert_eq!(reminder["subject"], todo["id"]);
    let at = |value: &Value| chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
    let five_past = json!("2026-06-01T12:05:00Z");
    assert_eq!(at(&reminder["time"]), at(&five_past));
    assert_eq!(reminder["data"]["title"], "Call the bank");
    assert_eq!(at(&reminder["data"]["remind_at"]), at(&five_past));
}

/// In a shared list a reminder goes to the todo's assignee; with nobody
/// assigned, to the member who set its time. Nobody else's sync shows it.
#[test]
fn a_shared_todos_reminder_goes_to_its_assignee_else_to_whoever_set_its_time() {
    let app = spawn();
    app.clock.set("2026-06-01T12:00:00Z");
    let ada = app.signup("ada@example.com");
    let bob = app.signup("bob@example.com");
    let call = |token: &str, method: &str, path: &str, body: Option<Value>| {
        let reply = app.send(method, path, Some(token), &[], body.as_ref());
        assert!(reply.status < 300, "{method} {path}: {}", reply.body);
        reply.body
    };
    let list = call(
        &ada.token,
        "POST",
        "/api/lists",
        Some(json!({"name": "Home"})),
    );
    let list_id = list["id"].as_str().unwrap();
    let sent = call(
        &ada.token,
        "POST",
        &format!("/api/lists/{list_id}/invitations"),
        Some(json!({"email": "bob@example.com", "role": "editor"})),
    );
    let invitation = sent["id"].as_str().unwrap();
    call(
        &bob.token,
        "POST",
        &format!("/api/invitations/{invitation}/accept"),
        None,
    );
    let assigned = create(
        &app,
        &ada.token,
        json!({"title": "Water plants", "list_id": list_id, "assignee_id": bob.id,
               "remind_at": "2026-06-01T12:10:00Z"}),
    );
    let unassigned = create(
        &app,
        &ada.token,
        json!({"title": "Take out bins", "list_id": list_id}),
    );
    let unassigned_id = unassigned["id"].as_str().unwrap();
    call(
        &bob.token,
        "PATCH",
        &format!("/api/todos/{unassigned_id}"),
        Some(json!({"remind_at": "2026-06-01T12:10:00Z"})),
    );
    let adas_since = sync_token(&app, &ada.token);
    let bobs_since = sync_token(&app, &bob.token);

    app.clock.set("2026-06-01T12:10:00Z");
    assert_eq!(sweep(&app), 2);
    let mut bobs: Vec<Value> = reminders_since(&app, &bob.token, &bobs_since)
        .iter()
        .map(|r| r["todo_id"].clone())
        .collect();
    bobs.sort_by_key(|id| id.to_string());
    let mut want = vec![assigned["id"].clone(), unassigned["id"].clone()];
    want.sort_by_key(|id| id.to_string());
    assert_eq!(bobs, want);
    assert!(reminders_since(&app, &ada.token, &adas_since).is_empty());
}
