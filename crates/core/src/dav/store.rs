//! What CalDAV reads: the caller's lists as calendars, and their todos as
//! calendar objects, each request in one statement scoped to the caller.
//! Writes go through `crate::todos::store` and `crate::lists::store`, as
//! every other way of changing todos and lists does.

use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{AuthUser, Caller};
use crate::db::{DbError, Json};
use crate::lists::Role;
use crate::ports::Ctx;
use crate::todos::store::{TodoRow, TODO_COLUMNS};
use crate::todos::Todo;

/// A list, as the calendar collection a member sees.
#[derive(Debug, Clone, Deserialize)]
pub struct Calendar {
    pub id: Uuid,
    pub name: String,
    pub color: Option<String>,
    /// The caller's role.
    pub role: Role,
    pub is_inbox: bool,
    /// The list's change number: its ctag and sync token.
    pub change_seq: i64,
    pub owner: Owner,
    /// The caller's time zone (their notification preferences).
    time_zone: Option<String>,
}

impl Calendar {
    /// The time zone a client's floating times are read in: the caller's.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
            .as_deref()
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Owner {
    pub id: Uuid,
    pub name: String,
}

/// A todo as a calendar object.
#[derive(Debug, Clone)]
pub struct DavTodo {
    pub todo: Todo,
    /// The resource's name within its calendar (`<id>.ics` unless a client
    /// chose one).
    pub name: String,
    pub uid: String,
    /// The calendar object a client last sent for it.
    pub ical: Option<String>,
    /// The list change that last touched it.
    pub change_seq: i64,
}

impl DavTodo {
    /// The resource's strong ETag: its version, and its id's start, so that
    /// a new todo under an old name never matches the old one's ETag.
    pub fn etag(&self) -> String {
        let id = self.todo.id.simple().to_string();
        format!("\"{}-{}\"", self.todo.version, &id[..8])
    }
}

#[derive(Deserialize)]
struct ObjectRow {
    #[serde(flatten)]
    todo: TodoRow,
    name: String,
    uid: String,
    ical: Option<String>,
    seq: i64,
}

impl TryFrom<ObjectRow> for DavTodo {
    type Error = DbError;

    fn try_from(row: ObjectRow) -> Result<Self, DbError> {
        Ok(Self {
            todo: Todo::try_from(row.todo)?,
            name: row.name,
            uid: row.uid,
            ical: row.ical,
            change_seq: row.seq,
        })
    }
}

fn objects_of(rows: Vec<ObjectRow>) -> Result<Vec<DavTodo>, DbError> {
    rows.into_iter().map(DavTodo::try_from).collect()
}

/// The caller's lists as [`Calendar`]s; more conditions on `l` may follow.
const CALENDARS: &str = "SELECT l.id, l.name, l.color,
        CASE WHEN l.owner_id = m.user_id THEN 'owner' ELSE m.role END AS role,
        l.inbox AS is_inbox, l.change_seq,
        (SELECT json_build_object('id', o.id, 'name', o.name)
         FROM users o WHERE o.id = l.owner_id) AS owner,
        (SELECT p.time_zone FROM notification_preferences p WHERE p.user_id = m.user_id)
            AS time_zone
    FROM list_members m JOIN lists l ON l.id = m.list_id
    WHERE m.user_id = (SELECT id FROM auth)";

/// A todo's resource name, as the index `todos_dav_name` has it.
const NAME: &str = "COALESCE(t.dav_name, t.id::text || '.ics')";

fn object_columns() -> String {
    let columns = TODO_COLUMNS
        .split(", ")
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{columns}, {NAME} AS name, COALESCE(t.dav_uid, t.id::text) AS uid, t.ical, \
         t.change_seq AS seq"
    )
}

/// What a statement of this module answers: the caller it checked (see
/// [`Caller::fetch_checked`]), the account, and its result; `None` when
/// the caller is nobody (no live token, a revoked one, a gone account).
pub type Checked<T> = Option<(Caller, AuthUser, T)>;

/// Only checks the caller, for a request whose work is done by a library
/// call afterwards.
pub fn check(ctx: &Ctx, caller: &Caller) -> Result<Checked<()>, DbError> {
    #[derive(Deserialize)]
    struct Answer {}
    Ok(caller
        .fetch_checked::<Answer>(ctx, &[], &[], vec![])?
        .map(|(caller, user, _)| (caller, user, ())))
}

/// The caller's calendars, the Inbox first, then by name.
pub fn calendars(ctx: &Ctx, caller: &Caller) -> Result<Checked<Vec<Calendar>>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        calendars: Vec<Calendar>,
    }
    let sql = format!("{CALENDARS} ORDER BY l.inbox DESC, lower(l.name), l.id");
    Ok(caller
        .fetch_checked::<Answer>(ctx, &[], &[("calendars", Json::Rows(&sql))], vec![])?
        .map(|(caller, user, a)| (caller, user, a.calendars)))
}

/// Which todos of a calendar a read wants.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// None: the calendar alone.
    Nothing,
    /// Every todo, or (`open_only`) those not completed.
    All { open_only: bool },
    /// The todos of these resource names.
    Named(&'a [String]),
}

/// A calendar and some of its todos.
pub struct Found {
    /// `None` when the caller is no member of the list (or there is none).
    pub calendar: Option<Calendar>,
    pub objects: Vec<DavTodo>,
    /// The resource name of the todo that has the UID asked about, if any.
    pub uid_taken_by: Option<String>,
}

/// The calendar `list` with the todos `which` names, in creation order,
/// and the name of the todo with the UID `uid` (a PUT's check), in one
/// statement.
pub fn objects(
    ctx: &Ctx,
    caller: &Caller,
    list: Uuid,
    which: Which<'_>,
    uid: Option<&str>,
) -> Result<Checked<Found>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        calendar: Option<Calendar>,
        objects: Vec<ObjectRow>,
        uid_taken_by: Option<String>,
    }
    let (all, open_only, names) = match which {
        Which::Nothing => (false, false, Vec::new()),
        Which::All { open_only } => (true, open_only, Vec::new()),
        Which::Named(names) => (false, false, names.to_vec()),
    };
    let cal = format!("cal AS ({CALENDARS} AND l.id = $3::text::uuid)");
    let objects = format!(
        "SELECT {} FROM todos t
         WHERE t.list_id = (SELECT id FROM cal)
           AND ($4::bool OR {NAME} IN (SELECT jsonb_array_elements_text($5::text::jsonb)))
           AND NOT ($6::bool AND t.completed)
         ORDER BY t.created_at, t.id",
        object_columns()
    );
    let taken = format!(
        "SELECT {NAME} FROM todos t
         WHERE t.list_id = (SELECT id FROM cal) AND COALESCE(t.dav_uid, t.id::text) = $7::text"
    );
    let answer = caller.fetch_checked::<Answer>(
        ctx,
        &[&cal],
        &[
            ("calendar", Json::Row("SELECT * FROM cal")),
            ("objects", Json::Rows(&objects)),
            ("uid_taken_by", Json::Value(&format!("({taken})"))),
        ],
        vec![
            list.into(),
            all.into(),
            serde_json::Value::from(names).to_string().into(),
            open_only.into(),
            uid.into(),
        ],
    )?;
    answer
        .map(|(caller, user, a)| {
            Ok((
                caller,
                user,
                Found {
                    calendar: a.calendar,
                    objects: objects_of(a.objects)?,
                    uid_taken_by: a.uid_taken_by,
                },
            ))
        })
        .transpose()
}

/// A todo that left the calendar since a sync token: its resource name.
#[derive(Debug, Clone, Deserialize)]
pub struct Gone {
    pub name: String,
    pub seq: i64,
}

/// What changed in a calendar after a change number.
pub struct Changes {
    pub calendar: Option<Calendar>,
    /// The todos changed since, in change order, up to and including the
    /// change of the `limit`-th: a page ends at a whole change (one may
    /// touch several todos), so its token skips nothing.
    pub changed: Vec<DavTodo>,
    /// The change a truncated page ends with; `None` when it holds every
    /// change since.
    pub cut: Option<i64>,
    /// The todos deleted or moved out since, not back in the list now.
    pub gone: Vec<Gone>,
}

/// The changes of the calendar `list` after its change number `since`
/// (see [`Changes`]), in one statement.
pub fn changes(
    ctx: &Ctx,
    caller: &Caller,
    list: Uuid,
    since: i64,
    limit: i64,
) -> Result<Checked<Changes>, DbError> {
    #[derive(Deserialize)]
    struct Answer {
        calendar: Option<Calendar>,
        changed: Vec<ObjectRow>,
        gone: Vec<Gone>,
        cut: Option<i64>,
    }
    let cal = format!("cal AS ({CALENDARS} AND l.id = $3::text::uuid)");
    // The change of the page's last todo, when more todos follow it.
    let last = "last AS (
        SELECT t.change_seq FROM todos t
        WHERE t.list_id = (SELECT id FROM cal) AND t.change_seq > $4::int8
        ORDER BY t.change_seq, t.id OFFSET $5::int8 - 1 LIMIT 1)";
    let changed = format!(
        "SELECT {} FROM todos t
         WHERE t.list_id = (SELECT id FROM cal) AND t.change_seq > $4::int8
           AND t.change_seq <= COALESCE((SELECT change_seq FROM last), t.change_seq)
         ORDER BY t.change_seq, t.id",
        object_columns()
    );
    let cut = "(SELECT l.change_seq FROM last l
        WHERE EXISTS (SELECT FROM todos t
                      WHERE t.list_id = (SELECT id FROM cal) AND t.change_seq > l.change_seq))";
    let gone = "SELECT DISTINCT ON (a.todo_id)
                COALESCE(g.dav_name, a.todo_id::text || '.ics') AS name, a.change_seq AS seq
         FROM todo_audit a
         LEFT JOIN dav_gone g ON g.list_id = a.list_id AND g.todo_id = a.todo_id
         WHERE a.list_id = (SELECT id FROM cal) AND a.action IN ('delete', 'move_out')
           AND a.change_seq > $4::int8
           AND NOT EXISTS (SELECT FROM todos v WHERE v.id = a.todo_id AND v.list_id = a.list_id)
           -- A name a new todo took since is that todo's.
           AND NOT EXISTS (
               SELECT FROM todos w
               WHERE w.list_id = a.list_id
                 AND COALESCE(w.dav_name, w.id::text || '.ics')
                     = COALESCE(g.dav_name, a.todo_id::text || '.ics'))
         ORDER BY a.todo_id, a.change_seq DESC";
    let answer = caller.fetch_checked::<Answer>(
        ctx,
        &[&cal, last],
        &[
            ("calendar", Json::Row("SELECT * FROM cal")),
            ("changed", Json::Rows(&changed)),
            ("gone", Json::Rows(gone)),
            ("cut", Json::Value(cut)),
        ],
        vec![list.into(), since.into(), limit.into()],
    )?;
    answer
        .map(|(caller, user, a)| {
            Ok((
                caller,
                user,
                Changes {
                    calendar: a.calendar,
                    changed: objects_of(a.changed)?,
                    cut: a.cut,
                    gone: a.gone,
                },
            ))
        })
        .transpose()
}
