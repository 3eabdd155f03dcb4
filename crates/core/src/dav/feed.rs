//! A list's secret calendar feed, for calendars that only subscribe
//! (Google Calendar, Outlook): its open todos that have a due date, as
//! VEVENTs, at `/dav/feeds/<secret>.ics`. The secret is the only key, so it
//! is 256 random bits, and only its digest is stored (`lists.feed_sha256`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{header, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ical::{escape_text, Component, IcalTime, Property};
use crate::api::{Request, Response};
use crate::db::{Json, Statement};
use crate::error::ApiError;
use crate::ports::Ctx;

/// Where feeds are served.
pub const PREFIX: &str = "/dav/feeds/";
const SECRET_PREFIX: &str = "todo_feed_";

/// A new feed: its secret, and the digest that is stored.
pub struct Minted {
    pub token: String,
    pub sha256: String,
}

impl Minted {
    /// The feed's path on this server.
    pub fn path(&self) -> String {
        format!("{PREFIX}{}.ics", self.token)
    }
}

pub fn mint() -> Result<Minted, getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let token = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    Ok(Minted {
        sha256: digest(&token),
        token,
    })
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The feed's absolute URL, as the client reached this server (behind a
/// proxy that terminates TLS, its `X-Forwarded-Proto`).
pub fn url(req: &Request, token: &str) -> String {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"))
        .or_else(|| req.uri().scheme_str())
        .unwrap_or("https");
    format!("{scheme}://{host}{PREFIX}{token}.ics")
}

/// The secret of a feed path, when `path` is one.
pub fn secret(path: &str) -> Option<&str> {
    path.strip_prefix(PREFIX)?
        .strip_suffix(".ics")
        .filter(|t| t.starts_with(SECRET_PREFIX) && !t.contains('/'))
}

#[derive(Deserialize)]
struct FeedList {
    name: String,
    change_seq: i64,
}

#[derive(Deserialize)]
struct Event {
    id: Uuid,
    uid: String,
    title: String,
    description: String,
    due_at: DateTime<Utc>,
    due_all_day: bool,
    updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Answer {
    list: Option<FeedList>,
    events: Vec<Event>,
}

/// Answers a GET (or HEAD) of the feed whose secret is `token`: 404 when no
/// list has it, 304 when the client's `If-None-Match` is current.
pub fn serve(req: &Request, ctx: &Ctx, token: &str) -> Result<Response, ApiError> {
    if !matches!(req.method().as_str(), "GET" | "HEAD") {
        return Err(ApiError::method_not_allowed(&[
            http::Method::GET,
            http::Method::HEAD,
        ]));
    }
    let answer: Answer = Statement::object(
        &["l AS (SELECT id, name, change_seq FROM lists WHERE feed_sha256 = $1::text)"],
        &[
            ("list", Json::Row("SELECT name, change_seq FROM l")),
            (
                "events",
                Json::Rows(
                    "SELECT t.id, COALESCE(t.dav_uid, t.id::text) AS uid, t.title, t.description,
                            t.due_at, t.due_all_day, t.updated_at
                     FROM todos t
                     WHERE t.list_id = (SELECT id FROM l) AND NOT t.completed
                       AND t.due_at IS NOT NULL
                     ORDER BY t.due_at, t.id",
                ),
            ),
        ],
        vec![digest(token).into()],
    )
    .fetch(ctx.db)?;
    let list = answer.list.ok_or_else(ApiError::not_found)?;
    let etag = format!("\"{}\"", list.change_seq);
    let current = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let builder = http::Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "private, max-age=300");
    if current {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Bytes::new())
            .unwrap_or_default());
    }
    let body = if req.method() == http::Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(calendar(&list.name, &answer.events))
    };
    Ok(builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/calendar; charset=utf-8")
        .body(body)
        .unwrap_or_default())
}

/// The feed's calendar: one VEVENT per todo, all-day for an all-day due
/// date, else a quarter of an hour from the due time.
fn calendar(name: &str, events: &[Event]) -> String {
    let mut cal = Component::new("VCALENDAR");
    cal.props.extend([
        Property::new("VERSION", "2.0"),
        Property::new("PRODID", "-//todo-spin//Feed//EN"),
        Property::new("CALSCALE", "GREGORIAN"),
        Property::new("X-WR-CALNAME", escape_text(name)),
    ]);
    for e in events {
        let mut event = Component::new("VEVENT");
        let (start, end) = if e.due_all_day {
            let day = e.due_at.date_naive();
            let next = day.succ_opt().unwrap_or(day);
            (IcalTime::Date(day), IcalTime::Date(next))
        } else {
            (
                IcalTime::DateTime(e.due_at),
                IcalTime::DateTime(e.due_at + Duration::minutes(15)),
            )
        };
        event.props.extend([
            Property::new("UID", format!("{}-due@todo-spin", e.uid)),
            IcalTime::DateTime(e.updated_at).to_property("DTSTAMP"),
            IcalTime::DateTime(e.updated_at).to_property("LAST-MODIFIED"),
            start.to_property("DTSTART"),
            end.to_property("DTEND"),
            Property::new("SUMMARY", escape_text(&e.title)),
            Property::new("TRANSP", "TRANSPARENT"),
        ]);
        if !e.description.is_empty() {
            event
                .props
                .push(Property::new("DESCRIPTION", escape_text(&e.description)));
        }
        event
            .props
            .push(Property::new("X-TODO-SPIN-ID", e.id.to_string()));
        cal.children.push(event);
    }
    cal.to_ics()
}
