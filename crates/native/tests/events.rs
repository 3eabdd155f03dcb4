//! Todo events over real HTTP and real PostgreSQL: every change queues its
//! event (the audit row, with the todo after the change) in the statement
//! that makes it.

use native::testing::TestApp;
use serde_json::{json, Value};

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
