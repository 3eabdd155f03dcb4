//! What an LLM tier must answer, twice over: as JSON Schemas (sent to the
//! model in the prompt, and to Ollama as `format`, which constrains its
//! output), and as the checks the code applies to whatever comes back: strict
//! serde into [`Intent`], then the length limits serde cannot express. The
//! schema and the checks agree; a test in `crates/native/tests/chat_llm.rs`
//! runs both over the same examples.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Email;
use crate::chat::intent::{Changes, Draft, Filter, Intent};
use crate::lists::ListName;
use crate::todos::{Tags, TodoTitle};

/// Most todos one create may hold.
pub const MAX_DRAFTS: usize = 10;
/// Longest target, in characters (words naming todos, like a title).
pub const MAX_TARGET_CHARS: usize = 200;
/// Longest `filter.text`, in characters.
pub const MAX_FILTER_TEXT_CHARS: usize = 200;
/// Most suggestions one answer may hold.
pub const MAX_SUGGESTIONS: usize = 5;
/// Longest way of naming a person (a name or an email), in characters.
pub const MAX_PERSON_CHARS: usize = Email::MAX_BYTES;

const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];
const RECURRENCES: [&str; 4] = ["none", "daily", "weekly", "monthly"];

fn text(max_chars: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max_chars})
}

/// An object with exactly these properties, of which `required` must be there.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// One action of [`Intent`]: `action` fixed to `name`, plus `properties`.
fn action(name: &str, properties: Value, required: &[&str]) -> Value {
    let mut all = Map::new();
    all.insert("action".into(), json!({"const": name}));
    if let Value::Object(more) = properties {
        all.extend(more);
    }
    let mut names = vec!["action"];
    names.extend_from_slice(required);
    object(Value::Object(all), &names)
}

/// The JSON Schema of [`Intent`] (`crate::chat::intent`), written by hand to
/// match its serde exactly, with the limits of [`check_intent`]. Optional
/// fields are left out rather than `null` (serde accepts both).
pub fn intent_schema() -> Value {
    let priority = json!({"type": "string", "enum": PRIORITIES});
    let due_at = json!({"type": "string", "format": "date-time"});
    let tags = json!({
        "type": "array",
        "maxItems": Tags::MAX_TAGS,
        "items": text(Tags::MAX_CHARS),
    });
    let target = text(MAX_TARGET_CHARS);
    let list = text(ListName::MAX_CHARS);
    let draft = object(
        json!({
            "title": text(TodoTitle::MAX_CHARS),
            "priority": priority,
            "due_at": due_at,
            "tags": tags,
            "recurrence": {"type": "string", "enum": RECURRENCES},
        }),
        &["title"],
    );
    let filter = object(
        json!({
            "status": {"type": "string", "enum": ["open", "done", "all"]},
            "priority": priority,
            "due": {"type": "string", "enum": ["today", "this_week", "overdue"]},
            "tag": text(Tags::MAX_CHARS),
            "text": text(MAX_FILTER_TEXT_CHARS),
            "list": list,
        }),
        &[],
    );
    let changes = object(
        json!({
            "title": text(TodoTitle::MAX_CHARS),
            "priority": priority,
            "due_at": due_at,
            "tags": tags,
            "add_tags": tags,
            "remove_tags": tags,
            "list": list,
            "assignee": text(MAX_PERSON_CHARS),
        }),
        &[],
    );
    json!({
        "type": "object",
        "oneOf": [
            action(
                "create",
                json!({
                    "todos": {
                        "type": "array", "minItems": 1, "maxItems": MAX_DRAFTS, "items": draft,
                    },
                    "list": list,
                }),
                &["todos"],
            ),
            action("list", json!({"filter": filter}), &[]),
            action("complete", json!({"target": target}), &["target"]),
            action("reopen", json!({"target": target}), &["target"]),
            action(
                "update",
                json!({"target": target, "changes": changes}),
                &["target", "changes"],
            ),
            action(
                "delete",
                json!({"target": target, "all": {"type": "boolean"}}),
                &["target"],
            ),
            action(
                "share",
                json!({
                    "list": list,
                    "email": text(Email::MAX_BYTES),
                    "role": {"type": "string", "enum": ["editor", "viewer"]},
                }),
                &["list", "email"],
            ),
            action("help", json!({}), &[]),
            action("unknown", json!({}), &[]),
        ],
    })
}

/// The JSON Schema of a suggestions answer.
pub fn suggestions_schema() -> Value {
    object(
        json!({"suggestions": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SUGGESTIONS,
            "items": text(TodoTitle::MAX_CHARS),
        }}),
        &["suggestions"],
    )
}

/// A model's answer as an intent: strict serde, control characters taken
/// out of its texts ([`Intent::without_control_chars`]), then
/// [`check_intent`]. The
/// error is short and says what broke, for the log.
pub fn read_intent(answer: Value) -> Result<Intent, String> {
    let fields = answer.as_object().map_or(0, Map::len);
    let intent: Intent =
        serde_json::from_value(answer).map_err(|e| format!("not an intent: {e}"))?;
    // Held to what a user may say: no control characters (a NUL could not
    // even be saved), so that "\u0000" is an empty target, refused below.
    let intent = intent.without_control_chars();
    // serde ignores extra fields next to a unit variant's tag; the schema,
    // and so this check, does not.
    if matches!(intent, Intent::Help | Intent::Unknown) && fields > 1 {
        return Err("not an intent: help and unknown take no other fields".into());
    }
    // Only the user's own words confirm a proposed delete: a model (or a
    // todo title it read) cannot.
    if matches!(intent, Intent::Confirm | Intent::Cancel) {
        return Err("not an intent: only the user confirms or cancels".into());
    }
    check_intent(&intent).map_err(|e| format!("intent out of bounds: {e}"))?;
    Ok(intent)
}

/// The limits serde cannot express: text fields 1..=N characters after
/// trimming, at most [`MAX_DRAFTS`] todos and [`Tags::MAX_TAGS`] tags.
/// What is within them still goes through the todos' domain types later.
pub fn check_intent(intent: &Intent) -> Result<(), String> {
    match intent {
        Intent::Create { todos, list } => {
            if todos.is_empty() || todos.len() > MAX_DRAFTS {
                return Err(format!("a create holds 1 to {MAX_DRAFTS} todos"));
            }
            check_list(list.as_deref())?;
            todos.iter().try_for_each(check_draft)
        }
        Intent::Share { list, email, .. } => {
            bounded("list", list, ListName::MAX_CHARS)?;
            bounded("email", email, Email::MAX_BYTES)
        }
        Intent::List { filter } => check_filter(filter),
        Intent::Complete { target } | Intent::Reopen { target } | Intent::Delete { target, .. } => {
            bounded("target", target, MAX_TARGET_CHARS)
        }
        Intent::Update { target, changes } => {
            bounded("target", target, MAX_TARGET_CHARS)?;
            check_changes(changes)
        }
        Intent::Confirm | Intent::Cancel | Intent::Help | Intent::Unknown => Ok(()),
    }
}

fn check_draft(draft: &Draft) -> Result<(), String> {
    bounded("title", &draft.title, TodoTitle::MAX_CHARS)?;
    check_tags(&draft.tags)
}

fn check_filter(filter: &Filter) -> Result<(), String> {
    if let Some(tag) = &filter.tag {
        bounded("tag", tag, Tags::MAX_CHARS)?;
    }
    if let Some(text) = &filter.text {
        bounded("text", text, MAX_FILTER_TEXT_CHARS)?;
    }
    check_list(filter.list.as_deref())
}

fn check_list(list: Option<&str>) -> Result<(), String> {
    list.map_or(Ok(()), |list| bounded("list", list, ListName::MAX_CHARS))
}

fn check_changes(changes: &Changes) -> Result<(), String> {
    if let Some(title) = &changes.title {
        bounded("title", title, TodoTitle::MAX_CHARS)?;
    }
    check_list(changes.list.as_deref())?;
    if let Some(assignee) = &changes.assignee {
        bounded("assignee", assignee, MAX_PERSON_CHARS)?;
    }
    [&changes.tags, &changes.add_tags, &changes.remove_tags]
        .into_iter()
        .flatten()
        .try_for_each(|tags| check_tags(tags))
}

fn check_tags(tags: &[String]) -> Result<(), String> {
    if tags.len() > Tags::MAX_TAGS {
        return Err(format!("at most {} tags", Tags::MAX_TAGS));
    }
    tags.iter()
        .try_for_each(|tag| bounded("tag", tag, Tags::MAX_CHARS))
}

fn bounded(field: &str, value: &str, max_chars: usize) -> Result<(), String> {
    let chars = value.trim().chars().count();
    if (1..=max_chars).contains(&chars) {
        Ok(())
    } else {
        Err(format!(
            "{field} must have 1 to {max_chars} characters, not {chars}"
        ))
    }
}

/// A model's answer as suggestions: `{"suggestions": [...]}` and nothing
/// else, 1 to [`MAX_SUGGESTIONS`] titles that pass [`TodoTitle::parse`]
/// (trimmed, 1..=200 characters, one line).
pub fn read_suggestions(answer: Value) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Suggestions {
        suggestions: Vec<String>,
    }
    let Suggestions { suggestions } =
        serde_json::from_value(answer).map_err(|e| format!("not suggestions: {e}"))?;
    if suggestions.is_empty() || suggestions.len() > MAX_SUGGESTIONS {
        return Err(format!(
            "1 to {MAX_SUGGESTIONS} suggestions, not {}",
            suggestions.len()
        ));
    }
    suggestions
        .iter()
        .map(|s| {
            TodoTitle::parse(s)
                .map(|t| t.as_str().to_owned())
                .map_err(|e| format!("a suggestion {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_within_bounds_are_read() {
        for ok in [
            json!({"action": "create", "todos": [{"title": "Buy milk", "tags": ["shop"]}]}),
            json!({"action": "list"}),
            json!({"action": "list", "filter": {"status": "done", "text": "milk"}}),
            json!({"action": "complete", "target": "milk"}),
            json!({"action": "update", "target": "milk", "changes": {"priority": "high"}}),
            json!({"action": "delete", "target": "milk", "all": true}),
            json!({"action": "create", "todos": [{"title": "Milk"}], "list": "Groceries"}),
            json!({"action": "list", "filter": {"list": "Groceries"}}),
            json!({"action": "update", "target": "milk", "changes": {"list": "Work", "assignee": "Anna"}}),
            json!({"action": "share", "list": "Groceries", "email": "anna@example.com"}),
            json!({"action": "share", "list": "Groceries", "email": "a@b.c", "role": "viewer"}),
            json!({"action": "help"}),
            json!({"action": "unknown"}),
        ] {
            assert!(read_intent(ok.clone()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn intents_out_of_bounds_are_refused() {
        let long = "x".repeat(201);
        let drafts: Vec<Value> = (0..11).map(|i| json!({"title": format!("t{i}")})).collect();
        let tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        for bad in [
            json!({"action": "create", "todos": []}),
            json!({"action": "create", "todos": drafts}),
            json!({"action": "create", "todos": [{"title": long}]}),
            json!({"action": "create", "todos": [{"title": "  "}]}),
            json!({"action": "create", "todos": [{"title": "x", "tags": tags}]}),
            json!({"action": "create", "todos": [{"title": "x", "tags": ["y".repeat(33)]}]}),
            json!({"action": "complete", "target": long}),
            json!({"action": "delete", "target": ""}),
            json!({"action": "update", "target": "x", "changes": {"title": long}}),
            json!({"action": "update", "target": "x", "changes": {"tags": tags}}),
            json!({"action": "list", "filter": {"text": long}}),
            json!({"action": "list", "filter": {"tag": "y".repeat(33)}}),
            json!({"action": "complete", "id": "3f2a"}),
            json!({"action": "help", "target": "everything"}),
            json!({"action": "unknown", "id": "1"}),
            json!({"action": "confirm"}),
            json!({"action": "cancel"}),
            json!({"action": "share", "list": "Groceries"}),
            json!({"action": "share", "list": "", "email": "a@b.c"}),
            json!({"action": "share", "list": "G", "email": "a@b.c", "role": "owner"}),
            json!({"action": "create", "todos": [{"title": "x"}], "list": "y".repeat(101)}),
            json!({"action": "update", "target": "x", "changes": {"assignee": ""}}),
            json!(["not", "an", "object"]),
        ] {
            assert!(read_intent(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn control_characters_in_a_models_texts_are_taken_out_or_refused() {
        assert_eq!(
            read_intent(json!({"action": "complete", "target": "buy\u{0} milk\t"})),
            Ok(Intent::Complete {
                target: "buy milk".into()
            })
        );
        let create = read_intent(json!({"action": "create",
            "todos": [{"title": "a\u{7}\nb", "tags": ["x\u{0}y"]}]}));
        let Ok(Intent::Create { todos, .. }) = create else {
            panic!("{create:?}");
        };
        assert_eq!(
            (todos[0].title.as_str(), todos[0].tags.clone()),
            ("a b", vec!["xy".to_owned()])
        );
        for bad in [
            json!({"action": "complete", "target": "\u{0}"}),
            json!({"action": "delete", "target": "\u{1}\u{0}"}),
            json!({"action": "update", "target": "x", "changes": {"title": "\u{0}"}}),
            json!({"action": "create", "todos": [{"title": "\u{1b}"}]}),
        ] {
            assert!(read_intent(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggestions_are_one_to_five_single_line_titles() {
        assert_eq!(
            read_suggestions(json!({"suggestions": [" Book flights ", "Pack"]})),
            Ok(vec!["Book flights".to_owned(), "Pack".to_owned()])
        );
        for bad in [
            json!({"suggestions": []}),
            json!({"suggestions": ["a", "b", "c", "d", "e", "f"]}),
            json!({"suggestions": ["x".repeat(201)]}),
            json!({"suggestions": ["two\nlines"]}),
            json!({"suggestions": [""]}),
            json!({"suggestions": ["a"], "note": "b"}),
            json!({"ideas": ["a"]}),
        ] {
            assert!(read_suggestions(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_intent_schema_has_one_branch_per_action() {
        let schema = intent_schema();
        let actions: Vec<&str> = schema["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|branch| branch["properties"]["action"]["const"].as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "create", "list", "complete", "reopen", "update", "delete", "share", "help",
                "unknown"
            ]
        );
    }
}
