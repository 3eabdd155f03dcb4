//! The query string of `GET /api/todos`: filters, sort order, page size and
//! the keyset cursor. Every bad value is reported under its parameter's name.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::domain::{parse_timestamp, Priority, Tags};
use crate::error::{FieldErrors, Fields};
use crate::sealed;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;
const MAX_SEARCH_CHARS: usize = 200;

/// Which todos by completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    All,
    Open,
    Done,
}

impl Status {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "all" => Ok(Status::All),
            "open" => Ok(Status::Open),
            "done" => Ok(Status::Done),
            _ => Err("must be one of open, done, all".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    DueAt,
    Priority,
    Title,
}

impl SortField {
    fn name(self) -> &'static str {
        match self {
            SortField::CreatedAt => "created_at",
            SortField::DueAt => "due_at",
            SortField::Priority => "priority",
            SortField::Title => "title",
        }
    }
}

/// `sort=`: a field, `-` prefixed for descending. `priority` puts urgent
/// first (and `-priority` low first); todos without a due date come last
/// for both `due_at` and `-due_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Self {
            field: SortField::CreatedAt,
            descending: true,
        }
    }
}

impl Sort {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let field = [
            SortField::CreatedAt,
            SortField::DueAt,
            SortField::Priority,
            SortField::Title,
        ]
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or("must be one of created_at, due_at, priority, title, optionally prefixed with -")?;
        Ok(Self { field, descending })
    }

    pub fn as_param(self) -> String {
        format!(
            "{}{}",
            if self.descending { "-" } else { "" },
            self.field.name()
        )
    }
}

/// Where the previous page ended: the sort keys and id of its last todo,
/// bound to one sort order. Clients see it sealed ([`crate::sealed`]): the
/// keys (a lowercased title, say) are neither readable nor forgeable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "k")]
    pub keys: Vec<String>,
    #[serde(rename = "i")]
    pub id: Uuid,
}

const CURSOR_PURPOSE: &str = "list cursor";

impl Cursor {
    /// The opaque `next_cursor` a client gets.
    pub fn seal(&self, secret: &[u8]) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        sealed::seal(secret, CURSOR_PURPOSE, &json)
    }

    /// Opens a cursor sealed for `sort` with the same secret. Its keys are
    /// checked again (the SQL casts them), in case the secret ever leaked.
    pub fn open(raw: &str, secret: &[u8], sort: Sort) -> Result<Self, String> {
        let invalid = || "is not a cursor this API handed out".to_owned();
        let json = sealed::open(secret, CURSOR_PURPOSE, raw).ok_or_else(invalid)?;
        let cursor: Cursor = serde_json::from_slice(&json).map_err(|_| invalid())?;
        if cursor.sort != sort.as_param() {
            return Err(format!(
                "belongs to sort={}, not sort={}",
                cursor.sort,
                sort.as_param()
            ));
        }
        let timestamp = |k: &String| DateTime::parse_from_rfc3339(k).is_ok();
        let keys_ok = match (sort.field, cursor.keys.as_slice()) {
            (SortField::CreatedAt, [t]) => timestamp(t),
            (SortField::DueAt, [due, t]) => {
                (due == "infinity" || due == "-infinity" || timestamp(due)) && timestamp(t)
            }
            (SortField::Priority, [p, t]) => {
                p.parse::<i64>()
                    .ok()
                    .and_then(Priority::from_rank)
                    .is_some()
                    && timestamp(t)
            }
            (SortField::Title, [title, t]) => !title.contains('\0') && timestamp(t),
            _ => false,
        };
        if keys_ok {
            Ok(cursor)
        } else {
            Err(invalid())
        }
    }
}

/// `GET /api/todos/{id}/history?limit=&cursor=`: a page of a todo's trail,
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub limit: i64,
    /// `next_cursor` of the previous page, opened by the store.
    pub cursor: Option<String>,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl HistoryQuery {
    /// Parses a URL query string (without the `?`).
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        Self::from_params(url_params(query))
    }

    /// The query from decoded `(name, value)` pairs: the URL's parameters,
    /// or the MCP `task_history` tool's arguments, checked by the same rules.
    pub fn from_params(
        params: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, FieldErrors> {
        let mut fields = Fields::default();
        let mut parsed = HistoryQuery::default();
        for (name, value) in known_params(params, &["limit", "cursor"], &mut fields) {
            if name == "limit" {
                if let Some(limit) = fields.take("limit", parse_limit(&value)) {
                    parsed.limit = limit;
                }
            } else {
                parsed.cursor = Some(value);
            }
        }
        if fields.is_empty() {
            Ok(parsed)
        } else {
            Err(fields.into_error().fields.unwrap_or_default())
        }
    }
}

/// What `DELETE /api/todos` clears: `status=done` is required, so that a
/// bare DELETE never empties a list; `unchanged_since=<sync token>` keeps
/// the completed todos changed after what the client saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClearQuery {
    /// A sync token as the client sent it, opened by the store (which
    /// holds the key).
    pub unchanged_since: Option<String>,
    /// Only this list's completed todos; else those of every list the
    /// caller may change.
    pub list: Option<Uuid>,
}

impl ClearQuery {
    /// Parses a URL query string (without the `?`).
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut fields = Fields::default();
        let mut done = false;
        let mut parsed = ClearQuery::default();
        let known = ["status", "unchanged_since", "list"];
        for (name, value) in known_params(url_params(query), &known, &mut fields) {
            match name.as_str() {
                "status" => done = Status::parse(&value) == Ok(Status::Done),
                "list" => parsed.list = fields.take("list", parse_list_id(&value)),
                _ => parsed.unchanged_since = Some(value),
            }
        }
        if !done {
            fields.add(
                "status",
                "must be done: DELETE /api/todos?status=done deletes the completed todos",
            );
        }
        if fields.is_empty() {
            Ok(parsed)
        } else {
            Err(fields.into_error().fields.unwrap_or_default())
        }
    }
}

/// What `GET /api/todos/stats` counts: every list of the caller's, or
/// `list=<id>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsQuery {
    pub list: Option<Uuid>,
}

impl StatsQuery {
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut fields = Fields::default();
        let mut parsed = StatsQuery::default();
        for (_, value) in known_params(url_params(query), &["list"], &mut fields) {
            parsed.list = fields.take("list", parse_list_id(&value));
        }
        if fields.is_empty() {
            Ok(parsed)
        } else {
            Err(fields.into_error().fields.unwrap_or_default())
        }
    }
}

/// The pairs of `params` whose name is one of `known`, each name at most
/// once; an unknown or repeated parameter is a field error (a typo must not
/// silently widen a query).
fn known_params(
    params: impl IntoIterator<Item = (String, String)>,
    known: &[&str],
    fields: &mut Fields,
) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in params {
        if !known.contains(&name.as_str()) {
            fields.add(&name, "unknown parameter");
        } else if kept.iter().any(|(n, _)| *n == name) {
            fields.add(&name, "given more than once");
        } else {
            kept.push((name, value));
        }
    }
    kept
}

/// A URL query string's parameters, decoded.
fn url_params(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(query.as_bytes()).map(|(n, v)| (n.into_owned(), v.into_owned()))
}

fn parse_limit(raw: &str) -> Result<i64, String> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {MAX_LIMIT}"))
}

/// The `q=` search: trimmed, at most 200 characters, no NUL; `None` when
/// empty (no search).
pub fn parse_search(raw: &str) -> Result<Option<String>, String> {
    let text = raw.trim();
    if text.chars().count() > MAX_SEARCH_CHARS {
        Err(format!("must be at most {MAX_SEARCH_CHARS} characters"))
    } else if text.contains('\0') {
        Err("must not contain NUL characters".into())
    } else {
        Ok(Some(text.to_owned()).filter(|t| !t.is_empty()))
    }
}

/// Where a client stands in the changes of the lists it belongs to, handed
/// out as an opaque sync token (sealed: a forged token could name lists the
/// caller never belonged to). Each list numbers its own changes; a list the
/// token does not name is new to the client and arrives whole, and a list
/// it names that the caller no longer belongs to is gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncToken {
    pub positions: Vec<ListPosition>,
}

/// A position in one list's changes: everything after change number `seq`
/// (`after: None`), or, within change `seq`, after one of its todos or
/// tombstones (one change, such as deleting a list, may touch more todos
/// than a page holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPosition {
    /// `None`: the caller's Inbox, from a token handed out before lists.
    pub list: Option<Uuid>,
    pub seq: i64,
    pub after: Option<(ChangeKind, Uuid)>,
}

/// What a change left behind: a todo as it is now, the id of a deleted
/// one, or a reminder that went off. Within one change, todos come before
/// tombstones, and tombstones before reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Todo = 0,
    Deleted = 1,
    Reminder = 2,
}

impl ChangeKind {
    /// The kind a statement numbers `n` (3: none, the end of a change).
    pub fn from_index(n: i64) -> Option<Self> {
        u8::try_from(n).ok().and_then(Self::from_byte)
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Todo),
            1 => Some(Self::Deleted),
            2 => Some(Self::Reminder),
            _ => None,
        }
    }
}

const SYNC_TOKEN: &str = "sync token";
const NOT_A_TOKEN: &str = "is not a sync token this API handed out";

impl SyncToken {
    /// A token from before lists: 16 hex digits of the user's change
    /// number, then for a position inside a change its kind digit and the
    /// todo id's 32 hex digits. Every todo was in the Inbox then, whose
    /// change numbers continue the user's.
    fn legacy(raw: &str) -> Option<Self> {
        let seq = raw
            .get(..16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .and_then(|seq| i64::try_from(seq).ok())?;
        let after = match raw.get(16..)? {
            "" => None,
            rest if rest.len() == 33 => {
                let kind = rest
                    .get(..1)
                    .and_then(|d| d.parse::<u8>().ok())
                    .and_then(ChangeKind::from_byte)?;
                Some((kind, Uuid::try_parse(rest.get(1..)?).ok()?))
            }
            _ => return None,
        };
        Some(Self {
            positions: vec![ListPosition {
                list: None,
                seq,
                after,
            }],
        })
    }

    /// The token as a client hands it back: sealed with `secret`, the same
    /// bytes for the same positions (a long-poll tells news by a new token).
    pub fn seal(&self, secret: &[u8]) -> String {
        let mut bytes = vec![1u8];
        for p in &self.positions {
            let flags = u8::from(p.list.is_some()) | (u8::from(p.after.is_some()) << 1);
            bytes.push(flags);
            if let Some(list) = p.list {
                bytes.extend(list.as_bytes());
            }
            bytes.extend(p.seq.to_be_bytes());
            if let Some((kind, id)) = p.after {
                bytes.push(kind as u8);
                bytes.extend(id.as_bytes());
            }
        }
        sealed::seal_stable(secret, SYNC_TOKEN, &bytes)
    }

    /// A token this app handed out (or one from before lists).
    pub fn open(raw: &str, secret: &[u8]) -> Result<Self, String> {
        if let Some(token) = Self::legacy(raw) {
            return Ok(token);
        }
        let bytes = sealed::open(secret, SYNC_TOKEN, raw).ok_or(NOT_A_TOKEN)?;
        Self::from_bytes(&bytes).ok_or_else(|| NOT_A_TOKEN.to_owned())
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
            *rest = tail;
            Some(head)
        }
        let (&version, mut rest) = bytes.split_first()?;
        if version != 1 {
            return None;
        }
        let mut positions = Vec::new();
        while let Some((&flags, tail)) = rest.split_first() {
            rest = tail;
            let list = if flags & 1 == 1 {
                Some(Uuid::from_slice(take(&mut rest, 16)?).ok()?)
            } else {
                None
            };
            let seq = i64::from_be_bytes(take(&mut rest, 8)?.try_into().ok()?);
            let after = if flags & 2 == 2 {
                let kind = ChangeKind::from_byte(take(&mut rest, 1)?[0])?;
                Some((kind, Uuid::from_slice(take(&mut rest, 16)?).ok()?))
            } else {
                None
            };
            positions.push(ListPosition { list, seq, after });
        }
        Some(Self { positions })
    }
}

/// `wait=`: how long a sync may wait for a change before it answers that
/// there is none (a long-poll), in whole seconds from 1 to [`Wait::MAX_SECONDS`].
/// The longest wait stays well under the read timeouts of common proxies
/// (60 s for nginx), so a waiting request is never cut off on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(u8);

impl Wait {
    pub const MAX_SECONDS: u8 = 25;

    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse::<u8>()
            .ok()
            .filter(|s| (1..=Self::MAX_SECONDS).contains(s))
            .map(Wait)
            .ok_or_else(|| {
                format!(
                    "must be a whole number of seconds from 1 to {}",
                    Self::MAX_SECONDS
                )
            })
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

/// `assignee=`: `me`, `none` or a member's user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Me,
    Nobody,
    User(Uuid),
}

impl Assignee {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "me" => Ok(Self::Me),
            "none" => Ok(Self::Nobody),
            _ => parse_list_id(raw)
                .map(Self::User)
                .map_err(|_| "must be me, none or a user id".into()),
        }
    }
}

/// A list (or user) id in a query: a plain hyphenated UUID.
pub fn parse_list_id(raw: &str) -> Result<Uuid, String> {
    super::domain::parse_todo_id(raw).ok_or_else(|| "must be an id (a UUID)".into())
}

/// A parsed list query. `Default` is "everything, newest first, 50 a page".
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub status: Status,
    /// Any of these priorities; empty means all.
    pub priorities: Vec<Priority>,
    pub tag: Option<String>,
    /// Case-insensitive substring of title or description.
    pub q: Option<String>,
    /// `due_at < due_before`.
    pub due_before: Option<DateTime<Utc>>,
    /// `due_at > due_after`.
    pub due_after: Option<DateTime<Utc>>,
    /// `Some(true)`: only open todos past their due date; `Some(false)`: none of those.
    pub overdue: Option<bool>,
    /// Delta sync: only todos changed after this time, and the ids of todos
    /// deleted after it.
    pub updated_since: Option<DateTime<Utc>>,
    /// Only the todos of this list (the caller must be a member).
    pub list: Option<Uuid>,
    /// Only the todos assigned to this member, or to nobody.
    pub assignee: Option<Assignee>,
    /// Sync: every change after this token (as the client sent it; the
    /// store opens it) instead of a filtered list (only `limit` and `wait`
    /// may go with it).
    pub since: Option<String>,
    /// With `since`: wait this long for a change when there is none yet.
    pub wait: Option<Wait>,
    pub sort: Sort,
    pub limit: i64,
    /// `next_cursor` of the previous page, as the client sent it: opened by
    /// the list, which holds the key (a bad one is a 400 there).
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: Status::All,
            priorities: Vec::new(),
            tag: None,
            q: None,
            due_before: None,
            due_after: None,
            overdue: None,
            updated_since: None,
            list: None,
            assignee: None,
            since: None,
            wait: None,
            sort: Sort::default(),
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// The parameters of a list; [`SYNC_PARAMS`] ask for changes instead of a page.
pub const PARAMS: [&str; 15] = [
    "since",
    "list",
    "assignee",
    "wait",
    "status",
    "priority",
    "tag",
    "q",
    "due_before",
    "due_after",
    "overdue",
    "updated_since",
    "sort",
    "limit",
    "cursor",
];

pub const SYNC_PARAMS: [&str; 3] = ["since", "wait", "updated_since"];

impl ListQuery {
    /// Parses a URL query string (without the `?`). Unknown or repeated
    /// parameters are errors too: a typo must not silently widen the list.
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        Self::from_params(url_params(query))
    }

    /// The query from decoded `(name, value)` pairs: the URL's parameters,
    /// or the MCP `list_tasks` tool's arguments, checked by the same rules.
    pub fn from_params(
        params: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, FieldErrors> {
        let mut fields = Fields::default();
        let raw = known_params(params, &PARAMS, &mut fields);
        let get = |name: &str| raw.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());

        let mut query = ListQuery::default();
        if let Some(v) = get("status") {
            query.status = fields.take("status", Status::parse(v)).unwrap_or_default();
        }
        if let Some(v) = get("priority") {
            let parsed = v
                .split(',')
                .map(Priority::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    "must be low, medium, high or urgent, or a comma-separated list of them"
                        .to_owned()
                });
            query.priorities = fields.take("priority", parsed).unwrap_or_default();
        }
        if let Some(v) = get("tag") {
            query.tag = fields.take("tag", Tags::parse_one(v));
        }
        if let Some(v) = get("q") {
            query.q = fields.take("q", parse_search(v)).flatten();
        }
        for (name, slot) in [
            ("due_before", &mut query.due_before),
            ("due_after", &mut query.due_after),
            ("updated_since", &mut query.updated_since),
        ] {
            if let Some(v) = get(name) {
                *slot = fields.take(name, parse_timestamp(v));
            }
        }
        if let Some(v) = get("overdue") {
            let parsed = match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("must be true or false".to_owned()),
            };
            query.overdue = fields.take("overdue", parsed);
        }
        if let Some(v) = get("sort") {
            query.sort = fields.take("sort", Sort::parse(v)).unwrap_or_default();
        }
        if let Some(v) = get("limit") {
            query.limit = fields
                .take("limit", parse_limit(v))
                .unwrap_or(DEFAULT_LIMIT);
        }
        if let Some(v) = get("list") {
            query.list = fields.take("list", parse_list_id(v));
        }
        if let Some(v) = get("assignee") {
            query.assignee = fields.take("assignee", Assignee::parse(v));
        }
        if let Some(v) = get("since") {
            query.since = (!v.is_empty()).then(|| v.to_owned());
            if v.is_empty() {
                fields.add("since", NOT_A_TOKEN);
            }
            if raw
                .iter()
                .any(|(name, _)| !["since", "limit", "wait"].contains(&name.as_str()))
            {
                fields.add(
                    "since",
                    "lists every change after the token: only limit and wait may go with it",
                );
            }
        }
        if let Some(v) = get("wait") {
            query.wait = fields.take("wait", Wait::parse(v));
            if get("since").is_none() {
                fields.add("wait", "waits for changes after a sync token: needs since");
            }
        }
        query.cursor = get("cursor").map(str::to_owned);
        if fields.is_empty() {
            Ok(query)
        } else {
            Err(fields.into_error().fields.unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_query_takes_a_limit_and_a_cursor_only() {
        assert_eq!(HistoryQuery::parse(""), Ok(HistoryQuery::default()));
        assert_eq!(
            HistoryQuery::parse("limit=2&cursor=abc"),
            Ok(HistoryQuery {
                limit: 2,
                cursor: Some("abc".into())
            })
        );
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=x", "limit"),
            ("since=1", "since"),
            ("limit=1&limit=2", "limit"),
        ] {
            let errors = HistoryQuery::parse(query).map_err(|f| f.into_keys().collect::<Vec<_>>());
            assert_eq!(errors, Err(vec![field.to_owned()]), "{query}");
        }
    }

    #[test]
    fn sync_tokens_round_trip_sealed_and_refuse_anything_else() {
        let secret = b"secret";
        let id = Uuid::from_u128(0xabc);
        let at = |list, seq, after| ListPosition { list, seq, after };
        for token in [
            SyncToken::default(),
            SyncToken {
                positions: vec![at(Some(id), i64::MAX, None)],
            },
            SyncToken {
                positions: vec![
                    at(Some(id), 42, Some((ChangeKind::Deleted, id))),
                    at(Some(Uuid::from_u128(1)), 7, None),
                    at(None, 9, Some((ChangeKind::Reminder, id))),
                ],
            },
        ] {
            let sealed = token.seal(secret);
            // The same positions seal to the same text.
            assert_eq!(token.seal(secret), sealed);
            assert_eq!(SyncToken::open(&sealed, secret), Ok(token));
            assert!(SyncToken::open(&sealed, b"other").is_err());
        }
        // A token from before lists is the Inbox's position.
        let legacy = |seq, after| SyncToken {
            positions: vec![at(None, seq, after)],
        };
        assert_eq!(
            SyncToken::open("0000000000000005", secret),
            Ok(legacy(5, None))
        );
        let old = format!("000000000000002a1{}", id.simple());
        assert_eq!(
            SyncToken::open(&old, secret),
            Ok(legacy(42, Some((ChangeKind::Deleted, id))))
        );
        let good = "0000000000000005";
        for bad in [
            "",
            "xyz",
            &good[..15],
            "ffffffffffffffff",
            &format!("{good}3{}", id.simple()),
            &format!("{good}0{}", "z".repeat(32)),
            &format!("{good}0"),
        ] {
            assert!(SyncToken::open(bad, secret).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("since=0000000000000003&limit=5").map(|q| q.since),
            Ok(Some("0000000000000003".to_owned()))
        );
        assert_eq!(
            parse("since=0000000000000003&status=open"),
            Err(vec!["since".to_owned()])
        );
    }

    #[test]
    fn a_list_and_an_assignee_filter_take_ids_me_or_none() {
        let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let q = parse(&format!("list={id}&assignee=me")).unwrap_or_default();
        assert_eq!(q.list.map(|l| l.to_string()), Some(id.to_owned()));
        assert_eq!(q.assignee, Some(Assignee::Me));
        assert_eq!(
            parse("assignee=none").map(|q| q.assignee),
            Ok(Some(Assignee::Nobody))
        );
        assert_eq!(
            parse(&format!("assignee={id}")).map(|q| q.assignee),
            Ok(Some(Assignee::User(
                Uuid::parse_str(id).unwrap_or_default()
            )))
        );
        for (bad, field) in [("list=x", "list"), ("assignee=you", "assignee")] {
            assert_eq!(parse(bad).map(|_| ()), Err(vec![field.to_owned()]), "{bad}");
        }
    }

    #[test]
    fn a_wait_goes_with_since_only_and_lasts_1_to_25_seconds() {
        let since = "since=0000000000000003";
        let wait = |q: &str| parse(q).map(|q| q.wait.map(Wait::duration));
        assert_eq!(wait(since), Ok(None));
        for (raw, seconds) in [("1", 1), ("25", 25), ("07", 7)] {
            let q = format!("{since}&wait={raw}&limit=5");
            assert_eq!(wait(&q), Ok(Some(Duration::from_secs(seconds))), "{q}");
        }
        for bad in ["0", "26", "-1", "1.5", "", "x", "256"] {
            let q = format!("{since}&wait={bad}");
            assert_eq!(wait(&q), Err(vec!["wait".to_owned()]), "{q}");
        }
        for (q, fields) in [
            ("wait=5", vec!["wait"]),
            ("wait=5&status=open", vec!["wait"]),
            ("wait=5&updated_since=2026-01-01", vec!["wait"]),
            ("wait=5&since=", vec!["since"]),
            ("wait=5&since=0000000000000003&q=a", vec!["since"]),
        ] {
            let want = fields.into_iter().map(str::to_owned).collect();
            assert_eq!(parse(q).map(|_| ()), Err(want), "{q}");
        }
    }

    fn parse(q: &str) -> Result<ListQuery, Vec<String>> {
        ListQuery::parse(q).map_err(|f| f.into_keys().collect())
    }

    #[test]
    fn an_empty_query_lists_everything_newest_first() {
        assert_eq!(parse(""), Ok(ListQuery::default()));
        let q = ListQuery::default();
        assert_eq!(q.limit, 50);
        assert_eq!(q.sort.as_param(), "-created_at");
    }

    #[test]
    fn valid_parameters_are_parsed() {
        let q = parse(
            "status=open&priority=High,urgent&tag=%20Home&q=milk&due_before=2026-12-01\
             &due_after=2026-01-01T00:00:00%2B01:00&overdue=true&updated_since=2026-01-01T00:00:00Z\
             &sort=-due_at&limit=100",
        );
        let Ok(q) = q else {
            unreachable!("{q:?}");
        };
        assert_eq!(q.status, Status::Open);
        assert_eq!(q.priorities, vec![Priority::High, Priority::Urgent]);
        assert_eq!(q.tag.as_deref(), Some("home"));
        assert_eq!(q.q.as_deref(), Some("milk"));
        assert_eq!(
            q.due_before.map(|t| t.to_rfc3339()),
            Some("2026-12-01T00:00:00+00:00".into())
        );
        assert_eq!(
            q.due_after.map(|t| t.to_rfc3339()),
            Some("2025-12-31T23:00:00+00:00".into())
        );
        assert_eq!(q.overdue, Some(true));
        assert!(q.updated_since.is_some());
        assert_eq!(
            q.sort,
            Sort {
                field: SortField::DueAt,
                descending: true
            }
        );
        assert_eq!(q.limit, 100);
    }

    #[test]
    fn invalid_values_are_reported_under_the_parameter_name() {
        let cases = [
            ("status=finished", "status"),
            ("status=", "status"),
            ("priority=high,critical", "priority"),
            ("priority=", "priority"),
            ("tag=", "tag"),
            ("tag=a,b", "tag"),
            ("due_before=tomorrow", "due_before"),
            ("due_after=2026-02-30", "due_after"),
            ("overdue=yes", "overdue"),
            ("updated_since=0", "updated_since"),
            ("sort=name", "sort"),
            ("sort=--title", "sort"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=ten", "limit"),
            ("colour=red", "colour"),
            ("limit=5&limit=6", "limit"),
        ];
        for (query, param) in cases {
            assert_eq!(parse(query), Err(vec![param.to_owned()]), "{query}");
        }
        // An empty search is no search; a very long one is refused.
        assert_eq!(parse("q=").map(|q| q.q), Ok(None));
        let long = format!("q={}", "x".repeat(201));
        assert_eq!(parse(&long), Err(vec!["q".to_owned()]));
    }

    #[test]
    fn every_bad_parameter_is_named_at_once() {
        assert_eq!(
            parse("limit=0&sort=x&status=y"),
            Err(vec!["limit".into(), "sort".into(), "status".into()])
        );
    }

    #[test]
    fn sorts_parse_with_an_optional_minus() {
        let cases = [
            ("created_at", SortField::CreatedAt, false),
            ("-created_at", SortField::CreatedAt, true),
            ("due_at", SortField::DueAt, false),
            ("-priority", SortField::Priority, true),
            ("title", SortField::Title, false),
        ];
        for (raw, field, descending) in cases {
            let sort = Sort::parse(raw);
            assert_eq!(sort, Ok(Sort { field, descending }), "{raw}");
            assert_eq!(sort.map(Sort::as_param).as_deref(), Ok(raw));
        }
    }

    const SECRET: &[u8] = b"a secret of at least thirty-two bytes";

    #[test]
    fn a_cursor_round_trips_sealed_and_belongs_to_one_sort_order() {
        let sort = Sort::parse("title").unwrap_or_default();
        let cursor = Cursor {
            sort: sort.as_param(),
            keys: vec!["buy milk".into(), "2026-01-01T00:00:00.000000Z".into()],
            id: Uuid::new_v4(),
        };
        let sealed = cursor.seal(SECRET);
        assert!(!sealed.contains("milk"));
        assert_eq!(Cursor::open(&sealed, SECRET, sort), Ok(cursor.clone()));
        assert!(Cursor::open(&sealed, SECRET, Sort::default()).is_err());
        assert!(Cursor::open(&sealed, b"another secret", sort).is_err());
        let query = format!("sort=title&cursor={sealed}");
        assert_eq!(parse(&query).map(|q| q.cursor), Ok(Some(sealed)));
    }

    #[test]
    fn a_cursor_with_keys_that_do_not_fit_its_sort_is_refused_even_when_sealed() {
        let sort = Sort::default();
        let seal = |keys: Vec<&str>, sort: Sort| {
            Cursor {
                sort: sort.as_param(),
                keys: keys.into_iter().map(str::to_owned).collect(),
                id: Uuid::nil(),
            }
            .seal(SECRET)
        };
        let tampered = seal(vec!["yesterday'; drop table todos"], sort);
        assert!(Cursor::open(&tampered, SECRET, sort).is_err());
        assert!(Cursor::open(&seal(vec![], sort), SECRET, sort).is_err());
        let title = Sort::parse("title").unwrap_or_default();
        let nul = seal(vec!["a\u{0}", "2026-01-01T00:00:00Z"], title);
        assert!(Cursor::open(&nul, SECRET, title).is_err());
        let due = Sort::parse("due_at").unwrap_or_default();
        let infinity = seal(vec!["infinity", "2026-01-01T00:00:00.000000Z"], due);
        assert!(Cursor::open(&infinity, SECRET, due).is_ok());
    }
}
