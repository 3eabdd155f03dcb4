//! Todo events over real HTTP, real PostgreSQL and a real `redis-server`:
//! every change queues its event (the audit row, with the todo after the
//! change) in the statement that makes it, and the relay
//! (`POST /internal/events/relay`) delivers the queue as CloudEvents to a
//! Redis stream or to a local stand-in for a Kafka REST proxy (v2), at least
//! once and in order per todo: with the broker down, after a crash between
//! send and mark, and with several relays at once.

mod api_document;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use native::testing::{TestApp, TestRedis};
use serde_json::{json, Value};
use todo_core::events::sinks::{REDIS_STREAM_MAXLEN, SEND_TIMEOUT};

const TOKEN: &str = "internal-test-token-0123456789";

/// The queued events, oldest first: (action, todo id, data).
fn queued(app: &TestApp) -> Vec<(String, String, Value)> {
    app.db
        .client()
        .query(
            "SELECT a.action, a.todo_id::text, a.after::text
             FROM event_outbox o JOIN todo_audit a ON a.id = o.audit_id ORDER BY a.id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            let data: Option<String> = row.get(2);
            (
                row.get(0),
                row.get(1),
                serde_json::from_str(&data.unwrap_or_default()).unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// A todo as the API answers it, as an event's data has it: every field of
/// the todo but its times of creation and update and its version.
fn as_data(todo: &Value) -> Value {
    let mut data = todo.clone();
    for field in ["created_at", "updated_at", "version"] {
        data.as_object_mut().unwrap().remove(field);
    }
    same_times(data)
}

/// `data` with its times in one RFC 3339 form (events write microseconds).
fn same_times(mut data: Value) -> Value {
    for field in ["due_at", "completed_at"] {
        if let Some(time) = data[field].as_str() {
            let time = chrono::DateTime::parse_from_rfc3339(time).unwrap();
            data[field] = time.to_utc().to_rfc3339().into();
        }
    }
    data
}

#[test]
fn every_change_of_a_todo_queues_its_event_with_the_todo_after_it() {
    let app = TestApp::spawn_with(&[("ollama_url", "http://127.0.0.1:1"), ("qwen_api_key", "")]);
    let token = app.signup("ada@example.com").token;
    let t = Some(token.as_str());
    let created = app
        .send(
            "POST",
            "/api/todos",
            t,
            &[],
            Some(
                &json!({"title": "Pay rent", "recurrence": "monthly", "tags": ["home"],
                         "due_at": "2026-07-01T09:00:00Z"}),
            ),
        )
        .expect(201)
        .body;
    let id = created["id"].as_str().unwrap().to_owned();
    let item = format!("/api/todos/{id}");
    let patched = app
        .send("PATCH", &item, t, &[], Some(&json!({"priority": "high"})))
        .expect(200)
        .body;
    let toggled = app
        .send("POST", &format!("{item}/toggle"), t, &[], None)
        .expect(200)
        .body;
    let next = toggled["next"].clone();
    let reopened = app
        .send("POST", &format!("{item}/toggle"), t, &[], None)
        .expect(200)
        .body;
    app.send("DELETE", &item, t, &[], None).expect(204);

    let events = queued(&app);
    let expected = [
        ("create", &id, as_data(&created)),
        ("update", &id, as_data(&patched)),
        ("toggle", &id, as_data(&toggled["todo"])),
        (
            "create",
            &next["id"].as_str().unwrap().to_owned(),
            as_data(&next),
        ),
        ("toggle", &id, as_data(&reopened["todo"])),
        // A deleted todo's event carries it as it was.
        ("delete", &id, as_data(&reopened["todo"])),
    ];
    assert_eq!(events.len(), expected.len(), "{events:#?}");
    for ((action, todo, data), (want_action, want_todo, want_data)) in events.iter().zip(expected) {
        assert_eq!((action.as_str(), todo), (want_action, want_todo), "{data}");
        assert_eq!(same_times(data.clone()), want_data, "{action}");
    }
    assert_eq!(events[2].2["completed"], true);
    assert_eq!(events[4].2["completed"], false);

    // Deleting many at once: clear completed, and a confirmed chat delete.
    let next_id = next["id"].as_str().unwrap();
    app.send(
        "POST",
        &format!("/api/todos/{next_id}/toggle"),
        t,
        &[],
        None,
    )
    .expect(200);
    app.send("DELETE", "/api/todos?status=done", t, &[], None)
        .expect(200);
    for title in ["buy milk", "buy oat milk"] {
        app.send(
            "POST",
            "/api/todos",
            t,
            &[],
            Some(&json!({ "title": title })),
        )
        .expect(201);
    }
    let proposal = app
        .send(
            "POST",
            "/api/chat",
            t,
            &[],
            Some(&json!({"message": "delete all milk"})),
        )
        .expect(200)
        .body;
    app.send(
        "POST",
        "/api/chat",
        t,
        &[],
        Some(&json!({"message": "yes", "conversation_id": proposal["conversation_id"]})),
    )
    .expect(200);
    let actions: Vec<String> = queued(&app).into_iter().map(|(a, _, _)| a).collect();
    assert_eq!(
        actions[6..],
        // Completing the next occurrence creates the one after it.
        ["toggle", "create", "delete", "create", "create", "delete", "delete"],
        "{actions:?}"
    );
    let deleted: Vec<Value> = queued(&app)[11..].iter().map(|e| e.2.clone()).collect();
    let mut titles: Vec<&str> = deleted
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    titles.sort_unstable();
    assert_eq!(titles, ["buy milk", "buy oat milk"]);
}

#[test]
fn a_fired_reminder_is_an_event_but_no_entry_of_the_todos_history() {
    let app = TestApp::spawn();
    let token = app.signup("ada@example.com").token;
    let t = Some(token.as_str());
    let todo = app
        .send(
            "POST",
            "/api/todos",
            t,
            &[],
            Some(&json!({"title": "Call mom"})),
        )
        .expect(201)
        .body;
    let id = todo["id"].as_str().unwrap();
    // As the reminder sweep records one.
    app.db
        .client()
        .execute(
            "INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after)
             SELECT user_id, id, 'reminder', '{}', now(), change_seq, event_data(id, todo_fields(t))
             FROM todos t WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap();
    let actions: Vec<String> = queued(&app).into_iter().map(|(a, _, _)| a).collect();
    assert_eq!(actions, ["create", "reminder"]);
    let history = app
        .send("GET", &format!("/api/todos/{id}/history"), t, &[], None)
        .expect(200)
        .body;
    let entries: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(entries, ["create"]);
}

// ---------------------------------------------------------------------------
// The relay

/// The app with the internal routes on and `vars` set.
fn app_with(vars: &[(&str, String)]) -> TestApp {
    let mut all: Vec<(&str, &str)> = vec![("internal_token", TOKEN)];
    all.extend(vars.iter().map(|(n, v)| (*n, v.as_str())));
    TestApp::spawn_with(&all)
}

/// `POST /internal/events/relay`: the status and the body.
fn relay(app: &TestApp) -> (u16, Value) {
    relay_at(app, "/internal/events/relay")
}

/// Also checks the answer against the API document.
fn relay_at(app: &TestApp, path: &str) -> (u16, Value) {
    let reply = app.send("POST", path, Some(TOKEN), &[], None);
    api_document::check_against_document("POST", path, &reply);
    (reply.status, reply.body)
}

/// Relays, expecting 200; how many were delivered.
fn delivered(app: &TestApp) -> u64 {
    let (status, body) = relay(app);
    assert_eq!(status, 200, "{body}");
    body["delivered"].as_u64().unwrap()
}

/// How many events are queued, and how many of them are not delivered yet.
fn outbox(app: &TestApp) -> (i64, i64) {
    let row = app
        .db
        .client()
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE delivered_at IS NULL) FROM event_outbox",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// A user who creates and changes todos through the API.
struct Writer<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Writer<'a> {
    fn new(app: &'a TestApp, email: &str) -> Self {
        Writer {
            app,
            token: app.signup(email).token,
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let reply = self
            .app
            .send(method, path, Some(&self.token), &[], body.as_ref());
        assert!(reply.status < 300, "{method} {path}: {}", reply.body);
        reply.body
    }

    fn create(&self, title: &str) -> String {
        let todo = self.send("POST", "/api/todos", Some(json!({ "title": title })));
        todo["id"].as_str().unwrap().to_owned()
    }

    fn rename(&self, id: &str, title: &str) {
        self.send(
            "PATCH",
            &format!("/api/todos/{id}"),
            Some(json!({ "title": title })),
        );
    }
}

/// The audit ids of the queued events, in order.
fn queued_ids(app: &TestApp) -> Vec<String> {
    app.db
        .client()
        .query(
            "SELECT audit_id::text FROM event_outbox ORDER BY audit_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Asserts that `events` hold, for each todo, its events in the order they
/// were made (ascending ids), each once.
#[track_caller]
fn in_order_per_todo_and_once(events: &[Value]) {
    let mut seen = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for event in events {
        let id: i64 = event["id"].as_str().unwrap().parse().unwrap();
        assert!(seen.insert(id), "event {id} delivered twice");
        let subject = event["subject"].as_str().unwrap().to_owned();
        if let Some(before) = last.insert(subject.clone(), id) {
            assert!(before < id, "todo {subject}: event {id} after {before}");
        }
    }
}

#[test]
fn with_no_sink_the_relay_delivers_nothing_and_prunes_events_after_a_week() {
    let app = app_with(&[]);
    let writer = Writer::new(&app, "ada@example.com");
    let old = writer.create("Old");
    writer.create("New");
    assert_eq!(delivered(&app), 0);
    assert_eq!(outbox(&app), (2, 2));
    app.db
        .client()
        .execute(
            "UPDATE event_outbox SET created_at = now() - interval '7 days 1 minute'
             WHERE audit_id = (SELECT id FROM todo_audit WHERE todo_id = $1::text::uuid)",
            &[&old],
        )
        .unwrap();
    assert_eq!(delivered(&app), 0);
    assert_eq!(outbox(&app), (1, 1));
    // The audit row stays: it is the todo's history.
    let history = writer.send("GET", &format!("/api/todos/{old}/history"), None);
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
}

#[test]
fn an_unknown_or_incomplete_sink_is_misconfigured_and_loses_nothing() {
    let cases = [
        vec![("events_sink", "kafka".to_owned())],
        vec![
            ("events_sink", "redis".to_owned()),
            ("events_redis_url", String::new()),
        ],
        vec![
            ("events_sink", "kafka-rest".to_owned()),
            ("events_kafka_topic", "todo events".to_owned()),
        ],
    ];
    for vars in cases {
        let app = app_with(&vars);
        Writer::new(&app, "ada@example.com").create("Pay rent");
        let (status, body) = relay(&app);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (500, Some("misconfigured")),
            "{vars:?}"
        );
        assert_eq!(outbox(&app), (1, 1), "{vars:?}");
    }
}

#[test]
fn the_relay_route_takes_only_a_wait_of_up_to_55_seconds() {
    let app = app_with(&[]);
    for path in [
        "/internal/events/relay?wait=56",
        "/internal/events/relay?wait=soon",
        "/internal/events/relay?limit=5",
    ] {
        let (status, body) = relay_at(&app, path);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("validation_failed")),
            "{path}"
        );
    }
    assert_eq!(relay_at(&app, "/internal/events/relay?wait=0").0, 200);
}

// ---------------------------------------------------------------------------
// Redis

#[test]
fn each_change_reaches_the_redis_stream_as_a_cloudevent_in_order() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    let created = writer.send(
        "POST",
        "/api/todos",
        Some(json!({"title": "Pay rent", "recurrence": "weekly", "tags": ["home"]})),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let item = format!("/api/todos/{id}");
    writer.send("PATCH", &item, Some(json!({"priority": "urgent"})));
    let toggled = writer.send("POST", &format!("{item}/toggle"), None);
    writer.send("POST", &format!("{item}/toggle"), None);
    // As the reminder sweep records a fired reminder.
    app.db
        .client()
        .execute(
            "INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after)
             SELECT user_id, id, 'reminder', '{}', now(), change_seq, event_data(id, todo_fields(t))
             FROM todos t WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap();
    writer.send("DELETE", &item, None);

    let audit_ids = queued_ids(&app);
    assert_eq!(delivered(&app), 7);
    assert_eq!(outbox(&app), (7, 0));
    let events = redis.events();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "dev.todo-spin.todo.created",
            "dev.todo-spin.todo.updated",
            "dev.todo-spin.todo.completed",
            "dev.todo-spin.todo.created",
            "dev.todo-spin.todo.reopened",
            "dev.todo-spin.todo.reminder",
            "dev.todo-spin.todo.deleted",
        ]
    );
    let next = toggled["next"]["id"].as_str().unwrap();
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["id"], audit_ids[n].as_str(), "{event}");
        assert_eq!(event["source"], "/todo-spin/todos");
        assert_eq!(event["datacontenttype"], "application/json");
        let subject = if n == 3 { next } else { id.as_str() };
        assert_eq!(event["subject"], subject, "{event}");
        assert_eq!(event["data"]["id"], subject, "{event}");
        assert!(event["data"].get("user_id").is_none(), "{event}");
        let time = event["time"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
        assert_eq!(
            event.as_object().unwrap().len(),
            8,
            "no other attributes: {event}"
        );
    }
    assert_eq!(events[0]["data"]["title"], "Pay rent");
    assert_eq!(events[1]["data"]["priority"], "urgent");
    assert_eq!(events[2]["data"]["completed"], true);
    assert_eq!(events[6]["data"]["completed"], false);
    // Delivered once: the next relay finds nothing.
    assert_eq!(delivered(&app), 0);
    assert_eq!(redis.events().len(), 7);
}

/// A shared list's life reaches the stream in order: its own events, with
/// the list as subject and data, and its todos' events, each naming the
/// list and who made the change.
#[test]
fn a_lists_changes_are_events_in_order_and_todo_events_name_their_list_and_actor() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    let ada = Writer::new(&app, "ada@example.com");
    let bob_account = app.signup("bob@example.com");
    let bob = Writer {
        app: &app,
        token: bob_account.token,
    };
    let list = ada.send("POST", "/api/lists", Some(json!({"name": "Trip"})));
    let list_id = list["id"].as_str().unwrap().to_owned();
    let path = format!("/api/lists/{list_id}");
    let sent = ada.send(
        "POST",
        &format!("{path}/invitations"),
        Some(json!({"email": "bob@example.com", "role": "editor"})),
    );
    let invitation = sent["id"].as_str().unwrap();
    bob.send(
        "POST",
        &format!("/api/invitations/{invitation}/accept"),
        None,
    );
    ada.send("PATCH", &path, Some(json!({"name": "Summer trip"})));
    let todo = bob.send(
        "POST",
        "/api/todos",
        Some(json!({"title": "tickets", "list_id": list_id})),
    );
    let bob_id = &bob_account.id;
    ada.send("DELETE", &format!("{path}/members/{bob_id}"), None);
    ada.send("DELETE", &path, None);

    assert_eq!(delivered(&app), 7);
    let events = redis.events();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "dev.todo-spin.list.created",
            "dev.todo-spin.list.member.added",
            "dev.todo-spin.list.updated",
            "dev.todo-spin.todo.created",
            "dev.todo-spin.list.member.removed",
            "dev.todo-spin.todo.deleted",
            "dev.todo-spin.list.deleted",
        ]
    );
    let todo_id = todo["id"].as_str().unwrap();
    for event in &events {
        let is_todo = event["type"].as_str().unwrap().contains(".todo.");
        let subject = if is_todo { todo_id } else { list_id.as_str() };
        assert_eq!(event["subject"], subject, "{event}");
        let data_list = if is_todo {
            &event["data"]["list_id"]
        } else {
            &event["data"]["id"]
        };
        assert_eq!(*data_list, list_id.as_str(), "{event}");
    }
    assert_eq!(events[1]["data"]["member"]["user_id"], bob_id.as_str());
    assert_eq!(events[1]["data"]["actor"]["id"], bob_id.as_str());
    assert_eq!(events[2]["data"]["name"], "Summer trip");
    assert_eq!(events[3]["data"]["actor"]["id"], bob_id.as_str());
    assert_eq!(events[4]["data"]["member"]["user_id"], bob_id.as_str());
    assert_ne!(events[5]["data"]["actor"]["id"], bob_id.as_str());
    assert_eq!(events[6]["data"]["member_count"], 1);
}

#[test]
fn a_redis_outside_the_allowed_outbound_hosts_is_never_reached() {
    let redis = TestRedis::start();
    let mut vars = redis.sink_vars();
    // allowed_outbound_hosts names another port than the URL.
    vars.retain(|(name, _)| *name != "events_redis_port");
    vars.push(("events_redis_port", (redis.port - 1).to_string()));
    let app = app_with(&vars);
    Writer::new(&app, "ada@example.com").create("Pay rent");
    let (status, body) = relay(&app);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(redis.events().is_empty());
    assert_eq!(outbox(&app), (1, 1));
}

#[test]
fn the_redis_stream_is_trimmed_to_about_its_maximum_length() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    let over = REDIS_STREAM_MAXLEN + 1_000;
    let mut client = redis.client();
    let mut pipe = redis::pipe();
    for n in 0..over {
        pipe.cmd("XADD")
            .arg(&redis.stream)
            .arg("*")
            .arg("event")
            .arg(n)
            .ignore();
        if n % 10_000 == 9_999 || n == over - 1 {
            pipe.query::<()>(&mut client).unwrap();
            pipe = redis::pipe();
        }
    }
    Writer::new(&app, "ada@example.com").create("Pay rent");
    assert_eq!(delivered(&app), 1);
    let length: u64 = redis::cmd("XLEN")
        .arg(&redis.stream)
        .query(&mut client)
        .unwrap();
    // `MAXLEN ~` trims whole nodes of (by default) 100 entries.
    assert!(length <= REDIS_STREAM_MAXLEN + 100, "{length}");
    let last: Value = redis::cmd("XREVRANGE")
        .arg(&redis.stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query::<Vec<(String, Vec<(String, String)>)>>(&mut client)
        .map(|entries| serde_json::from_str(&entries[0].1[0].1).unwrap())
        .unwrap();
    assert_eq!(last["data"]["title"], "Pay rent");
}

#[test]
fn while_redis_is_down_nothing_is_lost_and_afterwards_everything_arrives_in_order() {
    let mut redis = TestRedis::own();
    let app = app_with(&redis.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    let first = writer.create("First");
    assert_eq!(delivered(&app), 1);
    redis.stop();
    writer.rename(&first, "First, renamed");
    let second = writer.create("Second");
    let (status, body) = relay(&app);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(!body.to_string().contains("redis://"), "{body}");
    assert_eq!(outbox(&app), (3, 2));
    writer.rename(&second, "Second, renamed");
    writer.rename(&first, "First, renamed again");

    redis.start_again();
    assert_eq!(delivered(&app), 4);
    assert_eq!(outbox(&app), (5, 0));
    let events = redis.events();
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["title"].as_str().unwrap())
        .collect();
    // The first event went out before Redis went down (its stream is gone
    // with it: this server keeps nothing on disk).
    assert_eq!(
        titles,
        [
            "First, renamed",
            "Second",
            "Second, renamed",
            "First, renamed again"
        ]
    );
    in_order_per_todo_and_once(&events);
}

#[test]
fn a_relay_that_fails_between_send_and_mark_sends_the_events_again_never_loses_them() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    writer.create("Pay rent");
    // The statement that marks them delivered fails, as a relay that died
    // after sending would never send it.
    let mut db = app.db.client();
    db.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'the relay died'; END $$;
         CREATE TRIGGER refuse BEFORE UPDATE OF delivered_at ON event_outbox
             EXECUTE FUNCTION refuse();",
    )
    .unwrap();
    let (status, body) = relay(&app);
    assert_eq!(status, 500, "{body}");
    assert_eq!(redis.events().len(), 1);
    assert_eq!(outbox(&app), (1, 1));
    db.batch_execute("DROP TRIGGER refuse ON event_outbox")
        .unwrap();

    // Its lease runs out; then the event is sent again under the same entry
    // id, which Redis refuses as the duplicate it is: it counts as delivered
    // and the stream holds it once.
    db.execute(
        "UPDATE relay_lease SET until = now() - interval '1 second'",
        &[],
    )
    .unwrap();
    assert_eq!(delivered(&app), 1);
    assert_eq!(redis.events().len(), 1);
    assert_eq!(outbox(&app), (1, 0));
}

#[test]
fn relays_running_at_once_deliver_each_todos_events_once_and_in_order() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    let todos: Vec<String> = (0..5)
        .map(|n| writer.create(&format!("todo {n}")))
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    thread::scope(|scope| {
        let relays: Vec<_> = (0..5)
            .map(|_| {
                let (app, done) = (&app, &done);
                scope.spawn(move || {
                    let mut total = 0;
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        total += delivered(app);
                    }
                    total + delivered(app)
                })
            })
            .collect();
        for step in 0..195 {
            writer.rename(&todos[step % 5], &format!("todo {} step {step}", step % 5));
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let total: u64 = relays.into_iter().map(|r| r.join().unwrap()).sum();
        let total = total + delivered(&app);
        assert_eq!(total, 200);
    });
    let events = redis.events();
    assert_eq!(events.len(), 200);
    in_order_per_todo_and_once(&events);
    assert_eq!(outbox(&app), (200, 0));
}

#[test]
fn a_relay_that_waits_delivers_a_change_within_two_seconds() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    app.clock.sleep_for_real();
    let writer = Writer::new(&app, "ada@example.com");
    thread::scope(|scope| {
        let waiting = scope.spawn(|| relay_at(&app, "/internal/events/relay?wait=4"));
        thread::sleep(Duration::from_millis(500));
        writer.create("Pay rent");
        let changed = Instant::now();
        while redis.events().is_empty() {
            assert!(
                changed.elapsed() < Duration::from_secs(2),
                "not delivered within 2 s"
            );
            thread::sleep(Duration::from_millis(50));
        }
        let (status, body) = waiting.join().unwrap();
        assert_eq!(
            (status, body["delivered"].as_u64()),
            (200, Some(1)),
            "{body}"
        );
    });
}

/// A TCP relay in front of Redis that can hold one `XADD` on its way: the
/// command of a relay stuck on Redis (Spin's Redis interface has no time
/// limit), let through once the test says so, late.
struct HoldingRedis {
    host: String,
    port: u16,
    /// Set: the next `XADD` through any connection is held.
    armed: Arc<std::sync::atomic::AtomicBool>,
    /// An `XADD` is being held.
    holding: Arc<std::sync::atomic::AtomicBool>,
    released: Arc<std::sync::atomic::AtomicBool>,
}

impl HoldingRedis {
    fn start(redis: &TestRedis) -> HoldingRedis {
        use std::sync::atomic::AtomicBool;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = HoldingRedis {
            host: "127.0.0.1".into(),
            port,
            armed: Arc::new(AtomicBool::new(false)),
            holding: Arc::new(AtomicBool::new(false)),
            released: Arc::new(AtomicBool::new(false)),
        };
        let upstream = format!("{}:{}", redis.host, redis.port);
        let (armed, holding, released) = (
            proxy.armed.clone(),
            proxy.holding.clone(),
            proxy.released.clone(),
        );
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut from_server, mut to_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(std::net::Shutdown::Both);
                });
                let (armed, holding, released) = (armed.clone(), holding.clone(), released.clone());
                thread::spawn(move || {
                    use std::sync::atomic::Ordering::SeqCst;
                    let (mut client, mut server) = (client, server);
                    let mut chunk = [0; 64 * 1024];
                    loop {
                        let n = match client.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let is_xadd = chunk[..n].windows(4).any(|w| w == b"XADD");
                        if is_xadd && armed.swap(false, SeqCst) {
                            holding.store(true, SeqCst);
                            while !released.load(SeqCst) {
                                thread::sleep(Duration::from_millis(10));
                            }
                        }
                        if server.write_all(&chunk[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        proxy
    }

    /// The app's variables for a Redis sink through this relay.
    fn sink_vars(&self, redis: &TestRedis) -> Vec<(&'static str, String)> {
        let mut vars = redis.sink_vars();
        vars.retain(|(name, _)| {
            !matches!(
                *name,
                "events_redis_url" | "events_redis_host" | "events_redis_port"
            )
        });
        vars.push((
            "events_redis_url",
            format!("redis://{}:{}", self.host, self.port),
        ));
        vars.push(("events_redis_host", self.host.clone()));
        vars.push(("events_redis_port", self.port.to_string()));
        vars
    }

    /// Holds the next `XADD`, and waits until one is held.
    fn hold_next_xadd(&self, then: impl FnOnce()) {
        use std::sync::atomic::Ordering::SeqCst;
        self.armed.store(true, SeqCst);
        then();
        let started = Instant::now();
        while !self.holding.load(SeqCst) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no XADD came through"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets the held `XADD` go on to Redis.
    fn release(&self) {
        self.released
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_late_xadd_of_a_relay_that_outlived_its_lease_never_lands_after_newer_events() {
    let redis = TestRedis::start();
    let holding = HoldingRedis::start(&redis);
    let app = app_with(&holding.sink_vars(&redis));
    let writer = Writer::new(&app, "ada@example.com");
    let todo = writer.create("Pay rent");
    thread::scope(|scope| {
        // A relay's XADD of the first event hangs on the way to Redis.
        let mut stuck = None;
        holding.hold_next_xadd(|| stuck = Some(scope.spawn(|| relay(&app))));
        // Meanwhile its lease runs out, the todo changes, and the next relay
        // sends the first event again and the new one.
        app.db
            .client()
            .execute(
                "UPDATE relay_lease SET until = now() - interval '1 second'",
                &[],
            )
            .unwrap();
        writer.rename(&todo, "Pay rent, renamed");
        assert_eq!(delivered(&app), 2);
        // Then the stuck XADD reaches Redis, late: it is refused, and the
        // stuck relay, which lost its lease, marks nothing.
        holding.release();
        let (status, body) = stuck.unwrap().join().unwrap();
        assert_eq!(
            (status, body["delivered"].as_u64()),
            (200, Some(0)),
            "{body}"
        );
    });
    let events = redis.events();
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Pay rent", "Pay rent, renamed"]);
    in_order_per_todo_and_once(&events);
    assert_eq!(outbox(&app), (2, 0));
    assert_eq!(delivered(&app), 0);
}

#[test]
fn each_redis_entry_id_is_the_events_send_number_and_a_resend_is_refused_as_a_duplicate() {
    let redis = TestRedis::start();
    let app = app_with(&redis.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    let first = writer.create("First");
    writer.create("Second");
    writer.rename(&first, "First, renamed");
    assert_eq!(delivered(&app), 3);
    let numbers: Vec<String> = app
        .db
        .client()
        .query(
            "SELECT send_seq::text || '-0' FROM event_outbox ORDER BY audit_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let ids: Vec<String> = redis.entries().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, numbers);
    // Above every id Redis makes itself (milliseconds since 1970).
    let first_number: u64 = ids[0].trim_end_matches("-0").parse().unwrap();
    assert!(first_number >= 10_000_000_000_000, "{first_number}");

    // A relay that sent but could not mark sends the same entries again:
    // Redis refuses them, and they count as delivered.
    app.db
        .client()
        .execute("UPDATE event_outbox SET delivered_at = NULL", &[])
        .unwrap();
    assert_eq!(delivered(&app), 3);
    assert_eq!(redis.entries().len(), 3);
}

// ---------------------------------------------------------------------------
// A local stand-in for a Kafka REST proxy (v2 API)

/// A produce request as the stand-in received it.
#[derive(Debug, Clone)]
struct Produce {
    path: String,
    /// Names in lowercase.
    headers: HashMap<String, String>,
    body: Value,
}

/// What the stand-in answers.
#[derive(Clone)]
enum Proxy {
    /// Writes every record: offsets in order, on partition 0.
    Writes,
    /// This status and body (e.g. 503, or 404 with error_code 40401).
    Fails(u16, Value),
    /// Writes every record but those of these events (by CloudEvent id),
    /// once each, which get a per-record error.
    FailsOnce(Arc<Mutex<HashSet<String>>>),
    /// Runs this first (e.g. takes the relay's lease away), then writes.
    Meanwhile(Arc<dyn Fn() + Send + Sync>),
    /// Writes every record, but only after this long (past the relay's
    /// time limit, when nobody waits for the answer any more).
    WritesLate(Duration),
}

struct KafkaProxy {
    url: String,
    answer: Arc<Mutex<Proxy>>,
    requests: Arc<Mutex<Vec<Produce>>>,
    /// What was written, in order: the records' values.
    topic: Arc<Mutex<Vec<Value>>>,
}

impl KafkaProxy {
    fn start() -> KafkaProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = KafkaProxy {
            url,
            answer: Arc::new(Mutex::new(Proxy::Writes)),
            requests: Arc::default(),
            topic: Arc::default(),
        };
        let (answer, requests, topic) = (
            proxy.answer.clone(),
            proxy.requests.clone(),
            proxy.topic.clone(),
        );
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (answer, requests, topic) = (answer.clone(), requests.clone(), topic.clone());
                thread::spawn(move || produce(stream, &answer, &requests, &topic));
            }
        });
        proxy
    }

    fn will(&self, answer: Proxy) {
        *self.answer.lock().unwrap() = answer;
    }

    fn written(&self) -> Vec<Value> {
        self.topic.lock().unwrap().clone()
    }

    fn requests(&self) -> Vec<Produce> {
        self.requests.lock().unwrap().clone()
    }

    fn sink_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("events_sink", "kafka-rest".into()),
            ("events_kafka_url", self.url.clone()),
            ("events_kafka_topic", "todo-events".into()),
            ("events_kafka_auth", "Basic dG9kbzpzZWNyZXQ=".into()),
        ]
    }
}

fn produce(
    stream: TcpStream,
    answer: &Mutex<Proxy>,
    requests: &Mutex<Vec<Produce>>,
    topic: &Mutex<Vec<Value>>,
) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    requests.lock().unwrap().push(request.clone());
    let answer = answer.lock().unwrap().clone();
    let records = request.body["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let write = |failing: &dyn Fn(&Value) -> bool| {
        let mut topic = topic.lock().unwrap();
        let offsets: Vec<Value> = records
            .iter()
            .map(|record| {
                if failing(&record["value"]) {
                    json!({"partition": null, "offset": null, "error_code": 50002,
                           "error": "This server is not the leader for that topic-partition."})
                } else {
                    topic.push(record["value"].clone());
                    json!({"partition": 0, "offset": topic.len() - 1,
                           "error_code": null, "error": null})
                }
            })
            .collect();
        (
            200,
            json!({"key_schema_id": null, "value_schema_id": null, "offsets": offsets}),
        )
    };
    let (status, body) = match answer {
        Proxy::Writes => write(&|_| false),
        Proxy::Fails(status, body) => (status, body),
        Proxy::FailsOnce(ids) => write(&|value| {
            ids.lock()
                .unwrap()
                .remove(value["id"].as_str().unwrap_or_default())
        }),
        Proxy::Meanwhile(run) => {
            run();
            write(&|_| false)
        }
        Proxy::WritesLate(after) => {
            thread::sleep(after);
            write(&|_| false)
        }
    };
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/vnd.kafka.v2+json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

fn read_request(stream: &TcpStream) -> Option<Produce> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Produce {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

#[test]
fn events_go_to_the_kafka_topic_keyed_by_todo_in_the_v2_format() {
    let proxy = KafkaProxy::start();
    let app = app_with(&proxy.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    let first = writer.create("First");
    let second = writer.create("Second");
    writer.rename(&first, "First, renamed");
    assert_eq!(delivered(&app), 3);
    let requests = proxy.requests();
    // A request never holds two events of one todo.
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.path, "/topics/todo-events");
        assert_eq!(
            request.headers["content-type"],
            "application/vnd.kafka.json.v2+json"
        );
        assert_eq!(request.headers["accept"], "application/vnd.kafka.v2+json");
        assert_eq!(request.headers["authorization"], "Basic dG9kbzpzZWNyZXQ=");
        for record in request.body["records"].as_array().unwrap() {
            assert_eq!(record["key"], record["value"]["subject"], "{record}");
            assert_eq!(record.as_object().unwrap().len(), 2, "{record}");
        }
    }
    let subjects: Vec<&str> = requests[0].body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, [first.as_str(), second.as_str()]);
    let written = proxy.written();
    let types: Vec<&str> = written
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "dev.todo-spin.todo.created",
            "dev.todo-spin.todo.created",
            "dev.todo-spin.todo.updated"
        ]
    );
    assert_eq!(written[2]["data"]["title"], "First, renamed");
    assert_eq!(delivered(&app), 0);
}

#[test]
fn while_the_kafka_proxy_fails_nothing_is_lost_and_afterwards_everything_arrives_in_order() {
    let proxy = KafkaProxy::start();
    let app = app_with(&proxy.sink_vars());
    let writer = Writer::new(&app, "ada@example.com");
    let first = writer.create("First");
    let second = writer.create("Second");
    let refusals = [
        (
            503,
            json!({"error_code": 50301, "message": "Service unavailable"}),
        ),
        (
            404,
            json!({"error_code": 40401, "message": "Topic todo-events not found."}),
        ),
        (500, json!({"error_code": 50001, "message": "Kafka error"})),
    ];
    for (status, body) in refusals {
        proxy.will(Proxy::Fails(status, body));
        let (answered, error) = relay(&app);
        assert_eq!(
            (answered, error["error"]["code"].as_str()),
            (503, Some("unavailable"))
        );
        assert_eq!(outbox(&app), (2, 2));
    }
    writer.rename(&first, "First, renamed");
    // The proxy takes the second todo's event but not the first's: only the
    // second is marked, and the first todo's later events wait for it.
    let first_event = queued_ids(&app)[0].clone();
    proxy.will(Proxy::FailsOnce(Arc::new(Mutex::new(HashSet::from([
        first_event.clone(),
    ])))));
    let (status, _) = relay(&app);
    assert_eq!(status, 503);
    assert_eq!(outbox(&app), (3, 2));
    writer.rename(&second, "Second, renamed");
    proxy.will(Proxy::Writes);
    assert_eq!(delivered(&app), 3);
    assert_eq!(outbox(&app), (4, 0));
    let written = proxy.written();
    let titles: Vec<&str> = written
        .iter()
        .map(|e| e["data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Second", "First", "First, renamed", "Second, renamed"]
    );
    in_order_per_todo_and_once(&written);
}

#[test]
fn a_relay_that_loses_its_lease_before_marking_delivers_the_events_again() {
    let proxy = KafkaProxy::start();
    let app = app_with(&proxy.sink_vars());
    Writer::new(&app, "ada@example.com").create("Pay rent");
    // While the proxy writes, the lease runs out and another relay takes it
    // (and dies): the first relay marks nothing.
    let db_url = app.db.url.clone();
    proxy.will(Proxy::Meanwhile(Arc::new(move || {
        postgres::Client::connect(&db_url, postgres::NoTls)
            .unwrap()
            .execute(
                "UPDATE relay_lease SET holder = gen_random_uuid(), until = now() - interval '1 second'",
                &[],
            )
            .unwrap();
    })));
    assert_eq!(delivered(&app), 0);
    assert_eq!(outbox(&app), (1, 1));
    proxy.will(Proxy::Writes);
    assert_eq!(delivered(&app), 1);
    let written = proxy.written();
    assert_eq!(written.len(), 2);
    assert_eq!(written[0], written[1], "the same event, the same id");
}

#[test]
fn after_a_kafka_timeout_the_relay_stops_at_once_and_a_late_record_is_a_duplicate_by_id() {
    let proxy = KafkaProxy::start();
    let app = app_with(&proxy.sink_vars());
    app.clock.sleep_for_real();
    let writer = Writer::new(&app, "ada@example.com");
    let todo = writer.create("Pay rent");
    // The proxy writes the record two seconds after the relay gave up on it.
    proxy.will(Proxy::WritesLate(SEND_TIMEOUT + Duration::from_secs(2)));
    let started = Instant::now();
    let (status, body) = relay_at(&app, "/internal/events/relay?wait=30");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    // It did not try again, nor go on waiting for new events.
    assert!(started.elapsed() < SEND_TIMEOUT + Duration::from_secs(1));
    assert_eq!(proxy.requests().len(), 1);
    assert_eq!(outbox(&app), (1, 1));

    // The next relay sends the event again, then the newer one; the late
    // record lands after both (or, on a slow machine, before them).
    proxy.will(Proxy::Writes);
    writer.rename(&todo, "Pay rent, renamed");
    assert_eq!(delivered(&app), 2);
    let late = Instant::now();
    while proxy.written().len() < 3 {
        assert!(late.elapsed() < Duration::from_secs(10), "the late record");
        thread::sleep(Duration::from_millis(50));
    }
    let written = proxy.written();
    assert_eq!(written.len(), 3, "the first event twice, the second once");
    // A consumer that drops what it has seen by id gets each event once, in order.
    let mut seen = HashSet::new();
    let kept: Vec<Value> = written
        .into_iter()
        .filter(|e| seen.insert(e["id"].clone()))
        .collect();
    let titles: Vec<&str> = kept
        .iter()
        .map(|e| e["data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Pay rent", "Pay rent, renamed"]);
    in_order_per_todo_and_once(&kept);
}
