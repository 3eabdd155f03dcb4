//! Todos: the task lists a user belongs to. [`store`] is the library API (what the chat
//! assistant and the MCP server call in process); [`http`] wraps it as the
//! `/api/todos` routes; [`domain`] and [`query`] turn raw input into values
//! that can only be valid; [`live`] is the sync's long-poll.

pub mod domain;
pub mod http;
pub mod live;
pub mod query;
pub mod rrule;
pub mod store;

pub use domain::{
    parse_todo_id, DavObject, Description, DueAt, NewTodo, Priority, Recurrence, Tags, Todo,
    TodoChanges, TodoTitle, MAX_TODOS_PER_USER,
};
pub use http::handle;
pub use query::{
    Assignee, ChangeKind, HistoryQuery, ListPosition, ListQuery, Sort, SortField, Status,
    SyncToken, Wait, PARAMS as LIST_PARAMS, SYNC_PARAMS,
};
pub use store::{ChangeFeed, HistoryEntry, HistoryPage, TodoError, TodoPage, TodoStats, Toggled};
