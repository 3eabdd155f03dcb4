//! The MCP tools: one user's todo list for an AI agent. Each tool parses its
//! arguments with the REST API's own parsers ([`TodoBody`], [`PatchBody`],
//! [`ListQuery::from_params`], [`HistoryQuery::from_params`]) and calls
//! `todos::store`, so validation, limits, audit history and recurrence are
//! exactly the REST API's, and `structuredContent` is the REST API's JSON.
//! An agent may read the user's lists and put tasks in them, but never
//! share a list or change its members: a leaked agent token must not give
//! anyone access to anything.
//!
//! Spec: `docs/specification/2026-07-28/server/tools.mdx` (tool definitions,
//! `structuredContent` and `outputSchema`, "Tool Execution Errors" with
//! `isError: true` versus protocol errors such as an unknown tool, `-32602`)
//! and the `ToolAnnotations` of `schema/2026-07-28/schema.ts`.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::protocol::RpcError;
use crate::auth::{self, Caller};
use crate::chat::intent::best_named;
use crate::error::{ApiError, FieldErrors};
use crate::lists::store::{self as lists_store, ListError};
use crate::lists::List;
use crate::ports::Ctx;
use crate::throttle;
use crate::todos::http::{PatchBody, TodoBody};
use crate::todos::store::{self, TodoError, Toggled};
use crate::todos::{parse_todo_id, HistoryQuery, ListQuery, Todo, LIST_PARAMS, SYNC_PARAMS};

/// Tool calls one user may make per minute, unless `mcp_rate_per_minute`
/// says otherwise (the spec asks servers to rate-limit tool invocations).
const DEFAULT_RATE_PER_MINUTE: i64 = 120;

/// Every tool, in the order `tools/list` answers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    ListLists,
    AddTask,
    ListTasks,
    GetTask,
    UpdateTask,
    CompleteTask,
    ReopenTask,
    DeleteTask,
    TaskHistory,
}

impl Tool {
    pub const ALL: [Tool; 9] = [
        Tool::ListLists,
        Tool::AddTask,
        Tool::ListTasks,
        Tool::GetTask,
        Tool::UpdateTask,
        Tool::CompleteTask,
        Tool::ReopenTask,
        Tool::DeleteTask,
        Tool::TaskHistory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::ListLists => "list_lists",
            Tool::AddTask => "add_task",
            Tool::ListTasks => "list_tasks",
            Tool::GetTask => "get_task",
            Tool::UpdateTask => "update_task",
            Tool::CompleteTask => "complete_task",
            Tool::ReopenTask => "reopen_task",
            Tool::DeleteTask => "delete_task",
            Tool::TaskHistory => "task_history",
        }
    }

    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the tool changes the list (refused to read-only tokens).
    pub fn writes(self) -> bool {
        !matches!(
            self,
            Tool::ListLists | Tool::ListTasks | Tool::GetTask | Tool::TaskHistory
        )
    }

    fn title(self) -> &'static str {
        match self {
            Tool::ListLists => "List the lists",
            Tool::AddTask => "Add a task",
            Tool::ListTasks => "List tasks",
            Tool::GetTask => "Get a task",
            Tool::UpdateTask => "Update a task",
            Tool::CompleteTask => "Complete a task",
            Tool::ReopenTask => "Reopen a task",
            Tool::DeleteTask => "Delete a task",
            Tool::TaskHistory => "Task history",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Tool::ListLists => {
                "List the lists the user's tasks are kept in: their Inbox first, then the lists \
                 they own or that others shared with them, each with its `id`, `name`, the \
                 user's `role` (owner, editor, or viewer: a viewer may only read its tasks), \
                 its `owner`, `member_count` and `open_count`. Pass a list's id or name as \
                 `list` to add_task and list_tasks, or its id as `list_id` to update_task to \
                 move a task there. These tools cannot share a list or change who may see it: \
                 only the user can, in the app. Example: {}"
            }
            Tool::AddTask => {
                "Add a task to the user's todo list. Use this when the user asks to remember, \
                 plan or schedule something. Only `title` is required; the task starts open, \
                 in the user's Inbox unless `list` names another list (its id or its name, \
                 see list_lists). \
                 `priority` is low, medium (default), high or urgent; `due_at` is an RFC 3339 \
                 time such as 2026-12-01T17:00:00Z or a date such as 2026-12-01 (midnight UTC); \
                 `tags` are short lowercase labels; `recurrence` (none, daily, weekly, monthly, \
                 or a rule such as RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO for every other Monday) \
                 makes completing the task create its next occurrence. Returns the new task with \
                 its `id`, which the other tools take. Example: {\"title\": \"Buy milk\", \
                 \"priority\": \"high\", \"due_at\": \"2026-12-01\", \"tags\": [\"shopping\"], \
                 \"list\": \"Groceries\"}"
            }
            Tool::ListTasks => {
                "List the user's tasks, newest first unless `sort` says otherwise, with filters. \
                 Use this to find a task's `id` before changing it, or to answer questions about \
                 the list. `list`: only the tasks of this list (its id or name, see \
                 list_lists; default: every list). `status`: open, done or all (default). `priority`: one priority or \
                 several (any of them). `tag`: tasks with this tag. `q`: words in the title or \
                 description (case-insensitive). `due_before` / `due_after`: an RFC 3339 time or \
                 a date. `overdue`: true for open tasks past their due time. `sort`: created_at, \
                 due_at, priority (urgent first) or title, prefixed with - to reverse. `limit`: \
                 1 to 100 (default 50). The answer has `items`, `total` (all matches) and \
                 `next_cursor`: pass it back as `cursor`, with the same filters and sort, for \
                 the next page. Example: {\"status\": \"open\", \"priority\": [\"high\", \
                 \"urgent\"], \"sort\": \"due_at\", \"limit\": 10}"
            }
            Tool::GetTask => {
                "Get one task by its `id` (from list_tasks or add_task), with all its fields. \
                 Example: {\"id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}"
            }
            Tool::UpdateTask => {
                "Change fields of one task, given its `id`. Only the fields you pass change; \
                 pass null to reset a field to its default (\"due_at\": null removes the due \
                 date, \"tags\": null removes all tags). `tags` replaces the whole tag list. \
                 `list_id` moves the task to that list (an id from list_lists; the user must \
                 be an editor of both lists). \
                 Use complete_task and reopen_task to change whether it is done. Returns the \
                 task as it is now. Example: {\"id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\", \
                 \"priority\": \"urgent\", \"due_at\": \"2026-12-02T09:00:00Z\"}"
            }
            Tool::CompleteTask => {
                "Mark a task as done, given its `id`. Completing a task that is already done \
                 changes nothing. Completing a recurring task also creates its next occurrence, \
                 returned as `next` (otherwise `next` is null). Example: \
                 {\"id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}"
            }
            Tool::ReopenTask => {
                "Mark a done task as open again, given its `id`. Reopening an open task changes \
                 nothing. Example: {\"id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}"
            }
            Tool::DeleteTask => {
                "Delete a task for good, given its `id`. Ask the user first unless they clearly \
                 asked for it; to just mark a task done use complete_task. Its history stays \
                 readable with task_history. Example: \
                 {\"id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}"
            }
            Tool::TaskHistory => {
                "Show what happened to a task, newest first: each entry has the `action` \
                 (create, update, toggle or delete), the `changes` as {\"field\": {\"old\": ..., \
                 \"new\": ...}} and the time `at`. Works for deleted tasks too. `limit` 1 to 100 \
                 (default 50); pass `next_cursor` back as `cursor` for older entries. Example: \
                 {\"id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\", \"limit\": 10}"
            }
        }
    }

    fn input_schema(self) -> Value {
        let id = json!({
            "type": "string",
            "format": "uuid",
            "description": "The task's id, as returned by add_task or list_tasks.",
        });
        match self {
            Tool::ListLists => object_schema(Map::new(), &[]),
            Tool::AddTask => {
                let mut fields = task_fields(false);
                fields.insert(
                    "list".into(),
                    list_argument("The list to add the task to. Default: the user's Inbox."),
                );
                object_schema(fields, &["title"])
            }
            Tool::UpdateTask => {
                let mut fields = task_fields(true);
                fields.insert("id".into(), id);
                fields.insert(
                    "list_id".into(),
                    json!({"type": "string", "format": "uuid",
                           "description": "Moves the task to this list (an id from list_lists)."}),
                );
                object_schema(fields, &["id"])
            }
            Tool::ListTasks => {
                let mut fields = list_fields();
                fields.insert(
                    "list".into(),
                    list_argument("Only the tasks of this list. Default: every list."),
                );
                object_schema(fields, &[])
            }
            Tool::TaskHistory => object_schema(
                Map::from_iter([
                    ("id".to_owned(), id),
                    (
                        "limit".to_owned(),
                        limit_schema("How many entries at most."),
                    ),
                    (
                        "cursor".to_owned(),
                        json!({"type": "string",
                               "description": "`next_cursor` of the previous page, for older entries."}),
                    ),
                ]),
                &["id"],
            ),
            Tool::GetTask | Tool::CompleteTask | Tool::ReopenTask | Tool::DeleteTask => {
                object_schema(Map::from_iter([("id".to_owned(), id)]), &["id"])
            }
        }
    }

    fn output_schema(self) -> Value {
        let mut schema = match self {
            Tool::ListLists => json!({
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": list_schema()},
                },
                "required": ["items"],
            }),
            Tool::AddTask | Tool::GetTask | Tool::UpdateTask => json!({"$ref": "#/$defs/todo"}),
            Tool::CompleteTask | Tool::ReopenTask => json!({
                "type": "object",
                "properties": {
                    "todo": {"$ref": "#/$defs/todo"},
                    "next": {"anyOf": [{"$ref": "#/$defs/todo"}, {"type": "null"}],
                             "description": "The next occurrence a recurring task got, else null."},
                },
                "required": ["todo", "next"],
            }),
            Tool::DeleteTask => json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "deleted": {"const": true},
                },
                "required": ["id", "deleted"],
            }),
            Tool::ListTasks => json!({
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/$defs/todo"}},
                    "total": {"type": "integer", "minimum": 0,
                              "description": "How many tasks match the filters, over all pages."},
                    "next_cursor": {"type": ["string", "null"],
                                    "description": "Pass as `cursor` for the next page; null on the last page."},
                    "sync_token": {"type": "string"},
                },
                "required": ["items", "total", "next_cursor", "sync_token"],
            }),
            Tool::TaskHistory => json!({
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "action": {"enum": ["create", "update", "toggle", "delete"]},
                            "changes": {"type": "object", "additionalProperties": {
                                "type": "object",
                                "properties": {"old": {}, "new": {}},
                            }},
                            "at": {"type": "string", "format": "date-time"},
                        },
                        "required": ["action", "changes", "at"],
                    }},
                    "next_cursor": {"type": ["string", "null"]},
                },
                "required": ["items", "next_cursor"],
            }),
        };
        if let Value::Object(map) = &mut schema {
            // 2025-06-18 and 2025-11-25 require an object at the root; a
            // root `$ref` alone is wrapped.
            if map.contains_key("$ref") {
                map.insert("type".into(), "object".into());
            }
            map.insert("$defs".into(), json!({"todo": todo_schema()}));
        }
        schema
    }

    /// `ToolAnnotations` hints. `destructiveHint` and `idempotentHint` only
    /// mean something for tools that write; `openWorldHint` is false for
    /// all: they touch only the user's own list.
    fn annotations(self) -> Value {
        let (destructive, idempotent) = match self {
            Tool::ListLists | Tool::ListTasks | Tool::GetTask | Tool::TaskHistory => {
                return json!({"title": self.title(), "readOnlyHint": true, "openWorldHint": false})
            }
            Tool::AddTask => (false, false),
            Tool::UpdateTask | Tool::CompleteTask | Tool::ReopenTask => (false, true),
            Tool::DeleteTask => (true, true),
        };
        json!({
            "title": self.title(),
            "readOnlyHint": false,
            "destructiveHint": destructive,
            "idempotentHint": idempotent,
            "openWorldHint": false,
        })
    }

    /// The tool's entry in `tools/list`.
    pub fn definition(self) -> Value {
        json!({
            "name": self.name(),
            "title": self.title(),
            "description": self.description(),
            "inputSchema": self.input_schema(),
            "outputSchema": self.output_schema(),
            "annotations": self.annotations(),
        })
    }
}

/// Every tool definition, in a fixed order.
pub fn definitions() -> Vec<Value> {
    Tool::ALL.into_iter().map(Tool::definition).collect()
}

fn object_schema(properties: Map<String, Value>, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn limit_schema(description: &str) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 50, "description": description})
}

/// The writable fields of a task; `nullable` for update_task, where null
/// resets a field to its default.
fn task_fields(nullable: bool) -> Map<String, Value> {
    let or_null = |schema: Value| {
        if nullable {
            json!({"anyOf": [schema, {"type": "null"}]})
        } else {
            schema
        }
    };
    let mut fields = Map::new();
    fields.insert(
        "title".into(),
        json!({"type": "string", "minLength": 1, "maxLength": 200,
               "description": "What to do, on one line (at most 200 characters)."}),
    );
    fields.insert(
        "description".into(),
        or_null(json!({"type": "string", "maxLength": 2000,
                       "description": "Details (at most 2000 characters). Default empty."})),
    );
    fields.insert(
        "priority".into(),
        or_null(json!({"enum": ["low", "medium", "high", "urgent"],
                       "description": "Default medium."})),
    );
    fields.insert(
        "due_at".into(),
        or_null(json!({"type": "string",
                       "description": "When it is due: RFC 3339 (2026-12-01T17:00:00Z, 2026-12-01T18:00:00+01:00) or a date (2026-12-01, midnight UTC)."})),
    );
    fields.insert(
        "tags".into(),
        or_null(json!({"type": "array",
                       "items": {"type": "string", "minLength": 1, "maxLength": 32},
                       "description": "Up to 10 labels of at most 32 characters, without commas; stored lowercase, duplicates dropped."})),
    );
    fields.insert(
        "recurrence".into(),
        or_null(json!({"type": "string",
                       "description": "How the task repeats once completed: none (default), daily, \
                        weekly, monthly, or a rule of the RRULE subset: RRULE: then FREQ=DAILY, WEEKLY, \
                        MONTHLY or YEARLY with INTERVAL, BYDAY (ordinals like 2FR, -1MO), BYMONTHDAY, \
                        BYMONTH, COUNT or UNTIL. Examples: RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR \
                        (every weekday), RRULE:FREQ=MONTHLY;BYDAY=-1FR (every last Friday)."})),
    );
    fields
}

fn list_fields() -> Map<String, Value> {
    let time = |what: &str| {
        json!({"type": "string",
               "description": format!("Only tasks due {what} this time: RFC 3339 or a date (YYYY-MM-DD).")})
    };
    let priority = json!({"enum": ["low", "medium", "high", "urgent"]});
    Map::from_iter([
        (
            "status".to_owned(),
            json!({"enum": ["open", "done", "all"], "default": "all"}),
        ),
        (
            "priority".to_owned(),
            json!({"anyOf": [priority.clone(), {"type": "array", "items": priority, "minItems": 1}],
                   "description": "Only tasks with this priority, or any of these."}),
        ),
        (
            "tag".to_owned(),
            json!({"type": "string", "description": "Only tasks with this tag."}),
        ),
        (
            "q".to_owned(),
            json!({"type": "string", "maxLength": 200,
                   "description": "Only tasks whose title or description contains this text."}),
        ),
        ("due_before".to_owned(), time("before")),
        ("due_after".to_owned(), time("after")),
        (
            "overdue".to_owned(),
            json!({"type": "boolean",
                   "description": "true: only open tasks past their due time; false: none of those."}),
        ),
        (
            "sort".to_owned(),
            json!({"enum": ["created_at", "-created_at", "due_at", "-due_at",
                            "priority", "-priority", "title", "-title"],
                   "default": "-created_at"}),
        ),
        ("limit".to_owned(), limit_schema("How many tasks at most.")),
        (
            "cursor".to_owned(),
            json!({"type": "string",
                   "description": "`next_cursor` of the previous page (same filters and sort)."}),
        ),
    ])
}

/// `list`: a list by its id or its name.
fn list_argument(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 100,
           "description": format!("{description} A list's id, or its name as list_lists shows it \
                                   (matched case-insensitively, else by whole words).")})
}

/// A list as the REST API answers it.
fn list_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "color": {"type": ["string", "null"]},
            "role": {"enum": ["owner", "editor", "viewer"],
                     "description": "The user's role: a viewer may only read the list's tasks."},
            "is_inbox": {"type": "boolean"},
            "owner": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string"},
            }},
            "member_count": {"type": "integer", "minimum": 1},
            "open_count": {"type": "integer", "minimum": 0},
        },
        "required": ["id", "name", "color", "role", "is_inbox", "owner", "member_count",
                     "open_count"],
    })
}

/// A todo exactly as the REST API answers it.
fn todo_schema() -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let maybe_time = json!({"type": ["string", "null"], "format": "date-time"});
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "list_id": {"type": "string", "format": "uuid",
                        "description": "The list the task is in (see list_lists)."},
            "assignee_id": {"type": ["string", "null"], "format": "uuid",
                            "description": "The member of its list the task is assigned to."},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "priority": {"enum": ["low", "medium", "high", "urgent"]},
            "completed": {"type": "boolean"},
            "completed_at": maybe_time,
            "due_at": maybe_time,
            "remind_at": maybe_time,
            "tags": {"type": "array", "items": {"type": "string"}},
            "recurrence": {"type": "string"},
            "created_at": time,
            "updated_at": time,
            "version": {"type": "integer", "minimum": 1},
        },
        "required": ["id", "title", "description", "priority", "completed", "completed_at",
                     "due_at", "remind_at", "tags", "recurrence", "created_at", "updated_at",
                     "version"],
    })
}

/// What a tool answers: its structured result and a short summary.
struct Done {
    structured: Value,
    summary: String,
}

/// Why a tool did not do its job, in words an agent can act on.
enum Failed {
    /// Bad arguments, a missing task, a full list: an `isError` result.
    Tool(String),
    /// The token was revoked (a 401), or the database failed (the JSON-RPC
    /// error `-32603`, see [`super::handle`]): not the tool's doing.
    Http(ApiError),
}

impl From<TodoError> for Failed {
    fn from(err: TodoError) -> Self {
        match err {
            TodoError::Unauthorized => Failed::Http(auth::rejected()),
            TodoError::Db(e) => Failed::Http(e.into()),
            TodoError::NotFound => Failed::Tool(
                "No task with that id exists in this user's list (it may have been deleted). \
                 Call list_tasks to find the task's current id."
                    .into(),
            ),
            TodoError::BadCursor(why) => Failed::Tool(format!(
                "cursor {why}. Pass `next_cursor` exactly as the previous call returned it, \
                 with the same filters and sort, or leave `cursor` out to start again."
            )),
            TodoError::Invalid(fields) => Failed::Tool(invalid(&fields)),
            TodoError::VersionMismatch { current } => Failed::Tool(format!(
                "The task was changed by someone else at the same moment (it is now at version \
                 {current}). Call the tool again."
            )),
            TodoError::LimitReached { limit } => Failed::Tool(format!(
                "The list already holds {limit} tasks, the most allowed. Delete some tasks \
                 (for example completed ones) before adding more."
            )),
            TodoError::Forbidden => Failed::Tool(
                "This user is a viewer of that task's list and cannot change it; only its \
                 owner can give them the editor role."
                    .into(),
            ),
        }
    }
}

impl From<ApiError> for Failed {
    /// A parser's 422 names each bad field.
    fn from(err: ApiError) -> Self {
        match &err.fields {
            Some(fields) => Failed::Tool(invalid(fields)),
            None => Failed::Tool(format!("Invalid arguments: {}.", err.message)),
        }
    }
}

fn invalid(fields: &FieldErrors) -> String {
    let problems: Vec<String> = fields
        .iter()
        .map(|(field, messages)| format!("`{field}` {}", messages.join("; ")))
        .collect();
    format!(
        "Invalid arguments: {}. Fix them and call the tool again.",
        problems.join(", ")
    )
}

/// The answer to `tools/call`: the result (an `isError` one when the tool
/// failed), a protocol error (`-32602`: no such tool, or params that are
/// not a call), or an [`ApiError`]: a revoked token is a 401, and a failure
/// on the server's side (the database) becomes the JSON-RPC error `-32603`
/// in [`super::handle`].
pub fn call(
    ctx: &Ctx,
    caller: &Caller,
    params: &Map<String, Value>,
) -> Result<Result<Map<String, Value>, RpcError>, ApiError> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Ok(Err(RpcError::invalid_params(
            "Invalid params: params.name must name a tool (see tools/list)",
        )));
    };
    let Some(tool) = Tool::from_name(name) else {
        return Ok(Err(RpcError::invalid_params(format!(
            "Unknown tool: {name}"
        ))));
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(arguments)) => arguments.clone(),
        Some(_) => {
            return Ok(Err(RpcError::invalid_params(
                "Invalid params: params.arguments must be an object",
            )))
        }
    };
    let outcome = if tool.writes() && caller.read_only() {
        Err(Failed::Tool(format!(
            "This token is read-only: it may list and read tasks but not change them, so \
             {name} is not allowed. Ask the user for a personal access token with write access."
        )))
    } else if let Some(seconds) = throttle::reserve_per_minute(
        ctx,
        caller,
        "mcp",
        "mcp_rate_per_minute",
        DEFAULT_RATE_PER_MINUTE,
    )? {
        Err(Failed::Tool(format!(
            "Too many tool calls for this user in the last minute (the limit is set by \
             mcp_rate_per_minute). Wait {seconds} seconds, then call the tool again."
        )))
    } else {
        run(ctx, caller, tool, arguments)
    };
    match outcome {
        Ok(done) => Ok(Ok(result(done.summary, Some(done.structured), false))),
        Err(Failed::Tool(message)) => Ok(Ok(result(message, None, true))),
        Err(Failed::Http(error)) => Err(error),
    }
}

fn result(text: String, structured: Option<Value>, is_error: bool) -> Map<String, Value> {
    let mut result = Map::new();
    result.insert("content".into(), json!([{"type": "text", "text": text}]));
    if let Some(structured) = structured {
        result.insert("structuredContent".into(), structured);
    }
    result.insert("isError".into(), is_error.into());
    result
}

fn run(
    ctx: &Ctx,
    caller: &Caller,
    tool: Tool,
    mut args: Map<String, Value>,
) -> Result<Done, Failed> {
    match tool {
        Tool::ListLists => {
            no_more(&args)?;
            let lists = lists_store::all(ctx, caller).map_err(list_failed)?;
            let mut summary = format!(
                "{} list{}:",
                lists.len(),
                if lists.len() == 1 { "" } else { "s" }
            );
            for list in &lists {
                summary.push_str(&format!("\n- {}", describe_list(list)));
            }
            done(&json!({ "items": lists }), summary)
        }
        Tool::AddTask => {
            if let Some(list) = list_argument_id(ctx, caller, &mut args)? {
                if args.contains_key("list_id") {
                    return Err(Failed::Tool(
                        "Invalid arguments: pass `list` or `list_id`, not both.".into(),
                    ));
                }
                args.insert("list_id".into(), list.to_string().into());
            }
            let new = from_arguments::<TodoBody>(args)?.parse()?;
            let todo = store::create(ctx, caller, &new)?;
            done(&todo, format!("Added {}.", describe(&todo)))
        }
        Tool::ListTasks => {
            if let Some(list) = list_argument_id(ctx, caller, &mut args)? {
                args.insert("list".into(), list.to_string().into());
            }
            let query = list_query(args)?;
            let page = store::list(ctx, caller, &query).map_err(|err| match err {
                TodoError::NotFound => no_such_list(),
                err => err.into(),
            })?;
            let mut summary = format!(
                "{} of {} matching task{}",
                page.items.len(),
                page.total,
                if page.total == 1 { "" } else { "s" }
            );
            summary.push_str(if page.items.is_empty() { "." } else { ":" });
            for todo in &page.items {
                summary.push_str(&format!("\n- {}", describe(todo)));
            }
            if page.next_cursor.is_some() {
                summary.push_str("\nMore follow: pass next_cursor as cursor for the next page.");
            }
            done(&page, summary)
        }
        Tool::GetTask => {
            let id = task_id(&mut args)?;
            no_more(&args)?;
            let todo = store::get(ctx, caller, id)?;
            done(&todo, describe(&todo))
        }
        Tool::UpdateTask => {
            let id = task_id(&mut args)?;
            let changes = from_arguments::<PatchBody>(args)?.parse()?;
            let todo = store::update(ctx, caller, id, &changes, None)?;
            done(&todo, format!("Updated {}.", describe(&todo)))
        }
        Tool::CompleteTask | Tool::ReopenTask => {
            let id = task_id(&mut args)?;
            no_more(&args)?;
            let completed = tool == Tool::CompleteTask;
            let (toggled, changed) = set_completed(ctx, caller, id, completed)?;
            let verb = match (completed, changed) {
                (true, true) => "Completed",
                (true, false) => "Already done, nothing changed:",
                (false, true) => "Reopened",
                (false, false) => "Already open, nothing changed:",
            };
            let mut summary = format!("{verb} {}.", describe(&toggled.todo));
            if let Some(next) = &toggled.next {
                summary.push_str(&format!(" Next occurrence: {}.", describe(next)));
            }
            done(&toggled, summary)
        }
        Tool::DeleteTask => {
            let id = task_id(&mut args)?;
            no_more(&args)?;
            store::delete(ctx, caller, id, None)?;
            Ok(Done {
                structured: json!({"id": id, "deleted": true}),
                summary: format!("Deleted the task {id}."),
            })
        }
        Tool::TaskHistory => {
            let id = task_id(&mut args)?;
            let params = query_params(args)?;
            let query = HistoryQuery::from_params(params).map_err(|f| Failed::Tool(invalid(&f)))?;
            let page = store::history(ctx, caller, id, &query)?;
            let mut summary = format!(
                "{} history entr{}",
                page.items.len(),
                if page.items.len() == 1 { "y" } else { "ies" }
            );
            for entry in &page.items {
                let fields: Vec<&str> = entry.changes.keys().map(String::as_str).collect();
                summary.push_str(&format!(
                    "\n- {} {} ({})",
                    entry.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    entry.action,
                    fields.join(", ")
                ));
            }
            done(&page, summary)
        }
    }
}

fn no_such_list() -> Failed {
    Failed::Tool(
        "The user is not a member of that list (or it does not exist). Call list_lists to see \
         their lists."
            .into(),
    )
}

/// A failure of the lists library: only the server's own is not the tool's.
fn list_failed(err: ListError) -> Failed {
    match err {
        ListError::Unauthorized | ListError::Db(_) => Failed::Http(err.into()),
        ListError::NotFound => no_such_list(),
        other => Failed::Tool(format!("{other}.")),
    }
}

/// Takes the `list` argument: a list's id as it is, or its name, looked up
/// among the user's lists as the chat matches names (exactly, case aside,
/// else by whole words); an unknown or ambiguous name is a tool error.
fn list_argument_id(
    ctx: &Ctx,
    caller: &Caller,
    args: &mut Map<String, Value>,
) -> Result<Option<Uuid>, Failed> {
    let said = match args.remove("list") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(said)) if !said.trim().is_empty() => said,
        Some(other) => {
            return Err(Failed::Tool(format!(
                "Invalid arguments: `list` must be a list's id or name, not {other}."
            )))
        }
    };
    if let Ok(id) = Uuid::try_parse(said.trim()) {
        return Ok(Some(id));
    }
    let lists = lists_store::all(ctx, caller).map_err(list_failed)?;
    let found = best_named(&lists, &said, |list| &list.name);
    let names = |lists: &[&List]| {
        lists
            .iter()
            .map(|l| format!("{:?} ({})", l.name, l.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match found.as_slice() {
        [list] => Ok(Some(list.id)),
        [] => Err(Failed::Tool(format!(
            "The user has no list called {said:?}; lists are never made by these tools. Their \
             lists: {}. Pass one of their names or ids as `list`.",
            names(&lists.iter().collect::<Vec<_>>())
        ))),
        several => Err(Failed::Tool(format!(
            "Several of the user's lists match {said:?}: {}. Pass the one you mean by its id.",
            names(several)
        ))),
    }
}

/// One line about a list for the text summary.
fn describe_list(list: &List) -> String {
    let mut parts = vec![
        format!("id {}", list.id),
        format!("role {}", list.role.as_str()),
        format!("{} open", list.open_count),
    ];
    if list.is_inbox {
        parts.push("the Inbox".into());
    } else {
        parts.push(format!("owner {}", list.owner.name));
        parts.push(format!("{} members", list.member_count));
    }
    format!("{:?} ({})", list.name, parts.join(", "))
}

fn done(value: &impl serde::Serialize, summary: String) -> Result<Done, Failed> {
    let structured =
        serde_json::to_value(value).map_err(|e| Failed::Http(ApiError::internal(e)))?;
    Ok(Done {
        structured,
        summary,
    })
}

/// Makes completion what `completed` says, whatever it was: unlike a
/// toggle, calling it twice changes nothing the second time. The toggle is
/// conditional on the version just read, so a concurrent change is noticed
/// (and read again) rather than undone. Whether it changed anything, too.
fn set_completed(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    completed: bool,
) -> Result<(Toggled, bool), TodoError> {
    let mut last = TodoError::NotFound;
    for _ in 0..3 {
        let todo = store::get(ctx, caller, id)?;
        if todo.completed == completed {
            return Ok((
                Toggled {
                    todo,
                    next: None,
                    pending: None,
                },
                false,
            ));
        }
        match store::toggle(ctx, caller, id, Some(&[todo.version])) {
            Ok(toggled) => return Ok((toggled, true)),
            Err(err @ TodoError::VersionMismatch { .. }) => last = err,
            Err(err) => return Err(err),
        }
    }
    Err(last)
}

/// The arguments as a REST request body type, whose parse then checks them
/// exactly as the REST API does.
fn from_arguments<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, Failed> {
    serde_path_to_error::deserialize(Value::Object(args)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let inner = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
        Failed::Tool(if path == "." {
            format!("Invalid arguments: {inner}. Fix them and call the tool again.")
        } else {
            format!("Invalid arguments: `{path}` {inner}. Fix them and call the tool again.")
        })
    })
}

/// Takes the `id` argument: a task id as the other tools return it.
fn task_id(args: &mut Map<String, Value>) -> Result<Uuid, Failed> {
    match args.remove("id") {
        None | Some(Value::Null) => Err(Failed::Tool(
            "Invalid arguments: `id` is required: the task's id, as returned by add_task or \
             list_tasks."
                .into(),
        )),
        Some(Value::String(raw)) => parse_todo_id(&raw).ok_or_else(|| {
            Failed::Tool(format!(
                "No task has the id {raw:?}: ids look like 7c9e6679-7425-40de-944b-e07fc1f90ae7. \
                 Call list_tasks to find the task's id."
            ))
        }),
        Some(other) => Err(Failed::Tool(format!(
            "Invalid arguments: `id` must be a string (a task id), not {other}."
        ))),
    }
}

/// Refuses arguments a tool does not take (after it took its own).
fn no_more(args: &Map<String, Value>) -> Result<(), Failed> {
    match args.keys().next() {
        None => Ok(()),
        Some(_) => {
            let names: Vec<String> = args.keys().map(|k| format!("`{k}`")).collect();
            Err(Failed::Tool(format!(
                "Invalid arguments: unknown argument {}; this tool takes only the arguments \
                 its input schema lists.",
                names.join(", ")
            )))
        }
    }
}

/// Whether `list_tasks` takes `name`: the filters of `GET /api/todos`
/// except the sync ones (`since`, `updated_since`), which answer another shape.
fn is_list_argument(name: &str) -> bool {
    LIST_PARAMS.contains(&name) && !SYNC_PARAMS.contains(&name)
}

fn list_query(args: Map<String, Value>) -> Result<ListQuery, Failed> {
    let mut fields = crate::error::Fields::default();
    for name in args.keys() {
        if !is_list_argument(name) {
            fields.add(name, "is not an argument of list_tasks");
        }
    }
    if !fields.is_empty() {
        return Err(fields.into_error().into());
    }
    let params = query_params(args)?;
    ListQuery::from_params(params).map_err(|f| Failed::Tool(invalid(&f)))
}

/// Arguments as the `(name, value)` text pairs of a query string, so the
/// REST API's query parsers check them: strings as they are, integers and
/// booleans as they would be written in a URL, a list of strings
/// comma-separated (`priority`), null as absent.
fn query_params(args: Map<String, Value>) -> Result<Vec<(String, String)>, Failed> {
    let mut fields = crate::error::Fields::default();
    let mut params = Vec::new();
    for (name, value) in args {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            Value::Array(items) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                match texts {
                    Some(texts) if !texts.is_empty() => texts.join(","),
                    _ => {
                        fields.add(&name, "must be a string or a non-empty list of strings");
                        continue;
                    }
                }
            }
            other => {
                fields.add(&name, format!("has the wrong type ({other})"));
                continue;
            }
        };
        params.push((name, text));
    }
    if fields.is_empty() {
        Ok(params)
    } else {
        Err(fields.into_error().into())
    }
}

/// One line about a task for the text summary.
fn describe(todo: &Todo) -> String {
    let mut parts = vec![
        format!("id {}", todo.id),
        format!("{} priority", todo.priority),
    ];
    if let Some(due) = todo.due_at {
        parts.push(format!(
            "due {}",
            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    if !todo.tags.is_empty() {
        parts.push(format!("tags {}", todo.tags.join(", ")));
    }
    if todo.recurrence != crate::todos::Recurrence::None {
        parts.push(format!("repeats {}", todo.recurrence));
    }
    parts.push(if todo.completed { "done" } else { "open" }.to_owned());
    format!(
        "[{}] {:?} ({})",
        if todo.completed { "x" } else { " " },
        todo.title,
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_listed_in_a_fixed_order_with_unique_names() {
        let definitions = definitions();
        let names: Vec<&str> = definitions
            .iter()
            .map(|d| d["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "list_lists",
                "add_task",
                "list_tasks",
                "get_task",
                "update_task",
                "complete_task",
                "reopen_task",
                "delete_task",
                "task_history"
            ]
        );
        for tool in Tool::ALL {
            assert_eq!(Tool::from_name(tool.name()), Some(tool));
        }
        assert_eq!(Tool::from_name("Add_Task"), None);
    }

    #[test]
    fn every_schema_is_an_object_schema_and_every_output_describes_a_todo() {
        for def in definitions() {
            assert_eq!(def["inputSchema"]["type"], "object", "{def}");
            assert_eq!(def["outputSchema"]["type"], "object", "{def}");
            assert!(def["outputSchema"]["$defs"]["todo"].is_object(), "{def}");
            assert!(def["description"]
                .as_str()
                .unwrap_or_default()
                .contains("Example"));
        }
    }

    #[test]
    fn only_reading_tools_are_read_only_and_only_delete_is_destructive() {
        for tool in Tool::ALL {
            let a = tool.annotations();
            assert_eq!(a["readOnlyHint"], !tool.writes(), "{tool:?}");
            let destructive = a["destructiveHint"].as_bool().unwrap_or(false);
            assert_eq!(destructive, tool == Tool::DeleteTask, "{tool:?}");
        }
    }

    #[test]
    fn list_arguments_become_query_parameters_checked_by_the_rest_parser() {
        let args = json!({"status": "open", "priority": ["high", "URGENT"], "overdue": true,
                          "limit": 5, "tag": null, "sort": "-due_at"});
        let query = list_query(args.as_object().cloned().unwrap_or_default());
        let Ok(query) = query else {
            unreachable!("a valid query was refused")
        };
        assert_eq!(query.limit, 5);
        assert_eq!(query.overdue, Some(true));
        assert_eq!(query.priorities.len(), 2);
        assert_eq!(query.tag, None);
        assert_eq!(query.sort.as_param(), "-due_at");

        for (args, word) in [
            (json!({"limit": 0}), "`limit`"),
            (json!({"limit": 1.5}), "`limit`"),
            (json!({"status": "finished"}), "`status`"),
            (json!({"since": "0000000000000001"}), "`since`"),
            (json!({"priority": []}), "`priority`"),
            (json!({"overdue": "maybe"}), "`overdue`"),
        ] {
            match list_query(args.as_object().cloned().unwrap_or_default()) {
                Err(Failed::Tool(message)) => assert!(message.contains(word), "{message}"),
                _ => unreachable!("{args} was accepted"),
            }
        }
    }
}
