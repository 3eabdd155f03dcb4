//! The lists library API: lists, their members and invitations, one
//! statement each, scoped to what the caller may see. A caller who is not a
//! member of a list gets [`ListError::NotFound`], exactly as for a list that
//! does not exist.
//!
//! Limits are exact under concurrent requests: a statement locks the row
//! that holds the counter (`FOR UPDATE` gives it the row as the last
//! committed change left it, where the rest of the statement reads its
//! snapshot), decides on the locked values, and moves the counter by what
//! it actually inserted or deleted.

use chrono::Duration;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{
    Color, InvitedRole, List, ListName, Member, ReceivedInvitation, Role, SentInvitation,
    MAX_INVITATIONS_PER_DAY, MAX_MEMBERS, MAX_OWNED_LISTS, MAX_PENDING_INVITATIONS,
};
use crate::auth::{Caller, Email};
use crate::db::{DbError, Json, SqlParam};
use crate::ports::Ctx;

/// Why a lists operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The caller's account is gone or its token was revoked.
    #[error("the caller is not signed in")]
    Unauthorized,
    /// Missing, or the caller is not a member (of the list, or for an
    /// invitation, not its invitee).
    #[error("no such list")]
    NotFound,
    /// A member without the role this needs.
    #[error("only the list's {needed} may do that")]
    Forbidden { needed: &'static str },
    /// What the list's state does not allow (the Inbox, the owner leaving).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error("{what}: at most {limit}")]
    LimitReached { what: &'static str, limit: i64 },
    /// Giving someone access (an invitation, a stronger role, accepting)
    /// with a personal access token: a leaked one must never grant access.
    #[error("a personal access token cannot give anyone access")]
    SessionRequired,
    #[error(transparent)]
    Db(#[from] DbError),
}

const OWNER: &str = "owner";

/// The caller's membership of the list `$3`: its list id, whether the
/// caller owns it, and whether it is an Inbox.
const MEMBERSHIP: &str = "membership AS (
        SELECT l.id, l.owner_id = m.user_id AS owns, l.inbox
        FROM list_members m JOIN lists l ON l.id = m.list_id
        WHERE m.user_id = (SELECT id FROM auth) AND m.list_id = $3::text::uuid)";

/// The columns of a [`List`] for the list `l` (a `lists` row) as the user
/// whose member row is `m` sees it.
macro_rules! list_columns {
    ($($role:tt)+) => {
        concat!(
            "l.id, l.name, l.color, ",
            $($role)+,
            " AS role, l.inbox AS is_inbox,
            (SELECT json_build_object('id', o.id, 'name', o.name)
             FROM users o WHERE o.id = l.owner_id) AS owner,
            l.member_count, l.open_count"
        )
    };
}

/// A list `l` as its events carry it.
macro_rules! list_data {
    () => {
        "jsonb_build_object('id', l.id, 'name', l.name, 'color', l.color,
                           'owner_id', l.owner_id, 'member_count', l.member_count)"
    };
}

/// The event of a change of the lists `$from` (a CTE of `lists` rows, as
/// they are after the change), at each list's change number, by the caller:
/// an audit row, which is the outbox (see `crate::events`). `$member` adds
/// to the list's data (a `jsonb` expression): the member the event is about.
macro_rules! list_event {
    ($action:literal, $from:literal) => {
        list_event!($action, $from, "'{}'::jsonb")
    };
    ($action:literal, $from:literal, $member:literal) => {
        concat!(
            "INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                    list_id, actor_id)
            SELECT (SELECT id FROM auth), NULL, '",
            $action,
            "', '{}', now(), l.change_seq, ",
            list_data!(),
            " || ",
            $member,
            ", l.id, (SELECT id FROM auth)
            FROM ",
            $from,
            " l"
        )
    };
}

/// A member row's role as the API names it.
macro_rules! member_role {
    () => {
        "CASE WHEN l.owner_id = m.user_id THEN 'owner' ELSE m.role END"
    };
}

/// The caller's lists as [`List`]s, in scoped SQL; more conditions on the
/// list `l` may follow (`AND ...`).
pub const LISTS_OF_CALLER: &str = concat!(
    "SELECT ",
    list_columns!(member_role!()),
    " FROM list_members m JOIN lists l ON l.id = m.list_id
    WHERE m.user_id = (SELECT id FROM auth)"
);

/// What every statement answers about the list `$3` besides its result.
#[derive(Deserialize)]
struct Scope<T> {
    member: bool,
    owns: bool,
    inbox: bool,
    #[serde(flatten)]
    result: T,
}

/// Runs a statement about the list `$3` (`extra` continues at `$4`), with
/// [`MEMBERSHIP`] in front of `ctes`.
fn scoped<T: DeserializeOwned>(
    ctx: &Ctx,
    caller: &Caller,
    list: Uuid,
    ctes: &[&str],
    fields: &[(&str, Json<'_>)],
    extra: Vec<SqlParam>,
) -> Result<Scope<T>, ListError> {
    let mut all_ctes = vec![MEMBERSHIP];
    all_ctes.extend_from_slice(ctes);
    let mut all_fields = vec![
        ("member", Json::Value("EXISTS (SELECT FROM membership)")),
        (
            "owns",
            Json::Value("COALESCE((SELECT owns FROM membership), false)"),
        ),
        (
            "inbox",
            Json::Value("COALESCE((SELECT inbox FROM membership), false)"),
        ),
    ];
    all_fields.extend_from_slice(fields);
    let mut params = vec![list.into()];
    params.extend(extra);
    let scope: Scope<T> = fetch(ctx, caller, &all_ctes, &all_fields, params)?;
    if scope.member {
        Ok(scope)
    } else {
        Err(ListError::NotFound)
    }
}

fn fetch<T: DeserializeOwned>(
    ctx: &Ctx,
    caller: &Caller,
    ctes: &[&str],
    fields: &[(&str, Json<'_>)],
    extra: Vec<SqlParam>,
) -> Result<T, ListError> {
    caller
        .fetch(ctx, ctes, fields, extra)?
        .map(|(_, answer)| answer)
        .ok_or(ListError::Unauthorized)
}

fn owner_only<T>(scope: &Scope<T>) -> Result<(), ListError> {
    if scope.owns {
        Ok(())
    } else {
        Err(ListError::Forbidden { needed: OWNER })
    }
}

const INBOX_IS_PRIVATE: ListError = ListError::Conflict {
    code: "inbox",
    message: "the Inbox cannot be shared, renamed or deleted",
};

/// [`ListError::SessionRequired`] for a personal access token.
fn session_only(caller: &Caller) -> Result<(), ListError> {
    if caller.personal_access_token() {
        Err(ListError::SessionRequired)
    } else {
        Ok(())
    }
}

/// Every list the caller belongs to: the Inbox first, then by name.
pub fn all(ctx: &Ctx, caller: &Caller) -> Result<Vec<List>, ListError> {
    #[derive(Deserialize)]
    struct Answer {
        lists: Vec<List>,
    }
    let answer: Answer = fetch(
        ctx,
        caller,
        &[],
        &[(
            "lists",
            Json::Rows(concat!(
                "SELECT ",
                list_columns!(member_role!()),
                " FROM list_members m JOIN lists l ON l.id = m.list_id
                WHERE m.user_id = (SELECT id FROM auth)
                ORDER BY l.inbox DESC, lower(l.name), l.id"
            )),
        )],
        Vec::new(),
    )?;
    Ok(answer.lists)
}

#[derive(Deserialize)]
struct OneList {
    list: Option<List>,
}

fn the_list(answer: OneList) -> Result<List, ListError> {
    answer
        .list
        .ok_or_else(|| DbError::Decode("a lists statement answered no list".into()).into())
}

/// One list of the caller's.
pub fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<List, ListError> {
    let scope: Scope<OneList> = scoped(
        ctx,
        caller,
        id,
        &[],
        &[(
            "list",
            Json::Row(concat!(
                "SELECT ",
                list_columns!(member_role!()),
                " FROM list_members m JOIN lists l ON l.id = m.list_id
                WHERE m.user_id = (SELECT id FROM auth) AND l.id = $3::text::uuid"
            )),
        )],
        Vec::new(),
    )?;
    the_list(scope.result)
}

/// A new list, owned by the caller: [`ListError::LimitReached`] when the
/// caller already owns [`MAX_OWNED_LISTS`].
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    name: &ListName,
    color: Option<&Color>,
) -> Result<List, ListError> {
    create_with_id(ctx, caller, None, name, color)
}

/// [`create`], with the id a CalDAV client chose for it (MKCALENDAR);
/// [`ListError::Conflict`] when a list already has that id.
pub fn create_with_id(
    ctx: &Ctx,
    caller: &Caller,
    id: Option<Uuid>,
    name: &ListName,
    color: Option<&Color>,
) -> Result<List, ListError> {
    #[derive(Deserialize)]
    struct Created {
        list: Option<List>,
        taken: bool,
    }
    let answer: Created = fetch(
        ctx,
        caller,
        &[
            "taken AS (SELECT EXISTS (SELECT FROM lists WHERE id = $7::text::uuid) AS yes)",
            "owner AS (
                UPDATE users u SET owned_lists = u.owned_lists + 1
                WHERE u.id = (SELECT id FROM auth) AND u.owned_lists < $6::int8
                  AND NOT (SELECT yes FROM taken)
                RETURNING u.id)",
            "l AS (
                INSERT INTO lists (id, owner_id, name, color, created_at, updated_at)
                SELECT COALESCE($7::text::uuid, gen_random_uuid()), id, $3::text, $4::text,
                       $5::text::timestamptz, $5::text::timestamptz
                FROM owner
                RETURNING *)",
            "m AS (
                INSERT INTO list_members (list_id, user_id, role, joined_at)
                SELECT id, owner_id, 'editor', created_at FROM l)",
            concat!("ev AS (", list_event!("list.created", "l"), ")"),
        ],
        &[
            (
                "list",
                Json::Row(concat!("SELECT ", list_columns!("'owner'"), " FROM l")),
            ),
            ("taken", Json::Value("(SELECT yes FROM taken)")),
        ],
        vec![
            name.as_str().into(),
            color.map(Color::as_str).into(),
            ctx.clock.now().into(),
            MAX_OWNED_LISTS.into(),
            id.into(),
        ],
    )?;
    match answer.list {
        Some(list) => Ok(list),
        None if answer.taken => Err(ListError::Conflict {
            code: "list_exists",
            message: "a list with this id exists",
        }),
        None => Err(ListError::LimitReached {
            what: "lists owned",
            limit: MAX_OWNED_LISTS,
        }),
    }
}

/// What a `PATCH` of a list changes; `None` leaves a field as it is, and
/// `color: Some(None)` removes the colour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListChanges {
    pub name: Option<ListName>,
    pub color: Option<Option<Color>>,
}

/// Renames or recolours a list (its owner only; the Inbox keeps its name).
pub fn update(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    changes: &ListChanges,
) -> Result<List, ListError> {
    let scope: Scope<OneList> = scoped(
        ctx,
        caller,
        id,
        &[
            "l AS (
            UPDATE lists l SET
                name = COALESCE($4::text, l.name),
                color = CASE WHEN $5::bool THEN $6::text ELSE l.color END,
                version = l.version + 1, change_seq = l.change_seq + 1,
                updated_at = $7::text::timestamptz
            WHERE l.id = $3::text::uuid AND l.owner_id = (SELECT id FROM auth)
              AND NOT (l.inbox AND $4::text IS NOT NULL)
            RETURNING l.*)",
            concat!("ev AS (", list_event!("list.updated", "l"), ")"),
        ],
        &[(
            "list",
            Json::Row(concat!("SELECT ", list_columns!("'owner'"), " FROM l")),
        )],
        vec![
            changes.name.as_ref().map(ListName::as_str).into(),
            changes.color.is_some().into(),
            changes
                .color
                .as_ref()
                .and_then(|c| c.as_ref().map(Color::as_str))
                .into(),
            ctx.clock.now().into(),
        ],
    )?;
    owner_only(&scope)?;
    if scope.inbox && changes.name.is_some() {
        return Err(INBOX_IS_PRIVATE);
    }
    the_list(scope.result)
}

/// Deletes a list and its todos (its owner only; never the Inbox). Each
/// todo leaves a tombstone at the list's last change number, so that every
/// member's sync sees it deleted, and its event.
pub fn delete(ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<(), ListError> {
    #[derive(Deserialize)]
    struct Answer {
        deleted: bool,
    }
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        id,
        &[
            "locked AS (
                SELECT l.* FROM lists l
                WHERE l.id = (SELECT id FROM membership) AND l.owner_id = (SELECT id FROM auth)
                  AND NOT l.inbox
                FOR UPDATE)",
            // The list's last change: its row goes, so nothing updates it.
            "last AS (
                SELECT l.id, l.name, l.color, l.owner_id, l.member_count,
                       l.change_seq + 1 AS change_seq
                FROM locked l)",
            "del AS (
                DELETE FROM todos t WHERE t.list_id = (SELECT id FROM last)
                RETURNING t.id, t.list_id, todo_fields(t) AS fields)",
            "counted AS (
                UPDATE users u SET todo_count = u.todo_count - (SELECT count(*) FROM del)::int,
                    owned_lists = u.owned_lists - 1
                WHERE u.id = (SELECT owner_id FROM last))",
            // The todos' tombstones, then the list's own event: one INSERT,
            // so that the events are in that order.
            concat!(
                "audit AS (
                INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq,
                                        after, list_id, actor_id)
                SELECT (SELECT id FROM auth), todo_id, action, changes, $4::text::timestamptz,
                       change_seq, after, list_id, (SELECT id FROM auth)
                FROM (
                    SELECT 0 AS ord, del.id AS todo_id, 'delete' AS action,
                           todo_changes(del.fields, '{}') AS changes, last.change_seq,
                           event_data(del.id, del.fields) AS after, del.list_id
                    FROM del, last
                    UNION ALL
                    SELECT 1, NULL, 'list.deleted', '{}', l.change_seq, ",
                list_data!(),
                ", l.id
                    FROM last l) AS e
                ORDER BY ord, todo_id)"
            ),
            "gone AS (DELETE FROM lists l WHERE l.id = (SELECT id FROM last) RETURNING l.id)",
        ],
        &[("deleted", Json::Value("EXISTS (SELECT FROM gone)"))],
        vec![ctx.clock.now().into()],
    )?;
    owner_only(&scope)?;
    if scope.inbox {
        return Err(INBOX_IS_PRIVATE);
    }
    if scope.result.deleted {
        Ok(())
    } else {
        Err(DbError::Decode("a list's deletion deleted nothing".into()).into())
    }
}

/// The members of a list, the owner first, then by name; for any member.
pub fn members(ctx: &Ctx, caller: &Caller, list: Uuid) -> Result<Vec<Member>, ListError> {
    #[derive(Deserialize)]
    struct Answer {
        members: Vec<Member>,
    }
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        list,
        &[],
        &[(
            "members",
            Json::Rows(concat!(
                "SELECT m.user_id, u.name, u.email, ",
                member_role!(),
                " AS role
                FROM list_members m JOIN lists l ON l.id = m.list_id JOIN users u ON u.id = m.user_id
                WHERE m.list_id = (SELECT id FROM membership)
                ORDER BY l.owner_id = m.user_id DESC, lower(u.name), u.email"
            )),
        )],
        Vec::new(),
    )?;
    Ok(scope.result.members)
}

#[derive(Deserialize)]
struct MemberAnswer {
    /// The member before the change, if there is one.
    target: Option<Member>,
    changed: Option<Member>,
}

/// Gives a member another role (the owner only, with a session). [`Role::Owner`] hands the
/// list over: the old owner becomes an editor.
pub fn set_role(
    ctx: &Ctx,
    caller: &Caller,
    list: Uuid,
    user: Uuid,
    role: Role,
) -> Result<Member, ListError> {
    session_only(caller)?;
    // Locked first, so that a concurrent hand-over is seen as committed.
    const LOCKED: &str = "locked AS (
        SELECT l.id, l.owner_id FROM lists l
        WHERE l.id = (SELECT id FROM membership) AND l.owner_id = (SELECT id FROM auth)
        FOR UPDATE)";
    const TARGET: &str = "target AS (
        SELECT m.user_id, u.name, u.email, m.role, m.user_id = l.owner_id AS owns
        FROM locked l JOIN list_members m ON m.list_id = l.id JOIN users u ON u.id = m.user_id
        WHERE m.user_id = $4::text::uuid)";
    // `$4` the member, `$5` the role; a hand-over also `$6` and `$7`.
    let mut params = vec![user.into(), role.as_str().into()];
    let ctes: &[&str] = if role == Role::Owner {
        params.extend([MAX_OWNED_LISTS.into(), ctx.clock.now().into()]);
        &[
            LOCKED,
            TARGET,
            // The new owner's count of owned lists, within its limit.
            "heir AS (
                UPDATE users u SET owned_lists = u.owned_lists + 1
                WHERE u.id = (SELECT user_id FROM target WHERE NOT owns)
                  AND u.owned_lists < $6::int8
                RETURNING u.id)",
            "handed AS (
                UPDATE lists l SET owner_id = (SELECT id FROM heir),
                    version = l.version + 1, change_seq = l.change_seq + 1,
                    updated_at = $7::text::timestamptz
                WHERE l.id = (SELECT id FROM locked) AND EXISTS (SELECT FROM heir)
                RETURNING l.*)",
            "heir_row AS (
                UPDATE list_members m SET role = 'editor'
                WHERE m.list_id = (SELECT id FROM handed) AND m.user_id = (SELECT id FROM heir))",
            "former AS (
                UPDATE users u SET owned_lists = u.owned_lists - 1
                WHERE u.id = (SELECT id FROM auth) AND EXISTS (SELECT FROM handed))",
            concat!("ev AS (", list_event!("list.updated", "handed"), ")"),
        ]
    } else {
        &[
            LOCKED,
            TARGET,
            "handed AS (
                UPDATE list_members m SET role = $5::text
                WHERE m.list_id = (SELECT id FROM locked)
                  AND m.user_id = (SELECT user_id FROM target WHERE NOT owns)
                RETURNING m.list_id)",
            // Every member's sync hears of it (the member's role is theirs).
            "bumped AS (
                UPDATE lists l SET version = l.version + 1, change_seq = l.change_seq + 1
                WHERE l.id = (SELECT list_id FROM handed)
                RETURNING l.*)",
            concat!(
                "ev AS (",
                list_event!(
                    "list.updated",
                    "bumped",
                    "jsonb_build_object('member', jsonb_build_object(
                        'user_id', $4::text::uuid, 'role', $5::text))"
                ),
                ")"
            ),
        ]
    };
    let scope: Scope<MemberAnswer> = scoped(
        ctx,
        caller,
        list,
        ctes,
        &[
            (
                "target",
                Json::Row(
                    "SELECT user_id, name, email,
                        CASE WHEN owns THEN 'owner' ELSE role END AS role FROM target",
                ),
            ),
            (
                "changed",
                Json::Row(
                    "SELECT user_id, name, email, $5::text AS role
                    FROM target WHERE EXISTS (SELECT FROM handed)",
                ),
            ),
        ],
        params,
    )?;
    owner_only(&scope)?;
    let answer = scope.result;
    let target = answer.target.ok_or(ListError::NotFound)?;
    if let Some(changed) = answer.changed {
        return Ok(changed);
    }
    match (target.role, role) {
        (Role::Owner, Role::Owner) => Ok(target),
        (Role::Owner, _) => Err(ListError::Conflict {
            code: "owner_must_hand_over",
            message: "the owner keeps the owner role until handing the list over to another member",
        }),
        (_, Role::Owner) => Err(ListError::LimitReached {
            what: "lists owned by the new owner",
            limit: MAX_OWNED_LISTS,
        }),
        _ => Err(DbError::Decode("a role change changed nothing".into()).into()),
    }
}

/// Removes a member: the owner removes anyone else, and a member removes
/// themself (leaves). The owner leaves only after handing the list over.
pub fn remove_member(ctx: &Ctx, caller: &Caller, list: Uuid, user: Uuid) -> Result<(), ListError> {
    #[derive(Deserialize)]
    struct Answer {
        target_exists: bool,
        target_owns: bool,
        removed: bool,
    }
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        list,
        &[
            "locked AS (
                SELECT l.id, l.owner_id FROM lists l
                WHERE l.id = (SELECT id FROM membership) FOR UPDATE)",
            "gone AS (
                DELETE FROM list_members m USING locked l
                WHERE m.list_id = l.id AND m.user_id = $4::text::uuid
                  AND m.user_id <> l.owner_id
                  AND (l.owner_id = (SELECT id FROM auth) OR m.user_id = (SELECT id FROM auth))
                RETURNING m.list_id)",
            "counted AS (
                UPDATE lists l SET member_count = l.member_count - 1,
                    change_seq = l.change_seq + 1
                WHERE l.id = (SELECT list_id FROM gone)
                RETURNING l.*)",
            // Whoever leaves is unassigned from the list's todos.
            "assigned AS (
                SELECT t.id, todo_fields(t) AS old_fields FROM todos t
                WHERE t.list_id = (SELECT id FROM locked) AND t.assignee_id = $4::text::uuid
                FOR UPDATE)",
            "unassigned AS (
                UPDATE todos t SET assignee_id = NULL, version = t.version + 1,
                    updated_at = $5::text::timestamptz,
                    change_seq = (SELECT change_seq FROM counted)
                FROM assigned a
                WHERE t.id = a.id AND EXISTS (SELECT FROM counted)
                RETURNING t.id, t.list_id, t.updated_at, t.change_seq, a.old_fields,
                          todo_fields(t) AS new_fields)",
            "audit AS (
                INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq,
                                        after, list_id, actor_id)
                SELECT (SELECT id FROM auth), id, 'update', todo_changes(old_fields, new_fields),
                       updated_at, change_seq, event_data(id, new_fields), list_id,
                       (SELECT id FROM auth)
                FROM unassigned)",
            concat!(
                "ev AS (",
                list_event!(
                    "list.member.removed",
                    "counted",
                    "jsonb_build_object('member', jsonb_build_object('user_id', $4::text::uuid))"
                ),
                ")"
            ),
        ],
        &[
            (
                "target_exists",
                Json::Value(
                    "EXISTS (SELECT FROM list_members m, locked l
                             WHERE m.list_id = l.id AND m.user_id = $4::text::uuid)",
                ),
            ),
            (
                "target_owns",
                Json::Value("EXISTS (SELECT FROM locked WHERE owner_id = $4::text::uuid)"),
            ),
            ("removed", Json::Value("EXISTS (SELECT FROM gone)")),
        ],
        vec![user.into(), ctx.clock.now().into()],
    )?;
    let answer = &scope.result;
    if answer.removed {
        Ok(())
    } else if !scope.owns && user != caller.user_id {
        Err(ListError::Forbidden { needed: OWNER })
    } else if !answer.target_exists {
        Err(ListError::NotFound)
    } else if answer.target_owns {
        Err(ListError::Conflict {
            code: "owner_must_hand_over",
            message: "the owner leaves a list only after handing it over to another member",
        })
    } else {
        Err(DbError::Decode("a member's removal removed nothing".into()).into())
    }
}

/// Invites an email to a list (the owner only), whether or not it has an
/// account: the answer is the same either way.
pub fn invite(
    ctx: &Ctx,
    caller: &Caller,
    list: Uuid,
    email: &Email,
    role: InvitedRole,
) -> Result<SentInvitation, ListError> {
    session_only(caller)?;
    #[derive(Deserialize)]
    struct Answer {
        invitation: Option<SentInvitation>,
        already_member: bool,
        list_full: bool,
        day_full: bool,
    }
    let now = ctx.clock.now();
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        list,
        &[
            "locked AS (
                SELECT l.id, l.invitation_count FROM lists l
                WHERE l.id = (SELECT id FROM membership) AND l.owner_id = (SELECT id FROM auth)
                  AND NOT l.inbox
                FOR UPDATE)",
            // The inviter's invitations in the current 24 hours.
            "quota AS (
                SELECT u.id, CASE WHEN u.invitations_since > $7::text::timestamptz
                                  THEN u.invitations_sent ELSE 0 END AS sent
                FROM users u WHERE u.id = (SELECT id FROM auth) AND EXISTS (SELECT FROM locked)
                FOR UPDATE)",
            "member AS (
                SELECT FROM list_members m JOIN users u ON u.id = m.user_id
                WHERE m.list_id = (SELECT id FROM locked) AND u.email = $4::text)",
            "ins AS (
                INSERT INTO list_invitations (list_id, email, role, inviter_id, created_at)
                SELECT l.id, $4::text, $5::text, q.id, $6::text::timestamptz
                FROM locked l, quota q
                WHERE l.invitation_count < $8::int8 AND q.sent < $9::int8
                  AND NOT EXISTS (SELECT FROM member)
                ON CONFLICT (list_id, email) DO NOTHING
                RETURNING id, email, role, 'pending' AS status, list_id)",
            "counted AS (
                UPDATE lists l SET invitation_count = l.invitation_count + 1
                WHERE l.id = (SELECT list_id FROM ins))",
            "spent AS (
                UPDATE users u SET
                    invitations_since = CASE WHEN u.invitations_since > $7::text::timestamptz
                                             THEN u.invitations_since
                                             ELSE $6::text::timestamptz END,
                    invitations_sent = (SELECT sent FROM quota) + 1
                WHERE u.id = (SELECT id FROM quota) AND EXISTS (SELECT FROM ins))",
        ],
        &[
            (
                "invitation",
                Json::Row("SELECT id, email, role, status FROM ins"),
            ),
            ("already_member", Json::Value("EXISTS (SELECT FROM member)")),
            (
                "list_full",
                Json::Value("COALESCE((SELECT invitation_count >= $8::int8 FROM locked), false)"),
            ),
            (
                "day_full",
                Json::Value("COALESCE((SELECT sent >= $9::int8 FROM quota), false)"),
            ),
        ],
        vec![
            email.as_str().into(),
            role.role().as_str().into(),
            now.into(),
            (now - Duration::hours(24)).into(),
            MAX_PENDING_INVITATIONS.into(),
            MAX_INVITATIONS_PER_DAY.into(),
        ],
    )?;
    owner_only(&scope)?;
    if scope.inbox {
        return Err(INBOX_IS_PRIVATE);
    }
    let answer = scope.result;
    if let Some(invitation) = answer.invitation {
        Ok(invitation)
    } else if answer.already_member {
        Err(ListError::Conflict {
            code: "already_member",
            message: "that email is already a member of the list",
        })
    } else if answer.list_full {
        Err(ListError::LimitReached {
            what: "pending invitations of a list",
            limit: MAX_PENDING_INVITATIONS,
        })
    } else if answer.day_full {
        Err(ListError::LimitReached {
            what: "invitations sent in 24 hours",
            limit: MAX_INVITATIONS_PER_DAY,
        })
    } else {
        // Nothing else stops an insert but a pending invitation to the email.
        Err(ListError::Conflict {
            code: "already_invited",
            message: "that email already has a pending invitation to the list",
        })
    }
}

/// The list's pending invitations, oldest first (the owner only).
pub fn sent(ctx: &Ctx, caller: &Caller, list: Uuid) -> Result<Vec<SentInvitation>, ListError> {
    #[derive(Deserialize)]
    struct Answer {
        invitations: Vec<SentInvitation>,
    }
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        list,
        &[],
        &[(
            "invitations",
            Json::Rows(
                "SELECT i.id, i.email, i.role, 'pending' AS status FROM list_invitations i
                WHERE i.list_id = (SELECT id FROM membership WHERE owns)
                ORDER BY i.created_at, i.id",
            ),
        )],
        Vec::new(),
    )?;
    owner_only(&scope)?;
    Ok(scope.result.invitations)
}

/// Counts off the pending invitation that a `gone` CTE deleted (returning
/// its `list_id`), if it deleted one.
const INVITATION_GONE: &str = "counted AS (
    UPDATE lists l SET invitation_count = l.invitation_count - 1
    WHERE l.id = (SELECT list_id FROM gone))";

/// Turns the list's secret calendar feed on with the digest of a new
/// token (replacing any earlier one), or off with `None`: the owner only,
/// with a session, since anyone with the feed's URL reads the list.
pub fn set_feed(
    ctx: &Ctx,
    caller: &Caller,
    list: Uuid,
    sha256: Option<&str>,
) -> Result<(), ListError> {
    #[derive(Deserialize)]
    struct Answer {}
    if caller.personal_access_token() {
        return Err(ListError::SessionRequired);
    }
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        list,
        &["feed AS (
            UPDATE lists l SET feed_sha256 = $4::text
            WHERE l.id = (SELECT id FROM membership WHERE owns))"],
        &[],
        vec![sha256.into()],
    )?;
    owner_only(&scope)
}

/// Withdraws a pending invitation (the owner only).
pub fn revoke(ctx: &Ctx, caller: &Caller, list: Uuid, invitation: Uuid) -> Result<(), ListError> {
    #[derive(Deserialize)]
    struct Answer {
        revoked: bool,
    }
    let scope: Scope<Answer> = scoped(
        ctx,
        caller,
        list,
        &[
            "gone AS (
                DELETE FROM list_invitations i USING lists l
                WHERE i.id = $4::text::uuid AND i.list_id = (SELECT id FROM membership)
                  AND l.id = i.list_id AND l.owner_id = (SELECT id FROM auth)
                RETURNING i.list_id)",
            INVITATION_GONE,
        ],
        &[("revoked", Json::Value("EXISTS (SELECT FROM gone)"))],
        vec![invitation.into()],
    )?;
    owner_only(&scope)?;
    if scope.result.revoked {
        Ok(())
    } else {
        Err(ListError::NotFound)
    }
}

/// The caller's pending invitations, oldest first.
pub fn received(ctx: &Ctx, caller: &Caller) -> Result<Vec<ReceivedInvitation>, ListError> {
    #[derive(Deserialize)]
    struct Answer {
        invitations: Vec<ReceivedInvitation>,
    }
    let answer: Answer = fetch(
        ctx,
        caller,
        &[],
        &[(
            "invitations",
            Json::Rows(
                "SELECT i.id, json_build_object('id', l.id, 'name', l.name) AS list,
                        json_build_object('id', u.id, 'name', u.name) AS inviter, i.role
                FROM list_invitations i JOIN lists l ON l.id = i.list_id
                     JOIN users u ON u.id = i.inviter_id
                WHERE i.email = (SELECT email FROM auth)
                ORDER BY i.created_at, i.id",
            ),
        )],
        Vec::new(),
    )?;
    Ok(answer.invitations)
}

/// Accepts an invitation to the caller's email: the caller joins the list
/// with the invitation's role. It can be accepted once.
pub fn accept(ctx: &Ctx, caller: &Caller, invitation: Uuid) -> Result<List, ListError> {
    session_only(caller)?;
    #[derive(Deserialize)]
    struct Answer {
        found: bool,
        list: Option<List>,
    }
    let answer: Answer = fetch(
        ctx,
        caller,
        &[
            // Locked: a second accept waits for the first, then finds it gone.
            "inv AS (
                SELECT i.id, i.list_id, i.role FROM list_invitations i
                WHERE i.id = $3::text::uuid AND i.email = (SELECT email FROM auth)
                FOR UPDATE)",
            "locked AS (
                SELECT l.id, l.member_count FROM lists l
                WHERE l.id = (SELECT list_id FROM inv) FOR UPDATE)",
            "joined AS (
                INSERT INTO list_members (list_id, user_id, role, joined_at)
                SELECT l.id, (SELECT id FROM auth), inv.role, $4::text::timestamptz
                FROM locked l, inv WHERE l.member_count < $5::int8
                ON CONFLICT DO NOTHING
                RETURNING list_id)",
            "answered AS (
                DELETE FROM list_invitations WHERE id = (SELECT id FROM inv)
                  AND EXISTS (SELECT FROM locked WHERE member_count < $5::int8)
                RETURNING list_id)",
            "l AS (
                UPDATE lists l SET member_count = l.member_count + (SELECT count(*) FROM joined),
                    invitation_count = l.invitation_count - 1,
                    change_seq = l.change_seq + 1
                WHERE l.id = (SELECT list_id FROM answered)
                RETURNING l.*)",
            concat!(
                "ev AS (",
                list_event!(
                    "list.member.added",
                    "l",
                    "jsonb_build_object('member', jsonb_build_object(
                        'user_id', (SELECT id FROM auth), 'role', (SELECT role FROM inv)))"
                ),
                " WHERE EXISTS (SELECT FROM joined))"
            ),
        ],
        &[
            ("found", Json::Value("EXISTS (SELECT FROM inv)")),
            (
                "list",
                Json::Row(concat!(
                    "SELECT ",
                    list_columns!("(SELECT role FROM inv)"),
                    " FROM l"
                )),
            ),
        ],
        vec![
            invitation.into(),
            ctx.clock.now().into(),
            MAX_MEMBERS.into(),
        ],
    )?;
    match (answer.found, answer.list) {
        (false, _) => Err(ListError::NotFound),
        (true, Some(list)) => Ok(list),
        (true, None) => Err(ListError::LimitReached {
            what: "members of a list",
            limit: MAX_MEMBERS,
        }),
    }
}

/// Declines an invitation to the caller's email.
pub fn decline(ctx: &Ctx, caller: &Caller, invitation: Uuid) -> Result<(), ListError> {
    #[derive(Deserialize)]
    struct Answer {
        declined: bool,
    }
    let answer: Answer = fetch(
        ctx,
        caller,
        &[
            "gone AS (
                DELETE FROM list_invitations i
                WHERE i.id = $3::text::uuid AND i.email = (SELECT email FROM auth)
                RETURNING i.list_id)",
            INVITATION_GONE,
        ],
        &[("declined", Json::Value("EXISTS (SELECT FROM gone)"))],
        vec![invitation.into()],
    )?;
    if answer.declined {
        Ok(())
    } else {
        Err(ListError::NotFound)
    }
}
