//! A todo event as a CloudEvent 1.0 in its structured JSON form
//! (<https://github.com/cloudevents/spec>, `json-format.md`): the context
//! attributes and `data` in one JSON object, which is what every sink
//! carries.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::DbError;

/// `source` when `events_source` is not set: names this app's todos, so that
/// `source` and `id` (the audit row's id) identify an event. Deployments
/// that share a broker give each their own `events_source`.
pub const DEFAULT_SOURCE: &str = "/todo-spin/todos";

/// What happened to the todo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Created,
    Updated,
    Completed,
    Reopened,
    Deleted,
    /// A reminder of the todo fired (the reminder sweep records it).
    Reminder,
    ListCreated,
    /// Renamed, recoloured, handed over, or a member's role changed.
    ListUpdated,
    ListDeleted,
    MemberAdded,
    MemberRemoved,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::Created,
        EventType::Updated,
        EventType::Completed,
        EventType::Reopened,
        EventType::Deleted,
        EventType::Reminder,
        EventType::ListCreated,
        EventType::ListUpdated,
        EventType::ListDeleted,
        EventType::MemberAdded,
        EventType::MemberRemoved,
    ];

    /// The CloudEvents `type`: reverse-DNS, as the spec recommends.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "dev.todo-spin.todo.created",
            EventType::Updated => "dev.todo-spin.todo.updated",
            EventType::Completed => "dev.todo-spin.todo.completed",
            EventType::Reopened => "dev.todo-spin.todo.reopened",
            EventType::Deleted => "dev.todo-spin.todo.deleted",
            EventType::Reminder => "dev.todo-spin.todo.reminder",
            EventType::ListCreated => "dev.todo-spin.list.created",
            EventType::ListUpdated => "dev.todo-spin.list.updated",
            EventType::ListDeleted => "dev.todo-spin.list.deleted",
            EventType::MemberAdded => "dev.todo-spin.list.member.added",
            EventType::MemberRemoved => "dev.todo-spin.list.member.removed",
        }
    }

    /// The type of an audit row: a toggle completed the todo or reopened it,
    /// as the todo after it (`data`) says.
    fn of(action: &str, data: &serde_json::Value) -> Option<Self> {
        Some(match action {
            "create" => EventType::Created,
            "update" => EventType::Updated,
            "toggle" if data["completed"] == true => EventType::Completed,
            "toggle" if data["completed"] == false => EventType::Reopened,
            "delete" => EventType::Deleted,
            "reminder" => EventType::Reminder,
            "list.created" => EventType::ListCreated,
            "list.updated" => EventType::ListUpdated,
            "list.deleted" => EventType::ListDeleted,
            "list.member.added" => EventType::MemberAdded,
            "list.member.removed" => EventType::MemberRemoved,
            _ => return None,
        })
    }
}

/// An event as the outbox holds it: its audit row.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditEvent {
    /// The audit row's id: unique, and the same every time the event is sent.
    pub id: i64,
    /// `None` for an event of a list itself.
    pub todo_id: Option<Uuid>,
    pub list_id: Option<Uuid>,
    pub action: String,
    /// The todo after the change (before it, for a delete), or the list.
    pub after: Option<serde_json::Value>,
    /// Who made the change (`{"id", "name"}`); `None` for a reminder, or
    /// once their account is gone.
    #[serde(default)]
    pub actor: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
    /// The event's send number (migration V14), given by the pass that first
    /// claimed it: its entry id in a Redis stream (`<send_seq>-0`).
    #[serde(default)]
    pub send_seq: Option<i64>,
}

/// A CloudEvent 1.0 with JSON data. No extension attributes: `data` is the
/// todo (with its `list_id`) or the list, and `data.actor` the member who
/// made the change (a reminder names none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The todo's id, or for an event of a list, the list's.
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    pub data: serde_json::Value,
}

impl CloudEvent {
    /// The CloudEvent of an audit row, from `source`.
    pub fn of(event: &AuditEvent, source: &str) -> Result<Self, DbError> {
        let mut data = event.after.clone().ok_or_else(|| {
            DbError::Decode(format!("audit row {} has no data (`after`)", event.id))
        })?;
        if let (Some(actor), Some(fields)) = (&event.actor, data.as_object_mut()) {
            fields.insert("actor".into(), actor.clone());
        }
        let subject = event.todo_id.or(event.list_id).ok_or_else(|| {
            DbError::Decode(format!("audit row {} names no todo or list", event.id))
        })?;
        let kind = EventType::of(&event.action, &data).ok_or_else(|| {
            DbError::Decode(format!(
                "audit row {} has no event type (action {:?})",
                event.id, event.action
            ))
        })?;
        Ok(CloudEvent {
            specversion: "1.0".into(),
            id: event.id.to_string(),
            source: source.to_owned(),
            kind: kind.as_str().into(),
            subject: subject.to_string(),
            time: event.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            datacontenttype: "application/json".into(),
            data,
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn audit(action: &str, after: serde_json::Value) -> AuditEvent {
        AuditEvent {
            id: 42,
            todo_id: Some(Uuid::from_u128(7)),
            list_id: Some(Uuid::from_u128(9)),
            action: action.into(),
            after: Some(after),
            actor: Some(json!({"id": Uuid::from_u128(3), "name": "Ada"})),
            at: DateTime::parse_from_rfc3339("2026-12-03T08:00:00.250Z")
                .unwrap()
                .to_utc(),
            send_seq: Some(10_000_000_000_042),
        }
    }

    #[test]
    fn an_audit_row_becomes_a_structured_cloudevent() {
        let data = json!({"id": Uuid::from_u128(7), "title": "Pay rent", "completed": false});
        let event = CloudEvent::of(&audit("create", data.clone()), DEFAULT_SOURCE).unwrap();
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({
                "specversion": "1.0",
                "id": "42",
                "source": "/todo-spin/todos",
                "type": "dev.todo-spin.todo.created",
                "subject": "00000000-0000-0000-0000-000000000007",
                "time": "2026-12-03T08:00:00.250Z",
                "datacontenttype": "application/json",
                "data": {
                    "id": Uuid::from_u128(7), "title": "Pay rent", "completed": false,
                    "actor": {"id": Uuid::from_u128(3), "name": "Ada"},
                },
            })
        );
    }

    #[test]
    fn a_list_event_is_about_the_list() {
        let mut row = audit("list.member.added", json!({"id": Uuid::from_u128(9)}));
        row.todo_id = None;
        let event = CloudEvent::of(&row, DEFAULT_SOURCE).unwrap();
        assert_eq!(event.kind, "dev.todo-spin.list.member.added");
        assert_eq!(event.subject, Uuid::from_u128(9).to_string());
        row.list_id = None;
        assert!(CloudEvent::of(&row, DEFAULT_SOURCE).is_err());
    }

    #[test]
    fn each_action_has_its_type_and_a_toggle_says_which_way_it_went() {
        let table = [
            ("create", json!({}), Some(EventType::Created)),
            ("update", json!({}), Some(EventType::Updated)),
            (
                "toggle",
                json!({"completed": true}),
                Some(EventType::Completed),
            ),
            (
                "toggle",
                json!({"completed": false}),
                Some(EventType::Reopened),
            ),
            ("toggle", json!({}), None),
            ("delete", json!({}), Some(EventType::Deleted)),
            ("reminder", json!({}), Some(EventType::Reminder)),
            ("list.created", json!({}), Some(EventType::ListCreated)),
            ("list.updated", json!({}), Some(EventType::ListUpdated)),
            ("list.deleted", json!({}), Some(EventType::ListDeleted)),
            (
                "list.member.removed",
                json!({}),
                Some(EventType::MemberRemoved),
            ),
            ("move_out", json!({}), None),
            ("rename", json!({}), None),
        ];
        for (action, data, want) in table {
            assert_eq!(EventType::of(action, &data), want, "{action} {data}");
            let event = CloudEvent::of(&audit(action, data), "/s");
            assert_eq!(event.is_ok(), want.is_some(), "{action}");
        }
        for kind in EventType::ALL {
            assert!(
                kind.as_str().starts_with("dev.todo-spin.todo.")
                    || kind.as_str().starts_with("dev.todo-spin.list.")
            );
        }
    }

    #[test]
    fn an_audit_row_without_data_is_no_event() {
        let mut row = audit("create", json!({}));
        row.after = None;
        assert!(CloudEvent::of(&row, "/s").is_err());
    }
}
