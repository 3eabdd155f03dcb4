//! What a chat message asks for: the one shape every tier must produce. The
//! LLM tiers' JSON is read into it with strict serde (unknown fields and
//! actions refused), the rule parser builds it directly, and the code then
//! validates it through the same domain types as the REST API and carries it
//! out for the requesting user only. Targets are named by words ("milk"),
//! never by id: the code resolves them among that user's todos, and lists
//! and people by name ("Groceries", "Anna") among that user's lists and
//! their members.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::todos::{Priority, Recurrence};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum Intent {
    /// One or several new todos from one message, all in one list (the
    /// list `list` names, else the user's Inbox).
    Create {
        todos: Vec<Draft>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<String>,
    },
    List {
        #[serde(default)]
        filter: Filter,
    },
    Complete {
        target: String,
    },
    Reopen {
        target: String,
    },
    Update {
        target: String,
        changes: Changes,
    },
    /// `all`: every todo the target matches. Several todos, or any delete
    /// an LLM decided, are only proposed: nothing goes until the user
    /// confirms.
    Delete {
        target: String,
        #[serde(default)]
        all: bool,
    },
    /// Gives the person with this email access to the list `list` names
    /// (as an editor unless `role` says viewer), by an invitation. Only
    /// ever proposed: it goes when the user confirms.
    Share {
        list: String,
        email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<SharedRole>,
    },
    /// The user's "yes" to the delete (or share) the assistant proposed in
    /// its last answer. Never from an LLM (see `llm::read_intent`): only the
    /// user's own words confirm.
    Confirm,
    /// The user's "no" to that proposal.
    Cancel,
    Help,
    Unknown,
}

impl Intent {
    /// The words naming the todo to act on, for the actions that have them.
    pub fn target(&self) -> Option<&str> {
        match self {
            Intent::Complete { target }
            | Intent::Reopen { target }
            | Intent::Update { target, .. }
            | Intent::Delete { target, .. } => Some(target),
            _ => None,
        }
    }

    /// The intent with every text in it as the rule tier keeps a user's
    /// words: control characters taken out (a NUL cannot be saved), runs
    /// of whitespace one space, trimmed. An LLM tier's answer goes through
    /// this before it is checked, so that what a model says is held to
    /// what a user may say.
    /// Whether carrying it out needs the user's lists and their members:
    /// it names a list or a person.
    pub fn names_a_list_or_person(&self) -> bool {
        match self {
            Intent::Create { list, .. } => list.is_some(),
            Intent::List { filter } => filter.list.is_some(),
            Intent::Update { changes, .. } => changes.list.is_some() || changes.assignee.is_some(),
            Intent::Share { .. } => true,
            _ => false,
        }
    }

    pub fn without_control_chars(self) -> Self {
        fn tags(tags: Vec<String>) -> Vec<String> {
            tags.iter().map(|t| plain(t)).collect()
        }
        let opt_tags = |t: Option<Vec<String>>| t.map(tags);
        match self {
            Intent::Create { todos, list } => Intent::Create {
                todos: todos
                    .into_iter()
                    .map(|draft| Draft {
                        title: plain(&draft.title),
                        tags: tags(draft.tags),
                        ..draft
                    })
                    .collect(),
                list: list.as_deref().map(plain),
            },
            Intent::List { filter } => Intent::List {
                filter: Filter {
                    tag: filter.tag.as_deref().map(plain),
                    text: filter.text.as_deref().map(plain),
                    list: filter.list.as_deref().map(plain),
                    ..filter
                },
            },
            Intent::Complete { target } => Intent::Complete {
                target: plain(&target),
            },
            Intent::Reopen { target } => Intent::Reopen {
                target: plain(&target),
            },
            Intent::Update { target, changes } => Intent::Update {
                target: plain(&target),
                changes: Changes {
                    title: changes.title.as_deref().map(plain),
                    tags: opt_tags(changes.tags),
                    add_tags: opt_tags(changes.add_tags),
                    remove_tags: opt_tags(changes.remove_tags),
                    list: changes.list.as_deref().map(plain),
                    assignee: changes.assignee.as_deref().map(plain),
                    ..changes
                },
            },
            Intent::Delete { target, all } => Intent::Delete {
                target: plain(&target),
                all,
            },
            Intent::Share { list, email, role } => Intent::Share {
                list: plain(&list),
                email: plain(&email),
                role,
            },
            other => other,
        }
    }
}

/// `text` without control characters, its words one space apart: what the
/// rule tier makes of a user's words (see `rules::words::join_text`).
pub fn plain(text: &str) -> String {
    text.split(|c: char| c.is_whitespace())
        .map(|word| word.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words that point back rather than name ("it", "them", "those ones",
/// "all of them", "that task"): they name the todos of the conversation's
/// last answer, and are never searched for in titles ("it" is in "submit
/// report", "them" in "mathematics").
const POINTING: &[&str] = &["it", "them", "those", "these", "that", "this", "they"];
/// Words that may stand with a pointing word without naming anything.
const ALONG: &[&str] = &[
    "one", "ones", "all", "both", "of", "the", "task", "tasks", "todo", "todos", "to-do", "to-dos",
    "item", "items", "too", "as", "well", "two", "three", "again", "please",
];

/// Whether `target` only points back at todos (see [`POINTING`]); such a
/// target is resolved to the todos the conversation's last answer named.
/// "the task" alone points back too.
pub fn is_pronoun(target: &str) -> bool {
    let words: Vec<String> = target
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let pointing = words.iter().any(|w| POINTING.contains(&w.as_str()))
        || matches!(
            words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["the", "task" | "todo" | "to-do" | "item"]
        );
    pointing
        && words
            .iter()
            .all(|w| POINTING.contains(&w.as_str()) || ALONG.contains(&w.as_str()))
}

/// How words a user said name a list or a person: the name exactly (case
/// aside), or some of its whole words, in order ("groceries" in "Weekly
/// Groceries", never "grocer"), the way todo titles are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    Words,
    Exact,
}

/// Whether, and how, `said` names `name` (see [`NameMatch`]).
pub fn name_match(name: &str, said: &str) -> Option<NameMatch> {
    fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }
    if name.trim().to_lowercase() == said.trim().to_lowercase() {
        return Some(NameMatch::Exact);
    }
    let (name, said) = (words(name), words(said));
    (!said.is_empty() && name.windows(said.len()).any(|w| w == said.as_slice()))
        .then_some(NameMatch::Words)
}

/// The best of `candidates` that `said` names: those it names exactly,
/// else those it names by whole words (see [`name_match`]).
pub fn best_named<'a, T>(
    candidates: impl IntoIterator<Item = &'a T>,
    said: &str,
    name: impl Fn(&T) -> &str,
) -> Vec<&'a T>
where
    T: 'a,
{
    let mut best: Vec<&T> = Vec::new();
    let mut level = None;
    for candidate in candidates {
        let Some(found) = name_match(name(candidate), said) else {
            continue;
        };
        if level.is_none_or(|level| found > level) {
            best.clear();
            level = Some(found);
        }
        if Some(found) == level {
            best.push(candidate);
        }
    }
    best
}

/// A todo to create, before the domain types check it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub title: String,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
}

/// Which todos a list shows; every field narrows it, none means all open ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub status: Option<StatusFilter>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub due: Option<DueFilter>,
    #[serde(default)]
    pub tag: Option<String>,
    /// Words to look for in titles and descriptions.
    #[serde(default)]
    pub text: Option<String>,
    /// Only the todos of the list this names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
}

/// The role a share offers: nobody is made an owner by a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SharedRole {
    Editor,
    Viewer,
}

impl SharedRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SharedRole::Editor => "editor",
            SharedRole::Viewer => "viewer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    Open,
    Done,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueFilter {
    Today,
    ThisWeek,
    Overdue,
}

/// What an update changes; fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    /// Replaces all of the todo's tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Tags to add, keeping the others.
    #[serde(default)]
    pub add_tags: Option<Vec<String>>,
    /// Tags to take off, keeping the others.
    #[serde(default)]
    pub remove_tags: Option<Vec<String>>,
    /// Moves the todo to the list this names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    /// Assigns the todo to the member of its list this names (a name or an
    /// email; "me" is the user, "nobody" unassigns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_name_is_named_exactly_or_by_whole_words_in_order() {
        let cases = [
            ("Groceries", "groceries", Some(NameMatch::Exact)),
            ("Groceries", "  GROCERIES ", Some(NameMatch::Exact)),
            ("Weekly Groceries", "groceries", Some(NameMatch::Words)),
            (
                "Weekly Groceries",
                "weekly groceries",
                Some(NameMatch::Exact),
            ),
            ("Work: Q4 plans", "q4 plans", Some(NameMatch::Words)),
            ("Groceries", "grocer", None),
            ("Weekly Groceries", "groceries weekly", None),
            ("Groceries", "", None),
            ("Anna Smith", "anna", Some(NameMatch::Words)),
        ];
        for (name, said, want) in cases {
            assert_eq!(name_match(name, said), want, "{name:?} / {said:?}");
        }
        let names = ["Work", "Homework", "Work trips", "work"];
        let best = best_named(names.iter(), "work", |n| n);
        assert_eq!(best, [&"Work", &"work"]);
        let best = best_named(names.iter(), "trips", |n| n);
        assert_eq!(best, [&"Work trips"]);
    }

    #[test]
    fn intents_read_the_documented_json_and_refuse_anything_else() {
        let create: Intent = serde_json::from_value(json!({
            "action": "create",
            "todos": [{"title": "Buy groceries", "priority": "low",
                       "due_at": "2026-12-01T09:00:00Z", "tags": []}]
        }))
        .unwrap();
        let Intent::Create { todos, .. } = create else {
            panic!("not a create");
        };
        assert_eq!(todos[0].title, "Buy groceries");
        assert_eq!(todos[0].priority, Some(Priority::Low));
        let list: Intent =
            serde_json::from_value(json!({"action": "list", "filter": {"due": "this_week"}}))
                .unwrap();
        assert_eq!(
            list,
            Intent::List {
                filter: Filter {
                    due: Some(DueFilter::ThisWeek),
                    ..Filter::default()
                }
            }
        );
        for bad in [
            json!({"action": "drop_table"}),
            json!({"action": "complete"}),
            json!({"action": "complete", "target": "x", "id": "1"}),
            json!({"action": "create", "todos": [{"title": "x", "owner": "bob"}]}),
            json!({"action": "list", "filter": {"due": "someday"}}),
        ] {
            assert!(
                serde_json::from_value::<Intent>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
