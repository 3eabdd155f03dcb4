//! Carries out an intent for the requesting user through the todos library
//! API (`todos::store`), so validation, limits, history and recurrence are
//! exactly the REST API's. Targets named by words are resolved among that
//! user's todos only, and nothing is done on a guess: an ambiguous target
//! answers the candidates, a missing one says so. A delete of several todos,
//! or one an LLM decided, is only proposed: the answer lists the todos, and
//! they go when the user's next message in the conversation says yes. So is
//! every share of a list: it gives another person access.
//!
//! Lists and people are named by words too, and resolved among the user's
//! lists and their members (a [`Directory`], read only for a message that
//! names one): exactly, else by whole words; never a new list on a guess.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveTime, TimeZone};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use uuid::Uuid;

use super::intent::{
    best_named, is_pronoun, Changes, Draft, DueFilter, Filter, Intent, SharedRole, StatusFilter,
};
use super::llm::MAX_DRAFTS;
use super::rules;
use super::store::{Directory, ListMember};
use crate::auth::{Caller, Email};
use crate::error::ApiError;
use crate::lists::store::{self as lists_store, ListError};
use crate::lists::{InvitedRole, List, Role};
use crate::ports::Ctx;
use crate::todos::query::{parse_search, MAX_LIMIT};
use crate::todos::store::{self, By, Named, Naming, Part, TodoError};
use crate::todos::{
    DueAt, ListQuery, NewTodo, Priority, Status, Tags, Todo, TodoChanges, TodoTitle,
};

/// What the assistant did: its answer in words, and the todos it touched.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub response: String,
    /// `{"created": [...], "count": n}`, `{"todos": [...], "count": n}`,
    /// `{"updated": [...]}`, `{"deleted": [...], "count": n, "kept": [...]}`,
    /// `{"proposal": {"action": "delete", "todos": [...], "count": n}}`,
    /// `{"proposal": {"action": "share", "list": {...}, "email": ..., "role": ...}}`,
    /// `{"invited": {...}}`, `{"candidates": [...]}` or `{"lists": [...]}`
    /// (the lists a name could mean). Kept as its JSON text: a list's
    /// todos went into a `Value` (a map per todo) only to be written out
    /// again, about a fifth of the rule-tier chat's handler in a profile.
    pub result: Box<RawValue>,
}

/// A list's result, `{"count": n, "todos": [...]}`.
#[derive(Serialize)]
struct Listed<'a> {
    count: i64,
    todos: &'a [Todo],
}

/// A create's result, `{"count": n, "created": [...]}`.
#[derive(Serialize)]
struct Created<'a> {
    count: usize,
    created: &'a [Todo],
}

/// `value` as an [`Outcome`]'s result.
fn result(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// Who decided an intent: an LLM tier's deletes are always proposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    Rules,
    Llm,
}

/// What the assistant does for an intent: answer at once, without the
/// todos library, or run a step of the todos library in the statement that
/// saves the exchange (see `store::save`) and render the answer from what
/// that step answered ([`render`]).
pub enum Plan {
    Say(Outcome),
    Run(Step, Part),
}

/// A step of the todos library that an answer is rendered from. It is
/// kept with what the library answered, so that the conversation shows the
/// answer again however often it is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// New todos, created together (in the list named `list`, else the
    /// Inbox).
    Create {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<String>,
    },
    /// A list of the todos a filter matches (of the list named `list`).
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<String>,
    },
    /// The one todo `target` names, completed or reopened.
    Toggle { target: String, completed: bool },
    /// The one todo `target` names, changed (assigned to `assignee`, as
    /// the user named them).
    Update {
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
    },
    /// The one todo `target` names, deleted (as kept before deletes by
    /// whole words; see [`Step::DeleteOrPropose`]).
    Delete { target: String },
    /// The one todo `target` names by whole words of its title (or its
    /// exact title), deleted; several, or titles that hold the words only
    /// inside longer words, proposed for deletion.
    DeleteOrPropose { target: String },
    /// The todos `target` names (`all` of them), proposed for deletion.
    Propose { target: String, all: bool },
    /// The completed todos, proposed for deletion.
    ProposeDone,
    /// The user's yes: the proposed todos, deleted while unchanged.
    Confirm { proposed: Vec<Todo> },
}

/// What a viewer of a list hears when a message would change it.
const VIEWER_ONLY: &str = "You can only view that list, so I changed nothing: a viewer \
     cannot change its todos. Ask its owner for the editor role.";

/// The answer to a [`Step`], from what the todos library answered to it
/// (`answer`); the step's error when it did not do its work. A viewer's
/// change is answered in words ([`VIEWER_ONLY`]): nothing changed.
pub fn render(step: &Step, answer: Value) -> Result<Outcome, TodoError> {
    match render_step(step, answer) {
        Err(TodoError::Forbidden) => Ok(Outcome::say(VIEWER_ONLY)),
        other => other,
    }
}

/// " in Groceries" for a step about the list named `list`.
fn in_list(list: Option<&str>) -> String {
    list.map(|name| format!(" in {name}")).unwrap_or_default()
}

fn render_step(step: &Step, answer: Value) -> Result<Outcome, TodoError> {
    match step {
        Step::Create { list } => {
            let created = store::read_created(answer)?;
            let noun = if created.len() == 1 { "todo" } else { "todos" };
            Ok(Outcome {
                response: format!(
                    "Created {} {noun}{}: {}",
                    created.len(),
                    in_list(list.as_deref()),
                    list_of(&created)
                ),
                result: result(&Created {
                    count: created.len(),
                    created: &created,
                }),
            })
        }
        Step::List { list } => {
            let (todos, total) = store::read_listed(answer, LIST_LIMIT)?;
            let response = if todos.is_empty() {
                format!("No todos match{}.", in_list(list.as_deref()))
            } else {
                format!(
                    "{total} todos{}: {}",
                    in_list(list.as_deref()),
                    list_of(&todos)
                )
            };
            Ok(Outcome {
                response,
                result: result(&Listed {
                    count: total,
                    todos: &todos,
                }),
            })
        }
        Step::Toggle { target, completed } => toggled(target, *completed, answer),
        Step::Update { target, assignee } => updated(target, assignee.as_deref(), answer),
        Step::Delete { target } => deleted(target, false, answer),
        Step::DeleteOrPropose { target } => deleted(target, true, answer),
        Step::Propose { target, all } => proposed(target, *all, answer),
        Step::ProposeDone => {
            let (todos, total) = store::read_listed(answer, MAX_LIMIT)?;
            Ok(propose(todos, total))
        }
        Step::Confirm { proposed } => Ok(confirmed(proposed, &store::read_deleted(answer)?)),
    }
}

impl Outcome {
    fn say(response: impl Into<String>) -> Self {
        Self {
            response: response.into(),
            result: result(&json!({})),
        }
    }
}

/// The most todos a list answer shows.
const LIST_LIMIT: i64 = 20;
/// The most todos one matching step considers (and offers as candidates).
const MATCH_LIMIT: i64 = 10;

/// The todos the conversation's last answer named (`last`: its last
/// message), by id and version, as that answer showed them: those it
/// created, listed, changed, deleted or kept, proposed, or offered as
/// candidates. "It", "them", "those" (see [`is_pronoun`]) mean these, and
/// only while they are still at that version. None when the last message
/// is no answer, or named no todo.
pub fn referred(last: Option<&super::store::Message>) -> Vec<(Uuid, i64)> {
    let Some(result) = last
        .filter(|m| m.role == "assistant")
        .and_then(|m| m.result.as_ref())
    else {
        return Vec::new();
    };
    let mut named = Vec::new();
    for pointer in [
        "/created",
        "/todos",
        "/updated",
        "/deleted",
        "/kept",
        "/candidates",
        "/proposal/todos",
    ] {
        let todos = result.pointer(pointer).and_then(Value::as_array);
        for todo in todos.into_iter().flatten() {
            let id = todo.get("id").and_then(Value::as_str);
            let id = id.and_then(|id| Uuid::try_parse(id).ok());
            let version = todo.get("version").and_then(Value::as_i64);
            if let (Some(id), Some(version)) = (id, version) {
                if !named.contains(&(id, version)) {
                    named.push((id, version));
                }
            }
        }
    }
    named
}

/// A change the assistant proposed in its last answer, which only the
/// user's "yes" ([`Intent::Confirm`]) carries out.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// These todos, deleted while unchanged.
    Delete(Vec<Todo>),
    /// An invitation to a list.
    Share(Share),
}

/// A share as proposed: the list (as it was then), who, and the role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub list: ListRef,
    pub email: String,
    pub role: SharedRole,
}

/// A list as an answer names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRef {
    pub id: Uuid,
    pub name: String,
}

/// What the conversation so far gives an intent to work with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Earlier<'a> {
    /// What the conversation's last answer proposed, which only
    /// [`Intent::Confirm`] carries out (see [`pending_proposal`]).
    pub proposed: Option<&'a Proposal>,
    /// The todos its last answer named, which "it" and "them" mean (see
    /// [`referred`]).
    pub referred: &'a [(Uuid, i64)],
    /// The user's lists and their members, read when the message names a
    /// list or a person (see [`Intent::names_a_list_or_person`]).
    pub directory: Option<&'a Directory>,
}

/// What to do for `intent` of `caller` ([`Plan`]). A target that only
/// points back ("it", "them") names the todos of the last answer
/// (`earlier.referred`) by id and version, and is never searched for; with
/// none, the answer asks which todo. A list or person the intent names is
/// looked up in `earlier.directory`. Only a confirmed share runs a
/// statement here (the invitation); its failure on the server's side is
/// the error.
pub fn plan(
    ctx: &Ctx,
    caller: &Caller,
    intent: &Intent,
    decided_by: DecidedBy,
    earlier: Earlier<'_>,
    now: DateTime<Tz>,
) -> Result<Plan, ApiError> {
    let proposed = earlier.proposed;
    let referred = earlier.referred;
    if intent.target().is_some_and(is_pronoun) && referred.is_empty() {
        return Ok(Plan::Say(Outcome::say(format!(
            "Which todo do you mean? {NAME_IT}"
        ))));
    }
    let empty = Directory::default();
    let directory = earlier.directory.unwrap_or(&empty);
    Ok(match intent {
        Intent::Create { todos, list } => create(ctx, caller, todos, list.as_deref(), directory),
        Intent::List { filter } => list(ctx, caller, filter, now, directory),
        Intent::Complete { target } => set_completed(ctx, caller, target, referred, true),
        Intent::Reopen { target } => set_completed(ctx, caller, target, referred, false),
        Intent::Update { target, changes } => {
            update(ctx, caller, target, referred, changes, directory)
        }
        Intent::Delete { target, all } => delete(ctx, caller, target, *all, decided_by, referred),
        Intent::Share { list, email, role } => {
            Plan::Say(propose_share(directory, list, email, *role))
        }
        Intent::Confirm => match proposed {
            Some(Proposal::Share(share)) => Plan::Say(confirm_share(ctx, caller, share)?),
            Some(Proposal::Delete(todos)) => confirm(ctx, caller, todos),
            None => confirm(ctx, caller, &[]),
        },
        Intent::Cancel => Plan::Say(Outcome::say(match proposed {
            Some(Proposal::Share(share)) => {
                format!("All right: I did not share {}.", share.list.name)
            }
            Some(Proposal::Delete(todos)) if !todos.is_empty() => {
                "Kept them: nothing was deleted.".to_owned()
            }
            _ => "There was nothing to cancel.".to_owned(),
        })),
        Intent::Help => Plan::Say(Outcome::say(rules::help_text())),
        Intent::Unknown => Plan::Say(Outcome::say(rules::unknown_text())),
    })
}

/// What the conversation's last answer proposed and the user has not
/// answered yet (`last`: the conversation's last message). Only the very
/// last message counts: any other message in between lets the proposal
/// lapse.
pub fn pending_proposal(last: Option<&super::store::Message>) -> Option<Proposal> {
    let last = last.filter(|m| m.role == "assistant")?;
    let proposal = last.result.as_ref()?.get("proposal")?;
    if proposal.get("action").and_then(Value::as_str) == Some("share") {
        return serde_json::from_value(proposal.clone())
            .ok()
            .map(Proposal::Share);
    }
    let todos = proposal.get("todos")?;
    serde_json::from_value(todos.clone())
        .ok()
        .map(Proposal::Delete)
}

/// The user's answer to `proposal`, in their own words: "yes", "delete
/// them", "confirm" ([`Intent::Confirm`]) or "no", "cancel", "keep them"
/// ([`Intent::Cancel`]); `None` for anything else. A share is confirmed
/// only by a plain yes: "delete them" is no answer to it.
pub fn answer_to_proposal(proposal: &Proposal, message: &str) -> Option<Intent> {
    let answer = answer_in_words(message)?;
    let lower = message.to_lowercase();
    let speaks_of_deleting = lower.contains("delete") || lower.contains("remove");
    match proposal {
        Proposal::Share(_) if answer == Intent::Confirm && speaks_of_deleting => None,
        _ => Some(answer),
    }
}

/// "yes" or "no" in the user's words (see [`answer_to_proposal`]).
fn answer_in_words(message: &str) -> Option<Intent> {
    static ANSWERS: OnceLock<Option<(Regex, Regex)>> = OnceLock::new();
    let (yes, no) = ANSWERS
        .get_or_init(|| {
            let yes = Regex::new(
                r"^(?:(?:yes|yeah|yep|y|ok|okay|sure)(?:,? please)?(?:,? (?:delete|remove) (?:them|it|those|these|all(?: of them)?))?|(?:please )?(?:delete|remove) (?:them|it|those|these|all(?: of them)?)|confirm(?:ed)?|go ahead|do it)$",
            )
            .ok()?;
            let no = Regex::new(
                r"^(?:no|nope|n|cancel|stop|don'?t|do not(?: delete(?: them| it)?)?|keep (?:them|it|those|these)|never ?mind)(?:,? thanks)?$",
            )
            .ok()?;
            Some((yes, no))
        })
        .as_ref()?;
    let words = message
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_lowercase();
    if yes.is_match(&words) {
        Some(Intent::Confirm)
    } else if no.is_match(&words) {
        Some(Intent::Cancel)
    } else {
        None
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

/// The list `said` names among the user's: the one it names exactly, else
/// the one it names by whole words; otherwise the answer to give (no such
/// list, or which of several).
fn find_list<'d>(directory: &'d Directory, said: &str) -> Result<&'d List, Outcome> {
    let found = best_named(&directory.lists, said, |list| &list.name);
    match found.as_slice() {
        [list] => Ok(list),
        [] => {
            let names: Vec<&str> = directory.lists.iter().map(|l| l.name.as_str()).collect();
            Err(Outcome::say(format!(
                "You have no list called \"{}\", and I make no new list from a message. \
                 Your lists: {}.",
                said.trim(),
                names.join(", ")
            )))
        }
        several => Err(Outcome {
            response: format!(
                "Several of your lists match \"{}\": {}. Which one? Say its full name.",
                said.trim(),
                several
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            result: result(&json!({"lists": several})),
        }),
    }
}

/// The answer to a change of the list `list`, which the user may only view.
fn viewer_of(list: &List) -> Outcome {
    Outcome::say(format!(
        "You can only view {}, so I changed nothing: a viewer cannot change its todos. \
         Ask its owner ({}) for the editor role.",
        list.name, list.owner.name
    ))
}

/// Words that assign a todo to nobody.
const NOBODY: &[&str] = &["nobody", "no one", "noone", "none", "no-one"];

/// Whom `said` names among the members of the user's lists (of `within`
/// only, when given): "me" is the user, "nobody" no one (`Ok(None)`), an
/// email its member, else a name exactly, else by whole words. Otherwise
/// the answer to give.
fn find_person(
    caller: &Caller,
    directory: &Directory,
    said: &str,
    within: Option<Uuid>,
) -> Result<Option<Uuid>, Outcome> {
    let key = said.trim().to_lowercase();
    if NOBODY.contains(&key.as_str()) {
        return Ok(None);
    }
    if matches!(key.as_str(), "me" | "myself") {
        return Ok(Some(caller.user_id));
    }
    // Each person once, whatever lists they share with the user.
    let mut people: Vec<&ListMember> = Vec::new();
    for member in &directory.members {
        if within.is_none_or(|list| member.list_id == list)
            && !people.iter().any(|p| p.user_id == member.user_id)
        {
            people.push(member);
        }
    }
    let by_email: Vec<&&ListMember> = people.iter().filter(|p| p.email == key).collect();
    let found = if by_email.is_empty() {
        best_named(&people, said, |p| &p.name)
    } else {
        by_email
    };
    match found.as_slice() {
        [person] => Ok(Some(person.user_id)),
        [] => Err(Outcome::say(format!(
            "Nobody called \"{}\" is a member of {}. Name a member by their name or email, \
             or share the list with them first.",
            said.trim(),
            if within.is_some() {
                "that list"
            } else {
                "your lists"
            }
        ))),
        several => Err(Outcome::say(format!(
            "Several people are called \"{}\": {}. Which one? Say their email.",
            said.trim(),
            several
                .iter()
                .map(|p| format!("{} ({})", p.name, p.email))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Creates a message's todos in one statement: all of them or none, in the
/// list `list` names (else the Inbox). The cap of [`MAX_DRAFTS`] holds
/// here, for every tier (the LLM tiers' schema says it too, but the rule
/// parser reads any number of "and task ...").
fn create(
    ctx: &Ctx,
    caller: &Caller,
    drafts: &[Draft],
    list: Option<&str>,
    directory: &Directory,
) -> Plan {
    let list = match list.map(|said| find_list(directory, said)).transpose() {
        Ok(list) => list,
        Err(answer) => return Plan::Say(answer),
    };
    if let Some(list) = list.filter(|l| !l.role.can_write()) {
        return Plan::Say(viewer_of(list));
    }
    if drafts.len() > MAX_DRAFTS {
        return Plan::Say(Outcome::say(format!(
            "I can add at most {MAX_DRAFTS} todos from one message; nothing was added."
        )));
    }
    let mut todos = Vec::with_capacity(drafts.len());
    for draft in drafts {
        match new_todo(draft) {
            Ok(new) => todos.push(new),
            Err(why) => {
                return Plan::Say(Outcome::say(format!(
                    "I could not add \"{}\": {why}. Nothing was added.",
                    draft.title
                )))
            }
        }
    }
    if todos.is_empty() {
        return Plan::Say(Outcome::say(rules::unknown_text()));
    }
    for todo in &mut todos {
        todo.list_id = list.map(|l| l.id);
    }
    let step = Step::Create {
        list: list.map(|l| l.name.clone()),
    };
    Plan::Run(step, store::create_many_part(ctx, caller, &todos))
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
    directory: &Directory,
) -> Plan {
    let list = match filter
        .list
        .as_deref()
        .map(|said| find_list(directory, said))
        .transpose()
    {
        Ok(list) => list,
        Err(answer) => return Plan::Say(answer),
    };
    let mut query = ListQuery {
        list: list.map(|l| l.id),
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
    let step = Step::List {
        list: list.map(|l| l.name.clone()),
    };
    Plan::Run(step, store::list_part(ctx, caller, &query))
}

/// How to ask for a todo by name.
const NAME_IT: &str = "Name it, for example: make pay rent urgent.";

/// The words of `target` as the todos library looks for them (see
/// [`By::TitleWords`]); `None` when they name nothing.
fn words(target: &str) -> Option<String> {
    parse_search(target).ok().flatten()
}

/// How `target` names todos among those of `status`: the todos of the
/// last answer (`referred`) when it only points back ("it"), else its
/// words. `None` when it names nothing.
fn naming<'a>(
    target: &str,
    words: Option<&'a str>,
    referred: &'a [(Uuid, i64)],
    status: Status,
) -> Option<Naming<'a>> {
    if is_pronoun(target) {
        // All of them: a list answer names up to LIST_LIMIT todos.
        let limit = i64::try_from(referred.len()).unwrap_or(i64::MAX);
        return Some(Naming {
            by: By::Ids(referred),
            status,
            limit: limit.max(1),
            list: None,
        });
    }
    Some(Naming {
        by: By::TitleWords(words?),
        status,
        limit: MATCH_LIMIT,
        list: None,
    })
}

fn no_match(target: &str) -> Outcome {
    if is_pronoun(target) {
        return Outcome::say(format!(
            "I did nothing: the todo my last answer named has changed or gone since, \
             or is not one to do that to. Which todo do you mean? {NAME_IT}"
        ));
    }
    Outcome::say(format!("No todo matches \"{}\".", target.trim()))
}

/// The answer when no title holds the words of `target` as words, but
/// these (`found`) hold them inside longer words: nothing is changed on
/// such a guess.
fn partly(target: &str, found: &[Todo]) -> Outcome {
    Outcome {
        response: format!(
            "No todo has \"{}\" as a word of its title. Did you mean: {}? Say more of its title.",
            target.trim(),
            list_of(found)
        ),
        result: result(&json!({"candidates": found})),
    }
}

fn ambiguous(target: &str, found: &[Todo]) -> Outcome {
    Outcome {
        response: format!(
            "Several todos match \"{}\": {}. Which one? Say more of its title.",
            target.trim(),
            list_of(found)
        ),
        result: result(&json!({"candidates": found})),
    }
}

/// Completes (or reopens) the one open (or done) todo `target` names.
fn set_completed(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    referred: &[(Uuid, i64)],
    completed: bool,
) -> Plan {
    let status = if completed {
        Status::Open
    } else {
        Status::Done
    };
    let words = words(target);
    let Some(naming) = naming(target, words.as_deref(), referred, status) else {
        return Plan::Say(no_match(target));
    };
    let step = Step::Toggle {
        target: target.to_owned(),
        completed,
    };
    Plan::Run(step, store::toggle_named_part(ctx, caller, &naming))
}

/// A todo a step completed under a rule, whose next occurrence is still to
/// be made (see `store::finish_toggle`); read from the step's answer before
/// it is rendered.
pub fn pending(step: &Step, answer: &Value) -> Option<store::Pending> {
    let Step::Toggle { .. } = step else {
        return None;
    };
    answer
        .get("pending")
        .filter(|p| !p.is_null())
        .and_then(|p| serde_json::from_value(p.clone()).ok())
}

/// What is left of a step once its statement ran: the next occurrence of
/// a todo completed under a rule, which the app computes, named in the
/// answer.
pub fn follow_up(
    ctx: &Ctx,
    caller: &Caller,
    pending: Option<&store::Pending>,
    mut outcome: Outcome,
) -> Result<Outcome, TodoError> {
    let Some(pending) = pending else {
        return Ok(outcome);
    };
    if let Some(next) = store::spawn_next(ctx, caller, pending)? {
        outcome
            .response
            .push_str(&format!(". Next one: {}", describe(&next)));
        // Rare (a rule's next occurrence), so read back and written again.
        let mut named: Value = serde_json::from_str(outcome.result.get()).unwrap_or_default();
        named["next"] = json!(next);
        outcome.result = result(&named);
    }
    Ok(outcome)
}

fn toggled(target: &str, completed: bool, answer: Value) -> Result<Outcome, TodoError> {
    let toggled = match store::read_toggled_named(answer)? {
        Named::Missing => return Ok(no_match(target)),
        Named::Several(found) => return Ok(ambiguous(target, &found)),
        Named::Partly(found) => return Ok(partly(target, &found)),
        Named::One(toggled) => toggled,
    };
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
        result: result(&json!({"updated": [toggled.todo], "next": toggled.next})),
    })
}

/// Changes the one todo `target` names; tags named are added to or taken
/// from its own. A list named is where it moves; a person named is
/// assigned it (a member of its list, which the todos library checks).
fn update(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    referred: &[(Uuid, i64)],
    changes: &Changes,
    directory: &Directory,
) -> Plan {
    let list = match changes
        .list
        .as_deref()
        .map(|said| find_list(directory, said))
        .transpose()
    {
        Ok(list) => list,
        Err(answer) => return Plan::Say(answer),
    };
    if let Some(list) = list.filter(|l| !l.role.can_write()) {
        return Plan::Say(viewer_of(list));
    }
    let assignee = changes
        .assignee
        .as_deref()
        .map(|said| find_person(caller, directory, said, list.map(|l| l.id)))
        .transpose();
    let assignee = match assignee {
        Ok(assignee) => assignee,
        Err(answer) => return Plan::Say(answer),
    };
    let tags = |tags: &Option<Vec<String>>| {
        tags.as_deref()
            .map(|tags| Tags::parse(tags).map_err(|e| format!("tags: {e}")))
            .transpose()
    };
    let parsed = (|| -> Result<_, String> {
        Ok(TodoChanges {
            title: changes
                .title
                .as_deref()
                .map(|title| TodoTitle::parse(title).map_err(|e| format!("the title {e}")))
                .transpose()?,
            priority: changes.priority,
            due_at: changes
                .due_at
                .map(|due| DueAt::new(due).map_err(|e| format!("the due date {e}")))
                .transpose()?
                .map(Some),
            tags: tags(&changes.tags)?,
            add_tags: tags(&changes.add_tags)?,
            remove_tags: tags(&changes.remove_tags)?,
            list_id: list.map(|l| l.id),
            assignee_id: assignee,
            ..TodoChanges::default()
        })
    })();
    let parsed = match parsed {
        Ok(parsed) if parsed == TodoChanges::default() => {
            return Plan::Say(Outcome::say(rules::unknown_text()))
        }
        Ok(parsed) => parsed,
        Err(why) => return Plan::Say(Outcome::say(format!("I could not change it: {why}."))),
    };
    let words = words(target);
    let Some(naming) = naming(target, words.as_deref(), referred, Status::All) else {
        return Plan::Say(no_match(target));
    };
    Plan::Run(
        Step::Update {
            target: target.to_owned(),
            assignee: changes.assignee.clone(),
        },
        store::update_named_part(ctx, caller, &naming, &parsed),
    )
}

fn updated(target: &str, assignee: Option<&str>, answer: Value) -> Result<Outcome, TodoError> {
    let (found, updated) = match store::read_updated_named(answer) {
        Ok(Named::Missing) => return Ok(no_match(target)),
        Ok(Named::Several(found)) => return Ok(ambiguous(target, &found)),
        Ok(Named::Partly(found)) => return Ok(partly(target, &found)),
        Ok(Named::One(pair)) => pair,
        Err(TodoError::Invalid(fields)) if fields.contains_key("assignee_id") => {
            return Ok(Outcome::say(format!(
                "I changed nothing: {} is not a member of the list \"{}\" is in. Share the \
                 list with them first, or name another member.",
                assignee.unwrap_or("that person"),
                target.trim()
            )));
        }
        Err(TodoError::Invalid(fields)) => {
            let why: Vec<String> = fields
                .iter()
                .map(|(field, problems)| format!("{field}: {}", problems.join(", ")))
                .collect();
            return Ok(Outcome::say(format!(
                "I could not change it: {}.",
                why.join("; ")
            )));
        }
        Err(e) => return Err(e),
    };
    if updated.version == found.version {
        return Ok(Outcome::say(format!(
            "Nothing to change: {}",
            describe(&updated)
        )));
    }
    Ok(Outcome {
        response: format!("Updated: {}", describe(&updated)),
        result: result(&json!({"updated": [updated]})),
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

/// Deletes the one todo `target` names by whole words of its title (or
/// its exact title), when the rule parser understood it so. Everything
/// else is only proposed (see [`propose`]): several todos, titles that hold
/// the words only inside longer words, the todos "it" or "them" point back
/// at, "all", and any delete an LLM decided.
fn delete(
    ctx: &Ctx,
    caller: &Caller,
    target: &str,
    all: bool,
    decided_by: DecidedBy,
    referred: &[(Uuid, i64)],
) -> Plan {
    if all && COMPLETED_WORDS.contains(&target.trim().to_lowercase().as_str()) {
        let query = ListQuery {
            status: Status::Done,
            limit: MAX_LIMIT,
            ..ListQuery::default()
        };
        return Plan::Run(Step::ProposeDone, store::list_part(ctx, caller, &query));
    }
    let words = words(target);
    let Some(naming) = naming(target, words.as_deref(), referred, Status::All) else {
        return Plan::Say(no_match(target));
    };
    let target = target.to_owned();
    let points_back = matches!(naming.by, By::Ids(_));
    if !all && !points_back && decided_by == DecidedBy::Rules {
        Plan::Run(
            Step::DeleteOrPropose { target },
            store::delete_named_part(ctx, caller, &naming),
        )
    } else {
        // "Delete them" proposes every todo they point back at.
        let all = all || points_back;
        Plan::Run(
            Step::Propose { target, all },
            store::find_part(caller, &naming),
        )
    }
}

/// The answer to a delete of the todo `target` names. `propose_others`: several
/// todos, or titles holding the words inside longer words, are proposed
/// for deletion, not asked about.
fn deleted(target: &str, propose_others: bool, answer: Value) -> Result<Outcome, TodoError> {
    Ok(match store::read_deleted_named(answer)? {
        Named::Missing => no_match(target),
        Named::Several(found) | Named::Partly(found) if propose_others => {
            let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
            propose(found, total)
        }
        Named::Several(found) => ambiguous(target, &found),
        Named::Partly(found) => partly(target, &found),
        Named::One(todo) => Outcome {
            response: format!("Deleted 1 todo: {}", describe(&todo)),
            result: result(&json!({"deleted": [todo], "count": 1})),
        },
    })
}

/// The answer to a delete that is only proposed: the todos `target` names
/// (all of them when the user said "all"), or a question when it names
/// several and they did not.
fn proposed(target: &str, all: bool, answer: Value) -> Result<Outcome, TodoError> {
    let found = match store::read_found(answer)? {
        Named::Missing => return Ok(no_match(target)),
        Named::One(todo) => vec![todo],
        Named::Several(found) | Named::Partly(found) => found,
    };
    Ok(match found.len() {
        1 => propose(found, 1),
        _ if all => {
            let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
            propose(found, total)
        }
        _ => ambiguous(target, &found),
    })
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// Asks before deleting `todos` (the first of `total` that would go):
/// nothing is deleted now; the answer lists them, by id and version in its
/// result, for the user's "yes" to delete exactly those.
fn propose(todos: Vec<Todo>, total: i64) -> Outcome {
    if todos.is_empty() {
        return Outcome::say("There is nothing to delete.");
    }
    let mut response = format!(
        "This would delete {}: {}.",
        plural(todos.len(), "todo", "todos"),
        list_of(&todos)
    );
    let shown = i64::try_from(todos.len()).unwrap_or(i64::MAX);
    if total > shown {
        response.push_str(&format!(
            " {} more would stay; ask again after these are gone.",
            total - shown
        ));
    }
    let them = if todos.len() == 1 { "it" } else { "them" };
    response.push_str(&format!(
        " Say \"yes\" to delete {them}, or \"no\" to keep {them}."
    ));
    Outcome {
        response,
        result: result(
            &json!({"proposal": {"action": "delete", "todos": todos, "count": todos.len()}}),
        ),
    }
}

/// Deletes exactly the `proposed` todos that are still as they were when
/// listed (same id, same version), in one statement; the others stay, and
/// the answer says so ([`confirmed`]).
fn confirm(ctx: &Ctx, caller: &Caller, proposed: &[Todo]) -> Plan {
    if proposed.is_empty() {
        return Plan::Say(Outcome::say(
            "There is nothing to confirm: I have not proposed to delete anything.",
        ));
    }
    let listed: Vec<(Uuid, i64)> = proposed.iter().map(|t| (t.id, t.version)).collect();
    Plan::Run(
        Step::Confirm {
            proposed: proposed.to_vec(),
        },
        store::delete_listed_part(ctx, caller, &listed),
    )
}

/// The answer to a confirmed delete of `proposed`, of which `deleted` went.
fn confirmed(proposed: &[Todo], deleted: &[Uuid]) -> Outcome {
    let (gone, kept): (Vec<&Todo>, Vec<&Todo>) =
        proposed.iter().partition(|t| deleted.contains(&t.id));
    let titles = |todos: &[&Todo]| {
        todos
            .iter()
            .map(|t| t.title.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut response = if gone.is_empty() {
        "Deleted nothing.".to_owned()
    } else {
        format!(
            "Deleted {}: {}.",
            plural(gone.len(), "todo", "todos"),
            titles(&gone)
        )
    };
    if !kept.is_empty() {
        response.push_str(&format!(
            " Left alone, because {} changed or went since I asked, or {} in a list you can \
             only view: {}.",
            if kept.len() == 1 { "it" } else { "they" },
            if kept.len() == 1 { "is" } else { "are" },
            titles(&kept)
        ));
    }
    Outcome {
        response,
        result: result(&json!({"deleted": gone, "count": gone.len(), "kept": kept})),
    }
}

/// Proposes to share the list `list` names with `email`: the answer says
/// who would get which access, and nothing happens until the user's yes.
/// Only the list's owner may share it, and never the Inbox.
fn propose_share(
    directory: &Directory,
    list: &str,
    email: &str,
    role: Option<SharedRole>,
) -> Outcome {
    let list = match find_list(directory, list) {
        Ok(list) => list,
        Err(answer) => return answer,
    };
    if list.is_inbox {
        return Outcome::say(
            "Your Inbox is yours alone and cannot be shared. Share another list, or make one \
             to share.",
        );
    }
    if list.role != Role::Owner {
        return Outcome::say(format!(
            "Only the owner of {} ({}) can share it; I shared nothing.",
            list.name, list.owner.name
        ));
    }
    let email = match Email::parse(email) {
        Ok(email) => email,
        Err(_) => {
            return Outcome::say(format!(
                "\"{}\" is not an email address, and a list is shared by email. Say for \
                 example: share {} with anna@example.com",
                email.trim(),
                list.name
            ))
        }
    };
    let share = Share {
        list: ListRef {
            id: list.id,
            name: list.name.clone(),
        },
        email: email.as_str().to_owned(),
        role: role.unwrap_or(SharedRole::Editor),
    };
    let access = match share.role {
        SharedRole::Editor => "see and change its todos",
        SharedRole::Viewer => "see its todos, but not change them",
    };
    let mut proposal = json!(share);
    proposal["action"] = json!("share");
    Outcome {
        response: format!(
            "This would invite {} to {} as {}: once they accept, they can {access}. Say \
             \"yes\" to share it, or \"no\" to keep it as it is.",
            share.email,
            share.list.name,
            a_role(share.role)
        ),
        result: result(&json!({ "proposal": proposal })),
    }
}

fn a_role(role: SharedRole) -> &'static str {
    match role {
        SharedRole::Editor => "an editor",
        SharedRole::Viewer => "a viewer",
    }
}

/// Carries out a share the user confirmed: invites its email to its list
/// through the lists library, which checks again that the user owns it.
fn confirm_share(ctx: &Ctx, caller: &Caller, share: &Share) -> Result<Outcome, ApiError> {
    let not_shared = |why: String| {
        Ok(Outcome::say(format!(
            "I did not share {}: {why}.",
            share.list.name
        )))
    };
    let (Ok(email), Ok(role)) = (
        Email::parse(&share.email),
        InvitedRole::parse(share.role.as_str()),
    ) else {
        return not_shared("the proposal no longer reads as one".into());
    };
    match lists_store::invite(ctx, caller, share.list.id, &email, role) {
        Ok(invitation) => Ok(Outcome {
            response: format!(
                "Invited {} to {} as {}: they get access once they accept.",
                invitation.email,
                share.list.name,
                a_role(share.role)
            ),
            result: result(&json!({"invited": {"list": share.list, "invitation": invitation}})),
        }),
        Err(ListError::NotFound) => not_shared("you are no longer a member of it".into()),
        Err(ListError::Forbidden { needed }) => {
            not_shared(format!("only its {needed} can share it"))
        }
        Err(ListError::Conflict { message, .. }) => not_shared(message.into()),
        Err(ListError::LimitReached { what, limit }) => {
            not_shared(format!("{what}: at most {limit}"))
        }
        Err(ListError::SessionRequired) => not_shared(
            "a personal access token never gives anyone access; share it signed in to the app"
                .into(),
        ),
        Err(err @ (ListError::Unauthorized | ListError::Db(_))) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_yes_or_no_answers_a_proposal() {
        for yes in [
            "yes",
            "Yes!",
            "y",
            "ok",
            "yes please",
            "Yes, delete them.",
            "delete them",
            "please remove those",
            "delete all of them",
            "confirm",
            "go ahead",
        ] {
            assert_eq!(answer_in_words(yes), Some(Intent::Confirm), "{yes}");
        }
        for no in [
            "no",
            "No.",
            "cancel",
            "keep them",
            "don't",
            "never mind",
            "nope, thanks",
        ] {
            assert_eq!(answer_in_words(no), Some(Intent::Cancel), "{no}");
        }
        for other in [
            "yes delete buy milk too",
            "delete milk",
            "show my tasks",
            "yesterday",
            "no milk today",
            "",
        ] {
            assert_eq!(answer_in_words(other), None, "{other}");
        }
    }

    #[test]
    fn a_share_is_confirmed_only_by_a_plain_yes() {
        let share = Proposal::Share(Share {
            list: ListRef {
                id: Uuid::nil(),
                name: "Groceries".into(),
            },
            email: "anna@example.com".into(),
            role: SharedRole::Editor,
        });
        for yes in ["yes", "ok", "go ahead", "Yes please"] {
            assert_eq!(
                answer_to_proposal(&share, yes),
                Some(Intent::Confirm),
                "{yes}"
            );
        }
        for other in ["delete them", "yes, delete them", "remove it"] {
            assert_eq!(answer_to_proposal(&share, other), None, "{other}");
        }
        assert_eq!(answer_to_proposal(&share, "no"), Some(Intent::Cancel));
        let delete = Proposal::Delete(Vec::new());
        assert_eq!(
            answer_to_proposal(&delete, "delete them"),
            Some(Intent::Confirm)
        );
    }
}
