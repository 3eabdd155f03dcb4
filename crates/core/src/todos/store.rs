//! The todos library API: every operation on the todos of the lists a user
//! belongs to, with its SQL. The HTTP handlers wrap these functions; the
//! chat assistant and the MCP server call them in process.
//!
//! Every statement reads the caller's membership as it runs (a todo of a
//! list the caller is not in is not found; a viewer's change is
//! [`TodoError::Forbidden`]). Each change and its audit row are written by
//! one statement (a data-modifying CTE), so they are atomic under Spin's
//! autocommit connections as well. The audit row carries the todo after the
//! change (`after`), and a trigger queues it as an event in that same
//! statement (see [`crate::events`]). A change locks its list's row first
//! (which numbers the list's changes, see [`bump_lists`]; a create takes it
//! through the functions `lock_list` and `next_change`, migration V19),
//! then the todo
//! (`FOR UPDATE`), so concurrent updates of one todo apply one after another
//! and each audit row shows the true old values; statements that take
//! several lists, or several owners' rows, lock them in id order.

use chrono::{DateTime, Duration, Utc};
use http::{header, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::domain::{
    DueAt, NewTodo, Priority, Recurrence, Tags, Todo, TodoChanges, MAX_TODOS_PER_USER,
};
use super::query::{
    Assignee, ChangeKind, Cursor, HistoryQuery, ListPosition, ListQuery, SortField, Status,
    SyncToken,
};
use crate::auth::{self, Caller};
use crate::db::{json_object, DbError, Json, Params, SqlParam, Statement};
use crate::error::{ApiError, FieldErrors};
use crate::lists::domain::{List, Person};
use crate::ports::Ctx;
use crate::sealed;
use crate::stamp;

/// Why a todo operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TodoError {
    /// The caller's account is gone or its token was revoked.
    #[error("the caller is not signed in")]
    Unauthorized,
    /// Missing, or another user's.
    #[error("no such todo")]
    NotFound,
    /// A list cursor this app did not hand out (or for another sort order).
    #[error("bad cursor: {0}")]
    BadCursor(String),
    #[error("invalid input: {0:?}")]
    Invalid(FieldErrors),
    /// `If-Match` named a version that is no longer current.
    #[error("the todo has changed since; it is now at version {current}")]
    VersionMismatch { current: i64 },
    #[error("a user may hold at most {limit} todos")]
    LimitReached { limit: i64 },
    /// A member of the list without the right to change it (a viewer).
    #[error("a viewer of a list cannot change it")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<TodoError> for ApiError {
    fn from(err: TodoError) -> Self {
        match err {
            TodoError::Unauthorized => auth::rejected(),
            TodoError::NotFound => ApiError::not_found(),
            TodoError::BadCursor(why) => ApiError::bad_request(format!("cursor {why}")),
            TodoError::Invalid(fields) => ApiError::validation(fields),
            TodoError::VersionMismatch { current } => {
                let e = ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    format!(
                        "the todo has changed since that version; it is now at version {current}"
                    ),
                );
                match HeaderValue::from_str(&format!("\"{current}\"")) {
                    Ok(v) => e.with_header(header::ETAG, v),
                    Err(_) => e,
                }
            }
            TodoError::LimitReached { limit } => ApiError::conflict(
                "limit_reached",
                format!(
                    "the list's owner already holds {limit} todos, the most allowed; delete some first"
                ),
            ),
            TodoError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a viewer of this list cannot change it; ask its owner for the editor role",
            ),
            TodoError::Db(e) => e.into(),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TodoPage {
    pub items: Vec<Todo>,
    /// How many todos match the filters, over all pages.
    pub total: i64,
    /// Pass as `cursor=` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// With `updated_since`: ids of todos deleted since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<Uuid>>,
    /// Pass as `since=` to get every change made after this page was read.
    pub sync_token: String,
}

/// Every change in the lists a user belongs to after a sync token, each
/// list's in the order they were made, a page at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeFeed {
    /// Todos created or changed since, as they are now.
    pub items: Vec<Todo>,
    /// Ids of todos deleted since.
    pub deleted: Vec<Uuid>,
    /// Reminders that went off for the caller since (see
    /// `crate::reminders`), oldest first.
    pub reminders: Vec<FiredReminder>,
    /// The caller's lists that changed since (renamed, recoloured, a
    /// member or a todo changed), or that are new to the client.
    pub lists: Vec<List>,
    /// The lists the caller no longer belongs to (left, removed, deleted):
    /// their todos are in `deleted`.
    pub removed_lists: Vec<Uuid>,
    /// Pass as `since=` next: for the next page when `has_more`, else for
    /// the changes still to come.
    pub sync_token: String,
    pub has_more: bool,
}

/// A reminder that went off: which todo, as it was then, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredReminder {
    pub todo_id: Uuid,
    pub title: String,
    pub due_at: Option<DateTime<Utc>>,
    pub fired_at: DateTime<Utc>,
}

/// The result of a toggle: the todo, and the next occurrence created when a
/// recurring todo was completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toggled {
    pub todo: Todo,
    pub next: Option<Todo>,
    /// Completed under a rule: the next occurrence is still to be made
    /// with [`spawn_next`] ([`toggle`] does).
    #[serde(skip)]
    pub pending: Option<Pending>,
}

/// One entry of a todo's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `create`, `update`, `toggle` or `delete`.
    pub action: String,
    /// `{"field": {"old": ..., "new": ...}}` for every field that changed.
    pub changes: serde_json::Map<String, serde_json::Value>,
    pub at: DateTime<Utc>,
    /// Who made the change; `None` once their account is gone.
    pub actor: Option<Person>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityCounts {
    pub low: i64,
    pub medium: i64,
    pub high: i64,
    pub urgent: i64,
}

/// Counts over the todos of a user's lists (or of one). "Today" is the
/// current UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoStats {
    pub total: i64,
    pub open: i64,
    pub done: i64,
    /// Open and past their due time.
    pub overdue: i64,
    /// Open and due during today.
    pub due_today: i64,
    /// All todos (open and done) per priority.
    pub by_priority: PriorityCounts,
    /// The most used tags (at most [`MAX_STATS_TAGS`]), with how many todos
    /// (open and done) carry each, most used first, then by name.
    pub by_tag: Vec<TagCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// How many tags the stats name.
pub const MAX_STATS_TAGS: i64 = 100;

/// A todo as a statement answers it (`priority` as its stored rank). In a
/// list page the last row shown also carries its sort keys, for the cursor, and
/// in the change feed the number of the change that last touched it.
/// A page reads it from an array ([`PAGE_COLUMNS`]): its fields are in the
/// order of [`TODO_COLUMNS`], then `keys`.
#[derive(Deserialize)]
pub(crate) struct TodoRow {
    id: Uuid,
    list_id: Uuid,
    assignee_id: Option<Uuid>,
    title: String,
    description: String,
    priority: i64,
    completed: bool,
    #[serde(default, with = "crate::stamp::option")]
    completed_at: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::stamp::option")]
    due_at: Option<DateTime<Utc>>,
    due_all_day: bool,
    #[serde(default, with = "crate::stamp::option")]
    remind_at: Option<DateTime<Utc>>,
    tags: Vec<String>,
    recurrence: Recurrence,
    #[serde(with = "crate::stamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::stamp")]
    updated_at: DateTime<Utc>,
    version: i64,
    #[serde(default)]
    keys: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    change_seq: i64,
}

impl TryFrom<TodoRow> for Todo {
    type Error = DbError;

    fn try_from(row: TodoRow) -> Result<Self, DbError> {
        let priority = Priority::from_rank(row.priority)
            .ok_or_else(|| DbError::Decode(format!("priority {} out of range", row.priority)))?;
        Ok(Todo {
            id: row.id,
            list_id: row.list_id,
            assignee_id: row.assignee_id,
            title: row.title,
            description: row.description,
            priority,
            completed: row.completed,
            completed_at: row.completed_at,
            due_at: row.due_at,
            due_all_day: row.due_all_day,
            remind_at: row.remind_at,
            tags: row.tags,
            recurrence: row.recurrence,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

fn to_todo(row: Option<TodoRow>) -> Result<Option<Todo>, DbError> {
    row.map(Todo::try_from).transpose()
}

/// The columns of a todo, as [`TodoRow`] reads them; works on `todos` and
/// on CTEs that return `todos.*`.
macro_rules! todo_columns {
    () => {
        "id, list_id, assignee_id, title, description, priority, completed, completed_at, due_at, \
         due_all_day, remind_at, tags, recurrence, created_at, updated_at, version"
    };
}
pub(crate) const TODO_COLUMNS: &str = todo_columns!();
/// A page's row: [`TODO_COLUMNS`] and the sort keys (null but in the row a
/// next page would start after), in [`TodoRow`]'s order
/// (a page answers its rows as arrays, see [`Json::Arrays`]).
const PAGE_COLUMNS: &str = concat!(todo_columns!(), ", keys");

/// The caller's id, in scoped SQL (see [`Caller`]).
macro_rules! caller_id {
    () => {
        "(SELECT id FROM auth)"
    };
}

/// The lists the caller belongs to (`id`) and the caller's stored role in
/// each (`editor` or `viewer`; an owner's row says `editor`), read from the
/// index `list_members_user`. Every read of todos goes through it.
const MINE: &str = "mine AS (
        SELECT m.list_id AS id, m.role FROM list_members m WHERE m.user_id = (SELECT id FROM auth))";

/// The next change number of each list in `$lists` (an SQL set of list
/// ids, all locked by the statement already), taken by every change: the
/// list's row lock serialises its changes, so its change numbers follow
/// commit order and no sync skips one. Returns `id` and `change_seq`.
macro_rules! bump_lists {
    ($lists:expr) => {
        concat!(
            "UPDATE lists l SET change_seq = l.change_seq + 1 WHERE l.id IN (",
            $lists,
            ") RETURNING l.id, l.change_seq"
        )
    };
}

/// `If-Match` versions as a Postgres array literal; `None` means "any".
fn versions_param(if_match: Option<&[i64]>) -> SqlParam {
    match if_match {
        None => SqlParam::Null,
        Some(versions) => {
            let list: Vec<String> = versions.iter().map(i64::to_string).collect();
            SqlParam::Text(format!("{{{}}}", list.join(",")))
        }
    }
}

fn tags_param(tags: &super::domain::Tags) -> SqlParam {
    SqlParam::Text(tags.to_json())
}

/// Tags arrive as a JSON array in a text parameter.
macro_rules! tags_from {
    ($n:literal) => {
        concat!(
            "ARRAY(SELECT jsonb_array_elements_text($",
            $n,
            "::text::jsonb))"
        )
    };
}

/// Why a conditional change of one todo matched no row, from the version the
/// statement found (`None`: missing or another user's); `otherwise` when the
/// version was fine (only a toggle can miss then: the limit).
fn miss(current: Option<i64>, if_match: Option<&[i64]>, otherwise: TodoError) -> TodoError {
    match (current, if_match) {
        (None, _) => TodoError::NotFound,
        (Some(current), Some(versions)) if !versions.contains(&current) => {
            TodoError::VersionMismatch { current }
        }
        _ => otherwise,
    }
}

/// Runs a statement scoped to `caller` (`params` are its own, `$3`
/// onwards); [`TodoError::Unauthorized`] when the caller's account is gone
/// or the token was revoked.
fn fetch<T: DeserializeOwned>(
    ctx: &Ctx,
    caller: &Caller,
    ctes: &[&str],
    fields: &[(&str, Json<'_>)],
    params: Vec<SqlParam>,
) -> Result<T, TodoError> {
    let mut all = caller.params();
    all.0.extend(params);
    run(ctx, caller, &Caller::statement(ctes, fields, all))
}

fn run<T: DeserializeOwned>(
    ctx: &Ctx,
    caller: &Caller,
    statement: &Statement,
) -> Result<T, TodoError> {
    caller
        .run(ctx, statement)?
        .map(|(_, result)| result)
        .ok_or(TodoError::Unauthorized)
}

/// A todos operation as the parts of a statement, so that code in process
/// can run it inside a larger statement (the chat assistant saves its
/// exchange in the statement that changes the todos): its CTEs, the JSON
/// object it answers (an SQL expression), when it did what it was asked (an
/// SQL condition, false when its answer is an error) and its parameters,
/// the caller's first. The `read_*` function beside each reads its answer.
pub struct Part {
    pub ctes: Vec<String>,
    pub answer: String,
    pub done: String,
    pub params: Params,
}

impl Part {
    /// A part of `ctes`, answering `fields`; `params` from `$3`.
    fn new(
        caller: &Caller,
        ctes: &[&str],
        fields: &[(&str, Json<'_>)],
        done: &str,
        params: Vec<SqlParam>,
    ) -> Self {
        let mut all = caller.params();
        all.0.extend(params);
        Part {
            ctes: ctes.iter().map(|cte| (*cte).to_owned()).collect(),
            answer: json_object(fields),
            done: done.to_owned(),
            params: all,
        }
    }

    /// A change (`ctes`, answering `fields`, `done` when it did its work;
    /// `params` from `$3`, the first [`Naming::words`]) of the todo
    /// `naming` names, after the CTEs that find it. Done too when it names
    /// no todo or several.
    fn named(
        caller: &Caller,
        naming: &Naming,
        ctes: &[&str],
        fields: &[(&str, Json<'_>)],
        done: &str,
        params: Vec<SqlParam>,
    ) -> Self {
        let mut fields = fields.to_vec();
        fields.extend(MATCHED);
        let done = format!("((SELECT count(*) FROM matched) <> 1 OR {done})");
        let mut part = Self::new(caller, ctes, &fields, &done, params);
        let mut named = named_ctes(&mut part.params, naming);
        named.append(&mut part.ctes);
        part.ctes = named;
        part
    }

    /// Runs the part as a statement of its own; its answer.
    fn run(self, ctx: &Ctx, caller: &Caller) -> Result<serde_json::Value, TodoError> {
        #[derive(Deserialize)]
        struct Answer {
            answer: serde_json::Value,
        }
        let ctes: Vec<&str> = self.ctes.iter().map(String::as_str).collect();
        let fields = [("answer", Json::Value(&self.answer))];
        let answer: Answer = run(ctx, caller, &Caller::statement(&ctes, &fields, self.params))?;
        Ok(answer.answer)
    }
}

/// How a chat message (or any caller in process) names the todos to act on,
/// and among which todos (open, done or all) it looks, at most `limit` of
/// them. A change is made only when the naming names exactly one todo (see
/// [`Named`]).
pub struct Naming<'a> {
    pub by: By<'a>,
    pub status: Status,
    pub limit: i64,
    /// Only among this list's todos; else among those of every list the
    /// caller belongs to.
    pub list: Option<Uuid>,
}

impl Naming<'_> {
    /// The words, `$3` of a named part (NULL for [`By::Ids`]).
    fn words(&self) -> SqlParam {
        match self.by {
            By::TitleWords(words) => words.into(),
            By::Ids(_) => SqlParam::Null,
        }
    }
}

/// What names the todos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By<'a> {
    /// Words typed by a user (or given by a model): the todo whose title
    /// is exactly the words (case-insensitively), when only one is; else
    /// the todos whose titles hold the words as whole words, one after
    /// another ([`WORD_SEPARATORS`] tells words apart). Titles only, never
    /// descriptions. Titles that hold them only inside longer words ("math"
    /// in "mathematics") are answered apart ([`Named::Partly`]) and never
    /// changed.
    TitleWords(&'a str),
    /// These todos, each while still at this version (the todos an earlier
    /// answer named, as it showed them).
    Ids(&'a [(Uuid, i64)]),
}

/// What separates words in a title, as a PostgreSQL regular expression (a
/// run of them): every ASCII character but letters and digits, and the Unicode
/// spaces and punctuation (Latin-1's, general punctuation, symbols and
/// arrows, CJK punctuation, fullwidth forms, emoji). Every other character,
/// accented and non-Latin letters, digits and combining marks included, is
/// part of a word: "math" is no word of "mathematics", nor "cafe" of
/// "café" or "cafe\u{301}", and "café" is one of "Café au lait". Sent as a
/// parameter, so that no setting of `standard_conforming_strings` changes
/// what its backslashes mean.
pub const WORD_SEPARATORS: &str = "[\\x01-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f\\u0080-\\u00a9\\u00ab-\\u00b4\\u00b6-\\u00b9\\u00bb-\\u00bf\\u00d7\\u00f7\\u2000-\\u2bff\\u3000-\\u303f\\ufe30-\\ufe4f\\ufeff\\uff01-\\uff0f\\uff1a-\\uff20\\uff3b-\\uff40\\uff5b-\\uff65\\U0001f000-\\U0001faff]+";

/// The CTEs that find what `naming` names, as `matched` (see [`By`]),
/// `partly` (titles that hold the words only inside longer words, when
/// none holds them as words) and `target`: the id of the only one matched.
/// `$3` is the words (NULL for [`By::Ids`]). Every way of naming is a
/// parameter: the SQL text is the same for all of them.
fn named_ctes(params: &mut Params, naming: &Naming) -> Vec<String> {
    let completed = match naming.status {
        Status::All => None,
        Status::Open => Some(false),
        Status::Done => Some(true),
    };
    let completed = params.add(completed, "::bool");
    let ids = match naming.by {
        By::TitleWords(_) => None,
        By::Ids(ids) => {
            let listed: Vec<serde_json::Value> = ids
                .iter()
                .map(|(id, version)| serde_json::json!({"id": id, "version": version}))
                .collect();
            Some(serde_json::Value::from(listed).to_string())
        }
    };
    let ids = params.add(ids, "::text::jsonb");
    let separators = params.add(WORD_SEPARATORS, "::text");
    let limit = params.add(naming.limit, "::int8");
    let list = params.add(naming.list, "::text::uuid");
    // A title and the words, lowercased, with each run of separators one
    // space: the words are whole words of the title when " words " is in
    // " title ".
    let title = format!("(' ' || regexp_replace(lower(t.title), {separators}, ' ', 'g') || ' ')");
    vec![
        MINE.to_owned(),
        format!(
            "words AS (
        SELECT btrim(regexp_replace(lower($3::text), {separators}, ' ', 'g')) AS w)"
        ),
        format!(
            "found AS (
        SELECT t.*,
            {ids} IS NULL AND lower(t.title) = lower($3::text) AS exact,
            {ids} IS NOT NULL OR {title} LIKE '% ' || words.w || ' %' AS whole
        FROM todos t JOIN mine ON mine.id = t.list_id, words
        WHERE ({list} IS NULL OR t.list_id = {list})
          AND ({completed} IS NULL OR t.completed = {completed})
          AND CASE WHEN {ids} IS NOT NULL
                   THEN (t.id, t.version) IN (
                       SELECT id, version FROM jsonb_to_recordset({ids}) AS x (id uuid, version int8))
                   ELSE lower(t.title) = lower($3::text)
                        OR (words.w <> ''
                            -- Cheap first: the first word is somewhere in the title.
                            AND strpos(lower(t.title), split_part(words.w, ' ', 1)) > 0
                            AND {title} LIKE '%' || words.w || '%') END
        ORDER BY exact DESC, whole DESC, t.created_at DESC, t.id DESC LIMIT {limit})",
        ),
        "exact AS (SELECT * FROM found WHERE exact)".into(),
        "matched AS (
        SELECT * FROM exact WHERE (SELECT count(*) FROM exact) = 1
        UNION ALL
        SELECT * FROM found WHERE whole AND (SELECT count(*) FROM exact) <> 1)"
            .into(),
        "partly AS (SELECT * FROM found WHERE NOT whole AND NOT EXISTS (SELECT FROM matched))"
            .into(),
        "target AS (SELECT id FROM matched WHERE (SELECT count(*) FROM matched) = 1)".into(),
    ]
}

/// What a named part answers besides its change: the todos it matched,
/// and those it matched only inside longer words.
const MATCHED: [(&str, Json<'static>); 2] = [
    (
        "matched",
        Json::Rows(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM matched ORDER BY created_at DESC, id DESC"
        )),
    ),
    (
        "partly",
        Json::Rows(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM partly ORDER BY created_at DESC, id DESC"
        )),
    ),
];

/// A part's answer, read into `T`.
fn read<T: DeserializeOwned>(answer: serde_json::Value) -> Result<T, TodoError> {
    serde_json::from_value(answer)
        .map_err(|e| TodoError::Db(DbError::Decode(format!("a todos answer: {e}"))))
}

/// `$3`: the new todos as a JSON array (see [`new_todo_json`]), in order,
/// for the list `$6` (NULL: the caller's Inbox), assigned to `$7`. One
/// change number of the list, and one move of its owner's `todo_count`, for
/// all of them, with the limit checked for all of them at once: every todo
/// is created, or none. The list's row is locked first, then its owner's,
/// as every statement that takes both does.
const CREATE_CTES: &[&str] = &[
    // Each todo is a microsecond younger than the one before it, so that
    // every order by creation time is their order.
    "new AS (
        SELECT d.todo, $4::text::timestamptz + (d.ord - 1) * interval '1 microsecond' AS at
        FROM jsonb_array_elements($3::text::jsonb) WITH ORDINALITY AS d(todo, ord))",
    concat!(
        "target AS (
        SELECT m.list_id AS id, m.role FROM list_members m
        WHERE m.user_id = ",
        caller_id!(),
        " AND m.list_id = COALESCE($6::text::uuid,
            (SELECT i.id FROM lists i WHERE i.owner_id = ",
        caller_id!(),
        " AND i.inbox)))"
    ),
    // The list's and its owner's rows are locked and changed by functions
    // (migration V19), whose queries see the rows as they are once the
    // locks are free: a create that waited for another never re-checks
    // this whole statement.
    "lk AS (SELECT * FROM lock_list((SELECT id FROM target WHERE role = 'editor')))",
    "assignable AS (
        SELECT $7::text::uuid IS NULL OR EXISTS (
            SELECT FROM list_members m
            WHERE m.list_id = (SELECT id FROM lk) AND m.user_id = $7::text::uuid) AS ok)",
    "counted AS (
        SELECT c.id FROM (
            SELECT count_todos((SELECT owner_id FROM lk), (SELECT count(*) FROM new)::int,
                               $5::int8) AS id
            WHERE EXISTS (SELECT FROM lk) AND (SELECT ok FROM assignable)) AS c
        WHERE c.id IS NOT NULL)",
    "seq AS (SELECT * FROM next_change((SELECT id FROM lk WHERE EXISTS (SELECT FROM counted))))",
    concat!(
        "ins AS (
        INSERT INTO todos AS t (user_id, title, description, priority, due_at, remind_at, tags,
                               recurrence, created_at, updated_at, change_seq, list_id,
                               assignee_id, reminder_to, due_all_day, dav_name, dav_uid, ical)
        SELECT ",
        caller_id!(),
        ", new.todo->>'title', new.todo->>'description',
               (new.todo->>'priority')::smallint, (new.todo->>'due_at')::timestamptz,
               (new.todo->>'remind_at')::timestamptz,
               ARRAY(SELECT jsonb_array_elements_text(new.todo->'tags')),
               new.todo->>'recurrence', new.at, new.at, seq.change_seq, seq.id,
               $7::text::uuid, ",
        caller_id!(),
        ", (new.todo->>'due_all_day')::bool, new.todo->>'dav_name', new.todo->>'dav_uid',
               new.todo->>'ical'
        FROM seq, new
        RETURNING t.*, todo_fields(t) AS fields)"
    ),
    "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT user_id, id, 'create', todo_changes('{}', fields), created_at, change_seq,
               event_data(id, fields), list_id, user_id
        FROM ins)",
];

/// What a create answers besides the todos: whether the list was found,
/// the caller's role in it and whether the assignee is a member.
const CREATE_FIELDS: [(&str, Json<'static>); 3] = [
    ("found", Json::Value("EXISTS (SELECT FROM target)")),
    ("writable", Json::Value("EXISTS (SELECT FROM lk)")),
    (
        "assignable",
        Json::Value("COALESCE((SELECT ok FROM assignable), true)"),
    ),
];

/// A new todo as [`CREATE_CTES`] reads it.
fn new_todo_json(new: &NewTodo) -> serde_json::Value {
    serde_json::json!({
        "title": new.title.as_str(),
        "description": new.description.as_str(),
        "priority": new.priority.rank(),
        "due_at": new.due_at.map(|d| d.time().to_rfc3339()),
        "due_all_day": new.due_all_day,
        "remind_at": new.remind_at.map(|d| d.time().to_rfc3339()),
        "tags": new.tags.as_slice(),
        "recurrence": new.recurrence.to_string(),
        "dav_name": new.dav.as_ref().map(|d| &d.name),
        "dav_uid": new.dav.as_ref().map(|d| &d.uid),
        "ical": new.dav.as_ref().map(|d| &d.ical),
    })
}

#[derive(Deserialize)]
struct OneTodo {
    todo: Option<TodoRow>,
}

/// Creates a todo. [`TodoError::LimitReached`] when the user already holds
/// [`MAX_TODOS_PER_USER`] todos.
pub fn create(ctx: &Ctx, caller: &Caller, new: &NewTodo) -> Result<Todo, TodoError> {
    create_many(ctx, caller, std::slice::from_ref(new))?
        .pop()
        .ok_or_else(|| DbError::Decode("a create answered no todo".into()).into())
}

/// Creates all of `todos` in one statement, in their order (as the answer
/// lists them, and as their creation times sort), or none of them:
/// [`TodoError::LimitReached`] when they would take the list's owner past
/// [`MAX_TODOS_PER_USER`] todos. They all go to one list, with one
/// assignee (else [`TodoError::Invalid`]). Nothing to create sends no
/// statement.
pub fn create_many(ctx: &Ctx, caller: &Caller, todos: &[NewTodo]) -> Result<Vec<Todo>, TodoError> {
    let Some(first) = todos.first() else {
        return Ok(Vec::new());
    };
    if todos
        .iter()
        .any(|t| (t.list_id, t.assignee_id) != (first.list_id, first.assignee_id))
    {
        return Err(invalid(
            "list_id",
            "todos created together go to one list, with one assignee",
        ));
    }
    read_created(create_many_part(ctx, caller, todos).run(ctx, caller)?)
}

/// A field error.
fn invalid(field: &str, why: &str) -> TodoError {
    let mut fields = FieldErrors::new();
    fields.entry(field.into()).or_default().push(why.into());
    TodoError::Invalid(fields)
}

const NO_SUCH_LIST: &str = "no such list";
const NOT_A_MEMBER: &str = "must be a member of the todo's list";

/// [`create_many`] as a [`Part`] (of at least one todo, all to the first
/// one's list, with its assignee), read by [`read_created`].
pub fn create_many_part(ctx: &Ctx, caller: &Caller, todos: &[NewTodo]) -> Part {
    let json = serde_json::Value::from(todos.iter().map(new_todo_json).collect::<Vec<_>>());
    let first = todos.first();
    let mut fields = vec![(
        "todos",
        Json::Rows(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM ins ORDER BY created_at"
        )),
    )];
    fields.extend(CREATE_FIELDS);
    Part::new(
        caller,
        CREATE_CTES,
        &fields,
        "EXISTS (SELECT FROM ins)",
        vec![
            json.to_string().into(),
            ctx.clock.now().into(),
            MAX_TODOS_PER_USER.into(),
            first.and_then(|t| t.list_id).into(),
            first.and_then(|t| t.assignee_id).into(),
        ],
    )
}

/// The todos a [`create_many_part`] created, or why it created none.
pub fn read_created(answer: serde_json::Value) -> Result<Vec<Todo>, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        todos: Vec<TodoRow>,
        found: bool,
        writable: bool,
        assignable: bool,
    }
    let answer: Answer = read(answer)?;
    if answer.todos.is_empty() {
        return Err(if !answer.found {
            invalid("list_id", NO_SUCH_LIST)
        } else if !answer.writable {
            TodoError::Forbidden
        } else if !answer.assignable {
            invalid("assignee_id", NOT_A_MEMBER)
        } else {
            TodoError::LimitReached {
                limit: MAX_TODOS_PER_USER,
            }
        });
    }
    answer
        .todos
        .into_iter()
        .map(|row| Todo::try_from(row).map_err(TodoError::from))
        .collect()
}

/// One todo of a list the caller belongs to.
pub fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<Todo, TodoError> {
    let answer: OneTodo = fetch(
        ctx,
        caller,
        &[MINE],
        &[(
            "todo",
            Json::Row(concat!(
                "SELECT ",
                todo_columns!(),
                " FROM todos WHERE id = $3::text::uuid AND list_id IN (SELECT id FROM mine)"
            )),
        )],
        vec![id.into()],
    )?;
    to_todo(answer.todo)?.ok_or(TodoError::NotFound)
}

/// A change of one todo names it by its id, `$3`.
macro_rules! by_id {
    () => {
        "$3::text::uuid"
    };
}

/// Or by words (`$3`): the one todo of `target` (see [`named_ctes`]).
macro_rules! by_words {
    () => {
        "(SELECT id FROM target)"
    };
}

/// The row a change of one todo starts from, locked, and `ok`, the same row
/// if the caller may change it (an editor of its list) and `If-Match`
/// (`$if_match`) lets the change through. `$id` is the todo's id
/// (`by_id!()` or `by_words!()`), `$dest` the list it moves to (`NULL`:
/// none). Its list's row (and the destination's) is locked first, in id
/// order, as every statement that locks lists does: the lock serialises the
/// list's changes (see [`bump_lists`]). `lk` holds the locked lists with
/// their owners. Concurrent changes of one todo apply one after another,
/// and each audit row shows the true old values.
macro_rules! current_ctes {
    ($id:expr, $if_match:literal, $dest:literal) => {
        concat!(
            "lk AS (
                SELECT l.id, l.owner_id FROM lists l
                JOIN list_members m ON m.list_id = l.id AND m.role = 'editor'
                                   AND m.user_id = ",
            caller_id!(),
            "
                WHERE l.id IN (SELECT t.list_id FROM todos t WHERE t.id = ",
            $id,
            ") OR l.id = ",
            $dest,
            "
                ORDER BY l.id FOR UPDATE OF l),
            cur AS (
                SELECT t.*, todo_fields(t) AS old_fields,
                       m.role = 'editor' AND t.list_id IN (SELECT id FROM lk) AS writable
                FROM todos t JOIN list_members m ON m.list_id = t.list_id AND m.user_id = ",
            caller_id!(),
            "
                WHERE t.id = ",
            $id,
            "
                FOR UPDATE OF t),
            ok AS (
                SELECT * FROM cur
                WHERE cur.writable AND ($",
            $if_match,
            "::text IS NULL OR cur.version = ANY($",
            $if_match,
            "::text::int8[])))"
        )
    };
}

/// What a change of one todo answers: the todo after it (or as it was, when
/// the change changed nothing), the version the statement found (`null`
/// when there is no such todo in the caller's lists) and whether the caller
/// may change it.
#[derive(Deserialize)]
struct Changed {
    todo: Option<TodoRow>,
    current: Option<i64>,
    #[serde(default)]
    writable: bool,
}

/// Why a conditional change of one todo matched no row (see [`miss`]).
fn missed(changed: &Changed, if_match: Option<&[i64]>, otherwise: TodoError) -> TodoError {
    match changed.current {
        Some(_) if !changed.writable => TodoError::Forbidden,
        current => miss(current, if_match, otherwise),
    }
}

macro_rules! update_ctes {
    ($id:expr) => {
        &[
    current_ctes!($id, "12", "$18::text::uuid"),
    concat!(
        "new AS (
        SELECT ok.id,
            COALESCE($4::text, ok.title) AS title,
            COALESCE($5::text, ok.description) AS description,
            COALESCE($6::int8::smallint, ok.priority) AS priority,
            CASE WHEN $7::bool THEN $8::text::timestamptz ELSE ok.due_at END AS due_at,
            CASE WHEN $7::bool THEN COALESCE($22::bool, false)
                 ELSE COALESCE($22::bool, ok.due_all_day) END AS due_all_day,
            COALESCE($23::text, ok.ical) AS ical,
            CASE WHEN $13::bool THEN $14::text::timestamptz ELSE ok.remind_at END AS remind_at,
            -- Replaced, then added to and taken from: the tags not named
            -- stay, in their order.
            ARRAY(SELECT tag FROM unnest(CASE WHEN $9::text IS NULL THEN ok.tags ELSE ",
        tags_from!("9"),
        " END || ",
        tags_from!("15"),
        ") WITH ORDINALITY AS x (tag, n)
                  WHERE tag <> ALL (",
        tags_from!("16"),
        ") GROUP BY tag ORDER BY min(n)) AS tags,
            COALESCE($10::text, ok.recurrence) AS recurrence,
            COALESCE($18::text::uuid, ok.list_id) AS list_id,
            CASE WHEN $19::bool THEN $20::text::uuid ELSE ok.assignee_id END AS asked_assignee
        FROM ok)"
    ),
    // What may be done: at most the tags a todo may hold, into a list the
    // caller edits, assigned to one of its members. An assignee kept
    // through a move who is no member of the new list is unassigned.
    "checked AS (
        SELECT new.*,
            CASE WHEN EXISTS (SELECT FROM list_members m
                              WHERE m.list_id = new.list_id AND m.user_id = new.asked_assignee)
                 THEN new.asked_assignee END AS assignee_id
        FROM new
        WHERE cardinality(new.tags) <= $17::int8 AND new.list_id IN (SELECT id FROM lk)
          AND NOT ($19::bool AND $20::text::uuid IS NOT NULL AND NOT EXISTS (
              SELECT FROM list_members m
              WHERE m.list_id = new.list_id AND m.user_id = $20::text::uuid)))",
    "diff AS (
        SELECT checked.* FROM checked JOIN ok USING (id)
        WHERE (checked.title, checked.description, checked.priority, checked.due_at,
               checked.due_all_day, checked.remind_at, checked.tags, checked.recurrence,
               checked.list_id, checked.assignee_id, checked.ical)
              IS DISTINCT FROM (ok.title, ok.description, ok.priority, ok.due_at, ok.due_all_day,
                                ok.remind_at, ok.tags, ok.recurrence, ok.list_id, ok.assignee_id,
                                ok.ical))",
    // A move to a list of another owner moves the todo to that owner's
    // count, within its limit: both owners' rows locked in id order.
    "moving AS (
        SELECT (SELECT owner_id FROM lk WHERE lk.id = ok.list_id) AS src,
               (SELECT owner_id FROM lk WHERE lk.id = diff.list_id) AS dst
        FROM diff JOIN ok USING (id) WHERE diff.list_id <> ok.list_id)",
    "owners AS (
        SELECT u.id, u.todo_count FROM users u, moving
        WHERE moving.src <> moving.dst AND u.id IN (moving.src, moving.dst)
        ORDER BY u.id FOR UPDATE OF u)",
    "room AS (
        SELECT NOT EXISTS (SELECT FROM moving WHERE src <> dst)
               OR EXISTS (SELECT FROM owners o JOIN moving ON o.id = moving.dst
                          WHERE o.todo_count < $21::int8) AS ok)",
    "counted AS (
        UPDATE users u SET todo_count = u.todo_count + CASE WHEN u.id = mv.dst THEN 1 ELSE -1 END
        FROM moving mv
        WHERE mv.src <> mv.dst AND u.id IN (mv.src, mv.dst) AND (SELECT ok FROM room))",
    "go AS (SELECT diff.* FROM diff WHERE (SELECT ok FROM room))",
    concat!(
        "seq AS (",
        bump_lists!("SELECT list_id FROM go UNION SELECT ok.list_id FROM ok JOIN go USING (id)"),
        ")"
    ),
    concat!(
        "upd AS (
        UPDATE todos AS t SET
            title = go.title, description = go.description, priority = go.priority,
            due_at = go.due_at, due_all_day = go.due_all_day, remind_at = go.remind_at,
            tags = go.tags, recurrence = go.recurrence, list_id = go.list_id,
            assignee_id = go.assignee_id, ical = go.ical,
            -- A moved todo is <id>.ics in its new list's calendar, with its
            -- id as UID: the name and UID a client chose were unique in the
            -- list it left only.
            dav_name = CASE WHEN go.list_id = ok.list_id THEN ok.dav_name END,
            dav_uid = CASE WHEN go.list_id = ok.list_id THEN ok.dav_uid END,
            -- A new due date starts a new monthly series.
            due_anchor_day = CASE WHEN go.due_at IS DISTINCT FROM ok.due_at
                                  THEN NULL ELSE ok.due_anchor_day END,
            -- A new due date or reminder time re-arms the reminder, which
            -- then goes to whoever set it (when nobody is assigned).
            reminder_fired_at = CASE WHEN (go.due_at, go.remind_at)
                                          IS DISTINCT FROM (ok.due_at, ok.remind_at)
                                     THEN NULL ELSE ok.reminder_fired_at END,
            reminder_deferred_until = CASE WHEN (go.due_at, go.remind_at)
                                                IS DISTINCT FROM (ok.due_at, ok.remind_at)
                                           THEN NULL ELSE ok.reminder_deferred_until END,
            reminder_to = CASE WHEN (go.due_at, go.remind_at)
                                    IS DISTINCT FROM (ok.due_at, ok.remind_at)
                               THEN ",
        caller_id!(),
        " ELSE ok.reminder_to END,
            updated_at = $11::text::timestamptz,
            version = ok.version + 1,
            change_seq = seq.change_seq
        FROM go, ok, seq
        WHERE t.id = go.id AND ok.id = go.id AND seq.id = go.list_id
        RETURNING t.*, ok.old_fields, ok.list_id AS old_list_id, todo_fields(t) AS new_fields)"
    ),
    concat!(
        "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT ",
        caller_id!(),
        ", id, 'update', todo_changes(old_fields, new_fields), updated_at, change_seq,
               event_data(id, new_fields), list_id, ",
        caller_id!(),
        "
        FROM upd
        UNION ALL
        -- A moved todo leaves a tombstone in the list it left.
        SELECT ",
        caller_id!(),
        ", upd.id, 'move_out', '{}', upd.updated_at, seq.change_seq, NULL,
               upd.old_list_id, ",
        caller_id!(),
        "
        FROM upd JOIN seq ON seq.id = upd.old_list_id WHERE upd.old_list_id <> upd.list_id)"
    ),
        ]
    };
}
const UPDATE_CTES: &[&str] = update_ctes!(by_id!());
const UPDATE_NAMED_CTES: &[&str] = update_ctes!(by_words!());

/// The version a change of one todo found, `null` when there is no such
/// todo, and whether the caller may change it.
const CURRENT: [(&str, Json<'static>); 2] = [
    ("current", Json::Value("(SELECT version FROM cur)")),
    (
        "writable",
        Json::Value("COALESCE((SELECT writable FROM cur), false)"),
    ),
];

/// What an update answers: the todo after it, or as it is when nothing
/// changed, and why it did not happen.
const UPDATE_FIELDS: [(&str, Json<'static>); 7] = [
    CURRENT[0],
    CURRENT[1],
    (
        "todo",
        Json::Row(concat!(
            "SELECT ",
            todo_columns!(),
            " FROM upd UNION ALL SELECT ",
            todo_columns!(),
            " FROM ok WHERE EXISTS (SELECT FROM checked) AND NOT EXISTS (SELECT FROM diff)"
        )),
    ),
    (
        "too_many_tags",
        Json::Value("(SELECT to_json(tags) FROM new WHERE cardinality(tags) > $17::int8)"),
    ),
    (
        "destination",
        Json::Value(concat!(
            "CASE WHEN $18::text::uuid IS NOT NULL THEN COALESCE((
                SELECT m.role FROM list_members m
                WHERE m.list_id = $18::text::uuid AND m.user_id = ",
            caller_id!(),
            "), 'none') END"
        )),
    ),
    (
        "assignable",
        Json::Value("EXISTS (SELECT FROM checked) OR NOT EXISTS (SELECT FROM new)"),
    ),
    ("room", Json::Value("COALESCE((SELECT ok FROM room), true)")),
];

/// The parameters of [`update_ctes`], the todo named by `target` (`$3`).
fn update_params(
    ctx: &Ctx,
    target: SqlParam,
    changes: &TodoChanges,
    if_match: Option<&[i64]>,
) -> Vec<SqlParam> {
    vec![
        target,
        changes.title.as_ref().map(|t| t.as_str()).into(),
        changes.description.as_ref().map(|d| d.as_str()).into(),
        changes.priority.map(Priority::rank).into(),
        changes.due_at.is_some().into(),
        changes.due_at.flatten().map(|d| d.time()).into(),
        changes.tags.as_ref().map_or(SqlParam::Null, tags_param),
        changes.recurrence.map(|r| r.to_string()).into(),
        ctx.clock.now().into(),
        versions_param(if_match),
        changes.remind_at.is_some().into(),
        changes.remind_at.flatten().map(|d| d.time()).into(),
        changes.add_tags.as_ref().map_or(SqlParam::Null, tags_param),
        changes
            .remove_tags
            .as_ref()
            .map_or(SqlParam::Null, tags_param),
        i64::try_from(Tags::MAX_TAGS).unwrap_or(i64::MAX).into(),
        changes.list_id.into(),
        changes.assignee_id.is_some().into(),
        changes.assignee_id.flatten().into(),
        MAX_TODOS_PER_USER.into(),
        changes.due_all_day.into(),
        changes.ical.as_deref().into(),
    ]
}

/// The todo an update answered, or why it missed: tags added past
/// [`Tags::MAX_TAGS`] change nothing, and are invalid, as are a
/// destination list the caller is not in and an assignee who is not a
/// member; a viewer of the destination may not move todos there, and a
/// move must leave the new list's owner within their limit.
fn read_updated(answer: serde_json::Value, if_match: Option<&[i64]>) -> Result<Todo, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(flatten)]
        changed: Changed,
        too_many_tags: Option<Vec<String>>,
        destination: Option<String>,
        assignable: bool,
        room: bool,
    }
    let answer: Answer = read(answer)?;
    if let Some(Err(why)) = answer.too_many_tags.map(|tags| Tags::parse(&tags)) {
        let mut fields = FieldErrors::new();
        fields.entry("tags".into()).or_default().push(why);
        return Err(TodoError::Invalid(fields));
    }
    let changed = answer.changed;
    if changed.todo.is_none() && changed.current.is_some() && changed.writable {
        match answer.destination.as_deref() {
            Some("none") => return Err(invalid("list_id", NO_SUCH_LIST)),
            Some("viewer") => return Err(TodoError::Forbidden),
            _ => {}
        }
        if !answer.assignable {
            return Err(invalid("assignee_id", NOT_A_MEMBER));
        }
        if !answer.room {
            return Err(TodoError::LimitReached {
                limit: MAX_TODOS_PER_USER,
            });
        }
    }
    let error = missed(&changed, if_match, TodoError::NotFound);
    to_todo(changed.todo)?.ok_or(error)
}

/// Applies `changes` (fields left `None` keep their value) and bumps the
/// version. With `if_match`, only when the todo is at one of those versions
/// ([`TodoError::VersionMismatch`] otherwise, the todo unchanged). A change
/// that changes nothing answers the todo as it is: no new version, no
/// history entry. Needs the editor role in the todo's list (and, for a
/// move, in the list it moves to).
pub fn update(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    changes: &TodoChanges,
    if_match: Option<&[i64]>,
) -> Result<Todo, TodoError> {
    let params = update_params(ctx, id.into(), changes, if_match);
    let answer = fetch(ctx, caller, UPDATE_CTES, &UPDATE_FIELDS, params)?;
    read_updated(answer, if_match)
}

/// [`update`] of the todo `naming` names, as a [`Part`] read by
/// [`read_updated_named`].
pub fn update_named_part(
    ctx: &Ctx,
    caller: &Caller,
    naming: &Naming,
    changes: &TodoChanges,
) -> Part {
    let params = update_params(ctx, naming.words(), changes, None);
    Part::named(
        caller,
        naming,
        UPDATE_NAMED_CTES,
        &UPDATE_FIELDS,
        "EXISTS (SELECT FROM ok)",
        params,
    )
}

/// What an [`update_named_part`] found: the todo as found and after the
/// update (at the same version when nothing changed).
pub fn read_updated_named(answer: serde_json::Value) -> Result<Named<(Todo, Todo)>, TodoError> {
    read_named(answer, |found, answer| {
        read_updated(answer, None).map(|updated| (found, updated))
    })
}

/// Replaces every writable field (PUT): what `new` leaves at its default is
/// reset to the default, and a `new` without a list leaves the todo in its
/// own.
pub fn replace(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    new: NewTodo,
    if_match: Option<&[i64]>,
) -> Result<Todo, TodoError> {
    update(ctx, caller, id, &TodoChanges::from(new), if_match)
}

macro_rules! toggle_ctes {
    ($id:expr) => {
        &[
            current_ctes!($id, "5", "NULL"),
            // The next occurrence's due date, when completing this one creates it.
            "spawn AS (
        SELECT ok.id, todo_next_due(ok.recurrence, ok.due_at, ok.due_anchor_day,
                                    $4::text::timestamptz) AS next_due
        FROM ok WHERE NOT ok.completed AND NOT ok.spawned_next)",
            // The next occurrence counts against the list's owner.
            "counted AS (
        UPDATE users u SET todo_count = u.todo_count + 1
        WHERE u.id = (SELECT owner_id FROM lk)
          AND EXISTS (SELECT FROM spawn WHERE next_due IS NOT NULL) AND u.todo_count < $6::int8
        RETURNING u.id)",
            "go AS (
        SELECT ok.* FROM ok
        WHERE NOT EXISTS (SELECT FROM spawn WHERE next_due IS NOT NULL)
           OR EXISTS (SELECT FROM counted))",
            concat!("seq AS (", bump_lists!("SELECT list_id FROM go"), ")"),
            "upd AS (
        UPDATE todos AS t SET
            completed = NOT go.completed,
            completed_at = CASE WHEN go.completed THEN NULL ELSE $4::text::timestamptz END,
            updated_at = $4::text::timestamptz,
            version = go.version + 1,
            change_seq = seq.change_seq,
            spawned_next = go.spawned_next
                           OR EXISTS (SELECT FROM spawn WHERE next_due IS NOT NULL)
        FROM go, seq
        WHERE t.id = go.id
        RETURNING t.*, go.old_fields, todo_fields(t) AS new_fields)",
            concat!(
                "nxt AS (
        INSERT INTO todos AS n (user_id, title, description, priority, due_at, due_anchor_day,
                               tags, recurrence, created_at, updated_at, change_seq, list_id,
                               assignee_id, reminder_to, due_all_day, occurrence)
        SELECT ",
                caller_id!(),
                ", upd.title, upd.description, upd.priority, spawn.next_due,
               CASE WHEN upd.recurrence = 'monthly' THEN COALESCE(upd.due_anchor_day,
                   extract(day FROM COALESCE(upd.due_at, $4::text::timestamptz)
                                    AT TIME ZONE 'UTC')::smallint) END,
               upd.tags, upd.recurrence, $4::text::timestamptz, $4::text::timestamptz,
               upd.change_seq, upd.list_id, upd.assignee_id, upd.reminder_to, upd.due_all_day,
               upd.occurrence + 1
        FROM upd JOIN spawn USING (id) WHERE spawn.next_due IS NOT NULL
        RETURNING n.*, todo_fields(n) AS fields)"
            ),
            concat!(
                "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT ",
                caller_id!(),
                ", id, 'toggle', todo_changes(old_fields, new_fields), updated_at, change_seq,
               event_data(id, new_fields), list_id, ",
                caller_id!(),
                "
        FROM upd
        UNION ALL
        SELECT ",
                caller_id!(),
                ", id, 'create', todo_changes('{}', fields), created_at, change_seq,
               event_data(id, fields), list_id, ",
                caller_id!(),
                "
        FROM nxt)"
            ),
        ]
    };
}
const TOGGLE_CTES: &[&str] = toggle_ctes!(by_id!());
const TOGGLE_NAMED_CTES: &[&str] = toggle_ctes!(by_words!());

/// A todo just completed whose rule's next occurrence is still to come:
/// the app computes it (see [`spawn_next`]), with what it needs for that,
/// the caller's time zone included.
const PENDING: &str = concat!(
    "SELECT upd.id, upd.due_at, upd.due_all_day, upd.recurrence, upd.occurrence,
            (SELECT p.time_zone FROM notification_preferences p WHERE p.user_id = ",
    caller_id!(),
    ") AS time_zone
     FROM upd WHERE upd.completed AND NOT upd.spawned_next AND upd.recurrence LIKE 'RRULE:%'"
);

/// What a toggle answers: the todo after it, the version it found, the
/// next occurrence it created, and one it left to the app (a rule's).
const TOGGLE_FIELDS: [(&str, Json<'static>); 5] = [
    (
        "todo",
        Json::Row(concat!("SELECT ", todo_columns!(), " FROM upd")),
    ),
    CURRENT[0],
    CURRENT[1],
    (
        "next",
        Json::Row(concat!("SELECT ", todo_columns!(), " FROM nxt")),
    ),
    ("pending", Json::Row(PENDING)),
];

/// The parameters of [`toggle_ctes`], the todo named by `target` (`$3`).
fn toggle_params(ctx: &Ctx, target: SqlParam, if_match: Option<&[i64]>) -> Vec<SqlParam> {
    vec![
        target,
        ctx.clock.now().into(),
        versions_param(if_match),
        MAX_TODOS_PER_USER.into(),
    ]
}

/// What a toggle answered, or why it missed.
fn read_toggled(answer: serde_json::Value, if_match: Option<&[i64]>) -> Result<Toggled, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(flatten)]
        changed: Changed,
        next: Option<TodoRow>,
        pending: Option<Pending>,
    }
    let answer: Answer = read(answer)?;
    let limit = TodoError::LimitReached {
        limit: MAX_TODOS_PER_USER,
    };
    let error = missed(&answer.changed, if_match, limit);
    let todo = to_todo(answer.changed.todo)?.ok_or(error)?;
    Ok(Toggled {
        todo,
        next: to_todo(answer.next)?,
        pending: answer.pending,
    })
}

/// A completed todo whose rule's next occurrence the app computes; see
/// [`PENDING`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pending {
    id: Uuid,
    due_at: Option<DateTime<Utc>>,
    due_all_day: bool,
    recurrence: Recurrence,
    occurrence: i64,
    time_zone: Option<String>,
}

impl Pending {
    /// The next occurrence's due date: after the due date (or `now`, for a
    /// todo without one), in the completing user's time zone (an all-day
    /// due stays a day); `None` when the series is over.
    fn next_due(&self, now: DateTime<Utc>) -> Option<DueAt> {
        let Recurrence::Rule(rule) = self.recurrence else {
            return None;
        };
        let occurrence = u32::try_from(self.occurrence).unwrap_or(u32::MAX);
        let next = match self.due_at {
            Some(due) if self.due_all_day => rule
                .next_date_after(due.date_naive(), occurrence)
                .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc()),
            due => {
                let tz = self
                    .time_zone
                    .as_deref()
                    .and_then(|t| t.parse::<chrono_tz::Tz>().ok())
                    .unwrap_or(chrono_tz::UTC);
                rule.next_after(due.unwrap_or(now), tz, occurrence)
            }
        }?;
        DueAt::new(next).ok()
    }
}

/// Creates the next occurrence of a todo completed under a rule (the
/// second half of its toggle; [`Toggled::pending`]): once, however often
/// it runs, within the list owner's limit. `None` when the series is over
/// or it was created already.
pub fn spawn_next(
    ctx: &Ctx,
    caller: &Caller,
    pending: &Pending,
) -> Result<Option<Todo>, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        next: Option<TodoRow>,
    }
    let Some(due) = pending.next_due(ctx.clock.now()) else {
        return Ok(None);
    };
    let answer: Answer = read(fetch(
        ctx,
        caller,
        SPAWN_CTES,
        &[(
            "next",
            Json::Row(concat!("SELECT ", todo_columns!(), " FROM nxt")),
        )],
        vec![
            pending.id.into(),
            ctx.clock.now().into(),
            due.time().into(),
            MAX_TODOS_PER_USER.into(),
        ],
    )?)?;
    Ok(to_todo(answer.next)?)
}

/// [`spawn_next`]'s statement: `$3` the completed todo, `$4` now, `$5` the
/// next due date, `$6` the limit. Locks as a toggle does.
const SPAWN_CTES: &[&str] = &[
    concat!(
        "lk AS (
        SELECT l.id, l.owner_id FROM lists l
        JOIN list_members m ON m.list_id = l.id AND m.role = 'editor' AND m.user_id = ",
        caller_id!(),
        "
        WHERE l.id = (SELECT t.list_id FROM todos t WHERE t.id = $3::text::uuid)
        FOR UPDATE OF l)"
    ),
    "ok AS (
        SELECT t.* FROM todos t
        WHERE t.id = $3::text::uuid AND t.list_id IN (SELECT id FROM lk) AND t.completed
          AND NOT t.spawned_next AND t.recurrence LIKE 'RRULE:%'
        FOR UPDATE OF t)",
    "counted AS (
        UPDATE users u SET todo_count = u.todo_count + 1
        WHERE u.id = (SELECT owner_id FROM lk) AND EXISTS (SELECT FROM ok)
          AND u.todo_count < $6::int8
        RETURNING u.id)",
    concat!(
        "seq AS (",
        bump_lists!("SELECT list_id FROM ok WHERE EXISTS (SELECT FROM counted)"),
        ")"
    ),
    "upd AS (
        UPDATE todos t SET spawned_next = true FROM ok, seq
        WHERE t.id = ok.id RETURNING t.*, seq.change_seq AS seq)",
    concat!(
        "nxt AS (
        INSERT INTO todos AS n (user_id, title, description, priority, due_at, tags, recurrence,
                               created_at, updated_at, change_seq, list_id, assignee_id,
                               reminder_to, due_all_day, occurrence)
        SELECT ",
        caller_id!(),
        ", upd.title, upd.description, upd.priority, $5::text::timestamptz, upd.tags,
               upd.recurrence, $4::text::timestamptz, $4::text::timestamptz, upd.seq,
               upd.list_id, upd.assignee_id, upd.reminder_to, upd.due_all_day,
               upd.occurrence + 1
        FROM upd
        RETURNING n.*, todo_fields(n) AS fields)"
    ),
    concat!(
        "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT ",
        caller_id!(),
        ", id, 'create', todo_changes('{}', fields), created_at, change_seq,
               event_data(id, fields), list_id, ",
        caller_id!(),
        "
        FROM nxt)"
    ),
];

/// Flips completion. Completing a recurring todo also creates its next
/// occurrence, due one period after the old due date (or after now, when
/// it had none; monthly keeps the series' day of the month), once per
/// occurrence however often it is reopened and completed, and not past
/// 9999-12-31. That new todo counts against the list owner's limit:
/// [`TodoError::LimitReached`] (nothing changed) when there is no room.
pub fn toggle(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    if_match: Option<&[i64]>,
) -> Result<Toggled, TodoError> {
    let params = toggle_params(ctx, id.into(), if_match);
    let answer = fetch(ctx, caller, TOGGLE_CTES, &TOGGLE_FIELDS, params)?;
    finish_toggle(ctx, caller, read_toggled(answer, if_match)?)
}

/// A toggle made whole: the next occurrence of a todo completed under a
/// rule, which the app computes, is created by a second statement (a
/// todo under one of the four words got its next one from the first).
pub fn finish_toggle(ctx: &Ctx, caller: &Caller, toggled: Toggled) -> Result<Toggled, TodoError> {
    match &toggled.pending {
        Some(pending) => Ok(Toggled {
            next: spawn_next(ctx, caller, pending)?,
            pending: None,
            ..toggled
        }),
        None => Ok(toggled),
    }
}

/// [`toggle`] of the todo `naming` names, as a [`Part`] read by
/// [`read_toggled_named`].
pub fn toggle_named_part(ctx: &Ctx, caller: &Caller, naming: &Naming) -> Part {
    let params = toggle_params(ctx, naming.words(), None);
    Part::named(
        caller,
        naming,
        TOGGLE_NAMED_CTES,
        &TOGGLE_FIELDS,
        "EXISTS (SELECT FROM upd)",
        params,
    )
}

/// What a [`toggle_named_part`] found, and what the toggle answered.
pub fn read_toggled_named(answer: serde_json::Value) -> Result<Named<Toggled>, TodoError> {
    read_named(answer, |_, answer| read_toggled(answer, None))
}

macro_rules! delete_ctes {
    ($id:expr) => {
        &[
            current_ctes!($id, "4", "NULL"),
            "counted AS (
        UPDATE users u SET todo_count = u.todo_count - 1
        WHERE u.id = (SELECT owner_id FROM lk) AND EXISTS (SELECT FROM ok))",
            concat!("seq AS (", bump_lists!("SELECT list_id FROM ok"), ")"),
            "del AS (
        DELETE FROM todos AS t USING ok WHERE t.id = ok.id
        RETURNING t.id, t.list_id, ok.old_fields)",
            concat!(
                "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT ",
                caller_id!(),
                ", id, 'delete', todo_changes(old_fields, '{}'), $5::text::timestamptz,
               (SELECT change_seq FROM seq), event_data(id, old_fields), list_id, ",
                caller_id!(),
                "
        FROM del)"
            ),
        ]
    };
}
const DELETE_CTES: &[&str] = delete_ctes!(by_id!());
const DELETE_NAMED_CTES: &[&str] = delete_ctes!(by_words!());

/// What a delete answers.
const DELETE_FIELDS: [(&str, Json<'static>); 3] = [
    ("deleted", Json::Value("EXISTS (SELECT FROM del)")),
    CURRENT[0],
    CURRENT[1],
];

/// Whether the delete happened, or why it missed.
fn read_deleted_one(answer: serde_json::Value, if_match: Option<&[i64]>) -> Result<(), TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        deleted: bool,
        #[serde(flatten)]
        changed: Changed,
    }
    let answer: Answer = read(answer)?;
    if answer.deleted {
        Ok(())
    } else {
        Err(missed(&answer.changed, if_match, TodoError::NotFound))
    }
}

/// Deletes one todo (its audit trail stays).
pub fn delete(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    if_match: Option<&[i64]>,
) -> Result<(), TodoError> {
    let params = vec![id.into(), versions_param(if_match), ctx.clock.now().into()];
    let answer = fetch(ctx, caller, DELETE_CTES, &DELETE_FIELDS, params)?;
    read_deleted_one(answer, if_match)
}

/// [`delete`] of the todo `naming` names, as a [`Part`] read by
/// [`read_deleted_named`].
pub fn delete_named_part(ctx: &Ctx, caller: &Caller, naming: &Naming) -> Part {
    let params = vec![naming.words(), SqlParam::Null, ctx.clock.now().into()];
    Part::named(
        caller,
        naming,
        DELETE_NAMED_CTES,
        &DELETE_FIELDS,
        "EXISTS (SELECT FROM del)",
        params,
    )
}

/// What a [`delete_named_part`] found; the todo it deleted, as it was.
pub fn read_deleted_named(answer: serde_json::Value) -> Result<Named<Todo>, TodoError> {
    read_named(answer, |todo, answer| {
        read_deleted_one(answer, None).map(|()| todo)
    })
}

/// The todos `naming` names, as a [`Part`] read by [`read_found`]; nothing
/// changes.
pub fn find_part(caller: &Caller, naming: &Naming) -> Part {
    Part::named(caller, naming, &[], &[], "TRUE", vec![naming.words()])
}

/// What a named part found: no todo, several (then nothing changed), the
/// one (with what its change answered), or only titles that hold the words
/// inside longer words (then nothing changed either; see [`By::TitleWords`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Named<T> {
    Missing,
    Several(Vec<Todo>),
    One(T),
    Partly(Vec<Todo>),
}

/// What a [`find_part`] found (see [`Naming`]).
pub fn read_found(answer: serde_json::Value) -> Result<Named<Todo>, TodoError> {
    read_named(answer, |todo, _| Ok(todo))
}

/// Reads what a named part found; `one` reads the change of the one todo
/// (found as the first argument) from the answer.
fn read_named<T>(
    answer: serde_json::Value,
    one: impl FnOnce(Todo, serde_json::Value) -> Result<T, TodoError>,
) -> Result<Named<T>, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        matched: Vec<TodoRow>,
        #[serde(default)]
        partly: Vec<TodoRow>,
    }
    let found: Answer = read(answer.clone())?;
    let todos = |rows: Vec<TodoRow>| {
        rows.into_iter()
            .map(|row| Todo::try_from(row).map_err(TodoError::from))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut matched = todos(found.matched)?;
    match matched.len() {
        0 => {
            let partly = todos(found.partly)?;
            Ok(if partly.is_empty() {
                Named::Missing
            } else {
                Named::Partly(partly)
            })
        }
        1 => one(matched.remove(0), answer).map(Named::One),
        _ => Ok(Named::Several(matched)),
    }
}

/// The CTEs of a delete of several todos: `lk`, the lists to delete from
/// (those of `$lists`, an SQL condition on the list `l`, that the caller
/// edits), locked in id order; `del` (a `DELETE ... RETURNING t.id,
/// t.list_id, todo_fields(t) AS fields` from them), then each list's
/// change number, each owner's todo count moved once for all the rows
/// deleted (owners locked in id order), and each row's audit entry (with
/// its event) at `$3` (now).
macro_rules! bulk_delete_ctes {
    ($lists:expr, $del:expr) => {
        &[
            concat!(
                "lk AS (
        SELECT l.id, l.owner_id FROM lists l
        JOIN list_members m ON m.list_id = l.id AND m.role = 'editor' AND m.user_id = ",
                caller_id!(),
                "
        WHERE ",
                $lists,
                " ORDER BY l.id FOR UPDATE OF l)"
            ),
            $del,
            "owners AS (
        SELECT u.id FROM users u
        WHERE u.id IN (SELECT lk.owner_id FROM lk JOIN del ON del.list_id = lk.id)
        ORDER BY u.id FOR UPDATE OF u)",
            "counted AS (
        UPDATE users u SET todo_count = u.todo_count - d.n
        FROM (SELECT lk.owner_id, count(*)::int AS n
              FROM del JOIN lk ON lk.id = del.list_id GROUP BY lk.owner_id) d
        WHERE u.id = d.owner_id AND u.id IN (SELECT id FROM owners))",
            concat!("seq AS (", bump_lists!("SELECT list_id FROM del"), ")"),
            concat!(
                "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT ",
                caller_id!(),
                ", del.id, 'delete', todo_changes(del.fields, '{}'), $3::text::timestamptz,
               seq.change_seq, event_data(del.id, del.fields), del.list_id, ",
                caller_id!(),
                "
        FROM del JOIN seq ON seq.id = del.list_id)"
            ),
        ]
    };
}

/// `$4`: the list to clear (NULL: every list the caller edits); `$5` the
/// positions of `unchanged_since` (see [`positions_json`]), NULL without it.
const CLEAR_COMPLETED_CTES: &[&str] = bulk_delete_ctes!(
    "($4::text::uuid IS NULL OR l.id = $4::text::uuid)",
    concat!(
        "del AS (
        DELETE FROM todos AS t
        WHERE t.list_id IN (SELECT id FROM lk) AND t.completed
          AND ($5::text IS NULL OR t.change_seq <= COALESCE((
              SELECT p.seq FROM jsonb_to_recordset($5::text::jsonb) AS p (id uuid, seq int8)
              WHERE COALESCE(p.id, (SELECT i.id FROM lists i
                                    WHERE i.owner_id = ",
        caller_id!(),
        " AND i.inbox)) = t.list_id), 0))
        RETURNING t.id, t.list_id, todo_fields(t) AS fields)"
    )
);

/// Deletes the completed todos of `list` (else of every list the caller
/// edits; [`TodoError::NotFound`] for a list the caller is not in,
/// [`TodoError::Forbidden`] for one they view); with `unchanged_since`,
/// only those not changed after that sync token (none of a list the token
/// did not know). Returns how many.
pub fn clear_completed(
    ctx: &Ctx,
    caller: &Caller,
    list: Option<Uuid>,
    unchanged_since: Option<&str>,
) -> Result<i64, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        deleted: i64,
        role: Option<String>,
    }
    let since = unchanged_since
        .map(|raw| open_token(ctx, caller, raw, "unchanged_since"))
        .transpose()?;
    let answer: Answer = fetch(
        ctx,
        caller,
        CLEAR_COMPLETED_CTES,
        &[
            ("deleted", Json::Value("(SELECT count(*) FROM del)")),
            (
                "role",
                Json::Value(concat!(
                    "(SELECT m.role FROM list_members m
                      WHERE m.list_id = $4::text::uuid AND m.user_id = ",
                    caller_id!(),
                    ")"
                )),
            ),
        ],
        vec![
            ctx.clock.now().into(),
            list.into(),
            since.as_ref().map(positions_json).into(),
        ],
    )?;
    match (list, answer.role.as_deref()) {
        (Some(_), None) => Err(TodoError::NotFound),
        (Some(_), Some("viewer")) => Err(TodoError::Forbidden),
        _ => Ok(answer.deleted),
    }
}

const DELETE_LISTED_CTES: &[&str] = bulk_delete_ctes!(
    "l.id IN (SELECT t.list_id FROM todos t
              JOIN jsonb_to_recordset($4::text::jsonb) AS listed (id uuid, version int8)
                ON t.id = listed.id)",
    "del AS (
        DELETE FROM todos AS t
        USING jsonb_to_recordset($4::text::jsonb) AS listed (id uuid, version int8)
        WHERE t.list_id IN (SELECT id FROM lk) AND t.id = listed.id
          AND t.version = listed.version
        RETURNING t.id, t.list_id, todo_fields(t) AS fields)"
);

/// Deletes exactly the listed todos, each only while it is still at the
/// listed version and in a list the caller edits (one statement: a todo
/// changed or deleted since it was listed stays as it is); returns the ids
/// deleted.
pub fn delete_listed(
    ctx: &Ctx,
    caller: &Caller,
    listed: &[(Uuid, i64)],
) -> Result<Vec<Uuid>, TodoError> {
    read_deleted(delete_listed_part(ctx, caller, listed).run(ctx, caller)?)
}

/// [`delete_listed`] as a [`Part`], read by [`read_deleted`].
pub fn delete_listed_part(ctx: &Ctx, caller: &Caller, listed: &[(Uuid, i64)]) -> Part {
    let listed: Vec<serde_json::Value> = listed
        .iter()
        .map(|(id, version)| serde_json::json!({"id": id, "version": version}))
        .collect();
    Part::new(
        caller,
        DELETE_LISTED_CTES,
        &[(
            "deleted",
            Json::Value("COALESCE((SELECT json_agg(id) FROM del), '[]')"),
        )],
        "TRUE",
        vec![
            ctx.clock.now().into(),
            serde_json::Value::from(listed).to_string().into(),
        ],
    )
}

/// The ids a [`delete_listed_part`] deleted.
pub fn read_deleted(answer: serde_json::Value) -> Result<Vec<Uuid>, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        deleted: Vec<Uuid>,
    }
    Ok(read::<Answer>(answer)?.deleted)
}

/// A page of a todo's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Newest first.
    pub items: Vec<HistoryEntry>,
    /// Pass as `cursor=` for older entries; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Where a history page ended: the todo and the last entry's audit id.
#[derive(Serialize, Deserialize)]
struct HistoryCursor {
    todo: Uuid,
    before: i64,
}

const HISTORY_CURSOR: &str = "history cursor";

/// The audit trail of one todo, newest first, a page at a time. Still there
/// after the todo is deleted; [`TodoError::NotFound`] when the user never
/// had that todo. Fired reminders (audit rows too, for their events) are no
/// change of the todo and stay out of it.
pub fn history(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    page: &HistoryQuery,
) -> Result<HistoryPage, TodoError> {
    #[derive(Deserialize)]
    struct Row {
        id: i64,
        #[serde(flatten)]
        entry: HistoryEntry,
    }
    #[derive(Deserialize)]
    struct Answer {
        items: Vec<Row>,
    }
    let secret = cursor_secret(ctx);
    let before = match &page.cursor {
        None => None,
        Some(raw) => {
            let cursor: HistoryCursor = sealed::open(&secret, HISTORY_CURSOR, raw)
                .and_then(|json| serde_json::from_slice(&json).ok())
                .filter(|c: &HistoryCursor| c.todo == id)
                .ok_or_else(|| {
                    TodoError::BadCursor("is not a cursor of this todo's history".into())
                })?;
            Some(cursor.before)
        }
    };
    let answer: Answer = fetch(
        ctx,
        caller,
        &[concat!(
            // The caller sees the trail while a member of the list the todo
            // is in (or, once deleted, was in last).
            "visible AS (
                SELECT EXISTS (
                    SELECT FROM list_members m
                    WHERE m.user_id = ",
            caller_id!(),
            " AND m.list_id = (
                        SELECT a.list_id FROM todo_audit a
                        WHERE a.todo_id = $3::text::uuid AND a.action <> 'move_out'
                        ORDER BY a.id DESC LIMIT 1)) AS ok)"
        )],
        &[(
            "items",
            Json::Rows(
                "SELECT a.id, a.action, a.changes, a.at,
                        (SELECT json_build_object('id', u.id, 'name', u.name)
                         FROM users u WHERE u.id = a.actor_id) AS actor
                 FROM todo_audit a
                 WHERE (SELECT ok FROM visible) AND a.todo_id = $3::text::uuid
                   AND a.action IN ('create', 'update', 'toggle', 'delete')
                   AND ($4::int8 IS NULL OR a.id < $4::int8)
                 ORDER BY a.id DESC LIMIT $5::int8",
            ),
        )],
        vec![id.into(), before.into(), (page.limit + 1).into()],
    )?;
    let mut rows = answer.items;
    if rows.is_empty() && before.is_none() {
        return Err(TodoError::NotFound);
    }
    let limit = usize::try_from(page.limit).unwrap_or(0);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| {
            let cursor = HistoryCursor {
                todo: id,
                before: last.id,
            };
            let json = serde_json::to_vec(&cursor).unwrap_or_default();
            sealed::seal(&secret, HISTORY_CURSOR, &json)
        })
    } else {
        None
    };
    Ok(HistoryPage {
        items: rows.into_iter().map(|row| row.entry).collect(),
        next_cursor,
    })
}

const STATS_SQL: &str = "SELECT
        count(*) AS total,
        count(*) FILTER (WHERE NOT completed) AS open,
        count(*) FILTER (WHERE completed) AS done,
        count(*) FILTER (WHERE NOT completed AND due_at < $3::text::timestamptz) AS overdue,
        count(*) FILTER (WHERE NOT completed AND due_at >= $4::text::timestamptz
                                              AND due_at < $5::text::timestamptz) AS due_today,
        json_build_object(
            'low', count(*) FILTER (WHERE priority = 0),
            'medium', count(*) FILTER (WHERE priority = 1),
            'high', count(*) FILTER (WHERE priority = 2),
            'urgent', count(*) FILTER (WHERE priority = 3)) AS by_priority,
        (SELECT COALESCE(json_agg(json_build_object('tag', tag, 'count', n) ORDER BY n DESC, tag), '[]')
         FROM (SELECT tag, count(*) AS n FROM todos, unnest(tags) AS tag
               WHERE list_id IN (SELECT id FROM shown)
               GROUP BY tag ORDER BY n DESC, tag LIMIT $6::int8) AS t) AS by_tag
    FROM todos WHERE list_id IN (SELECT id FROM shown)";

/// Counts over the todos of every list the caller belongs to, or of
/// `list` ([`TodoError::NotFound`] when the caller is not in it).
pub fn stats(ctx: &Ctx, caller: &Caller, list: Option<Uuid>) -> Result<TodoStats, TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        stats: TodoStats,
        found: bool,
    }
    let now = ctx.clock.now();
    let today = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc());
    let answer: Answer = fetch(
        ctx,
        caller,
        &[
            MINE,
            "shown AS (SELECT id FROM mine WHERE $7::text::uuid IS NULL OR id = $7::text::uuid)",
        ],
        &[
            ("stats", Json::Row(STATS_SQL)),
            ("found", Json::Value(LIST_FOUND)),
        ],
        vec![
            now.into(),
            today.into(),
            (today + Duration::days(1)).into(),
            MAX_STATS_TAGS.into(),
            list.into(),
        ],
    )?;
    if answer.found {
        Ok(answer.stats)
    } else {
        Err(TodoError::NotFound)
    }
}

/// One column of a keyset: the expression the rows are ordered by (an index
/// has the same expression; the cursor carries its JSON text), and how to
/// cast the cursor's text back.
struct SortKey {
    order_by: &'static str,
    cast: &'static str,
}

const CREATED_AT_KEY: SortKey = SortKey {
    // Qualified: a bare `created_at` in ORDER BY would name the output
    // column of that name (text), which no index serves.
    order_by: "todos.created_at",
    cast: "::text::timestamptz",
};

/// The keys (before `id`) and SQL direction of a sort order. Every order but
/// `created_at` itself breaks ties by creation time, all keys in the same
/// direction, so that one index (see the migrations) serves each order.
fn sort_keys(query: &ListQuery) -> (Vec<SortKey>, bool) {
    let sort = query.sort;
    // `sort=priority` means urgent first, which is descending by rank.
    let descending = sort.descending != (sort.field == SortField::Priority);
    let keys = match sort.field {
        SortField::CreatedAt => vec![CREATED_AT_KEY],
        // Undated todos come last whichever the direction.
        SortField::DueAt if descending => vec![
            SortKey {
                order_by: "COALESCE(due_at, '-infinity'::timestamptz)",
                cast: "::text::timestamptz",
            },
            CREATED_AT_KEY,
        ],
        SortField::DueAt => vec![
            SortKey {
                order_by: "COALESCE(due_at, 'infinity'::timestamptz)",
                cast: "::text::timestamptz",
            },
            CREATED_AT_KEY,
        ],
        SortField::Priority => vec![
            SortKey {
                order_by: "priority",
                cast: "::text::smallint",
            },
            CREATED_AT_KEY,
        ],
        SortField::Title => vec![
            SortKey {
                order_by: "lower(title)",
                cast: "::text",
            },
            CREATED_AT_KEY,
        ],
    };
    (keys, descending)
}

/// The filter conditions of a list query (without the list and the
/// cursor), and the placeholder of its status (`completed`). Every filter
/// is a parameter, NULL when the query does not use it, so that the SQL is
/// the same whatever the filters: a list's statement text varies only with
/// its sort, whether it has a cursor, whether it asks for `updated_since`
/// and whether a filter but the status applies (48 texts, see
/// [`status_only`]), and a user cannot make each pooled connection
/// prepare and drop thousands of variants. The filters are then checked
/// row by row on each list's index in sort order, where some had an index
/// of their own. A page that nothing but its status filters (the REST
/// list's default, the chat's open todos) checks the status alone: the
/// eight other NULL tests on every row read were about 5% of PostgreSQL's
/// time for a page of 50 (pgbench of the app's statement, one client).
fn filters(query: &ListQuery, now: DateTime<Utc>, p: &mut Params) -> (String, String) {
    let completed = match query.status {
        Status::All => None,
        Status::Open => Some(false),
        Status::Done => Some(true),
    };
    let completed = p.add(completed, "::bool");
    let status = format!("({completed} IS NULL OR completed = {completed})");
    if status_only(query) {
        return (status, completed);
    }
    let priorities = (!query.priorities.is_empty()).then(|| {
        let ranks: Vec<String> = query
            .priorities
            .iter()
            .map(|p| p.rank().to_string())
            .collect();
        format!("{{{}}}", ranks.join(","))
    });
    let priorities = p.add(priorities, "::text::smallint[]");
    let tag = p.add(query.tag.as_deref(), "::text");
    let pattern = query.q.as_ref().map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let pattern = p.add(pattern, "::text");
    let due_before = p.add(query.due_before, "::text::timestamptz");
    let due_after = p.add(query.due_after, "::text::timestamptz");
    let overdue = p.add(query.overdue, "::bool");
    let now = p.add(now, "::text::timestamptz");
    let updated_since = p.add(query.updated_since, "::text::timestamptz");
    // Compared as text: a cast of `none` to uuid would fail at planning.
    let assignee = p.add(
        query.assignee.map(|a| match a {
            Assignee::Me => "me".to_owned(),
            Assignee::Nobody => "none".to_owned(),
            Assignee::User(id) => id.to_string(),
        }),
        "::text",
    );
    let conditions = [
        status,
        format!("({priorities} IS NULL OR priority = ANY({priorities}))"),
        format!("({tag} IS NULL OR tags @> ARRAY[{tag}])"),
        format!("({pattern} IS NULL OR title ILIKE {pattern} OR description ILIKE {pattern})"),
        format!("({due_before} IS NULL OR due_at < {due_before})"),
        format!("({due_after} IS NULL OR due_at > {due_after})"),
        // Overdue: open, with a due date before now.
        format!(
            "({overdue} IS NULL OR {overdue} = \
             (NOT completed AND due_at IS NOT NULL AND due_at < {now}))"
        ),
        format!("({updated_since} IS NULL OR updated_at > {updated_since})"),
        format!(
            "({assignee} IS NULL OR COALESCE(assignee_id::text, 'none') = \
             CASE WHEN {assignee} = 'me' THEN {} ELSE {assignee} END)",
            concat!(caller_id!(), "::text")
        ),
    ];
    // One CASE, not nine conditions: the generic plan cannot know which
    // filters are NULL, and would multiply nine guesses into "one row
    // matches", then read and sort all the list's todos for a page. The
    // planner guesses that a CASE keeps half the rows, so a page is read in
    // index order and stops at its limit.
    let condition = format!(
        "CASE WHEN {} THEN TRUE ELSE FALSE END",
        conditions.join(" AND ")
    );
    (condition, completed)
}

/// Whether nothing but its status filters a page, whose total then adds up
/// the counts its lists keep (migration V21) instead of counting their
/// todos (that read every todo of the shown lists on every page), and whose
/// rows are checked against the status alone (see [`filters`]).
fn status_only(query: &ListQuery) -> bool {
    // Every field named, so that a new filter cannot be left out here.
    let ListQuery {
        status: _,
        priorities,
        tag,
        q,
        due_before,
        due_after,
        overdue,
        updated_since,
        assignee,
        list: _,
        since: _,
        wait: _,
        sort: _,
        limit: _,
        cursor: _,
    } = query;
    priorities.is_empty()
        && tag.is_none()
        && q.is_none()
        && due_before.is_none()
        && due_after.is_none()
        && overdue.is_none()
        && updated_since.is_none()
        && assignee.is_none()
}

/// The parts of the one statement a list request runs, with their shared
/// parameters (public so that a test can `EXPLAIN` exactly what the API runs).
#[derive(Debug, Clone)]
pub struct ListSql {
    /// The lists shown (`shown`: the caller's, or the one asked for).
    pub ctes: [String; 2],
    /// The page, one row more than asked for (to know whether more follow).
    pub page: String,
    /// How many todos match the filters (a scalar subquery).
    pub total: String,
    /// With `updated_since`, the ids deleted since; else NULL (a scalar
    /// expression).
    pub deleted: String,
    /// The caller's parameters, then every part's.
    pub params: Params,
}

/// Whether a list asked for (`list=`) is one of the caller's.
const LIST_FOUND: &str = "EXISTS (SELECT FROM shown)";

/// Where each of the caller's lists stands now, for a sync token.
const POSITIONS: &str = "SELECT l.id, l.change_seq AS seq FROM lists l
    WHERE l.id IN (SELECT id FROM mine) ORDER BY l.id";

impl ListSql {
    /// The statement `list` runs: the caller check, the page, the total and
    /// the deleted ids in one round trip.
    pub fn statement(&self) -> Statement {
        let ctes: Vec<&str> = self.ctes.iter().map(String::as_str).collect();
        Caller::statement(&ctes, &self.fields(), self.params.clone())
    }

    fn fields(&self) -> [(&str, Json<'_>); 5] {
        [
            ("items", Json::Arrays(&self.page, PAGE_COLUMNS)),
            ("total", Json::Value(&self.total)),
            ("deleted", Json::Value(&self.deleted)),
            ("found", Json::Value(LIST_FOUND)),
            ("positions", Json::Rows(POSITIONS)),
        ]
    }
}

/// The SQL a list request runs, with its parameters; `cursor` is the
/// query's, opened ([`open_cursor`]). A page takes at most a page of each
/// shown list, each read in sort order from that list's index, and keeps
/// the first page of them.
pub fn list_sql(
    caller: &Caller,
    query: &ListQuery,
    cursor: Option<&Cursor>,
    now: DateTime<Utc>,
) -> ListSql {
    let mut p = caller.params();
    let list = p.add(query.list, "::text::uuid");
    let shown = format!("shown AS (SELECT id FROM mine WHERE {list} IS NULL OR id = {list})");
    let (condition, completed) = filters(query, now, &mut p);
    let total = if status_only(query) {
        // The status is a parameter here too, as in the page's condition.
        format!(
            "(SELECT coalesce(sum(CASE WHEN {completed} IS NULL THEN todo_count \
             WHEN {completed} THEN todo_count - open_count ELSE open_count END), 0) \
             FROM lists WHERE id IN (SELECT id FROM shown))"
        )
    } else {
        format!(
            "(SELECT count(*) FROM todos WHERE list_id IN (SELECT id FROM shown) AND {condition})"
        )
    };
    // Only with `updated_since`: a statement without it does not carry the
    // subquery, which PostgreSQL would set up on every execution even
    // though it never ran.
    let deleted = match query.updated_since {
        None => "NULL".to_owned(),
        Some(since) => {
            let since = p.add(since, "::text::timestamptz");
            format!(
                "(SELECT coalesce(json_agg(a.todo_id ORDER BY a.at), '[]') FROM todo_audit a \
                 WHERE a.list_id IN (SELECT id FROM shown) AND a.action IN ('delete', 'move_out') \
                 AND a.at > {since} AND NOT EXISTS (SELECT FROM mine \
                 WHERE mine.id = (SELECT v.list_id FROM todos v WHERE v.id = a.todo_id)))"
            )
        }
    };

    let mut conds = vec!["todos.list_id = shown.id".to_owned(), condition];
    let (keys, descending) = sort_keys(query);
    if let Some(cursor) = cursor {
        let mut left: Vec<&str> = keys.iter().map(|k| k.order_by).collect();
        left.push("todos.id");
        let mut right: Vec<String> = keys
            .iter()
            .zip(&cursor.keys)
            .map(|(k, v)| p.add(v.as_str(), k.cast))
            .collect();
        right.push(p.add(cursor.id, "::text::uuid"));
        conds.push(format!(
            "({}) {} ({})",
            left.join(", "),
            if descending { "<" } else { ">" },
            right.join(", ")
        ));
    }
    let direction = if descending { "DESC" } else { "ASC" };
    let mut order: Vec<String> = keys
        .iter()
        .map(|k| format!("{} {direction}", k.order_by))
        .collect();
    order.push(format!("todos.id {direction}"));
    let order = order.join(", ");
    let key_list: Vec<&str> = keys.iter().map(|k| k.order_by).collect();
    let limit = p.add(query.limit + 1, "::int8");
    let last = p.add(query.limit, "::int8");
    // The same ORDER BY sorts each list's rows (on its index) and the
    // union of them (on the columns of the subquery, also named `todos`).
    // Only the page's last row, which a next page would start after,
    // carries its sort keys.
    let page = format!(
        "SELECT todos.*, CASE WHEN row_number() OVER (ORDER BY {order}) = {last} \
         THEN json_build_array({}) END AS keys \
         FROM shown CROSS JOIN LATERAL (\
         SELECT {TODO_COLUMNS} FROM todos WHERE {} \
         ORDER BY {order} LIMIT {limit}) AS todos ORDER BY {order} LIMIT {limit}",
        key_list.join(", "),
        conds.join(" AND "),
    );
    ListSql {
        ctes: [MINE.to_owned(), shown],
        page,
        total,
        deleted,
        params: p,
    }
}

/// A sort key as the cursor carries it: text, as the SQL casts it back.
fn key_text(value: &serde_json::Value) -> Result<String, DbError> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(DbError::Decode(format!("sort key {other}"))),
    }
}

/// Cursors and sync tokens are sealed with a key derived from the app's
/// `jwt_secret`.
fn cursor_secret(ctx: &Ctx) -> Vec<u8> {
    ctx.var("jwt_secret").into_bytes()
}

/// The query's cursor, opened; [`TodoError::BadCursor`] when it is not one
/// this app handed out for the query's sort order.
pub fn open_cursor(ctx: &Ctx, query: &ListQuery) -> Result<Option<Cursor>, TodoError> {
    query
        .cursor
        .as_deref()
        .map(|raw| Cursor::open(raw, &cursor_secret(ctx), query.sort))
        .transpose()
        .map_err(TodoError::BadCursor)
}

/// Sync tokens are sealed for their user: another user's token does not
/// open (it names lists that user belongs to).
fn sync_secret(ctx: &Ctx, caller: &Caller) -> Vec<u8> {
    let mut secret = cursor_secret(ctx);
    secret.push(0);
    secret.extend(caller.user_id.as_bytes());
    secret
}

/// A sync token as the caller sent it in the parameter `field`, opened.
pub fn open_token(
    ctx: &Ctx,
    caller: &Caller,
    raw: &str,
    field: &str,
) -> Result<SyncToken, TodoError> {
    SyncToken::open(raw, &sync_secret(ctx, caller)).map_err(|why| invalid(field, &why))
}

/// A token's positions as the statements read them: a JSON array of
/// `{id, seq, kind, after}` (`id` null for the Inbox of a token from before
/// lists; `kind` and `after` null at the end of a change).
fn positions_json(token: &SyncToken) -> String {
    let positions: Vec<serde_json::Value> = token
        .positions
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.list,
                "seq": p.seq,
                "kind": p.after.map(|(kind, _)| kind as i64),
                "after": p.after.map(|(_, id)| id),
            })
        })
        .collect();
    serde_json::Value::from(positions).to_string()
}

/// Where one of the caller's lists stands (`seq`), as a statement answers
/// it; in the feed also where the client's token left it (`since` NULL: a
/// list new to it; `kind` 3: at the end of change `since`).
#[derive(Deserialize)]
struct Position {
    id: Uuid,
    seq: i64,
    #[serde(default)]
    since: Option<i64>,
    #[serde(default)]
    kind: i64,
    #[serde(default)]
    after: Uuid,
}

/// A token at the end of every list in `positions`.
fn token_at(positions: &[Position]) -> SyncToken {
    SyncToken {
        positions: positions
            .iter()
            .map(|p| ListPosition {
                list: Some(p.id),
                seq: p.seq,
                after: None,
            })
            .collect(),
    }
}

/// One page of the todos matching `query`, from every list the caller
/// belongs to (or from the one `query.list` names:
/// [`TodoError::NotFound`] when the caller is no member of it).
pub fn list(ctx: &Ctx, caller: &Caller, query: &ListQuery) -> Result<TodoPage, TodoError> {
    let page = page::<TodoRow>(ctx, caller, query, |row| Ok((row.keys.clone(), row.id)))?;
    Ok(TodoPage {
        items: page
            .rows
            .into_iter()
            .map(Todo::try_from)
            .collect::<Result<_, _>>()?,
        total: page.total,
        next_cursor: page.next_cursor,
        deleted: page.deleted,
        sync_token: page.sync_token,
    })
}

/// [`list`]'s page as the REST API answers it: the JSON of its
/// [`TodoPage`], written from PostgreSQL's rows without building a `Todo`
/// for each (see [`write_todo`]). On the wasm host a list of 50 answers 3
/// to 4% more requests a second than through `Todo` (issue 27).
pub fn list_json(ctx: &Ctx, caller: &Caller, query: &ListQuery) -> Result<Vec<u8>, TodoError> {
    let page = page::<Box<RawValue>>(ctx, caller, query, |row| {
        let row: TodoRow = serde_json::from_str(row.get())
            .map_err(|e| DbError::Decode(format!("a page's row: {e}")))?;
        Ok((row.keys, row.id))
    })?;
    let mut out = Vec::with_capacity(512 * page.rows.len() + 512);
    out.extend_from_slice(b"{\"items\":[");
    for (i, row) in page.rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_todo(row.get(), &mut out)?;
    }
    out.extend_from_slice(b"],\"total\":");
    push_json(&mut out, &page.total);
    out.extend_from_slice(b",\"next_cursor\":");
    push_json(&mut out, &page.next_cursor);
    if let Some(deleted) = &page.deleted {
        out.extend_from_slice(b",\"deleted\":");
        push_json(&mut out, deleted);
    }
    out.extend_from_slice(b",\"sync_token\":");
    push_json(&mut out, &page.sync_token);
    out.push(b'}');
    Ok(out)
}

/// A page of a list with its rows as `R`, as [`list`] and [`list_json`]
/// read them.
struct Page<R> {
    rows: Vec<R>,
    total: i64,
    next_cursor: Option<String>,
    deleted: Option<Vec<Uuid>>,
    sync_token: String,
}

/// The page `query` asks for, its rows read as `R`. `cursor_of` reads a
/// row's sort keys and id, which the last row gives the cursor of a next
/// page.
fn page<R: DeserializeOwned>(
    ctx: &Ctx,
    caller: &Caller,
    query: &ListQuery,
    cursor_of: impl Fn(&R) -> Result<(Option<Vec<serde_json::Value>>, Uuid), DbError>,
) -> Result<Page<R>, TodoError> {
    #[derive(Deserialize)]
    struct Answer<R> {
        items: Vec<R>,
        total: i64,
        deleted: Option<Vec<Uuid>>,
        found: bool,
        positions: Vec<Position>,
    }
    let cursor = open_cursor(ctx, query)?;
    let statement = list_sql(caller, query, cursor.as_ref(), ctx.clock.now()).statement();
    let answer: Answer<R> = run(ctx, caller, &statement)?;
    if !answer.found {
        return Err(TodoError::NotFound);
    }
    let mut rows = answer.items;
    let limit = usize::try_from(query.limit).unwrap_or(0);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|last| -> Result<String, DbError> {
                let (keys, id) = cursor_of(last)?;
                Ok(Cursor {
                    sort: query.sort.as_param(),
                    keys: keys
                        .ok_or_else(|| {
                            DbError::Decode("a page's last row without its keys".into())
                        })?
                        .iter()
                        .map(key_text)
                        .collect::<Result<_, _>>()?,
                    id,
                }
                .seal(&cursor_secret(ctx)))
            })
            .transpose()?
    } else {
        None
    };
    Ok(Page {
        rows,
        total: answer.total,
        next_cursor,
        deleted: answer.deleted,
        sync_token: token_at(&answer.positions).seal(&sync_secret(ctx, caller)),
    })
}

/// How [`write_todo`] writes each of [`TODO_COLUMNS`] (a unit test holds
/// the two to the same names, in the same order).
const TODO_FIELDS: [(&str, Field); 16] = [
    ("id", Field::AsWritten),
    ("list_id", Field::AsWritten),
    ("assignee_id", Field::AsWritten),
    ("title", Field::AsWritten),
    ("description", Field::AsWritten),
    ("priority", Field::Priority),
    ("completed", Field::AsWritten),
    ("completed_at", Field::Stamp),
    ("due_at", Field::Stamp),
    ("due_all_day", Field::AsWritten),
    ("remind_at", Field::Stamp),
    ("tags", Field::AsWritten),
    ("recurrence", Field::Recurrence),
    ("created_at", Field::Stamp),
    ("updated_at", Field::Stamp),
    ("version", Field::AsWritten),
];

#[derive(Clone, Copy)]
enum Field {
    /// PostgreSQL's JSON is already the API's: uuids, strings (its escapes
    /// are serde_json's), booleans, the tags, numbers.
    AsWritten,
    /// The stored rank, answered as its name.
    Priority,
    /// A timestamp or null, answered in UTC as chrono writes it.
    Stamp,
    /// A word as written, a rule read and written again (which checks it).
    Recurrence,
}

/// A page's row (an array of [`TODO_COLUMNS`] and the sort keys) as the
/// API's todo: the bytes the row read into a [`Todo`] would serialize to
/// (unit tests compare the two, and a test against PostgreSQL compares
/// whole pages). Copies what PostgreSQL wrote where it is already the
/// API's JSON.
fn write_todo(row: &str, out: &mut Vec<u8>) -> Result<(), DbError> {
    let decode = |what: &dyn std::fmt::Display| DbError::Decode(format!("a page's row: {what}"));
    // The todo's fields, then its sort keys.
    let values: [&RawValue; TODO_FIELDS.len() + 1] =
        serde_json::from_str(row).map_err(|e| decode(&e))?;
    out.push(b'{');
    for (i, ((name, field), value)) in TODO_FIELDS.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        let value = value.get();
        match field {
            Field::AsWritten => out.extend_from_slice(value.as_bytes()),
            Field::Priority => {
                let priority = value
                    .parse()
                    .ok()
                    .and_then(Priority::from_rank)
                    .ok_or_else(|| decode(&format!("priority {value}")))?;
                push_json(out, priority.as_str());
            }
            Field::Stamp => match value {
                "null" => out.extend_from_slice(b"null"),
                _ => {
                    let at = unquoted(value)
                        .and_then(|v| stamp::parse(v).ok())
                        .ok_or_else(|| decode(&format!("timestamp {value}")))?;
                    out.push(b'"');
                    stamp::push(&at, out);
                    out.push(b'"');
                }
            },
            // A word is written as it is stored; a rule is read and
            // written again.
            Field::Recurrence
                if Recurrence::WORDS
                    .iter()
                    .any(|r| r.word() == unquoted(value)) =>
            {
                out.extend_from_slice(value.as_bytes());
            }
            Field::Recurrence => {
                let recurrence: Recurrence = serde_json::from_str(value).map_err(|e| decode(&e))?;
                push_json(out, &recurrence);
            }
        }
    }
    out.push(b'}');
    Ok(())
}

/// The text of a JSON string written without escapes (`"text"`).
fn unquoted(value: &str) -> Option<&str> {
    value.strip_prefix('"')?.strip_suffix('"')
}

/// Appends `value` as serde_json writes it.
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a `Vec` fails only for a value that refuses to be
    // serialized, which none of those written here do.
    let _ = serde_json::to_writer(out, value);
}

/// The first page of the todos matching `query` (its cursor is ignored)
/// as a [`Part`], read by [`read_listed`].
pub fn list_part(ctx: &Ctx, caller: &Caller, query: &ListQuery) -> Part {
    let list = list_sql(caller, query, None, ctx.clock.now());
    Part {
        ctes: list.ctes.to_vec(),
        answer: json_object(&list.fields()),
        done: "TRUE".into(),
        params: list.params,
    }
}

/// The page a [`list_part`] answered for a query of `limit`: the todos,
/// and how many match ([`TodoError::NotFound`] for a list the caller is
/// not in).
pub fn read_listed(answer: serde_json::Value, limit: i64) -> Result<(Vec<Todo>, i64), TodoError> {
    #[derive(Deserialize)]
    struct Answer {
        items: Vec<TodoRow>,
        total: i64,
        found: bool,
    }
    let answer: Answer = read(answer)?;
    if !answer.found {
        return Err(TodoError::NotFound);
    }
    let items = answer
        .items
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(Todo::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, answer.total))
}

/// The feed's CTEs. `$3`: the token's positions ([`positions_json`]);
/// `pos`: each list the caller belongs to, with where its changes start
/// (`since` NULL: a list new to the client, which arrives whole); `lost`:
/// the lists the token names that the caller no longer belongs to.
const FEED_CTES: &[&str] = &[
    MINE,
    concat!(
        "tok AS (
        SELECT COALESCE(p.id, (SELECT i.id FROM lists i WHERE i.owner_id = ",
        caller_id!(),
        " AND i.inbox)) AS id, p.seq, p.kind, p.after
        FROM jsonb_to_recordset($3::text::jsonb) AS p (id uuid, seq int8, kind int8, after uuid))"
    ),
    "pos AS (
        SELECT mine.id, (SELECT l.change_seq FROM lists l WHERE l.id = mine.id) AS change_seq,
               tok.seq AS since, COALESCE(tok.seq, 0) AS from_seq, COALESCE(tok.kind, 3) AS kind,
               COALESCE(tok.after, '00000000-0000-0000-0000-000000000000') AS after
        FROM mine LEFT JOIN tok ON tok.id = mine.id)",
    "lost AS (SELECT tok.id, tok.seq FROM tok WHERE tok.id NOT IN (SELECT id FROM mine))",
];

/// The feed's streams, per list in change order, each one row longer than
/// a page (`$4`), after the list's position: todos as they are now,
/// tombstones of todos no longer in any of the caller's lists, and the
/// reminders that went off for the caller.
const FEED_TODOS: &str = concat!(
    "SELECT t.* FROM pos CROSS JOIN LATERAL (
        SELECT ",
    todo_columns!(),
    ", change_seq FROM todos
        WHERE list_id = pos.id AND change_seq >= pos.from_seq
          AND (change_seq, 0, id) > (pos.from_seq, pos.kind, pos.after)
        ORDER BY change_seq, id LIMIT $4::int8) AS t"
);
const FEED_DELETED: &str = "SELECT pos.id AS list_id, a.* FROM pos CROSS JOIN LATERAL (
        SELECT a.todo_id AS id, a.change_seq FROM todo_audit a
        WHERE pos.since IS NOT NULL AND a.list_id = pos.id
          AND a.action IN ('delete', 'move_out') AND a.change_seq >= pos.from_seq
          AND (a.change_seq, 1, a.todo_id) > (pos.from_seq, pos.kind, pos.after)
          AND NOT EXISTS (SELECT FROM mine
                          WHERE mine.id = (SELECT v.list_id FROM todos v WHERE v.id = a.todo_id))
        ORDER BY a.change_seq, a.todo_id LIMIT $4::int8) AS a";
const FEED_REMINDERS: &str = concat!(
    "SELECT pos.id AS list_id, r.* FROM pos CROSS JOIN LATERAL (
        SELECT a.todo_id, a.after->>'title' AS title, (a.after->>'due_at')::timestamptz AS due_at,
               a.at AS fired_at, a.change_seq
        FROM todo_audit a
        WHERE pos.since IS NOT NULL AND a.list_id = pos.id AND a.action = 'reminder'
          AND a.user_id = ",
    caller_id!(),
    " AND a.change_seq >= pos.from_seq
          AND (a.change_seq, 2, a.todo_id) > (pos.from_seq, pos.kind, pos.after)
        ORDER BY a.change_seq, a.todo_id LIMIT $4::int8) AS r"
);
/// The todos of each lost list, gone from the client's view: those still
/// in it and those deleted from it or moved out since, unless they are in
/// one of the caller's lists now. Not paged.
const FEED_LOST: &str = "SELECT lost.id, ARRAY(
        SELECT g.id FROM (
            SELECT t.id FROM todos t WHERE t.list_id = lost.id
            UNION
            SELECT a.todo_id FROM todo_audit a
            WHERE a.list_id = lost.id AND a.action IN ('delete', 'move_out')
              AND a.change_seq > lost.seq) AS g
        WHERE NOT EXISTS (SELECT FROM mine
                          WHERE mine.id = (SELECT v.list_id FROM todos v WHERE v.id = g.id))
        ORDER BY g.id) AS todos
    FROM lost ORDER BY lost.id";

/// The one statement of [`changes`]: the streams of every list the caller
/// belongs to, the lists that changed (or are new to the client), what the
/// caller lost, and where each list stands. A long-poll sends it at every
/// check, so every part is read through indexes keyed by list.
pub fn changes_statement(caller: &Caller, since: &SyncToken, limit: i64) -> Statement {
    let mut params = caller.params();
    params
        .0
        .extend([positions_json(since).into(), (limit + 1).into()]);
    let lists = format!(
        "{} AND l.id IN (SELECT id FROM pos WHERE since IS NULL OR change_seq > since)",
        crate::lists::store::LISTS_OF_CALLER
    );
    Caller::statement(
        FEED_CTES,
        &[
            ("items", Json::Rows(FEED_TODOS)),
            ("deleted", Json::Rows(FEED_DELETED)),
            ("reminders", Json::Rows(FEED_REMINDERS)),
            ("lost", Json::Rows(FEED_LOST)),
            ("lists", Json::Rows(&lists)),
            (
                "positions",
                Json::Rows("SELECT id, change_seq AS seq, since, kind, after FROM pos ORDER BY id"),
            ),
        ],
        params,
    )
}

/// Every change after `since` (a token as the client sent it) in the
/// lists the caller belongs to, at most `limit` entries (todos, deleted ids
/// and reminders together) a page. Each list's changes come in the order
/// they were committed, so a client that follows the tokens never misses
/// one; a list it gained arrives whole, and the todos of a list it lost are
/// deleted.
pub fn changes(
    ctx: &Ctx,
    caller: &Caller,
    since: &SyncToken,
    limit: i64,
) -> Result<ChangeFeed, TodoError> {
    #[derive(Deserialize)]
    struct Tombstone {
        list_id: Uuid,
        id: Uuid,
        change_seq: i64,
    }
    #[derive(Deserialize)]
    struct Reminder {
        list_id: Uuid,
        #[serde(flatten)]
        fired: FiredReminder,
        change_seq: i64,
    }
    #[derive(Deserialize)]
    struct Lost {
        id: Uuid,
        todos: Vec<Uuid>,
    }
    #[derive(Deserialize)]
    struct Answer {
        items: Vec<TodoRow>,
        deleted: Vec<Tombstone>,
        reminders: Vec<Reminder>,
        lost: Vec<Lost>,
        lists: Vec<List>,
        positions: Vec<Position>,
    }
    enum Entry {
        Todo(Box<TodoRow>),
        Deleted,
        Reminder(FiredReminder),
    }
    let answer: Answer = run(ctx, caller, &changes_statement(caller, since, limit))?;
    // Merge the streams by list, then by position in the list, and keep
    // the first `limit`.
    let mut entries: Vec<(Uuid, i64, ChangeKind, Uuid, Entry)> = answer
        .items
        .into_iter()
        .map(|row| {
            let (list, seq, id) = (row.list_id, row.change_seq, row.id);
            (list, seq, ChangeKind::Todo, id, Entry::Todo(Box::new(row)))
        })
        .chain(answer.deleted.into_iter().map(|t| {
            (
                t.list_id,
                t.change_seq,
                ChangeKind::Deleted,
                t.id,
                Entry::Deleted,
            )
        }))
        .chain(answer.reminders.into_iter().map(|r| {
            let id = r.fired.todo_id;
            let entry = Entry::Reminder(r.fired);
            (r.list_id, r.change_seq, ChangeKind::Reminder, id, entry)
        }))
        .collect();
    entries.sort_by_key(|(list, seq, kind, id, _)| (*list, *seq, *kind, *id));
    let limit = usize::try_from(limit).unwrap_or(0);
    let has_more = entries.len() > limit;
    entries.truncate(limit);
    let cut = entries
        .last()
        .filter(|_| has_more)
        .map(|(list, seq, kind, id, _)| (*list, *seq, *kind, *id));
    let token = next_token(&answer.positions, cut);
    let mut feed = ChangeFeed {
        items: Vec::new(),
        deleted: Vec::new(),
        reminders: Vec::new(),
        lists: answer.lists,
        removed_lists: answer.lost.iter().map(|l| l.id).collect(),
        sync_token: token.seal(&sync_secret(ctx, caller)),
        has_more,
    };
    for (_, _, _, id, entry) in entries {
        match entry {
            Entry::Todo(row) => feed.items.push(Todo::try_from(*row)?),
            Entry::Deleted => feed.deleted.push(id),
            Entry::Reminder(fired) => feed.reminders.push(fired),
        }
    }
    feed.deleted
        .extend(answer.lost.into_iter().flat_map(|l| l.todos));
    Ok(feed)
}

/// The token after a page of the feed: each of the caller's lists (in
/// `positions`, as they stand now) before the list where the page was cut
/// is read to its end; that list up to the cut; the lists after it where
/// the old token left them (a list it did not know stays unknown, to arrive
/// whole). Lost lists are left out: the page told them.
fn next_token(positions: &[Position], cut: Option<(Uuid, i64, ChangeKind, Uuid)>) -> SyncToken {
    let old = |p: &Position| {
        p.since.map(|seq| ListPosition {
            list: Some(p.id),
            seq,
            after: ChangeKind::from_index(p.kind).map(|kind| (kind, p.after)),
        })
    };
    let mut next = Vec::new();
    for p in positions {
        match cut {
            Some((list, seq, kind, id)) if list == p.id => next.push(ListPosition {
                list: Some(list),
                seq,
                after: Some((kind, id)),
            }),
            Some((list, ..)) if list < p.id => next.extend(old(p)),
            _ => next.push(ListPosition {
                list: Some(p.id),
                seq: p.seq,
                after: None,
            }),
        }
    }
    SyncToken { positions: next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::todos::query::Sort;

    fn caller() -> Caller {
        Caller::token(Uuid::from_u128(1), Uuid::from_u128(2))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn list_sql_of(query: &str) -> ListSql {
        let query = ListQuery::parse(query).unwrap_or_default();
        list_sql(&caller(), &query, None, now())
    }

    #[test]
    fn every_placeholder_is_typed_and_numbered_in_order() {
        let s = list_sql_of(
            "status=open&priority=high,low&tag=x&q=50%25_off&due_before=2026-01-01\
             &due_after=2025-01-01&overdue=true&updated_since=2025-01-01&sort=title",
        )
        .statement();
        for n in 1..=s.params.len() {
            let placeholder = format!("${n}::");
            assert!(s.sql.contains(&placeholder), "{placeholder} in {}", s.sql);
        }
        assert!(!s.sql.contains(&format!("${}", s.params.len() + 1)));
        // The search pattern escapes LIKE's wildcards.
        assert!(s.params.contains(&SqlParam::Text("%50\\%\\_off%".into())));
        assert!(s.params.contains(&SqlParam::Text("{2,0}".into())));
    }

    #[test]
    fn each_sort_orders_by_its_index_keys_then_id() {
        let cases = [
            ("", "ORDER BY todos.created_at DESC, todos.id DESC"),
            (
                "sort=created_at",
                "ORDER BY todos.created_at ASC, todos.id ASC",
            ),
            (
                "sort=due_at",
                "ORDER BY COALESCE(due_at, 'infinity'::timestamptz) ASC, todos.created_at ASC, todos.id ASC",
            ),
            (
                "sort=-due_at",
                "ORDER BY COALESCE(due_at, '-infinity'::timestamptz) DESC, todos.created_at DESC, todos.id DESC",
            ),
            (
                "sort=priority",
                "ORDER BY priority DESC, todos.created_at DESC, todos.id DESC",
            ),
            (
                "sort=-priority",
                "ORDER BY priority ASC, todos.created_at ASC, todos.id ASC",
            ),
            (
                "sort=title",
                "ORDER BY lower(title) ASC, todos.created_at ASC, todos.id ASC",
            ),
            (
                "sort=-title",
                "ORDER BY lower(title) DESC, todos.created_at DESC, todos.id DESC",
            ),
        ];
        for (query, order) in cases {
            let sql = list_sql_of(query).page;
            assert!(sql.contains(order), "{query}: {sql}");
        }
    }

    #[test]
    fn a_cursor_continues_after_the_last_row_in_the_sort_direction() {
        let sort = Sort::parse("priority").unwrap_or_default();
        let cursor = Cursor {
            sort: sort.as_param(),
            keys: vec!["2".into(), "2026-01-01T00:00:00.000000Z".into()],
            id: Uuid::nil(),
        };
        let query = ListQuery::parse("sort=priority&limit=10").unwrap_or_default();
        let s = list_sql(&caller(), &query, Some(&cursor), now());
        assert!(
            s.page.contains(
                "(priority, todos.created_at, todos.id) < ($5::text::smallint, $6::text::timestamptz, $7::text::uuid)"
            ),
            "{}",
            s.page
        );
        assert_eq!(
            s.params.0[4..7],
            [
                SqlParam::Text("2".into()),
                SqlParam::Text("2026-01-01T00:00:00.000000Z".into()),
                SqlParam::Text(Uuid::nil().to_string()),
            ]
        );
        // One row more than the page, to know whether another page follows;
        // the 10th carries its sort keys, for the next cursor.
        assert!(s
            .params
            .0
            .ends_with(&[SqlParam::Int(11), SqlParam::Int(10)]));
        assert!(
            s.page.contains("row_number() OVER (ORDER BY priority DESC, todos.created_at DESC, todos.id DESC) = $9::int8"),
            "{}",
            s.page
        );
    }

    /// A page that nothing but its status filters tests no other filter on
    /// the rows it reads; one with another filter tests them all.
    #[test]
    fn a_page_filtered_by_its_status_alone_checks_nothing_else() {
        for query in ["", "status=open", "status=done&sort=due_at"] {
            let page = list_sql_of(query).page;
            assert!(page.contains("completed = $4::bool"), "{query}: {page}");
            assert!(
                !page.contains("ILIKE") && !page.contains("CASE WHEN ($4"),
                "{query}: {page}"
            );
        }
        for query in ["tag=x", "status=open&q=milk", "assignee=me"] {
            let page = list_sql_of(query).page;
            assert!(
                page.contains("ILIKE") && page.contains("CASE WHEN ($4"),
                "{query}: {page}"
            );
        }
    }

    /// Filters are parameters: however a user combines them, a list sends
    /// one of 48 statement texts (8 sorts, with or without a cursor, and
    /// with `updated_since`, with another filter but the status, or with
    /// neither), so that nobody can make the pooled connections prepare
    /// and drop thousands of variants (migration V12 keeps 200 per
    /// connection).
    #[test]
    fn a_lists_statement_text_depends_only_on_its_sort_cursor_and_filters_used() {
        let filters = [
            "",
            "status=open",
            "status=done",
            "priority=high,urgent",
            "tag=x",
            "q=milk",
            "due_before=2026-01-01",
            "due_after=2026-01-01",
            "overdue=true",
            "overdue=false",
            "updated_since=2026-01-01",
            "status=open&priority=low&tag=all&q=a&due_before=2027-01-01&due_after=2026-01-01\
             &overdue=false&updated_since=2026-01-01",
        ];
        let sorts = [
            "created_at",
            "-created_at",
            "due_at",
            "-due_at",
            "priority",
            "-priority",
            "title",
            "-title",
        ];
        let cursor = |sort: &str| Cursor {
            sort: Sort::parse(sort).unwrap_or_default().as_param(),
            keys: vec!["2".into(), "2026-01-01T00:00:00.000000Z".into()],
            id: Uuid::nil(),
        };
        let mut texts = std::collections::BTreeSet::new();
        for sort in sorts {
            let mut per_sort = std::collections::BTreeSet::new();
            for filter in filters {
                let query = ListQuery::parse(&format!("sort={sort}&{filter}")).unwrap_or_default();
                for cursor in [None, Some(cursor(sort))] {
                    let s = list_sql(&caller(), &query, cursor.as_ref(), now());
                    per_sort.insert(s.statement().sql);
                }
            }
            assert_eq!(per_sort.len(), 6, "{sort}");
            texts.extend(per_sort);
        }
        assert_eq!(texts.len(), 48);
        // The total counts every match, whatever the page's cursor; with
        // no filter but the status, its lists' counts add up to it.
        for filter in filters {
            let s = list_sql_of(filter);
            let by_lists = matches!(filter, "" | "status=open" | "status=done");
            let counted =
                "(SELECT count(*) FROM todos WHERE list_id IN (SELECT id FROM shown) AND ";
            assert_eq!(
                s.total.starts_with(counted),
                !by_lists,
                "{filter}: {}",
                s.total
            );
            assert_eq!(
                s.total.contains("FROM lists"),
                by_lists,
                "{filter}: {}",
                s.total
            );
            assert!(!s.total.contains("todos.id"), "{}", s.total);
        }
    }

    /// However a chat names todos (words, ids, open or done), finding
    /// them is one statement text: the naming is all parameters.
    #[test]
    fn a_namings_statement_text_depends_on_nothing_it_names() {
        let ids = [(Uuid::from_u128(7), 3), (Uuid::from_u128(8), 1)];
        let namings = [
            (By::TitleWords("milk"), Status::All),
            (By::TitleWords("50% off_sale's \\ café"), Status::Open),
            (By::Ids(&ids), Status::Done),
            (By::Ids(&[]), Status::All),
        ];
        let texts: std::collections::BTreeSet<String> = namings
            .into_iter()
            .map(|(by, status)| {
                let part = find_part(
                    &caller(),
                    &Naming {
                        by,
                        status,
                        limit: 10,
                        list: None,
                    },
                );
                // Titles only: a change never finds a todo by its description.
                let ctes = part.ctes.join(", ");
                assert!(!ctes.contains("description"), "{ctes}");
                format!("{ctes} {} {}", part.answer, part.done)
            })
            .collect();
        assert_eq!(texts.len(), 1, "{texts:#?}");
    }

    #[test]
    fn a_list_is_one_statement_scoped_to_the_caller() {
        let s = list_sql_of("status=open").statement();
        assert!(s.sql.starts_with("WITH auth AS ("), "{}", s.sql);
        assert!(s
            .sql
            .contains("'items', (SELECT coalesce(json_agg(json_build_array(id, list_id, "));
        assert!(s
            .sql
            .contains("'total', (SELECT coalesce(sum(CASE WHEN $4::bool IS NULL"));
        // The caller's id is only ever reached through the auth CTE.
        assert_eq!(s.sql.matches("$1::").count(), 1, "{}", s.sql);
    }

    #[test]
    fn a_missed_change_is_explained_by_the_version_it_found() {
        assert!(matches!(
            miss(None, Some(&[1]), TodoError::NotFound),
            TodoError::NotFound
        ));
        assert!(matches!(
            miss(Some(3), Some(&[1, 2]), TodoError::NotFound),
            TodoError::VersionMismatch { current: 3 }
        ));
        let limit = TodoError::LimitReached { limit: 1 };
        assert!(matches!(
            miss(Some(3), Some(&[3]), limit),
            TodoError::LimitReached { .. }
        ));
    }

    #[test]
    fn errors_map_to_their_status_codes() {
        let cases = [
            (TodoError::Unauthorized, 401, "unauthorized"),
            (TodoError::NotFound, 404, "not_found"),
            (TodoError::BadCursor("x".into()), 400, "bad_request"),
            (
                TodoError::Invalid(FieldErrors::new()),
                422,
                "validation_failed",
            ),
            (
                TodoError::VersionMismatch { current: 4 },
                412,
                "precondition_failed",
            ),
            (
                TodoError::LimitReached { limit: 10_000 },
                409,
                "limit_reached",
            ),
            (
                TodoError::Db(DbError::Connection("down".into())),
                503,
                "unavailable",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!((api.status.as_u16(), api.code), (status, code));
        }
    }

    /// A page's rows come as arrays of [`PAGE_COLUMNS`]; other statements,
    /// and the chat's facts saved before pages did, as objects. Both read
    /// the same.
    #[test]
    fn a_todo_row_reads_the_same_from_an_array_of_page_columns_as_from_an_object() {
        let values = serde_json::json!([
            "b1aa1a79-c2da-4bb5-8ec8-9ab801f284f5",
            "31857e1b-2158-4445-8d6c-797cd2d118f3",
            null,
            "pay rent",
            "before the 3rd",
            2,
            true,
            "2026-12-07T14:34:09.587476+00:00",
            "2026-12-08T09:00:00+00:00",
            false,
            null,
            ["home"],
            "none",
            "2026-12-01T10:00:00+00:00",
            "2026-12-07T14:34:09.587476+00:00",
            3,
            [
                "2026-12-01T10:00:00+00:00",
                "b1aa1a79-c2da-4bb5-8ec8-9ab801f284f5"
            ]
        ]);
        let names: Vec<&str> = PAGE_COLUMNS.split(", ").collect();
        let items = values.as_array().unwrap();
        assert_eq!(names.len(), items.len());
        let object: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|name| name.to_string())
            .zip(items.iter().cloned())
            .collect();
        let from_array: TodoRow = serde_json::from_value(values.clone()).unwrap();
        let from_object: TodoRow = serde_json::from_value(object.into()).unwrap();
        assert_eq!(from_array.keys, from_object.keys);
        assert_eq!(from_array.keys.as_ref().map(Vec::len), Some(2));
        let (from_array, from_object) = (
            Todo::try_from(from_array).unwrap(),
            Todo::try_from(from_object).unwrap(),
        );
        assert_eq!(from_array, from_object);
        assert_eq!(from_array.title, "pay rent");
        assert_eq!(from_array.description, "before the 3rd");
        assert_eq!(from_array.version, 3);
        assert!(from_array.due_at.is_some() && from_array.remind_at.is_none());
        // Fewer columns than the row has fields without a default: refused.
        let short = serde_json::Value::from(items[..5].to_vec());
        assert!(serde_json::from_value::<TodoRow>(short).is_err());
    }

    /// A row as PostgreSQL writes it (`json_build_array` of `PAGE_COLUMNS`:
    /// only `"`, `\` and control characters escaped, the short escapes
    /// where JSON has them), varied field by field.
    fn pg_row(title: &str, priority: i64, stamps: [&str; 5], recurrence: &str) -> String {
        let stamp = |s: &str| {
            if s.is_empty() {
                "null".to_owned()
            } else {
                format!("\"{s}\"")
            }
        };
        format!(
            r#"["b1aa1a79-c2da-4bb5-8ec8-9ab801f284f5","31857e1b-2158-4445-8d6c-797cd2d118f3",{},{title},"line\none\ttab \"quoted\" \\ back\u0001",{priority},{},{},{},{},{},["home","café ☕"],"{recurrence}",{},{},7,{}]"#,
            if priority == 3 {
                r#""0b6c5bd6-4a44-4c19-9f7a-2f0f4c4e2f11""#
            } else {
                "null"
            },
            !stamps[0].is_empty(),
            stamp(stamps[0]),
            stamp(stamps[1]),
            priority == 1,
            stamp(stamps[2]),
            stamp(stamps[3]),
            stamp(stamps[4]),
            if priority == 2 {
                r#"["2026-12-01T10:00:00+00:00","b1aa1a79-c2da-4bb5-8ec8-9ab801f284f5"]"#
            } else {
                "null"
            },
        )
    }

    /// A row's five timestamps (completed, due, remind, created, updated)
    /// for an open, undated todo that was never changed.
    const UNDATED: [&str; 5] = [
        "",
        "",
        "",
        "2026-12-01T10:00:00+00:00",
        "2026-12-01T10:00:00+00:00",
    ];

    #[test]
    fn a_page_row_is_written_as_its_todo_serializes() {
        let rows = [
            pg_row(r#""pay rent""#, 0, UNDATED, "none"),
            pg_row(
                r#""café \"ünïcödé\" 😀 \\ / </script>""#,
                1,
                [
                    "2026-12-07T14:34:09.587476+00:00",
                    "2026-12-08T09:00:00.1+02:00",
                    "2026-12-08T08:00:00.123+00:00",
                    "2026-12-01T10:00:00.000001+00:00",
                    "2026-12-07T14:34:09.5874+00:00",
                ],
                "rrule:freq=daily;interval=3",
            ),
            pg_row(
                r#""\u001f\b\f\r""#,
                2,
                [
                    "",
                    "9999-12-31T23:59:59.999999+00:00",
                    "",
                    "1970-01-01T00:00:00+00:00",
                    "2026-12-07T14:34:09+00:00",
                ],
                "weekly",
            ),
            pg_row(
                r#""x""#,
                3,
                [
                    "2026-03-29T01:30:00-05:30",
                    "",
                    "",
                    "2026-12-01T10:00:00+00:00",
                    "2026-12-01T10:00:00+00:00",
                ],
                "monthly",
            ),
        ];
        for row in &rows {
            let todo = Todo::try_from(serde_json::from_str::<TodoRow>(row).unwrap()).unwrap();
            let mut written = Vec::new();
            write_todo(row, &mut written).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&todo).unwrap(),
                "{row}"
            );
        }
    }

    #[test]
    fn a_rows_fields_are_the_todo_columns() {
        let names: Vec<&str> = TODO_FIELDS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.join(", "), TODO_COLUMNS);
    }

    #[test]
    fn a_page_row_that_is_not_a_todo_is_refused() {
        let good = pg_row(r#""t""#, 1, UNDATED, "none");
        let mut out = Vec::new();
        assert!(write_todo(&good, &mut out).is_ok());
        for bad in [
            good.replacen(",1,", ",4,", 1),
            good.replacen(r#""none""#, r#""fortnightly""#, 1),
            good.replacen(r#""2026-12-01T10:00:00+00:00""#, r#""yesterday""#, 1),
            good.replacen(",7,", ",", 1),
            "[]".to_owned(),
            "{}".to_owned(),
        ] {
            assert!(write_todo(&bad, &mut Vec::new()).is_err(), "{bad}");
        }
    }
}
