//! What a todo is made of. Each input type can only hold a valid value: raw
//! request data goes through `parse` once, and the rest of the code trusts it.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rrule::RRule;

/// Most todos one user may hold; the next create answers 409 `limit_reached`.
pub const MAX_TODOS_PER_USER: i64 = 10_000;

/// A todo as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Todo {
    pub id: Uuid,
    /// The list the todo belongs to.
    pub list_id: Uuid,
    /// The member the todo is assigned to, if any.
    pub assignee_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub completed: bool,
    #[serde(default, with = "crate::stamp::option")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::stamp::option")]
    pub due_at: Option<DateTime<Utc>>,
    /// Whether `due_at` is a day rather than a time: then it is that day's
    /// 00:00 UTC (a CalDAV `DUE;VALUE=DATE`).
    pub due_all_day: bool,
    /// When to be reminded; without it, the owner's default lead time
    /// before `due_at` (see `crate::reminders`).
    #[serde(default, with = "crate::stamp::option")]
    pub remind_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub recurrence: Recurrence,
    #[serde(with = "crate::stamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::stamp")]
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; the `ETag` of the todo.
    pub version: i64,
}

impl Todo {
    /// The strong `ETag` of this version of the todo, e.g. `"3"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Everything needed to create a todo (and, for PUT, to replace one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTodo {
    pub title: TodoTitle,
    pub description: Description,
    pub priority: Priority,
    pub due_at: Option<DueAt>,
    /// `due_at` is a day (see [`Todo::due_all_day`]).
    pub due_all_day: bool,
    pub remind_at: Option<DueAt>,
    pub tags: Tags,
    pub recurrence: Recurrence,
    /// `None`: the caller's Inbox (on a replace: the list it is in).
    pub list_id: Option<Uuid>,
    /// Must be a member of the list.
    pub assignee_id: Option<Uuid>,
    /// What a CalDAV client named the todo, when one created it.
    pub dav: Option<DavObject>,
}

/// A todo as a CalDAV client made it: the name of its resource in the
/// list's calendar, its UID and the calendar object it sent (see
/// `crate::dav`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObject {
    pub name: String,
    pub uid: String,
    pub ical: String,
}

impl NewTodo {
    /// A todo with this title and every other field at its default.
    pub fn new(title: TodoTitle) -> Self {
        Self {
            title,
            description: Description::default(),
            priority: Priority::default(),
            due_at: None,
            due_all_day: false,
            remind_at: None,
            tags: Tags::default(),
            recurrence: Recurrence::default(),
            list_id: None,
            assignee_id: None,
            dav: None,
        }
    }
}

/// A partial update: `None` leaves a field as it is. `due_at: Some(None)`
/// clears the due date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TodoChanges {
    pub title: Option<TodoTitle>,
    pub description: Option<Description>,
    pub priority: Option<Priority>,
    pub due_at: Option<Option<DueAt>>,
    /// Whether the due date is a day; a new `due_at` without it is a time.
    pub due_all_day: Option<bool>,
    pub remind_at: Option<Option<DueAt>>,
    /// Replaces all the tags (before `add_tags` and `remove_tags`).
    pub tags: Option<Tags>,
    /// Tags to add, keeping the others (for the chat's "tag it #home").
    pub add_tags: Option<Tags>,
    /// Tags to take off, keeping the others.
    pub remove_tags: Option<Tags>,
    pub recurrence: Option<Recurrence>,
    /// Moves the todo to this list (the editor role in both lists).
    pub list_id: Option<Uuid>,
    /// `Some(None)` unassigns.
    pub assignee_id: Option<Option<Uuid>>,
    /// The calendar object a CalDAV client sent (see [`DavObject::ical`]).
    pub ical: Option<String>,
}

impl From<NewTodo> for TodoChanges {
    /// A full replacement sets every field.
    fn from(new: NewTodo) -> Self {
        Self {
            title: Some(new.title),
            description: Some(new.description),
            priority: Some(new.priority),
            due_at: Some(new.due_at),
            due_all_day: Some(new.due_all_day),
            remind_at: Some(new.remind_at),
            tags: Some(new.tags),
            recurrence: Some(new.recurrence),
            list_id: new.list_id,
            assignee_id: Some(new.assignee_id),
            ical: new.dav.map(|d| d.ical),
            ..Self::default()
        }
    }
}

/// Whether a due date given with `due_all_day` is a day: it needs a due
/// date, at 00:00 UTC (the day's own date, whatever the time zone).
pub fn all_day_due(due_at: Option<DueAt>, all_day: bool) -> Result<bool, String> {
    match due_at {
        _ if !all_day => Ok(false),
        None => Err("an all-day due date needs a due_at".to_owned()),
        Some(due) if due.time().time() != chrono::NaiveTime::MIN => Err(
            "an all-day due date is a day: its due_at is that day at 00:00 UTC, like 2026-12-08T00:00:00Z"
                .to_owned(),
        ),
        Some(_) => Ok(true),
    }
}

/// A todo id from a URL. Anything that is not a UUID names no todo, so the
/// caller answers 404 rather than 400 (or a 500 from the database).
pub fn parse_todo_id(raw: &str) -> Option<Uuid> {
    // `Uuid::parse_str` also accepts braced and URN forms; only the plain
    // hyphenated form names a todo in our URLs.
    (raw.len() == 36)
        .then(|| Uuid::parse_str(raw).ok())
        .flatten()
}

fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// `raw` trimmed, when it is 1..=`max_chars` characters on one line (a
/// title, a list's name).
pub fn one_line(raw: &str, max_chars: usize) -> Result<&str, String> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        Err("must not be empty".into())
    } else if chars > max_chars {
        Err(format!(
            "must be at most {max_chars} characters (it has {chars})"
        ))
    } else if has_control_chars(text) {
        Err("must be one line without control characters".into())
    } else {
        Ok(text)
    }
}

/// 1..=200 characters after trimming, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoTitle(String);

impl TodoTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, String> {
        one_line(raw, Self::MAX_CHARS).map(|title| Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 2000 characters (after trimming); may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let chars = text.chars().count();
        if chars > Self::MAX_CHARS {
            Err(format!(
                "must be at most {} characters (it has {chars})",
                Self::MAX_CHARS
            ))
        } else if text.contains('\0') {
            Err("must not contain NUL characters".into())
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Stored as 0..=3 so that it sorts; answered as its lowercase name.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    /// Accepts any letter case (`High`, `URGENT`), surrounding blanks ignored.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lower = raw.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == lower)
            .ok_or_else(|| "must be one of low, medium, high, urgent".to_owned())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// The stored value (`todos.priority`).
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Medium => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.rank() == rank)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a todo repeats once completed: one of four words, or a rule of the
/// RRULE subset (see [`RRule`]), written `RRULE:FREQ=…` in the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Recurrence {
    #[default]
    None,
    Daily,
    Weekly,
    Monthly,
    Rule(RRule),
}

impl Recurrence {
    pub const WORDS: [Recurrence; 4] = [
        Recurrence::None,
        Recurrence::Daily,
        Recurrence::Weekly,
        Recurrence::Monthly,
    ];

    /// A word in any letter case, or a rule (`RRULE:` and the subset); a
    /// rule outside the subset is refused naming the part.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("RRULE:"))
        {
            return RRule::parse(raw).map(Recurrence::Rule);
        }
        let lower = raw.to_ascii_lowercase();
        Self::WORDS
            .into_iter()
            .find(|r| r.word() == Some(lower.as_str()))
            .ok_or_else(|| {
                "must be one of none, daily, weekly, monthly, or a rule such as \
                 RRULE:FREQ=WEEKLY;BYDAY=MO"
                    .to_owned()
            })
    }

    /// The word, for the four words.
    pub fn word(self) -> Option<&'static str> {
        match self {
            Recurrence::None => Some("none"),
            Recurrence::Daily => Some("daily"),
            Recurrence::Weekly => Some("weekly"),
            Recurrence::Monthly => Some("monthly"),
            Recurrence::Rule(_) => None,
        }
    }
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.word()) {
            (Recurrence::Rule(rule), _) => write!(f, "{rule}"),
            (_, Some(word)) => f.write_str(word),
            (_, None) => Ok(()),
        }
    }
}

impl Serialize for Recurrence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.word() {
            Some(word) => serializer.serialize_str(word),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Recurrence {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Recurrence::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Up to 10 tags, each 1..=32 characters after trimming, lowercased,
/// de-duplicated (first occurrence kept, order otherwise preserved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<String>);

impl Tags {
    pub const MAX_TAGS: usize = 10;
    pub const MAX_CHARS: usize = 32;

    /// Stops at the first bad tag or as soon as there are too many, so a
    /// huge list costs no more than its first few entries.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, String> {
        let mut tags: Vec<String> = Vec::with_capacity(Self::MAX_TAGS);
        for tag in raw {
            let tag = Self::parse_one(tag.as_ref())?;
            // At most MAX_TAGS to look through.
            if !tags.contains(&tag) {
                if tags.len() == Self::MAX_TAGS {
                    return Err(format!("at most {} different tags", Self::MAX_TAGS));
                }
                tags.push(tag);
            }
        }
        Ok(Self(tags))
    }

    /// One tag, as also used by the `tag=` filter of the list.
    pub fn parse_one(raw: &str) -> Result<String, String> {
        let tag = raw.trim().to_lowercase();
        let chars = tag.chars().count();
        if chars == 0 {
            Err("a tag must not be empty".into())
        } else if chars > Self::MAX_CHARS {
            Err(format!(
                "a tag must be at most {} characters ({tag:?} has {chars})",
                Self::MAX_CHARS
            ))
        } else if has_control_chars(&tag) || tag.contains(',') {
            Err(format!(
                "a tag must not contain commas or control characters ({tag:?})"
            ))
        } else {
            Ok(tag)
        }
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The tags as a JSON array, the form the SQL statements take them in.
    pub fn to_json(&self) -> String {
        serde_json::Value::from(self.0.clone()).to_string()
    }
}

/// A due date: RFC 3339 with an offset (answered in UTC), or a plain date
/// `YYYY-MM-DD`, meaning midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueAt(DateTime<Utc>);

impl DueAt {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_timestamp(raw).map(Self)
    }

    /// A due date at `time`, within the bounds every accepted time keeps.
    pub fn new(time: DateTime<Utc>) -> Result<Self, String> {
        bounded(time).map(Self)
    }

    pub fn time(self) -> DateTime<Utc> {
        self.0
    }
}

/// The earliest instant the API accepts: 1970-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The latest instant the API accepts, 9999-12-31T23:59:59.999999Z: every
/// accepted time round-trips through PostgreSQL and RFC 3339, and a
/// recurring todo never steps past it (its next occurrence is not created).
pub fn latest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

/// RFC 3339 (`2026-12-01T17:00:00Z`, `2026-12-01T18:00:00+01:00`) or a plain
/// date (midnight UTC), from 1970 to the end of 9999 in UTC. Used for
/// `due_at` and the time filters of the list.
pub fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    let time = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .filter(|_| raw.len() == 10)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
        .ok_or_else(|| {
            "must be an RFC 3339 date-time such as 2026-12-01T17:00:00Z, or a date such as 2026-12-01"
                .to_owned()
        })?;
    bounded(time)
}

/// `time` if it lies from [`EARLIEST`] to [`latest`].
pub fn bounded(time: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if (EARLIEST..=latest()).contains(&time) {
        Ok(time)
    } else {
        Err("must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_limited_to_200_characters() {
        let long = "a".repeat(200);
        let too_long = "é".repeat(201);
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("Buy milk", Ok("Buy milk")),
            ("  Buy milk \t", Ok("Buy milk")),
            (&long, Ok(&long)),
            ("", Err("must not be empty")),
            ("   \n ", Err("must not be empty")),
            (
                &too_long,
                Err("must be at most 200 characters (it has 201)"),
            ),
            (
                "two\nlines",
                Err("must be one line without control characters"),
            ),
        ];
        for (raw, want) in cases {
            let got = TodoTitle::parse(raw);
            match want {
                Ok(title) => assert_eq!(got.as_ref().map(TodoTitle::as_str), Ok(*title), "{raw:?}"),
                Err(msg) => assert_eq!(got, Err((*msg).to_owned()), "{raw:?}"),
            }
        }
    }

    #[test]
    fn a_title_counts_characters_not_bytes() {
        assert!(TodoTitle::parse(&"ü".repeat(200)).is_ok());
    }

    #[test]
    fn descriptions_may_be_empty_and_hold_up_to_2000_characters() {
        let cases: &[(String, bool)] = &[
            (String::new(), true),
            ("  2 litres  ".into(), true),
            ("line one\nline two".into(), true),
            ("x".repeat(2000), true),
            ("x".repeat(2001), false),
        ];
        for (raw, ok) in cases {
            assert_eq!(Description::parse(raw).is_ok(), *ok, "{raw:?}");
        }
        assert_eq!(
            Description::parse("  2 litres ").map(|d| d.as_str().to_owned()),
            Ok("2 litres".into())
        );
    }

    #[test]
    fn priorities_accept_any_letter_case() {
        let cases = [
            ("low", Ok(Priority::Low)),
            ("Medium", Ok(Priority::Medium)),
            ("HIGH", Ok(Priority::High)),
            (" uRgEnT ", Ok(Priority::Urgent)),
            ("", Err(())),
            ("critical", Err(())),
            ("1", Err(())),
        ];
        for (raw, want) in cases {
            assert_eq!(Priority::parse(raw).map_err(|_| ()), want, "{raw:?}");
        }
    }

    #[test]
    fn priorities_round_trip_through_their_rank_and_answer_lowercase() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
            assert_eq!(
                serde_json::to_value(p).ok(),
                Some(serde_json::Value::from(p.as_str()))
            );
        }
        assert_eq!(Priority::from_rank(4), None);
        assert!(Priority::Low < Priority::Urgent);
    }

    #[test]
    fn recurrences_accept_any_letter_case() {
        let cases = [
            ("none", Ok(Recurrence::None)),
            ("Daily", Ok(Recurrence::Daily)),
            ("WEEKLY", Ok(Recurrence::Weekly)),
            ("monthly", Ok(Recurrence::Monthly)),
            ("yearly", Err(())),
            ("", Err(())),
        ];
        for (raw, want) in cases {
            assert_eq!(Recurrence::parse(raw).map_err(|_| ()), want, "{raw:?}");
        }
    }

    #[test]
    fn tags_are_trimmed_lowercased_and_deduplicated() {
        type Case<'a> = (&'a [&'a str], Result<&'a [&'a str], ()>);
        let cases: &[Case] = &[
            (&[], Ok(&[])),
            (&["Shopping", " home "], Ok(&["shopping", "home"])),
            (&["a", "A", " a "], Ok(&["a"])),
            (&["Straße"], Ok(&["straße"])),
            (&[""], Err(())),
            (&["  "], Err(())),
            (&["a,b"], Err(())),
            (&["tab\there"], Err(())),
        ];
        for (raw, want) in cases {
            let got = Tags::parse(raw);
            match want {
                Ok(tags) => assert_eq!(
                    got.map(|t| t.as_slice().to_vec()),
                    Ok(tags.iter().map(|s| s.to_string()).collect()),
                    "{raw:?}"
                ),
                Err(()) => assert!(got.is_err(), "{raw:?}"),
            }
        }
    }

    #[test]
    fn at_most_ten_tags_of_at_most_32_characters() {
        let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&ten).is_ok());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&eleven).is_err());
        // Duplicates do not count against the limit.
        let mut dupes = ten.clone();
        dupes.push("T0".into());
        assert!(Tags::parse(&dupes).is_ok());
        assert!(Tags::parse(&["x".repeat(32)]).is_ok());
        assert!(Tags::parse(&["x".repeat(33)]).is_err());
    }

    #[test]
    fn a_huge_tag_list_is_refused_at_its_eleventh_distinct_tag() {
        // Parsing stops there: the empty tag after it is never looked at.
        let mut many: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
        many.insert(11, String::new());
        assert_eq!(
            Tags::parse(&many),
            Err("at most 10 different tags".to_owned())
        );
        let same: Vec<&str> = std::iter::repeat_n("x", 100_000).collect();
        assert_eq!(Tags::parse(&same).map(|t| t.as_slice().len()), Ok(1));
    }

    #[test]
    fn text_with_nul_characters_is_refused_before_the_database() {
        assert!(TodoTitle::parse("a\u{0}b").is_err());
        assert!(Description::parse("a\u{0}b").is_err());
        assert!(Description::parse("two\nlines").is_ok());
        assert!(Tags::parse(&["a\u{0}"]).is_err());
    }

    #[test]
    fn timestamps_are_bounded_to_what_round_trips() {
        for ok in [
            "1970-01-01",
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59.999999Z",
            "2026-12-01T18:00:00+01:00",
        ] {
            assert!(parse_timestamp(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:30:00+01:00",
            "9999-12-31T23:00:00-01:00",
            "10000-01-01T00:00:00Z",
            "+10000-01-01",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_travel_to_sql_as_a_json_array() {
        let tags = Tags::parse(&["a\"b", "c"]).map(|t| t.to_json());
        assert_eq!(tags, Ok(r#"["a\"b","c"]"#.to_owned()));
    }

    #[test]
    fn due_dates_are_rfc3339_or_plain_dates_answered_in_utc() {
        let cases = [
            ("2026-12-01T17:00:00Z", Some("2026-12-01T17:00:00+00:00")),
            (
                "2026-12-01T18:00:00+01:00",
                Some("2026-12-01T17:00:00+00:00"),
            ),
            (
                "2026-12-01t17:00:00.5z",
                Some("2026-12-01T17:00:00.500+00:00"),
            ),
            ("2026-12-01", Some("2026-12-01T00:00:00+00:00")),
            ("2026-12-01 17:00", None),
            ("2026-13-01", None),
            ("tomorrow", None),
            ("", None),
            ("2026-12-01T17:00:00", None),
        ];
        for (raw, want) in cases {
            let got = DueAt::parse(raw).ok().map(|d| d.time().to_rfc3339());
            assert_eq!(got.as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn todo_ids_must_be_hyphenated_uuids() {
        let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        assert!(parse_todo_id(id).is_some());
        for bad in [
            "",
            "42",
            "not-a-uuid",
            "7c9e6679742540de944be07fc1f90ae7",
            "{7c9e6679-7425-40de-944b-e07fc1f90ae7}",
            "7c9e6679-7425-40de-944b-e07fc1f90ae7x",
            "7c9e6679-7425-40de-944b-e07fc1f90aeg",
        ] {
            assert_eq!(parse_todo_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recurrences_are_words_or_rules_and_anything_else_is_refused_without_a_panic() {
        assert_eq!(Recurrence::parse(" Weekly "), Ok(Recurrence::Weekly));
        let rule = Recurrence::parse("rrule:freq=daily;interval=3").unwrap_or_default();
        assert_eq!(rule.to_string(), "RRULE:FREQ=DAILY;INTERVAL=3");
        for bad in [
            "hourly",
            "",
            "1\u{e2}\u{8}[\u{b2}x",
            "RRULE",
            "rrulé:",
            "ÆÆÆÆ",
            "RRULE:FREQ=HOURLY",
        ] {
            assert!(Recurrence::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_todo_serialises_with_utc_timestamps_and_lowercase_enums() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T17:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let todo = Todo {
            id: Uuid::nil(),
            list_id: Uuid::from_u128(1),
            assignee_id: None,
            title: "Buy milk".into(),
            description: "2 litres".into(),
            priority: Priority::High,
            completed: false,
            completed_at: None,
            due_at: Some(at),
            due_all_day: false,
            remind_at: None,
            tags: vec!["shopping".into()],
            recurrence: Recurrence::Weekly,
            created_at: at,
            updated_at: at,
            version: 3,
        };
        let json = serde_json::to_value(&todo).unwrap_or_default();
        assert_eq!(json["priority"], "high");
        assert_eq!(json["recurrence"], "weekly");
        assert_eq!(json["due_at"], "2026-12-01T17:00:00Z");
        assert_eq!(json["due_all_day"], false);
        assert_eq!(json["completed_at"], serde_json::Value::Null);
        assert_eq!(json["remind_at"], serde_json::Value::Null);
        assert_eq!(todo.etag(), "\"3\"");
    }
}
