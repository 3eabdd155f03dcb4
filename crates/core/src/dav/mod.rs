//! CalDAV (RFC 4791, with sync-collection from RFC 6578): every list the
//! caller belongs to is a calendar of VTODOs, so the task apps people
//! already carry (Apple Reminders, Tasks.org through DAVx⁵, Thunderbird)
//! sync them. Clients sign in with HTTP Basic: the account's email and a
//! personal access token. Todos are read here and changed through the same
//! library calls as the REST API (`crate::todos::store`).
//!
//! The URL space, all under [`ROOT`]:
//! - `/dav/principals/<user id>/`: the principal;
//! - `/dav/calendars/<user id>/`: the calendar home, a plain collection;
//! - `/dav/calendars/<user id>/<list id>/`: a list;
//! - `/dav/calendars/<user id>/<list id>/<name>.ics`: a todo.

pub mod feed;
pub mod ical;
pub mod store;
pub mod xml;

use bytes::Bytes;
use chrono::{DateTime, NaiveTime, Utc};
use http::{header, HeaderValue, Method, StatusCode};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use uuid::Uuid;

use self::ical::{IcalTime, TodoObject, TodoView};
use self::store::{Calendar, DavTodo, Which};
use self::xml::{PropName, PropRequest, Report, APPLE, CALDAV, CALENDARSERVER, DAV};
use crate::api::{Request, Response};
use crate::auth::{self, AuthUser, Caller};
use crate::error::ApiError;
use crate::lists::{self, Color, ListChanges, ListError, ListName};
use crate::ports::Ctx;
use crate::todos::rrule::RRule;
use crate::todos::{
    store as todos, DavObject, Description, DueAt, NewTodo, Priority, Recurrence, Tags, Todo,
    TodoChanges, TodoTitle,
};

/// The service root, where `/.well-known/caldav` points.
pub const ROOT: &str = "/dav/";
/// The largest calendar object a client may store, in bytes.
pub const MAX_OBJECT_BYTES: usize = 256 * 1024;
/// The changed todos one sync-collection answer carries (more when the
/// last change touched several); a client asks again from the token it got
/// (RFC 6578's 507 for the rest).
pub const SYNC_PAGE: i64 = 500;
const CONTENT_TYPE_ICS: &str = "text/calendar; charset=utf-8; component=vtodo";
const CONTENT_TYPE_XML: &str = "application/xml; charset=utf-8";
const SYNC_TOKEN_PREFIX: &str = "http://todo-spin.dev/ns/sync/";
const METHODS: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCALENDAR, MKCOL";

/// Characters a resource name keeps in an href; the rest are
/// percent-encoded.
const NAME_CHARS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'@')
    .remove(b'+');

/// Who a CalDAV request is about: a resource of the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Root,
    Principal,
    Home,
    Calendar(Uuid),
    Object(Uuid, String),
}

impl Target {
    /// The resource `path` names, and whose it is (the user id in the
    /// path; none for the root). Another user's principal or home is as
    /// unknown as one that does not exist, once the caller is known.
    fn parse(path: &str) -> Option<(Option<Uuid>, Self)> {
        let rest = path.strip_prefix("/dav")?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let (user, target) = match segments.as_slice() {
            [] => return Some((None, Self::Root)),
            ["principals", u] => (u, Self::Principal),
            ["calendars", u] => (u, Self::Home),
            ["calendars", u, list] => (u, Self::Calendar(Uuid::try_parse(list).ok()?)),
            ["calendars", u, list, name] => {
                let name = percent_decode_str(name).decode_utf8().ok()?;
                (
                    u,
                    Self::Object(Uuid::try_parse(list).ok()?, name.into_owned()),
                )
            }
            _ => return None,
        };
        Some((Some(Uuid::try_parse(user).ok()?), target))
    }
}

/// A CalDAV request on its way in: its sign-in, which the request's first
/// statement checks while it does the request's work (one round trip), and
/// whose resource the path names.
struct Gate<'a> {
    req: &'a Request,
    ctx: &'a Ctx<'a>,
    sign_in: auth::BasicSignIn,
    path_user: Option<Uuid>,
}

impl Gate<'_> {
    /// The presented token, for the request's first statement.
    fn presented(&self) -> &Caller {
        &self.sign_in.caller
    }

    /// The caller, account and answer of the first statement: a counted
    /// failure when the token is not a live one of the email's account,
    /// 404 when the path names another user's resource, 403 for a write
    /// with a read-only token.
    fn pass<T>(
        &self,
        found: Option<(Caller, AuthUser, T)>,
    ) -> Result<(Caller, AuthUser, T), ApiError> {
        let (caller, user, result) = self.sign_in.accept(self.req, self.ctx, found)?;
        if self.path_user.is_some_and(|u| u != user.id) {
            return Err(ApiError::not_found());
        }
        let reads = matches!(
            self.req.method().as_str(),
            "GET" | "HEAD" | "PROPFIND" | "REPORT"
        );
        if !reads && caller.read_only() {
            return Err(auth::read_only_refused());
        }
        Ok((caller, user, result))
    }

    /// The calendar `list` with the todos `which` names (and the name of
    /// the todo with the UID `uid`), read by the request's first
    /// statement; 404 when it is not one of the caller's.
    fn open(&self, list: Uuid, which: Which<'_>, uid: Option<&str>) -> Result<Opened, ApiError> {
        let found = store::objects(self.ctx, self.presented(), list, which, uid)?;
        let (caller, user, found) = self.pass(found)?;
        Ok(Opened {
            caller,
            user,
            calendar: found.calendar.ok_or_else(ApiError::not_found)?,
            objects: found.objects,
            uid_taken_by: found.uid_taken_by,
        })
    }
}

/// A calendar of the caller's as [`Gate::open`] found it.
struct Opened {
    caller: Caller,
    user: AuthUser,
    calendar: Calendar,
    objects: Vec<DavTodo>,
    uid_taken_by: Option<String>,
}

impl Opened {
    fn asked<'a>(&'a self, props: &'a PropRequest) -> Asked<'a> {
        Asked {
            props,
            user: &self.user,
            caller: &self.caller,
        }
    }
}

fn principal_href(user: Uuid) -> String {
    format!("{ROOT}principals/{user}/")
}

fn home_href(user: Uuid) -> String {
    format!("{ROOT}calendars/{user}/")
}

fn calendar_href(user: Uuid, list: Uuid) -> String {
    format!("{ROOT}calendars/{user}/{list}/")
}

fn object_href(user: Uuid, list: Uuid, name: &str) -> String {
    format!(
        "{}{}",
        calendar_href(user, list),
        utf8_percent_encode(name, NAME_CHARS)
    )
}

fn sync_token(seq: i64) -> String {
    format!("{SYNC_TOKEN_PREFIX}{seq}")
}

/// The entry point of the `dav` component: `/.well-known/caldav` and
/// everything under `/dav/`.
pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.uri().path();
    if path.trim_end_matches('/') == "/.well-known/caldav" {
        return Ok(response(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, ROOT)
            .body(Bytes::new())
            .unwrap_or_default());
    }
    if let Some(secret) = feed::secret(path) {
        return feed::serve(req, ctx, secret);
    }
    if req.method() == Method::OPTIONS {
        return Ok(response(StatusCode::OK)
            .header(header::ALLOW, METHODS)
            .body(Bytes::new())
            .unwrap_or_default());
    }
    let sign_in = auth::BasicSignIn::read(req, ctx)?;
    let (path_user, target) = Target::parse(path).ok_or_else(ApiError::not_found)?;
    let gate = Gate {
        req,
        ctx,
        sign_in,
        path_user,
    };
    let method = req.method().as_str();
    match (method, target) {
        ("PROPFIND", target) => propfind(&gate, target),
        ("REPORT", Target::Calendar(list)) => report(&gate, list),
        ("GET" | "HEAD", Target::Object(list, name)) => get(&gate, list, &name),
        ("PUT", Target::Object(list, name)) => put(&gate, list, &name),
        ("DELETE", Target::Object(list, name)) => delete(&gate, list, &name),
        ("MKCALENDAR" | "MKCOL", Target::Calendar(list)) => make_calendar(&gate, list),
        ("PROPPATCH", Target::Calendar(list)) => proppatch(&gate, list),
        ("DELETE", Target::Calendar(list)) => {
            let (caller, _, ()) = gate.pass(store::check(ctx, gate.presented())?)?;
            lists::store::delete(ctx, &caller, list)?;
            Ok(response(StatusCode::NO_CONTENT)
                .body(Bytes::new())
                .unwrap_or_default())
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed here"),
        )
        .with_header(header::ALLOW, HeaderValue::from_static(METHODS))),
    }
}

/// Every answer names what the server speaks (RFC 4791 5.1).
fn response(status: StatusCode) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header("dav", "1, 3, calendar-access")
}

fn xml_response(status: StatusCode, body: String) -> Response {
    response(status)
        .header(header::CONTENT_TYPE, CONTENT_TYPE_XML)
        .body(Bytes::from(body))
        .unwrap_or_default()
}

fn multistatus(body: String) -> Response {
    xml_response(StatusCode::MULTI_STATUS, body)
}

/// A failed precondition, as RFC 4791 and 6578 name them.
fn precondition(status: StatusCode, ns: &str, condition: &str) -> Response {
    xml_response(status, xml::error(ns, condition))
}

fn body_text(req: &Request) -> Result<&str, ApiError> {
    std::str::from_utf8(req.body())
        .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))
}

fn bad_xml(err: xml::BadXml) -> ApiError {
    ApiError::bad_request(err.0)
}

/// The `Depth` header: 0, or 1 (also for `infinity`, which a server may
/// answer as it likes; this one goes one level down).
fn depth(req: &Request) -> u8 {
    match req.headers().get("depth").and_then(|v| v.to_str().ok()) {
        Some(d) if d.trim() == "0" => 0,
        _ => 1,
    }
}

/// What the caller may do with a calendar's todos.
fn writable(caller: &Caller, calendar: &Calendar) -> bool {
    !caller.read_only() && calendar.role.can_write()
}

// ------------------------------------------------------------- properties

/// A resource whose properties are asked for.
enum Resource<'a> {
    Root,
    Principal,
    Home,
    Calendar(&'a Calendar),
    Object(&'a Calendar, &'a DavTodo),
}

/// The properties `allprop` answers, per resource.
fn all_props(resource: &Resource) -> Vec<PropName> {
    let mut names = vec![
        PropName::new(DAV, "resourcetype"),
        PropName::new(DAV, "current-user-principal"),
    ];
    let more: &[(&str, &str)] = match resource {
        Resource::Root | Resource::Home => &[(DAV, "displayname")],
        Resource::Principal => &[
            (DAV, "displayname"),
            (DAV, "principal-URL"),
            (CALDAV, "calendar-home-set"),
            (CALDAV, "calendar-user-address-set"),
        ],
        Resource::Calendar(_) => &[
            (DAV, "displayname"),
            (DAV, "owner"),
            (DAV, "sync-token"),
            (CALENDARSERVER, "getctag"),
            (APPLE, "calendar-color"),
            (CALDAV, "supported-calendar-component-set"),
        ],
        Resource::Object(..) => &[
            (DAV, "getetag"),
            (DAV, "getcontenttype"),
            (DAV, "getlastmodified"),
        ],
    };
    names.extend(more.iter().map(|(ns, n)| PropName::new(ns, n)));
    names
}

fn href(h: &str) -> String {
    format!("<d:href>{}</d:href>", xml::escape(h))
}

fn privileges(write: bool) -> String {
    let names: &[&str] = if write {
        &[
            "read",
            "read-current-user-privilege-set",
            "write",
            "write-content",
            "write-properties",
            "bind",
            "unbind",
        ]
    } else {
        &["read", "read-current-user-privilege-set"]
    };
    names
        .iter()
        .map(|p| format!("<d:privilege><d:{p}/></d:privilege>"))
        .collect()
}

/// The value (XML) of property `name` of `resource`, `None` when it has no
/// such property.
fn prop_value(
    name: &PropName,
    resource: &Resource,
    user: &AuthUser,
    caller: &Caller,
) -> Option<String> {
    let ns = name.ns.as_str();
    let local = name.name.as_str();
    let value = match (ns, local, resource) {
        (DAV, "resourcetype", Resource::Root | Resource::Home) => "<d:collection/>".to_owned(),
        (DAV, "resourcetype", Resource::Principal) => "<d:collection/><d:principal/>".to_owned(),
        (DAV, "resourcetype", Resource::Calendar(_)) => "<d:collection/><c:calendar/>".to_owned(),
        (DAV, "resourcetype", Resource::Object(..)) => String::new(),
        (DAV, "current-user-principal", _) => href(&principal_href(user.id)),
        (DAV, "principal-URL", Resource::Principal) => href(&principal_href(user.id)),
        (DAV, "principal-collection-set", _) => href(&format!("{ROOT}principals/")),
        (CALDAV, "calendar-home-set", Resource::Root | Resource::Principal) => {
            href(&home_href(user.id))
        }
        (CALDAV, "calendar-user-address-set", Resource::Principal) => {
            href(&format!("mailto:{}", user.email))
        }
        (DAV, "displayname", Resource::Root) => "todo-spin".to_owned(),
        (DAV, "displayname", Resource::Principal) => xml::escape(&user.name),
        (DAV, "displayname", Resource::Home) => "Lists".to_owned(),
        (DAV, "displayname", Resource::Calendar(c)) => xml::escape(&c.name),
        (DAV, "owner", Resource::Calendar(c)) => href(&principal_href(c.owner.id)),
        // A writable token may make lists under the home (MKCALENDAR).
        (DAV, "current-user-privilege-set", Resource::Home) => privileges(!caller.read_only()),
        (DAV, "current-user-privilege-set", Resource::Calendar(c) | Resource::Object(c, _)) => {
            privileges(writable(caller, c))
        }
        (DAV, "supported-report-set", Resource::Calendar(_)) => [
            "<c:calendar-query/>",
            "<c:calendar-multiget/>",
            "<d:sync-collection/>",
        ]
        .iter()
        .map(|r| format!("<d:supported-report><d:report>{r}</d:report></d:supported-report>"))
        .collect(),
        (DAV, "sync-token", Resource::Calendar(c)) => xml::escape(&sync_token(c.change_seq)),
        (CALENDARSERVER, "getctag", Resource::Calendar(c)) => format!("\"{}\"", c.change_seq),
        (APPLE, "calendar-color", Resource::Calendar(c)) => c.color.as_ref()?.to_uppercase(),
        (CALDAV, "supported-calendar-component-set", Resource::Calendar(_)) => {
            "<c:comp name=\"VTODO\"/>".to_owned()
        }
        (CALDAV, "max-resource-size", Resource::Calendar(_)) => MAX_OBJECT_BYTES.to_string(),
        (DAV, "getetag", Resource::Object(_, o)) => xml::escape(&o.etag()),
        (DAV, "getcontenttype", Resource::Object(..)) => CONTENT_TYPE_ICS.to_owned(),
        (DAV, "getlastmodified", Resource::Object(_, o)) => http_date(o.todo.updated_at),
        (CALDAV, "calendar-data", Resource::Object(c, o)) => xml::escape(&render(c, o)),
        _ => return None,
    };
    Some(value)
}

fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The properties a request asks for, and whom they are answered to.
struct Asked<'a> {
    props: &'a PropRequest,
    user: &'a AuthUser,
    caller: &'a Caller,
}

impl Asked<'_> {
    /// Adds `resource`'s answer to `out`.
    fn describe(&self, out: &mut xml::Multistatus, href: &str, resource: &Resource) {
        let names = match self.props {
            PropRequest::Props(names) => names.clone(),
            PropRequest::All | PropRequest::Names => all_props(resource),
        };
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            match prop_value(&name, resource, self.user, self.caller) {
                Some(_) if *self.props == PropRequest::Names => found.push((name, String::new())),
                Some(value) => found.push((name, value)),
                None => missing.push(name),
            }
        }
        out.props(href, &found, &missing);
    }

    /// Adds the answer of each of a calendar's todos to `out`.
    fn objects(&self, out: &mut xml::Multistatus, calendar: &Calendar, objects: &[DavTodo]) {
        for o in objects {
            let href = object_href(self.user.id, calendar.id, &o.name);
            self.describe(out, &href, &Resource::Object(calendar, o));
        }
    }
}

// ---------------------------------------------------------------- PROPFIND

fn propfind(gate: &Gate, target: Target) -> Result<Response, ApiError> {
    let (req, ctx) = (gate.req, gate.ctx);
    let props = xml::propfind(body_text(req)?).map_err(bad_xml)?;
    let deep = depth(req) > 0;
    let mut out = xml::Multistatus::new();
    match target {
        Target::Root | Target::Principal | Target::Home => {
            let (caller, user, calendars) = gate.pass(store::calendars(ctx, gate.presented())?)?;
            let caller = &caller;
            let asked = Asked {
                props: &props,
                user: &user,
                caller,
            };
            let (href, resource) = match target {
                Target::Root => (ROOT.to_owned(), Resource::Root),
                Target::Principal => (principal_href(user.id), Resource::Principal),
                _ => (home_href(user.id), Resource::Home),
            };
            asked.describe(&mut out, &href, &resource);
            if deep && target == Target::Home {
                for c in &calendars {
                    let href = calendar_href(user.id, c.id);
                    asked.describe(&mut out, &href, &Resource::Calendar(c));
                }
            }
        }
        Target::Calendar(list) => {
            let which = if deep {
                Which::All { open_only: false }
            } else {
                Which::Nothing
            };
            let opened = gate.open(list, which, None)?;
            let asked = opened.asked(&props);
            let href = calendar_href(opened.user.id, list);
            asked.describe(&mut out, &href, &Resource::Calendar(&opened.calendar));
            asked.objects(&mut out, &opened.calendar, &opened.objects);
        }
        Target::Object(list, name) => {
            let opened = gate.open(list, Which::Named(&[name]), None)?;
            let object = opened.objects.first().ok_or_else(ApiError::not_found)?;
            let href = object_href(opened.user.id, list, &object.name);
            let resource = Resource::Object(&opened.calendar, object);
            opened.asked(&props).describe(&mut out, &href, &resource);
        }
    }
    Ok(multistatus(out.finish(None)))
}

// ------------------------------------------------------------------ REPORT

fn report(gate: &Gate, list: Uuid) -> Result<Response, ApiError> {
    let req = gate.req;
    let report = xml::report(body_text(req)?).map_err(bad_xml)?;
    let mut out = xml::Multistatus::new();
    match report {
        Report::Multiget { props, hrefs } => {
            // Each href's resource name, when it is a todo of this calendar
            // (a client may send full URLs).
            let named: Vec<Option<String>> = hrefs
                .iter()
                .map(|h| {
                    let path = h.find(ROOT).map_or(h.as_str(), |at| &h[at..]);
                    match Target::parse(path) {
                        Some((Some(u), Target::Object(l, name)))
                            if l == list && Some(u) == gate.path_user =>
                        {
                            Some(name)
                        }
                        _ => None,
                    }
                })
                .collect();
            let names: Vec<String> = named.iter().flatten().cloned().collect();
            let opened = gate.open(list, Which::Named(&names), None)?;
            let asked = opened.asked(&props);
            for (h, name) in hrefs.iter().zip(&named) {
                let hit = name
                    .as_ref()
                    .and_then(|n| opened.objects.iter().find(|o| o.name == *n));
                match hit {
                    Some(o) => asked.describe(
                        &mut out,
                        &object_href(opened.user.id, list, &o.name),
                        &Resource::Object(&opened.calendar, o),
                    ),
                    None => out.status(h, "404 Not Found"),
                }
            }
            Ok(multistatus(out.finish(None)))
        }
        Report::Query { props, filter } => {
            let which = if filter.other_component {
                Which::Nothing
            } else {
                Which::All {
                    open_only: filter.open_only,
                }
            };
            let opened = gate.open(list, which, None)?;
            opened
                .asked(&props)
                .objects(&mut out, &opened.calendar, &opened.objects);
            Ok(multistatus(out.finish(None)))
        }
        Report::Sync {
            props,
            token,
            limit,
        } => sync(gate, list, &props, &token, limit),
        Report::Unsupported(_) => Ok(precondition(StatusCode::FORBIDDEN, DAV, "supported-report")),
    }
}

/// A sync-collection report (RFC 6578): what changed after `token` (all
/// the calendar holds for an empty one), a page of [`SYNC_PAGE`] todos (or
/// the client's smaller `limit`) ending at a whole change; past that the
/// calendar itself answers 507, and the client asks again from the token
/// it got.
fn sync(
    gate: &Gate,
    list: Uuid,
    props: &PropRequest,
    token: &str,
    limit: Option<usize>,
) -> Result<Response, ApiError> {
    let since = if token.is_empty() {
        Some(0)
    } else {
        token
            .strip_prefix(SYNC_TOKEN_PREFIX)
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
    };
    let Some(since) = since else {
        return Ok(precondition(StatusCode::FORBIDDEN, DAV, "valid-sync-token"));
    };
    let page = limit
        .and_then(|l| i64::try_from(l).ok())
        .filter(|l| *l > 0)
        .map_or(SYNC_PAGE, |l| l.min(SYNC_PAGE));
    let (caller, user, changes) = gate.pass(store::changes(
        gate.ctx,
        gate.presented(),
        list,
        since,
        page,
    )?)?;
    let caller = &caller;
    let asked = Asked {
        props,
        user: &user,
        caller,
    };
    let calendar = changes.calendar.ok_or_else(ApiError::not_found)?;
    if since > calendar.change_seq {
        return Ok(precondition(StatusCode::FORBIDDEN, DAV, "valid-sync-token"));
    }
    let upto = changes.cut.unwrap_or(calendar.change_seq);
    let mut out = xml::Multistatus::new();
    asked.objects(&mut out, &calendar, &changes.changed);
    if since > 0 {
        for gone in changes.gone.iter().filter(|g| g.seq <= upto) {
            out.status(&object_href(user.id, list, &gone.name), "404 Not Found");
        }
    }
    if changes.cut.is_some() {
        out.status(&calendar_href(user.id, list), "507 Insufficient Storage");
    }
    Ok(multistatus(out.finish(Some(&sync_token(upto)))))
}

// ------------------------------------------- MKCALENDAR and PROPPATCH

/// What a MKCALENDAR or PROPPATCH sets that the app keeps: the list's
/// name and colour; the properties it does not keep.
fn list_changes(update: &xml::PropUpdate) -> Result<(ListChanges, Vec<PropName>), ApiError> {
    let mut changes = ListChanges::default();
    let mut ignored = Vec::new();
    for (name, value) in &update.set {
        if name.is(DAV, "displayname") {
            let parsed =
                ListName::parse(value).map_err(|e| ApiError::invalid_field("displayname", e))?;
            changes.name = Some(parsed);
        } else if name.is(APPLE, "calendar-color") {
            // Apple writes #RRGGBBAA; the app keeps #rrggbb.
            let rgb: String = value.trim().chars().take(7).collect();
            let parsed = Color::parse(&rgb.to_lowercase())
                .map_err(|e| ApiError::invalid_field("calendar-color", e))?;
            changes.color = Some(Some(parsed));
        } else if name.is(DAV, "resourcetype")
            || name.is(CALDAV, "supported-calendar-component-set")
        {
            // What MKCOL and MKCALENDAR say the collection is: a calendar.
        } else {
            ignored.push(name.clone());
        }
    }
    for name in &update.remove {
        if name.is(APPLE, "calendar-color") {
            changes.color = Some(None);
        } else {
            ignored.push(name.clone());
        }
    }
    Ok((changes, ignored))
}

/// MKCALENDAR (or an extended MKCOL) creates a list with the id the client
/// put in the URL, named by its `displayname`.
fn make_calendar(gate: &Gate, list: Uuid) -> Result<Response, ApiError> {
    let (req, ctx) = (gate.req, gate.ctx);
    let update = xml::prop_update(body_text(req)?).map_err(bad_xml)?;
    let (changes, _) = list_changes(&update)?;
    let name = match changes.name {
        Some(name) => name,
        None => ListName::parse("New list").map_err(ApiError::internal)?,
    };
    let color = changes.color.flatten();
    let (caller, _, ()) = gate.pass(store::check(ctx, gate.presented())?)?;
    match lists::store::create_with_id(ctx, &caller, Some(list), &name, color.as_ref()) {
        Ok(_) => Ok(response(StatusCode::CREATED)
            .body(Bytes::new())
            .unwrap_or_default()),
        Err(ListError::Conflict { .. }) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "exists",
            "there is a calendar here already",
        )),
        Err(e) => Err(e.into()),
    }
}

/// PROPPATCH renames or recolours a list (its owner); other properties are
/// not kept, and say so (403 within the 207).
fn proppatch(gate: &Gate, list: Uuid) -> Result<Response, ApiError> {
    let (req, ctx) = (gate.req, gate.ctx);
    let update = xml::prop_update(body_text(req)?).map_err(bad_xml)?;
    let (changes, ignored) = list_changes(&update)?;
    let (caller, _, ()) = gate.pass(store::check(ctx, gate.presented())?)?;
    if changes != ListChanges::default() {
        lists::store::update(ctx, &caller, list, &changes)?;
    }
    let (refused, applied): (Vec<PropName>, Vec<PropName>) = update
        .set
        .iter()
        .map(|(name, _)| name)
        .chain(&update.remove)
        .cloned()
        .partition(|name| ignored.contains(name));
    let named = |names: Vec<PropName>| -> Vec<(PropName, String)> {
        names.into_iter().map(|n| (n, String::new())).collect()
    };
    let mut out = xml::Multistatus::new();
    out.propstats(
        &calendar_href(caller.user_id, list),
        &[
            ("200 OK", &named(applied)),
            ("403 Forbidden", &named(refused)),
        ],
    );
    Ok(multistatus(out.finish(None)))
}

// ------------------------------------------------------ GET, PUT, DELETE

/// The calendar `list` with its todo `name`, for a request on one resource.
fn open_one(gate: &Gate, list: Uuid, name: &str, uid: Option<&str>) -> Result<Opened, ApiError> {
    gate.open(list, Which::Named(&[name.to_owned()]), uid)
}

fn get(gate: &Gate, list: Uuid, name: &str) -> Result<Response, ApiError> {
    let req = gate.req;
    let opened = open_one(gate, list, name, None)?;
    let object = opened.objects.first().ok_or_else(ApiError::not_found)?;
    let etag = object.etag();
    if if_none_match(req).is_some_and(|tags| tags.iter().any(|t| t == "*" || *t == etag)) {
        return Ok(response(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .body(Bytes::new())
            .unwrap_or_default());
    }
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(render(&opened.calendar, object))
    };
    Ok(response(StatusCode::OK)
        .header(header::CONTENT_TYPE, CONTENT_TYPE_ICS)
        .header(header::ETAG, etag)
        .body(body)
        .unwrap_or_default())
}

/// The entity tags of a conditional header, quotes kept (`*` alone).
fn tags(req: &Request, name: header::HeaderName) -> Option<Vec<String>> {
    let value = req.headers().get(name)?.to_str().ok()?;
    Some(
        value
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/").to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

fn if_none_match(req: &Request) -> Option<Vec<String>> {
    tags(req, header::IF_NONE_MATCH)
}

/// 412 unless the request's `If-Match` and `If-None-Match` allow a write
/// over `current` (`None`: no resource there yet).
fn check_preconditions(req: &Request, current: Option<&DavTodo>) -> Result<(), ApiError> {
    let etag = current.map(DavTodo::etag);
    let failed = || {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            match &etag {
                Some(tag) => format!("the resource has changed; its ETag is now {tag}"),
                None => "there is no such resource".to_owned(),
            },
        )
    };
    if let Some(tags) = tags(req, header::IF_MATCH) {
        let matches = etag
            .as_ref()
            .is_some_and(|e| tags.iter().any(|t| t == "*" || t == e));
        if !matches {
            return Err(failed());
        }
    }
    if let Some(tags) = if_none_match(req) {
        let matches = etag
            .as_ref()
            .is_some_and(|e| tags.iter().any(|t| t == "*" || t == e));
        if matches {
            return Err(failed());
        }
    }
    Ok(())
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "a viewer of a list cannot change it",
    )
}

fn invalid_object(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_calendar_object",
        message.into(),
    )
}

fn put(gate: &Gate, list: Uuid, name: &str) -> Result<Response, ApiError> {
    let (req, ctx) = (gate.req, gate.ctx);
    if !valid_name(name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_resource_name",
            "a todo's resource name ends in .ics, has no slash and is at most 200 characters",
        ));
    }
    if req.body().len() > MAX_OBJECT_BYTES {
        return Err(ApiError::payload_too_large(MAX_OBJECT_BYTES));
    }
    let text = body_text(req)?;
    let object =
        ical::parse_todo_object(text, chrono_tz::UTC).map_err(|e| invalid_object(e.to_string()))?;
    let uid = object.master.uid.clone();
    let Opened {
        caller,
        calendar,
        objects,
        uid_taken_by,
        ..
    } = open_one(gate, list, name, Some(&uid))?;
    let caller = &caller;
    let current = objects.into_iter().next();
    // Floating times (no TZID, no Z) are the caller's local times.
    let zone = calendar.time_zone();
    let object = if zone == chrono_tz::UTC {
        object
    } else {
        ical::parse_todo_object(text, zone).map_err(|e| invalid_object(e.to_string()))?
    };
    let mut new = new_todo(&object, list, name, text)?;
    let uid = object.master.uid.as_str();
    if !writable(caller, &calendar) {
        return Err(forbidden());
    }
    check_preconditions(req, current.as_ref())?;
    if uid_taken_by.as_deref().is_some_and(|taken| taken != name) {
        return Ok(precondition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "no-uid-conflict",
        ));
    }
    // Completing one occurrence of a repeating todo, as a client writes it,
    // is the app's toggle: this one completed at its due date, the next one
    // created.
    let occurrence_done = current
        .as_ref()
        .is_some_and(|c| completes_occurrence(&c.todo, &object, &new, zone));
    if let Some(c) = current.as_ref().filter(|_| occurrence_done) {
        new.due_at = c.todo.due_at.and_then(|at| DueAt::new(at).ok());
        new.due_all_day = c.todo.due_all_day;
    }
    let complete = object.master.is_completed() || occurrence_done;
    let (status, todo) = match current {
        Some(current) => {
            if current.uid != uid {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "uid_changed",
                    "a calendar object keeps its UID; store a new UID under a new name",
                ));
            }
            let changes = TodoChanges {
                title: Some(new.title),
                description: Some(new.description),
                priority: Some(new.priority),
                due_at: Some(new.due_at),
                due_all_day: Some(new.due_all_day),
                remind_at: Some(new.remind_at),
                tags: Some(new.tags),
                recurrence: Some(new.recurrence),
                ical: Some(text.to_owned()),
                ..TodoChanges::default()
            };
            let versions = [current.todo.version];
            let todo = todos::update(ctx, caller, current.todo.id, &changes, Some(&versions))?;
            (StatusCode::NO_CONTENT, todo)
        }
        None => (StatusCode::CREATED, todos::create(ctx, caller, &new)?),
    };
    let todo = if todo.completed == complete {
        todo
    } else {
        todos::toggle(ctx, caller, todo.id, Some(&[todo.version]))?.todo
    };
    let etag = DavTodo {
        todo,
        name: name.to_owned(),
        uid: uid.to_owned(),
        ical: None,
        change_seq: 0,
    }
    .etag();
    Ok(response(status)
        .header(header::ETAG, etag)
        .body(Bytes::new())
        .unwrap_or_default())
}

/// Whether a client's write of the open, repeating todo `todo` completes
/// its current occurrence: Thunderbird adds a completed instance
/// (RECURRENCE-ID); Tasks.org moves DUE one repetition forward, still open.
fn completes_occurrence(
    todo: &Todo,
    object: &TodoObject,
    new: &NewTodo,
    zone: chrono_tz::Tz,
) -> bool {
    if todo.completed || todo.recurrence == Recurrence::None {
        return false;
    }
    if object.overrides.iter().any(ical::VTodo::is_completed) {
        return true;
    }
    let (Some(due), Some(moved)) = (todo.due_at, new.due_at) else {
        return false;
    };
    let next = match todo.recurrence {
        Recurrence::None => None,
        Recurrence::Daily => due.checked_add_signed(chrono::Duration::days(1)),
        Recurrence::Weekly => due.checked_add_signed(chrono::Duration::days(7)),
        Recurrence::Monthly => due.checked_add_months(chrono::Months::new(1)),
        Recurrence::Rule(rule) if todo.due_all_day => rule
            .next_date_after(due.date_naive(), 1)
            .map(|day| day.and_time(NaiveTime::MIN).and_utc()),
        Recurrence::Rule(rule) => rule.next_after(due, zone, 1),
    };
    !object.master.is_completed() && next == Some(moved.time())
}

fn valid_name(name: &str) -> bool {
    name.ends_with(".ics")
        && name.len() > ".ics".len()
        && name.chars().count() <= 200
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

fn delete(gate: &Gate, list: Uuid, name: &str) -> Result<Response, ApiError> {
    let Opened {
        caller,
        calendar,
        objects,
        ..
    } = open_one(gate, list, name, None)?;
    let current = objects.into_iter().next().ok_or_else(ApiError::not_found)?;
    if !writable(&caller, &calendar) {
        return Err(forbidden());
    }
    check_preconditions(gate.req, Some(&current))?;
    todos::delete(
        gate.ctx,
        &caller,
        current.todo.id,
        Some(&[current.todo.version]),
    )?;
    Ok(response(StatusCode::NO_CONTENT)
        .body(Bytes::new())
        .unwrap_or_default())
}

// ------------------------------------------------- VTODO <-> todo

/// iCalendar's PRIORITY (1 highest .. 9 lowest, 0 none) as the app's four
/// levels: 1 urgent, 2–4 high, 5 and none medium, 6–9 low.
pub fn priority_from_ical(p: Option<u8>) -> Priority {
    match p.unwrap_or(0) {
        1 => Priority::Urgent,
        2..=4 => Priority::High,
        6..=9 => Priority::Low,
        _ => Priority::Medium,
    }
}

/// The PRIORITY a level is written as: urgent 1, high 3, medium none (0),
/// low 9.
pub fn priority_to_ical(p: Priority) -> u8 {
    match p {
        Priority::Urgent => 1,
        Priority::High => 3,
        Priority::Medium => 0,
        Priority::Low => 9,
    }
}

/// The app's recurrence for an RRULE: a plain `FREQ` of a day, week or
/// month is one of its words (as the app's own daily, weekly and monthly
/// repeat), any other rule of the subset is a rule. A rule outside the
/// subset is kept in the calendar object as the client wrote it, and the
/// todo does not repeat in the app.
pub fn recurrence_from_rrule(rule: &str) -> Recurrence {
    let Ok(parsed) = RRule::parse(rule) else {
        return Recurrence::None;
    };
    let plain = ["DAILY", "WEEKLY", "MONTHLY"]
        .into_iter()
        .find(|freq| parsed.to_string() == format!("RRULE:FREQ={freq}"));
    match plain {
        Some("DAILY") => Recurrence::Daily,
        Some("WEEKLY") => Recurrence::Weekly,
        Some("MONTHLY") => Recurrence::Monthly,
        _ => Recurrence::Rule(parsed),
    }
}

/// The RRULE value of a recurrence (without `RRULE:`).
fn rrule_of(recurrence: Recurrence) -> Option<String> {
    match recurrence {
        Recurrence::None => None,
        Recurrence::Daily => Some("FREQ=DAILY".to_owned()),
        Recurrence::Weekly => Some("FREQ=WEEKLY".to_owned()),
        Recurrence::Monthly => Some("FREQ=MONTHLY".to_owned()),
        Recurrence::Rule(rule) => Some(rule.to_string().trim_start_matches("RRULE:").to_owned()),
    }
}

/// A due date as the app keeps it: a day is that day at 00:00 UTC.
fn due_of(time: IcalTime) -> Result<(DueAt, bool), String> {
    match time {
        IcalTime::Date(day) => {
            DueAt::new(day.and_time(NaiveTime::MIN).and_utc()).map(|d| (d, true))
        }
        IcalTime::DateTime(at) => DueAt::new(at).map(|d| (d, false)),
    }
}

/// The todo a client's calendar object describes, for `list`, named `name`.
fn new_todo(object: &TodoObject, list: Uuid, name: &str, text: &str) -> Result<NewTodo, ApiError> {
    let vtodo = &object.master;
    let field = |what: &str, why: String| invalid_object(format!("{what}: {why}"));
    let summary = vtodo
        .summary
        .as_deref()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Untitled".to_owned());
    let title = TodoTitle::parse(&summary).map_err(|e| field("SUMMARY", e))?;
    let description = Description::parse(vtodo.description.as_deref().unwrap_or(""))
        .map_err(|e| field("DESCRIPTION", e))?;
    let due = vtodo
        .due
        .or(vtodo.dtstart)
        .map(due_of)
        .transpose()
        .map_err(|e| field("DUE", e))?;
    let remind_at = vtodo
        .alarm
        .map(DueAt::new)
        .transpose()
        .map_err(|e| field("VALARM", e))?;
    let tags = Tags::parse(&vtodo.categories).map_err(|e| field("CATEGORIES", e))?;
    Ok(NewTodo {
        title,
        description,
        priority: priority_from_ical(vtodo.priority),
        due_at: due.map(|(d, _)| d),
        due_all_day: due.is_some_and(|(_, day)| day),
        remind_at,
        tags,
        recurrence: vtodo
            .rrule
            .as_deref()
            .map_or(Recurrence::None, recurrence_from_rrule),
        list_id: Some(list),
        assignee_id: None,
        dav: Some(DavObject {
            name: name.to_owned(),
            uid: vtodo.uid.clone(),
            ical: text.to_owned(),
        }),
    })
}

/// The calendar object of a todo: its fields over what a client last sent
/// (so that what the app does not map comes back as the client wrote it).
fn render(calendar: &Calendar, object: &DavTodo) -> String {
    let zone = calendar.time_zone();
    let stored = object
        .ical
        .as_deref()
        .and_then(|text| ical::parse_todo_object(text, zone).ok());
    let todo: &Todo = &object.todo;
    let master = stored.as_ref().map(|s| &s.master);
    // A value the client wrote that means what the todo holds is kept.
    let priority = master
        .and_then(|m| m.priority)
        .filter(|p| priority_from_ical(Some(*p)) == todo.priority)
        .unwrap_or_else(|| priority_to_ical(todo.priority));
    let stored_rule = master.and_then(|m| m.rrule.clone());
    let rrule = match stored_rule {
        // The client's own text, when it means what the todo holds, or
        // when the app cannot read it (and the todo has no repeat of its own).
        Some(rule)
            if recurrence_from_rrule(&rule) == todo.recurrence
                || (todo.recurrence == Recurrence::None && RRule::parse(&rule).is_err()) =>
        {
            Some(rule)
        }
        _ => rrule_of(todo.recurrence),
    };
    // The client's own spelling of the tags, when they are the todo's.
    let categories: Vec<String> = match master {
        Some(m) if same_tags(&m.categories, &todo.tags) => m.categories.clone(),
        _ => todo.tags.clone(),
    };
    // SEQUENCE only grows: the client's, plus the changes since it began.
    let stored_sequence = stored
        .as_ref()
        .and_then(|s| s.calendar.children_named("VTODO").next())
        .and_then(|v| v.prop("SEQUENCE"))
        .and_then(|p| p.value.trim().parse::<i64>().ok())
        .unwrap_or(0)
        .max(0);
    let due = todo.due_at.map(|at| {
        if todo.due_all_day {
            IcalTime::Date(at.date_naive())
        } else {
            IcalTime::DateTime(at)
        }
    });
    let view = TodoView {
        uid: &object.uid,
        summary: &todo.title,
        description: &todo.description,
        priority,
        due,
        completed_at: todo.completed_at.filter(|_| todo.completed),
        categories: &categories,
        rrule: rrule.as_deref(),
        remind_at: todo.remind_at,
        created: todo.created_at,
        last_modified: todo.updated_at,
        sequence: stored_sequence.saturating_add(todo.version - 1),
    };
    ical::render(&view, stored.as_ref().map(|s| &s.calendar), zone)
}

/// Whether a client's categories are the todo's tags, as the app keeps them
/// (trimmed, lowercased, without repeats).
fn same_tags(categories: &[String], tags: &[String]) -> bool {
    let mut kept: Vec<String> = Vec::new();
    for c in categories {
        let tag = c.trim().to_lowercase();
        if !kept.contains(&tag) {
            kept.push(tag);
        }
    }
    kept == tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_a_users_resources() {
        let me = Uuid::from_u128(1);
        let list = Uuid::from_u128(3);
        assert_eq!(Target::parse("/dav"), Some((None, Target::Root)));
        assert_eq!(Target::parse("/dav/"), Some((None, Target::Root)));
        assert_eq!(
            Target::parse(&principal_href(me)),
            Some((Some(me), Target::Principal))
        );
        assert_eq!(
            Target::parse(&home_href(me)),
            Some((Some(me), Target::Home))
        );
        assert_eq!(
            Target::parse(&calendar_href(me, list)),
            Some((Some(me), Target::Calendar(list)))
        );
        let href = object_href(me, list, "A B@c.ics");
        assert!(href.ends_with("/A%20B@c.ics"), "{href}");
        assert_eq!(
            Target::parse(&href),
            Some((Some(me), Target::Object(list, "A B@c.ics".into())))
        );
        assert_eq!(Target::parse("/davx"), None);
        assert_eq!(
            Target::parse(&format!("{}x/y", calendar_href(me, list))),
            None
        );
        assert_eq!(
            Target::parse(&format!("/dav/calendars/{me}/not-a-uuid/")),
            None
        );
        assert_eq!(Target::parse("/dav/calendars/someone/"), None);
    }

    #[test]
    fn priorities_map_to_the_four_levels_and_back() {
        let cases = [
            (None, Priority::Medium),
            (Some(0), Priority::Medium),
            (Some(1), Priority::Urgent),
            (Some(2), Priority::High),
            (Some(4), Priority::High),
            (Some(5), Priority::Medium),
            (Some(6), Priority::Low),
            (Some(9), Priority::Low),
        ];
        for (ical, level) in cases {
            assert_eq!(priority_from_ical(ical), level, "{ical:?}");
        }
        for level in [
            Priority::Urgent,
            Priority::High,
            Priority::Medium,
            Priority::Low,
        ] {
            assert_eq!(priority_from_ical(Some(priority_to_ical(level))), level);
        }
    }

    #[test]
    fn plain_rules_become_the_apps_words_the_subset_rules_and_others_none() {
        let rule = |text: &str| RRule::parse(text).map(Recurrence::Rule).unwrap();
        let cases = [
            ("FREQ=DAILY", Recurrence::Daily),
            ("freq=weekly;interval=1", Recurrence::Weekly),
            ("FREQ=MONTHLY", Recurrence::Monthly),
            ("FREQ=WEEKLY;BYDAY=MO,WE", rule("FREQ=WEEKLY;BYDAY=MO,WE")),
            ("FREQ=DAILY;INTERVAL=2", rule("FREQ=DAILY;INTERVAL=2")),
            ("FREQ=YEARLY", rule("FREQ=YEARLY")),
            ("FREQ=DAILY;COUNT=3", rule("FREQ=DAILY;COUNT=3")),
            ("FREQ=HOURLY", Recurrence::None),
            ("FREQ=MONTHLY;BYSETPOS=1", Recurrence::None),
        ];
        for (text, want) in cases {
            assert_eq!(recurrence_from_rrule(text), want, "{text}");
        }
    }

    #[test]
    fn resource_names_end_in_ics_and_have_no_slash() {
        assert!(valid_name("0E1B6F3C-8A2D-4B8E-9F00-3C1D2E4F5A6B.ics"));
        assert!(valid_name("a.ics"));
        assert!(!valid_name(".ics"));
        assert!(!valid_name("a.txt"));
        assert!(!valid_name("a/b.ics"));
        assert!(!valid_name(&format!("{}.ics", "x".repeat(197))));
    }
}
