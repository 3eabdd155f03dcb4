//! Carries out an intent for the requesting user through the todos library
//! API (`todos::store`), so validation, limits, history and recurrence are
//! exactly the REST API's. Targets named by words are resolved among that
//! user's todos only, and nothing is done on a guess: an ambiguous target
//! answers the candidates, a missing one says so.

use chrono::{DateTime, Duration, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::intent::{Changes, Draft, DueFilter, Filter, Intent, StatusFilter};
use super::llm::MAX_DRAFTS;
use super::rules;
use crate::auth::Caller;
use crate::ports::Ctx;
use crate::todos::query::parse_search;
use crate::todos::store::{self, TodoError};
use crate::todos::{
    DueAt, ListQuery, NewTodo, Priority, Status, Tags, Todo, TodoChanges, TodoTitle,
};

/// What the assistant did: its answer in words, and the todos it touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub response: String,
    /// `{"created": [...], "count": n}`, `{"todos": [...], "count": n}`,
    /// `{"updated": [...]}`, `{"deleted": [...], "count": n}` (`count` alone
    /// when the completed todos were cleared) or `{"candidates": [...]}`.
    pub result: Value,
}

impl Outcome {
    fn say(response: impl Into<String>) -> Self {
        Self {
            response: response.into(),
            result: json!({}),
        }
    }
}

/// The most todos a list answer shows.
const LIST_LIMIT: i64 = 20;
/// The most todos one matching step considers (and offers as candidates).
const MATCH_LIMIT: i64 = 10;

/// Targets that name no todo but the one the conversation is about ("make
/// it urgent"). Never searched for: "it" is in "submit report".
const PRONOUNS: &[&str] = &[
    "it",
    "that",
    "this",
    "that one",
    "this one",
    "the task",
    "that task",
    "this task",
    "the todo",
    "that todo",
    "this todo",
];

fn is_pronoun(target: &str) -> bool {
    PRONOUNS.contains(&target.trim().to_lowercase().as_str())
}

/// The words that name the todo the conversation's latest action was about
/// (`earlier`: its messages, oldest first): the one todo it created, or the
/// target of a completion, reopening or update (the new title after a
/// rename). Lists and help are looked past; `None` after a delete, after
/// creating several todos, or without any action.
pub fn referent(earlier: &[super::store::Message]) -> Option<String> {
    let latest = earlier
        .iter()
        .rev()
        .filter_map(|message| message.intent.as_ref())
        .find(|intent| !matches!(intent, Intent::List { .. } | Intent::Help | Intent::Unknown))?;
    match latest {
        Intent::Create { todos } => match todos.as_slice() {
            [one] => Some(one.title.clone()),
            _ => None,
        },
        Intent::Complete { target } | Intent::Reopen { target } => Some(target.clone()),
        Intent::Update { target, changes } => {
            Some(changes.title.clone().unwrap_or_else(|| target.clone()))
        }
        _ => None,
    }
}

/// `intent` with a pronoun target ("it") replaced by `referent`, the words
/// of the todo the conversation is about (see [`referent`]).
pub fn with_referent(mut intent: Intent, referent: Option<&str>) -> Intent {
    if let (Some(target), Some(referent)) = (intent.target_mut(), referent) {
        if is_pronoun(target) {
            *target = referent.to_owned();
        }
    }
    intent
}

/// Carries out `intent` for `caller`. `user_said_all`: whether the user's own
/// message contains the word "all" (a model's intent alone never deletes
/// more than one todo). A pronoun target left (see [`with_referent`]) is
/// asked about, not searched for.
pub fn carry_out(
    ctx: &Ctx,
    caller: &Caller,
    intent: &Intent,
    user_said_all: bool,
    now: DateTime<Tz>,
) -> Result<Outcome, TodoError> {
    if intent.target().is_some_and(is_pronoun) {
        return Ok(Outcome::say(
            "Which todo do you mean? Name it, for example: make pay rent urgent.",
        ));
    }
    match intent {
        Intent::Create { todos } => create(ctx, caller, todos),
        Intent::List { filter } => list(ctx, caller, filter, now),
        Intent::Complete { target } => set_completed(ctx, caller, target, true),
        Intent::Reopen { target } => set_completed(ctx, caller, target, false),
        Intent::Update { target, changes } => update(ctx, caller, target, changes),
        Intent::Delete { target, all } => delete(ctx, caller, target, *all && user_said_all),
        Intent::Help => Ok(Outcome::say(rules::help_text())),
        Intent::Unknown => Ok(Outcome::say(rules::unknown_text())),
    }
}

/// A draft through the REST API's domain types; the reason when it does not fit.
fn new_todo(draft: &Draft) -> Result<NewTodo, String> {
    let title = TodoTitle::parse(&draft.title).map_err(|e| format!("the title {e}"))?;
    let mut new = NewTodo::new(title);
    new.priority = draft.priority.unwrap_or_default();
    new.recurrence = draft.recurrence.unwrap_or_default();
    new.tags = Tags::parse(&draft.tags).map_err(|e| format!("tags: {e}"))?;
    new.due_at = draft
        .due_at
        .map(|t| DueAt::new(t).map_err(|e| format!("the due date {e}")))
        .transpose()?;
    Ok(new)
}

fn describe(todo: &Todo) -> String {
    let mut text = todo.title.clone();
    if todo.priority >= Priority::High {
        text.push_str(&format!(" ({})", todo.priority));
    }
    if let Some(due) = todo.due_at {
        text.push_str(&format!(", due {}", due.format("%a %b %-d %H:%M UTC")));
    }
    text
}

fn list_of(todos: &[Todo]) -> String {
    todos.iter().map(describe).collect::<Vec<_>>().join("; ")
}

/// Creates a message's todos in one statement: all of them or none. The cap
/// of [`MAX_DRAFTS`] holds here, for every tier (the LLM tiers' schema says
/// it too, but the rule parser reads any number of "and task ...").
fn create(ctx: &Ctx, caller: &Caller, drafts: &[Draft]) -> Result<Outcome, TodoError> {
    if drafts.len() > MAX_DRAFTS {
        return Ok(Outcome::say(format!(
            "I can add at most {MAX_DRAFTS} todos from one message; nothing was added."
        )));
    }
    let mut todos = Vec::with_capacity(drafts.len());
    for draft in drafts {
        match new_todo(draft) {
            Ok(new) => todos.push(new),
            Err(why) => {
                return Ok(Outcome::say(format!(
                    "I could not add \"{}\": {why}. Nothing was added.",
                    draft.title
                )))
            }
        }
    }
    if todos.is_empty() {
        return Ok(Outcome::say(rules::unknown_text()));
    }
    let created = store::create_many(ctx, caller, &todos)?;
    let noun = if created.len() == 1 { "todo" } else { "todos" };
    Ok(Outcome {
        response: format!("Created {} {noun}: {}", created.len(), list_of(&created)),
        result: json!({"created": created, "count": created.len()}),
    })
}

/// Midnight of `day` in the user's time zone, in UTC.
fn local_midnight(now: DateTime<Tz>, days_from_today: i64) -> DateTime<chrono::Utc> {
    let day = now.date_naive() + Duration::days(days_from_today);
    now.timezone()
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map_or_else(|| now.to_utc(), |t| t.to_utc())
}

fn list(
    ctx: &Ctx,
    caller: &Caller,
    filter: &Filter,
    now: DateTime<Tz>,
) -> Result<Outcome, TodoError> {
    let mut query = ListQuery {
        limit: LIST_LIMIT,
        status: match filter.status {
            None | Some(StatusFilter::Open) => Status::Open,
            Some(StatusFilter::Done) => Status::Done,
            Some(StatusFilter::All) => Status::All,
        },
        ..ListQuery::default()
    };
    query.priorities = filter.priority.into_iter().collect();
    query.tag = filter
        .tag
        .as_deref()
        .and_then(|t| Tags::parse_one(t.trim_start_matches('#')).ok());
    query.q = filter
        .text
        .as_deref()
        .and_then(|t| parse_search(t).ok().flatten());
    match filter.due {
        None => {}
        Some(DueFilter::Overdue) => query.overdue = Some(true),
        Some(DueFilter::Today) => {
            query.due_after = Some(local_midnight(now, 0) - Duration::microseconds(1));
            query.due_before = Some(local_midnight(now, 1));
        }
        Some(DueFilter::ThisWeek) => {
            query.due_after = Some(local_midnight(now, 0) - Duration::microseconds(1));
            query.due_before = Some(local_midnight(now, 7));
        }
    }
    let page = store::list(ctx, caller, &query)?;
    let response = if page.items.is_empty() {
        "No todos match.".to_owned()
    } else {
        format!("{} todos: {}", page.total, list_of(&page.items))
    };
    Ok(Outcome {
        response,
        result: json!({"todos": page.items, "count": page.total}),
    })
}

/// The todos a target names: an exact (case-insensitive) title if exactly one
/// todo has it, else every todo whose title or description contains it.
fn matches(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    status: Status,
) -> Result<Vec<Todo>, TodoError> {
    let Some(target) = parse_search(target).ok().flatten() else {
        return Ok(Vec::new());
    };
    let query = ListQuery {
        status,
        q: Some(target.clone()),
        limit: MATCH_LIMIT,
        ..ListQuery::default()
    };
    let found = store::list(ctx, caller, &query)?.items;
    let exact: Vec<Todo> = found
        .iter()
        .filter(|t| t.title.to_lowercase() == target.to_lowercase())
        .cloned()
        .collect();
    Ok(if exact.len() == 1 { exact } else { found })
}

/// One todo named by `target`, or the answer to give instead.
fn resolve(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    status: Status,
) -> Result<Result<Todo, Outcome>, TodoError> {
    let mut found = matches(ctx, caller, target, status)?;
    Ok(match found.len() {
        0 => Err(Outcome::say(format!(
            "No todo matches \"{}\".",
            target.trim()
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(ambiguous(target, &found)),
    })
}

fn ambiguous(target: &str, found: &[Todo]) -> Outcome {
    Outcome {
        response: format!(
            "Several todos match \"{}\": {}. Which one? Say more of its title.",
            target.trim(),
            list_of(found)
        ),
        result: json!({"candidates": found}),
    }
}

fn set_completed(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    completed: bool,
) -> Result<Outcome, TodoError> {
    let status = if completed {
        Status::Open
    } else {
        Status::Done
    };
    let todo = match resolve(ctx, caller, target, status)? {
        Ok(todo) => todo,
        Err(answer) => return Ok(answer),
    };
    let toggled = store::toggle(ctx, caller, todo.id, Some(&[todo.version]))?;
    let mut response = if completed {
        format!("Marked done: {}", describe(&toggled.todo))
    } else {
        format!("Reopened: {}", describe(&toggled.todo))
    };
    if let Some(next) = &toggled.next {
        response.push_str(&format!(". Next one: {}", describe(next)));
    }
    Ok(Outcome {
        response,
        result: json!({"updated": [toggled.todo], "next": toggled.next}),
    })
}

fn update(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    changes: &Changes,
) -> Result<Outcome, TodoError> {
    let mut parsed = TodoChanges::default();
    let tag_lists = |tags: &Option<Vec<String>>| {
        tags.as_deref()
            .map(|tags| Tags::parse(tags).map_err(|e| format!("tags: {e}")))
            .transpose()
    };
    let problem = (|| -> Result<_, String> {
        if let Some(title) = &changes.title {
            parsed.title = Some(TodoTitle::parse(title).map_err(|e| format!("the title {e}"))?);
        }
        parsed.priority = changes.priority;
        if let Some(due) = changes.due_at {
            let due = DueAt::new(due).map_err(|e| format!("the due date {e}"))?;
            parsed.due_at = Some(Some(due));
        }
        Ok((
            tag_lists(&changes.tags)?,
            tag_lists(&changes.add_tags)?,
            tag_lists(&changes.remove_tags)?,
        ))
    })();
    let (replace, add, remove) = match problem {
        Ok(tags) => tags,
        Err(why) => return Ok(Outcome::say(format!("I could not change it: {why}."))),
    };
    let tags_change = replace.is_some() || add.is_some() || remove.is_some();
    if parsed == TodoChanges::default() && !tags_change {
        return Ok(Outcome::say(rules::unknown_text()));
    }
    let todo = match resolve(ctx, caller, target, Status::All)? {
        Ok(todo) => todo,
        Err(answer) => return Ok(answer),
    };
    if tags_change {
        // Replaced (when asked), then added to and taken from, so the
        // todo keeps the tags the message did not name.
        let mut tags = replace.map_or_else(|| todo.tags.clone(), |t| t.as_slice().to_vec());
        for tag in add.iter().flat_map(Tags::as_slice) {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        if let Some(remove) = &remove {
            tags.retain(|tag| !remove.as_slice().contains(tag));
        }
        if tags != todo.tags {
            match Tags::parse(&tags) {
                Ok(tags) => parsed.tags = Some(tags),
                Err(why) => {
                    return Ok(Outcome::say(format!("I could not change it: tags: {why}.")))
                }
            }
        }
    }
    if parsed == TodoChanges::default() {
        return Ok(Outcome::say(format!(
            "Nothing to change: {}",
            describe(&todo)
        )));
    }
    let updated = store::update(ctx, caller, todo.id, &parsed, Some(&[todo.version]))?;
    Ok(Outcome {
        response: format!("Updated: {}", describe(&updated)),
        result: json!({"updated": [updated]}),
    })
}

/// Words that, after "delete all", mean the completed todos rather than a title.
const COMPLETED_WORDS: [&str; 5] = [
    "done",
    "completed",
    "finished",
    "done tasks",
    "completed tasks",
];

fn delete(ctx: &Ctx, caller: &Caller, target: &str, all: bool) -> Result<Outcome, TodoError> {
    if all && COMPLETED_WORDS.contains(&target.trim().to_lowercase().as_str()) {
        let deleted = store::clear_completed(ctx, caller, None)?;
        return Ok(Outcome {
            response: format!("Deleted {deleted} completed todos."),
            result: json!({ "count": deleted }),
        });
    }
    let found = matches(ctx, caller, target, Status::All)?;
    let chosen = match (found.len(), all) {
        (0, _) => {
            return Ok(Outcome::say(format!(
                "No todo matches \"{}\".",
                target.trim()
            )))
        }
        (1, _) | (_, true) => found,
        _ => return Ok(ambiguous(target, &found)),
    };
    for todo in &chosen {
        store::delete(ctx, caller, todo.id, Some(&[todo.version]))?;
    }
    let noun = if chosen.len() == 1 { "todo" } else { "todos" };
    Ok(Outcome {
        response: format!("Deleted {} {noun}: {}", chosen.len(), list_of(&chosen)),
        result: json!({"deleted": chosen, "count": chosen.len()}),
    })
}
