//! The todos library API: every operation on one user's todos, with its SQL.
//! The HTTP handlers wrap these functions; the chat assistant and the MCP
//! server call them in process.
//!
//! Each change and its audit row are written by one statement (a
//! data-modifying CTE), so they are atomic under Spin's autocommit
//! connections as well. Changes that read the old row lock it first
//! (`FOR UPDATE`), so concurrent updates of one todo apply one after another
//! and each audit row shows the true old values.

use chrono::{DateTime, Duration, Utc};
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::domain::{NewTodo, Priority, Recurrence, Todo, TodoChanges, MAX_TODOS_PER_USER};
use super::query::{Cursor, ListQuery, SortField, Status};
use crate::db::{DbError, Row, SqlParam};
use crate::error::{ApiError, FieldErrors};
use crate::ports::Ctx;

/// Why a todo operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TodoError {
    /// Missing, or another user's.
    #[error("no such todo")]
    NotFound,
    #[error("invalid input: {0:?}")]
    Invalid(FieldErrors),
    /// `If-Match` named a version that is no longer current.
    #[error("the todo has changed since; it is now at version {current}")]
    VersionMismatch { current: i64 },
    #[error("a user may hold at most {limit} todos")]
    LimitReached { limit: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<TodoError> for ApiError {
    fn from(err: TodoError) -> Self {
        match err {
            TodoError::NotFound => ApiError::not_found(),
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
                format!("you already hold {limit} todos, the most allowed; delete some first"),
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
}

/// The result of a toggle: the todo, and the next occurrence created when a
/// recurring todo was completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toggled {
    pub todo: Todo,
    pub next: Option<Todo>,
}

/// One entry of a todo's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `create`, `update`, `toggle` or `delete`.
    pub action: String,
    /// `{"field": {"old": ..., "new": ...}}` for every field that changed.
    pub changes: serde_json::Map<String, serde_json::Value>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityCounts {
    pub low: i64,
    pub medium: i64,
    pub high: i64,
    pub urgent: i64,
}

/// Counts over all of a user's todos. "Today" is the current UTC day.
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
}

/// A statement and its parameters, as the list runs them (public so that a
/// test can `EXPLAIN` exactly what the API runs).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// The statements one list request runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ListStatements {
    /// The page, one row more than asked for (to know whether more follow).
    pub page: Statement,
    pub count: Statement,
    /// Only with `updated_since`.
    pub deleted: Option<Statement>,
}

/// The columns of a todo, readable by [`todo_from_row`]; works on `todos`
/// and on CTEs that return `todos.*`.
macro_rules! todo_columns {
    () => {
        "id::text AS id, title, description, priority, completed, \
         api_ts(completed_at) AS completed_at, api_ts(due_at) AS due_at, \
         array_to_json(tags)::text AS tags, recurrence, api_ts(created_at) AS created_at, \
         api_ts(updated_at) AS updated_at, version"
    };
}
const TODO_COLUMNS: &str = todo_columns!();

fn todo_from_row(row: &Row) -> Result<Todo, DbError> {
    let rank = row.int("priority")?;
    let priority = Priority::from_rank(rank)
        .ok_or_else(|| DbError::Decode(format!("priority {rank} out of range")))?;
    let recurrence = Recurrence::parse(&row.text("recurrence")?).map_err(DbError::Decode)?;
    let tags = serde_json::from_str(&row.text("tags")?)
        .map_err(|e| DbError::Decode(format!("tags: {e}")))?;
    Ok(Todo {
        id: row.uuid("id")?,
        title: row.text("title")?,
        description: row.text("description")?,
        priority,
        completed: row.bool("completed")?,
        completed_at: row.opt_timestamp("completed_at")?,
        due_at: row.opt_timestamp("due_at")?,
        tags,
        recurrence,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
        version: row.int("version")?,
    })
}

fn first_todo(rows: &[Row]) -> Result<Option<Todo>, DbError> {
    rows.first().map(todo_from_row).transpose()
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

const CREATE_SQL: &str = concat!(
    "WITH ins AS (
        INSERT INTO todos AS t (user_id, title, description, priority, due_at, tags,
                               recurrence, created_at, updated_at)
        SELECT $1::text::uuid, $2::text, $3::text, $4::int8::smallint, $5::text::timestamptz, ",
    tags_from!("6"),
    ", $7::text, $8::text::timestamptz, $8::text::timestamptz
        WHERE (SELECT count(*) FROM todos WHERE user_id = $1::text::uuid) < $9::int8
        RETURNING t.*, todo_fields(t) AS fields
    ), audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at)
        SELECT user_id, id, 'create', todo_changes('{}', fields), created_at FROM ins
    )
    SELECT ",
    todo_columns!(),
    "
    FROM ins"
);

/// Creates a todo. [`TodoError::LimitReached`] when the user already holds
/// [`MAX_TODOS_PER_USER`] todos.
pub fn create(ctx: &Ctx, user: Uuid, new: &NewTodo) -> Result<Todo, TodoError> {
    let now = ctx.clock.now();
    let rows = ctx.db.query(
        CREATE_SQL,
        &[
            user.into(),
            new.title.as_str().into(),
            new.description.as_str().into(),
            new.priority.rank().into(),
            new.due_at.map(|d| d.time()).into(),
            tags_param(&new.tags),
            new.recurrence.as_str().into(),
            now.into(),
            MAX_TODOS_PER_USER.into(),
        ],
    )?;
    first_todo(&rows)?.ok_or(TodoError::LimitReached {
        limit: MAX_TODOS_PER_USER,
    })
}

/// One todo of the user.
pub fn get(ctx: &Ctx, user: Uuid, id: Uuid) -> Result<Todo, TodoError> {
    let sql = format!(
        "SELECT {TODO_COLUMNS} FROM todos WHERE id = $1::text::uuid AND user_id = $2::text::uuid"
    );
    let rows = ctx.db.query(&sql, &[id.into(), user.into()])?;
    first_todo(&rows)?.ok_or(TodoError::NotFound)
}

const STATE_SQL: &str = "SELECT version, completed, recurrence FROM todos \
     WHERE id = $1::text::uuid AND user_id = $2::text::uuid";

/// Why a conditional change matched no row: gone, stale `If-Match`, or
/// (for a toggle) the limit.
fn explain_miss(
    ctx: &Ctx,
    user: Uuid,
    id: Uuid,
    if_match: Option<&[i64]>,
) -> Result<TodoError, TodoError> {
    let rows = ctx.db.query(STATE_SQL, &[id.into(), user.into()])?;
    let Some(row) = rows.first() else {
        return Ok(TodoError::NotFound);
    };
    let current = row.int("version")?;
    match if_match {
        Some(versions) if !versions.contains(&current) => {
            Ok(TodoError::VersionMismatch { current })
        }
        _ => Ok(TodoError::LimitReached {
            limit: MAX_TODOS_PER_USER,
        }),
    }
}

const UPDATE_SQL: &str = concat!(
    "WITH cur AS (
        SELECT t.*, todo_fields(t) AS old_fields FROM todos t
        WHERE t.id = $1::text::uuid AND t.user_id = $2::text::uuid
        FOR UPDATE
    ), upd AS (
        UPDATE todos AS t SET
            title = COALESCE($3::text, cur.title),
            description = COALESCE($4::text, cur.description),
            priority = COALESCE($5::int8::smallint, cur.priority),
            due_at = CASE WHEN $6::bool THEN $7::text::timestamptz ELSE cur.due_at END,
            tags = CASE WHEN $8::text IS NULL THEN cur.tags ELSE ",
    tags_from!("8"),
    " END,
            recurrence = COALESCE($9::text, cur.recurrence),
            updated_at = $10::text::timestamptz,
            version = cur.version + 1
        FROM cur
        WHERE t.id = cur.id AND ($11::text IS NULL OR cur.version = ANY($11::text::int8[]))
        RETURNING t.*, cur.old_fields, todo_fields(t) AS new_fields
    ), audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at)
        SELECT user_id, id, 'update', todo_changes(old_fields, new_fields), updated_at FROM upd
    )
    SELECT ",
    todo_columns!(),
    "
    FROM upd"
);

/// Applies `changes` (fields left `None` keep their value) and bumps the
/// version. With `if_match`, only when the todo is at one of those versions
/// ([`TodoError::VersionMismatch`] otherwise, the todo unchanged).
pub fn update(
    ctx: &Ctx,
    user: Uuid,
    id: Uuid,
    changes: &TodoChanges,
    if_match: Option<&[i64]>,
) -> Result<Todo, TodoError> {
    let now = ctx.clock.now();
    let rows = ctx.db.query(
        UPDATE_SQL,
        &[
            id.into(),
            user.into(),
            changes.title.as_ref().map(|t| t.as_str()).into(),
            changes.description.as_ref().map(|d| d.as_str()).into(),
            changes.priority.map(Priority::rank).into(),
            changes.due_at.is_some().into(),
            changes.due_at.flatten().map(|d| d.time()).into(),
            changes.tags.as_ref().map_or(SqlParam::Null, tags_param),
            changes.recurrence.map(Recurrence::as_str).into(),
            now.into(),
            versions_param(if_match),
        ],
    )?;
    match first_todo(&rows)? {
        Some(todo) => Ok(todo),
        None => Err(explain_miss(ctx, user, id, if_match)?),
    }
}

/// Replaces every writable field (PUT): what `new` leaves at its default is
/// reset to the default.
pub fn replace(
    ctx: &Ctx,
    user: Uuid,
    id: Uuid,
    new: NewTodo,
    if_match: Option<&[i64]>,
) -> Result<Todo, TodoError> {
    update(ctx, user, id, &TodoChanges::from(new), if_match)
}

const TOGGLE_SQL: &str = concat!(
    "WITH cur AS (
        SELECT t.*, todo_fields(t) AS old_fields FROM todos t
        WHERE t.id = $1::text::uuid AND t.user_id = $2::text::uuid
        FOR UPDATE
    ), upd AS (
        UPDATE todos AS t SET
            completed = NOT cur.completed,
            completed_at = CASE WHEN cur.completed THEN NULL ELSE $3::text::timestamptz END,
            updated_at = $3::text::timestamptz,
            version = cur.version + 1
        FROM cur
        WHERE t.id = cur.id
          AND ($4::text IS NULL OR cur.version = ANY($4::text::int8[]))
          AND (cur.completed OR cur.recurrence = 'none'
               OR (SELECT count(*) FROM todos WHERE user_id = $2::text::uuid) < $5::int8)
        RETURNING t.*, cur.old_fields, todo_fields(t) AS new_fields
    ), nxt AS (
        INSERT INTO todos AS n (user_id, title, description, priority, due_at, tags,
                               recurrence, created_at, updated_at)
        SELECT user_id, title, description, priority,
               todo_next_due(recurrence, due_at, $3::text::timestamptz), tags, recurrence,
               $3::text::timestamptz, $3::text::timestamptz
        FROM upd WHERE upd.completed AND upd.recurrence <> 'none'
        RETURNING n.*, todo_fields(n) AS fields
    ), audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at)
        SELECT user_id, id, 'toggle', todo_changes(old_fields, new_fields), updated_at FROM upd
        UNION ALL
        SELECT user_id, id, 'create', todo_changes('{}', fields), created_at FROM nxt
    )
    SELECT 'todo' AS role, ",
    todo_columns!(),
    " FROM upd
    UNION ALL
    SELECT 'next' AS role, ",
    todo_columns!(),
    " FROM nxt"
);

/// Flips completion. Completing a recurring todo also creates its next
/// occurrence, due one period after the old due date (or after now, when
/// it had none). That new todo counts against the limit:
/// [`TodoError::LimitReached`] (nothing changed) when there is no room.
pub fn toggle(
    ctx: &Ctx,
    user: Uuid,
    id: Uuid,
    if_match: Option<&[i64]>,
) -> Result<Toggled, TodoError> {
    let now = ctx.clock.now();
    let rows = ctx.db.query(
        TOGGLE_SQL,
        &[
            id.into(),
            user.into(),
            now.into(),
            versions_param(if_match),
            MAX_TODOS_PER_USER.into(),
        ],
    )?;
    let mut todo = None;
    let mut next = None;
    for row in &rows {
        let slot = if row.text("role")? == "next" {
            &mut next
        } else {
            &mut todo
        };
        *slot = Some(todo_from_row(row)?);
    }
    match todo {
        Some(todo) => Ok(Toggled { todo, next }),
        None => Err(explain_miss(ctx, user, id, if_match)?),
    }
}

const DELETE_SQL: &str = "WITH del AS (
        DELETE FROM todos AS t
        WHERE t.id = $1::text::uuid AND t.user_id = $2::text::uuid
          AND ($3::text IS NULL OR t.version = ANY($3::text::int8[]))
        RETURNING t.id, t.user_id, todo_fields(t) AS fields
    ), audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at)
        SELECT user_id, id, 'delete', todo_changes(fields, '{}'), $4::text::timestamptz FROM del
    )
    SELECT id::text AS id FROM del";

/// Deletes one todo (its audit trail stays).
pub fn delete(ctx: &Ctx, user: Uuid, id: Uuid, if_match: Option<&[i64]>) -> Result<(), TodoError> {
    let rows = ctx.db.query(
        DELETE_SQL,
        &[
            id.into(),
            user.into(),
            versions_param(if_match),
            ctx.clock.now().into(),
        ],
    )?;
    if rows.is_empty() {
        Err(explain_miss(ctx, user, id, if_match)?)
    } else {
        Ok(())
    }
}

const CLEAR_COMPLETED_SQL: &str = "WITH del AS (
        DELETE FROM todos AS t
        WHERE t.user_id = $1::text::uuid AND t.completed
        RETURNING t.id, t.user_id, todo_fields(t) AS fields
    ), audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at)
        SELECT user_id, id, 'delete', todo_changes(fields, '{}'), $2::text::timestamptz FROM del
    )
    SELECT count(*) AS deleted FROM del";

/// Deletes all completed todos of the user; returns how many.
pub fn clear_completed(ctx: &Ctx, user: Uuid) -> Result<i64, TodoError> {
    let rows = ctx
        .db
        .query(CLEAR_COMPLETED_SQL, &[user.into(), ctx.clock.now().into()])?;
    match rows.first() {
        Some(row) => Ok(row.int("deleted")?),
        None => Ok(0),
    }
}

const HISTORY_SQL: &str = "SELECT action, changes::text AS changes, api_ts(at) AS at
    FROM todo_audit
    WHERE user_id = $1::text::uuid AND todo_id = $2::text::uuid
    ORDER BY id DESC";

/// The audit trail of one todo, newest first. Still there after the todo is
/// deleted; [`TodoError::NotFound`] when the user never had that todo.
pub fn history(ctx: &Ctx, user: Uuid, id: Uuid) -> Result<Vec<HistoryEntry>, TodoError> {
    let rows = ctx.db.query(HISTORY_SQL, &[user.into(), id.into()])?;
    if rows.is_empty() {
        return Err(TodoError::NotFound);
    }
    rows.iter()
        .map(|row| {
            let changes = serde_json::from_str(&row.text("changes")?)
                .map_err(|e| DbError::Decode(format!("changes: {e}")))?;
            Ok(HistoryEntry {
                action: row.text("action")?,
                changes,
                at: row.timestamp("at")?,
            })
        })
        .collect()
}

const STATS_SQL: &str = "SELECT
        count(*) AS total,
        count(*) FILTER (WHERE NOT completed) AS open,
        count(*) FILTER (WHERE completed) AS done,
        count(*) FILTER (WHERE NOT completed AND due_at < $2::text::timestamptz) AS overdue,
        count(*) FILTER (WHERE NOT completed AND due_at >= $3::text::timestamptz
                                              AND due_at < $4::text::timestamptz) AS due_today,
        count(*) FILTER (WHERE priority = 0) AS low,
        count(*) FILTER (WHERE priority = 1) AS medium,
        count(*) FILTER (WHERE priority = 2) AS high,
        count(*) FILTER (WHERE priority = 3) AS urgent
    FROM todos WHERE user_id = $1::text::uuid";

pub fn stats(ctx: &Ctx, user: Uuid) -> Result<TodoStats, TodoError> {
    let now = ctx.clock.now();
    let today = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc());
    let rows = ctx.db.query(
        STATS_SQL,
        &[
            user.into(),
            now.into(),
            today.into(),
            (today + Duration::days(1)).into(),
        ],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| DbError::Decode("stats returned no row".into()))?;
    Ok(TodoStats {
        total: row.int("total")?,
        open: row.int("open")?,
        done: row.int("done")?,
        overdue: row.int("overdue")?,
        due_today: row.int("due_today")?,
        by_priority: PriorityCounts {
            low: row.int("low")?,
            medium: row.int("medium")?,
            high: row.int("high")?,
            urgent: row.int("urgent")?,
        },
    })
}

/// Numbers placeholders as they are added.
#[derive(Default)]
struct Params(Vec<SqlParam>);

impl Params {
    /// Adds a parameter, returning its placeholder with the cast, e.g. `$3::text::uuid`.
    fn add(&mut self, value: impl Into<SqlParam>, cast: &str) -> String {
        self.0.push(value.into());
        format!("${}{cast}", self.0.len())
    }
}

/// One column of a keyset: the expression the rows are ordered by (an index
/// has the same expression), how to select it as text for the cursor, and
/// how to cast the cursor's text back.
struct SortKey {
    order_by: &'static str,
    as_text: &'static str,
    cast: &'static str,
}

const CREATED_AT_KEY: SortKey = SortKey {
    // Qualified: a bare `created_at` in ORDER BY would name the output
    // column of that name (text), which no index serves.
    order_by: "todos.created_at",
    as_text: "api_ts(created_at)",
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
                as_text: "COALESCE(api_ts(due_at), '-infinity')",
                cast: "::text::timestamptz",
            },
            CREATED_AT_KEY,
        ],
        SortField::DueAt => vec![
            SortKey {
                order_by: "COALESCE(due_at, 'infinity'::timestamptz)",
                as_text: "COALESCE(api_ts(due_at), 'infinity')",
                cast: "::text::timestamptz",
            },
            CREATED_AT_KEY,
        ],
        SortField::Priority => vec![
            SortKey {
                order_by: "priority",
                as_text: "priority::text",
                cast: "::text::smallint",
            },
            CREATED_AT_KEY,
        ],
        SortField::Title => vec![
            SortKey {
                order_by: "lower(title)",
                as_text: "lower(title)",
                cast: "::text",
            },
            CREATED_AT_KEY,
        ],
    };
    (keys, descending)
}

/// The filter conditions of a list query (without the cursor).
fn filters(query: &ListQuery, user: Uuid, now: DateTime<Utc>, p: &mut Params) -> Vec<String> {
    let mut conds = vec![format!("user_id = {}", p.add(user, "::text::uuid"))];
    match query.status {
        Status::All => {}
        Status::Open => conds.push("NOT completed".into()),
        Status::Done => conds.push("completed".into()),
    }
    if !query.priorities.is_empty() {
        let ranks: Vec<String> = query
            .priorities
            .iter()
            .map(|p| p.rank().to_string())
            .collect();
        let list = format!("{{{}}}", ranks.join(","));
        conds.push(format!(
            "priority = ANY({})",
            p.add(list, "::text::smallint[]")
        ));
    }
    if let Some(tag) = &query.tag {
        conds.push(format!("tags @> ARRAY[{}]", p.add(tag.as_str(), "::text")));
    }
    if let Some(q) = &query.q {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = p.add(format!("%{escaped}%"), "::text");
        conds.push(format!(
            "(title ILIKE {pattern} OR description ILIKE {pattern})"
        ));
    }
    if let Some(t) = query.due_before {
        conds.push(format!("due_at < {}", p.add(t, "::text::timestamptz")));
    }
    if let Some(t) = query.due_after {
        conds.push(format!("due_at > {}", p.add(t, "::text::timestamptz")));
    }
    match query.overdue {
        None => {}
        Some(true) => conds.push(format!(
            "(NOT completed AND due_at < {})",
            p.add(now, "::text::timestamptz")
        )),
        Some(false) => conds.push(format!(
            "(completed OR due_at IS NULL OR due_at >= {})",
            p.add(now, "::text::timestamptz")
        )),
    }
    if let Some(t) = query.updated_since {
        conds.push(format!("updated_at > {}", p.add(t, "::text::timestamptz")));
    }
    conds
}

/// The SQL a list request runs, with its parameters.
pub fn list_statements(user: Uuid, query: &ListQuery, now: DateTime<Utc>) -> ListStatements {
    let mut count_params = Params::default();
    let count_conds = filters(query, user, now, &mut count_params);
    let count = Statement {
        sql: format!(
            "SELECT count(*) AS total FROM todos WHERE {}",
            count_conds.join(" AND ")
        ),
        params: count_params.0,
    };

    let mut p = Params::default();
    let mut conds = filters(query, user, now, &mut p);
    let (keys, descending) = sort_keys(query);
    if let Some(cursor) = &query.cursor {
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
    let key_columns: String = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!(", {} AS k{i}", k.as_text))
        .collect();
    let limit = p.add(query.limit + 1, "::int8");
    let page = Statement {
        sql: format!(
            "SELECT {TODO_COLUMNS}{key_columns} FROM todos WHERE {} ORDER BY {} LIMIT {limit}",
            conds.join(" AND "),
            order.join(", ")
        ),
        params: p.0,
    };

    let deleted = query.updated_since.map(|since| Statement {
        sql: "SELECT todo_id::text AS id FROM todo_audit \
              WHERE user_id = $1::text::uuid AND action = 'delete' \
                AND at > $2::text::timestamptz \
              ORDER BY at"
            .into(),
        params: vec![user.into(), since.into()],
    });

    ListStatements {
        page,
        count,
        deleted,
    }
}

/// One page of the user's todos matching `query`.
pub fn list(ctx: &Ctx, user: Uuid, query: &ListQuery) -> Result<TodoPage, TodoError> {
    let statements = list_statements(user, query, ctx.clock.now());
    let mut rows = ctx
        .db
        .query(&statements.page.sql, &statements.page.params)?;
    let limit = usize::try_from(query.limit).unwrap_or(0);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|last| -> Result<String, DbError> {
                let key_count = sort_keys(query).0.len();
                let keys = (0..key_count)
                    .map(|i| last.text(&format!("k{i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Cursor {
                    sort: query.sort.as_param(),
                    keys,
                    id: last.uuid("id")?,
                }
                .encode())
            })
            .transpose()?
    } else {
        None
    };
    let items = rows
        .iter()
        .map(todo_from_row)
        .collect::<Result<Vec<_>, _>>()?;

    let total = ctx
        .db
        .query(&statements.count.sql, &statements.count.params)?
        .first()
        .map(|row| row.int("total"))
        .transpose()?
        .unwrap_or(0);

    let deleted = match &statements.deleted {
        Some(s) => Some(
            ctx.db
                .query(&s.sql, &s.params)?
                .iter()
                .map(|row| row.uuid("id"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };

    Ok(TodoPage {
        items,
        total,
        next_cursor,
        deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::todos::query::Sort;

    fn user() -> Uuid {
        Uuid::from_u128(1)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn page_sql(query: &str) -> Statement {
        let query = ListQuery::parse(query).unwrap_or_default();
        list_statements(user(), &query, now()).page
    }

    #[test]
    fn every_placeholder_is_typed_and_numbered_in_order() {
        let s = page_sql(
            "status=open&priority=high,low&tag=x&q=50%25_off&due_before=2026-01-01\
             &due_after=2025-01-01&overdue=true&updated_since=2025-01-01&sort=title",
        );
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
            let sql = page_sql(query).sql;
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
        let query = ListQuery::parse(&format!(
            "sort=priority&limit=10&cursor={}",
            cursor.encode()
        ))
        .unwrap_or_default();
        let s = list_statements(user(), &query, now()).page;
        assert!(
            s.sql.contains(
                "(priority, todos.created_at, todos.id) < ($2::text::smallint, $3::text::timestamptz, $4::text::uuid)"
            ),
            "{}",
            s.sql
        );
        // One row more than the page, to know whether another page follows.
        assert_eq!(s.params.last(), Some(&SqlParam::Int(11)));
    }

    #[test]
    fn the_count_ignores_the_cursor_and_the_deleted_ids_need_updated_since() {
        let q = ListQuery::parse("status=done").unwrap_or_default();
        let s = list_statements(user(), &q, now());
        assert_eq!(
            s.count.sql,
            "SELECT count(*) AS total FROM todos WHERE user_id = $1::text::uuid AND completed"
        );
        assert!(s.deleted.is_none());
        let q = ListQuery::parse("updated_since=2026-01-01").unwrap_or_default();
        assert!(list_statements(user(), &q, now()).deleted.is_some());
    }

    #[test]
    fn errors_map_to_their_status_codes() {
        let cases = [
            (TodoError::NotFound, 404, "not_found"),
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
}
