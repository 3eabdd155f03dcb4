//! The todos HTTP API: routing, request bodies and headers, over [`super::store`].

use http::{header, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::domain::{
    all_day_due, parse_todo_id, Description, DueAt, NewTodo, Priority, Recurrence, Tags, Todo,
    TodoChanges, TodoTitle,
};
use super::query::{parse_list_id, ClearQuery, HistoryQuery, ListQuery, StatsQuery};
use super::{live, store};
use crate::api::{allow_route, empty, json, json_text, parse_json, Request, Response, RouteSpec};
use crate::auth::{require_caller, Caller};
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;

/// The endpoints of the todos component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Collection,
    Stats,
    Item,
    Toggle,
    History,
}

/// Every todos endpoint. The router answers exactly these (405 with `Allow`
/// for other methods) and a test checks the API document against them.
pub const ROUTES: &[RouteSpec<Route>] = &[
    RouteSpec {
        route: Route::Collection,
        path: "/api/todos",
        methods: &[Method::GET, Method::POST, Method::DELETE],
    },
    RouteSpec {
        route: Route::Stats,
        path: "/api/todos/stats",
        methods: &[Method::GET],
    },
    RouteSpec {
        route: Route::Item,
        path: "/api/todos/{id}",
        methods: &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE],
    },
    RouteSpec {
        route: Route::Toggle,
        path: "/api/todos/{id}/toggle",
        methods: &[Method::POST],
    },
    RouteSpec {
        route: Route::History,
        path: "/api/todos/{id}/history",
        methods: &[Method::GET],
    },
];

/// The route of a path, and the raw `{id}` segment if it has one.
pub fn match_route(path: &str) -> Option<(Route, Option<&str>)> {
    let rest = path.strip_prefix("/api/todos")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Some((Route::Collection, None));
    }
    let rest = rest.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let first = parts.next()?;
    match (first, parts.next(), parts.next()) {
        ("stats", None, _) => Some((Route::Stats, None)),
        (id, None, _) if !id.is_empty() => Some((Route::Item, Some(id))),
        (id, Some("toggle"), None) if !id.is_empty() => Some((Route::Toggle, Some(id))),
        (id, Some("history"), None) if !id.is_empty() => Some((Route::History, Some(id))),
        _ => None,
    }
}

/// The todos component's entry point: `/api/todos...`, and the lists
/// routes (`/api/lists...`, `/api/invitations...`, see [`crate::lists::http`]).
pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.uri().path();
    if !path.starts_with("/api/todos") {
        return crate::lists::http::handle(req, ctx);
    }
    let (route, raw_id) = match_route(path).ok_or_else(ApiError::not_found)?;
    allow_route(req, ROUTES, &route)?;
    let caller = &require_caller(req, ctx)?;
    // A malformed id names no todo: 404, like someone else's todo.
    let id = match raw_id {
        Some(raw) => Some(parse_todo_id(raw).ok_or_else(ApiError::not_found)?),
        None => None,
    };
    let method = req.method().clone();
    match (route, id) {
        (Route::Collection, _) => match method {
            Method::POST => create(req, ctx, caller),
            Method::DELETE => clear_completed(req, ctx, caller),
            _ => list(req, ctx, caller),
        },
        (Route::Stats, _) => {
            let query =
                StatsQuery::parse(req.uri().query().unwrap_or("")).map_err(ApiError::validation)?;
            Ok(json(
                StatusCode::OK,
                &store::stats(ctx, caller, query.list)?,
            ))
        }
        (Route::Item, Some(id)) => match method {
            Method::PUT => replace(req, ctx, caller, id),
            Method::PATCH => patch(req, ctx, caller, id),
            Method::DELETE => {
                store::delete(ctx, caller, id, if_match(req).as_deref())?;
                Ok(empty(StatusCode::NO_CONTENT))
            }
            _ => get(req, ctx, caller, id),
        },
        (Route::Toggle, Some(id)) => {
            let toggled = store::toggle(ctx, caller, id, if_match(req).as_deref())?;
            let mut response = json(StatusCode::OK, &toggled);
            set_etag(&mut response, &toggled.todo);
            Ok(response)
        }
        (Route::History, Some(id)) => {
            let page = HistoryQuery::parse(req.uri().query().unwrap_or(""))
                .map_err(ApiError::validation)?;
            Ok(json(
                StatusCode::OK,
                &store::history(ctx, caller, id, &page)?,
            ))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn set_etag(response: &mut Response, todo: &Todo) {
    if let Ok(v) = HeaderValue::from_str(&todo.etag()) {
        response.headers_mut().insert(header::ETAG, v);
    }
}

fn todo_response(status: StatusCode, todo: &Todo) -> Response {
    let mut response = json(status, todo);
    set_etag(&mut response, todo);
    response
}

/// Versions named by the entity tags of a header (`"3"`, `"3", "4"`). Weak
/// tags (`W/"3"`) count only when `weak` (the weak comparison of
/// `If-None-Match`; `If-Match` compares strongly); tags that are not
/// versions of ours are left out (they match nothing).
fn versions_in(value: &str, weak: bool) -> Vec<i64> {
    value
        .split(',')
        .filter_map(|tag| {
            let tag = tag.trim();
            let tag = match tag.strip_prefix("W/") {
                Some(weak_tag) if weak => weak_tag,
                Some(_) => return None,
                None => tag,
            };
            tag.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i64>().ok())
        })
        .collect()
}

/// `If-Match`: `None` when absent or `*` (any version will do).
fn if_match(req: &Request) -> Option<Vec<i64>> {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::IF_MATCH)
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if values.is_empty() || values.iter().any(|v| v.trim() == "*") {
        return None;
    }
    Some(values.iter().flat_map(|v| versions_in(v, false)).collect())
}

fn list(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Response, ApiError> {
    let query = ListQuery::parse(req.uri().query().unwrap_or("")).map_err(ApiError::validation)?;
    match (&query.since, query.wait) {
        (Some(since), Some(wait)) => Ok(json(
            StatusCode::OK,
            &live::changes_within(ctx, caller, since, query.limit, wait)?,
        )),
        (Some(since), None) => {
            let since = store::open_token(ctx, caller, since, "since")?;
            Ok(json(
                StatusCode::OK,
                &store::changes(ctx, caller, &since, query.limit)?,
            ))
        }
        (None, _) => Ok(json_text(
            StatusCode::OK,
            store::list_json(ctx, caller, &query)?,
        )),
    }
}

fn get(req: &Request, ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<Response, ApiError> {
    let todo = store::get(ctx, caller, id)?;
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*" || versions_in(v, true).contains(&todo.version));
    if unchanged {
        let mut response = empty(StatusCode::NOT_MODIFIED);
        set_etag(&mut response, &todo);
        return Ok(response);
    }
    Ok(todo_response(StatusCode::OK, &todo))
}

fn create(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Response, ApiError> {
    let body: TodoBody = parse_json(req)?;
    let new = body.parse()?;
    let todo = store::create(ctx, caller, &new)?;
    let mut response = todo_response(StatusCode::CREATED, &todo);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/todos/{}", todo.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn replace(req: &Request, ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<Response, ApiError> {
    let body: TodoBody = parse_json(req)?;
    let new = body.parse()?;
    let todo = store::replace(ctx, caller, id, new, if_match(req).as_deref())?;
    Ok(todo_response(StatusCode::OK, &todo))
}

fn patch(req: &Request, ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<Response, ApiError> {
    let body: PatchBody = parse_json(req)?;
    let changes = body.parse()?;
    let todo = store::update(ctx, caller, id, &changes, if_match(req).as_deref())?;
    Ok(todo_response(StatusCode::OK, &todo))
}

/// `DELETE /api/todos?status=done[&unchanged_since=<sync token>]` (see
/// [`ClearQuery`]).
fn clear_completed(req: &Request, ctx: &Ctx, caller: &Caller) -> Result<Response, ApiError> {
    let query = ClearQuery::parse(req.uri().query().unwrap_or("")).map_err(ApiError::validation)?;
    let deleted =
        store::clear_completed(ctx, caller, query.list, query.unchanged_since.as_deref())?;
    Ok(json(StatusCode::OK, &json!({ "deleted": deleted })))
}

/// A field that falls back to its default when missing (or, in a patch, null).
fn or_default<R: ?Sized, T: Default>(
    raw: Option<&R>,
    parse: impl FnOnce(&R) -> Result<T, String>,
) -> Result<T, String> {
    raw.map_or_else(|| Ok(T::default()), parse)
}

/// The body of POST (create) and PUT (replace): `title` is required, every
/// other field falls back to its default when missing or null. Also the
/// arguments of the MCP `add_task` tool, so both check input alike.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TodoBody {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    due_at: Option<String>,
    /// `due_at` is a day, at 00:00 UTC.
    #[serde(default)]
    due_all_day: Option<bool>,
    #[serde(default)]
    remind_at: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    recurrence: Option<String>,
    /// The list (default: the caller's Inbox; on a replace, the todo's own).
    #[serde(default)]
    list_id: Option<String>,
    #[serde(default)]
    assignee_id: Option<String>,
}

impl TodoBody {
    /// Every field parsed into its domain type; 422 naming each bad field.
    pub fn parse(self) -> Result<NewTodo, ApiError> {
        let mut f = Fields::default();
        let title = f.take("title", TodoTitle::parse(&self.title));
        let description = f.take(
            "description",
            or_default(self.description.as_deref(), Description::parse),
        );
        let priority = f.take(
            "priority",
            or_default(self.priority.as_deref(), Priority::parse),
        );
        let due_at = f.take(
            "due_at",
            self.due_at.as_deref().map(DueAt::parse).transpose(),
        );
        let due_all_day = due_at.and_then(|due| {
            f.take(
                "due_all_day",
                all_day_due(due, self.due_all_day.unwrap_or(false)),
            )
        });
        let remind_at = f.take(
            "remind_at",
            self.remind_at.as_deref().map(DueAt::parse).transpose(),
        );
        let tags = f.take("tags", or_default(self.tags.as_deref(), Tags::parse));
        let recurrence = f.take(
            "recurrence",
            or_default(self.recurrence.as_deref(), Recurrence::parse),
        );
        let list_id = f.take(
            "list_id",
            self.list_id.as_deref().map(parse_list_id).transpose(),
        );
        let assignee_id = f.take(
            "assignee_id",
            self.assignee_id.as_deref().map(parse_list_id).transpose(),
        );
        match (
            title,
            description,
            priority,
            due_at,
            remind_at,
            tags,
            recurrence,
            list_id,
            assignee_id,
        ) {
            (
                Some(title),
                Some(description),
                Some(priority),
                Some(due_at),
                Some(remind_at),
                Some(tags),
                Some(recurrence),
                Some(list_id),
                Some(assignee_id),
            ) if f.is_empty() => Ok(NewTodo {
                title,
                description,
                priority,
                due_at,
                due_all_day: due_all_day.unwrap_or(false),
                remind_at,
                tags,
                recurrence,
                list_id,
                assignee_id,
                dav: None,
            }),
            _ => Err(f.into_error()),
        }
    }
}

/// The body of PATCH, with JSON merge patch semantics: an absent field stays
/// as it is; `null` resets it to its default (`due_at: null` clears the due
/// date). The title cannot be null. Also the changes of the MCP
/// `update_task` tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "crate::api::nullable")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    due_at: Option<Option<String>>,
    /// Only together with `due_at`.
    #[serde(default)]
    due_all_day: Option<bool>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    remind_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    recurrence: Option<Option<String>>,
    /// Moves the todo to this list.
    #[serde(default, deserialize_with = "crate::api::nullable")]
    list_id: Option<Option<String>>,
    /// `null` unassigns.
    #[serde(default, deserialize_with = "crate::api::nullable")]
    assignee_id: Option<Option<String>>,
}

impl PatchBody {
    /// The changes, each parsed into its domain type; 422 naming each bad field.
    pub fn parse(self) -> Result<TodoChanges, ApiError> {
        let mut f = Fields::default();
        let due_given = self.due_at.is_some();
        let mut changes = TodoChanges {
            title: match self.title {
                None => None,
                Some(None) => {
                    f.add("title", "must not be null");
                    None
                }
                Some(Some(t)) => f.take("title", TodoTitle::parse(&t)),
            },
            description: self
                .description
                .and_then(|d| f.take("description", or_default(d.as_deref(), Description::parse))),
            priority: self
                .priority
                .and_then(|p| f.take("priority", or_default(p.as_deref(), Priority::parse))),
            due_at: self
                .due_at
                .and_then(|d| f.take("due_at", d.as_deref().map(DueAt::parse).transpose())),
            remind_at: self
                .remind_at
                .and_then(|d| f.take("remind_at", d.as_deref().map(DueAt::parse).transpose())),
            tags: self
                .tags
                .and_then(|t| f.take("tags", or_default(t.as_deref(), Tags::parse))),
            recurrence: self
                .recurrence
                .and_then(|r| f.take("recurrence", or_default(r.as_deref(), Recurrence::parse))),
            list_id: match self.list_id {
                None => None,
                Some(None) => {
                    f.add("list_id", "must not be null: every todo is in a list");
                    None
                }
                Some(Some(id)) => f.take("list_id", parse_list_id(&id)),
            },
            assignee_id: self
                .assignee_id
                .and_then(|a| f.take("assignee_id", a.as_deref().map(parse_list_id).transpose())),
            ..TodoChanges::default()
        };
        match (self.due_all_day, changes.due_at) {
            (Some(_), None) if !due_given => {
                f.add("due_all_day", "is set together with due_at");
            }
            (Some(all_day), Some(due)) => {
                changes.due_all_day = f.take("due_all_day", all_day_due(due, all_day));
            }
            _ => {}
        }
        if f.is_empty() {
            Ok(changes)
        } else {
            Err(f.into_error())
        }
    }
}

/// For tests: a request with a JSON body.
#[cfg(test)]
fn request(method: Method, uri: &str, body: serde_json::Value) -> Request {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(bytes::Bytes::from(body.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_errors(err: ApiError) -> Vec<String> {
        err.fields.unwrap_or_default().into_keys().collect()
    }

    #[test]
    fn paths_map_to_routes() {
        let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        type Case<'a> = (String, Option<(Route, Option<&'a str>)>);
        let cases: Vec<Case> = vec![
            ("/api/todos".into(), Some((Route::Collection, None))),
            ("/api/todos/".into(), Some((Route::Collection, None))),
            ("/api/todos/stats".into(), Some((Route::Stats, None))),
            (format!("/api/todos/{id}"), Some((Route::Item, Some(id)))),
            (format!("/api/todos/{id}/"), Some((Route::Item, Some(id)))),
            (
                format!("/api/todos/{id}/toggle"),
                Some((Route::Toggle, Some(id))),
            ),
            (
                format!("/api/todos/{id}/history"),
                Some((Route::History, Some(id))),
            ),
            (
                "/api/todos/not-an-id".into(),
                Some((Route::Item, Some("not-an-id"))),
            ),
            (format!("/api/todos/{id}/nope"), None),
            (format!("/api/todos/{id}/toggle/x"), None),
            ("/api/todos/stats/x".into(), None),
            ("/api/todosx".into(), None),
            ("/api/todos//toggle".into(), None),
            ("/api/other".into(), None),
        ];
        for (path, want) in cases {
            assert_eq!(match_route(&path), want, "{path}");
        }
    }

    #[test]
    fn every_route_has_a_spec() {
        for route in [
            Route::Collection,
            Route::Stats,
            Route::Item,
            Route::Toggle,
            Route::History,
        ] {
            assert_eq!(ROUTES.iter().filter(|s| s.route == route).count(), 1);
        }
    }

    #[test]
    fn if_match_lists_versions_and_star_means_any() {
        let cases: [(&[&str], Option<Vec<i64>>); 7] = [
            (&["W/\"3\""], Some(vec![])),
            (&[], None),
            (&["*"], None),
            (&["\"3\""], Some(vec![3])),
            // If-Match compares strongly: a weak tag matches nothing.
            (&["W/\"3\", \"4\""], Some(vec![4])),
            (&["\"3\"", "\"5\""], Some(vec![3, 5])),
            (&["\"abc\""], Some(vec![])),
        ];
        for (values, want) in cases {
            let mut builder = http::Request::builder();
            for v in values {
                builder = builder.header(header::IF_MATCH, *v);
            }
            let req = builder.body(bytes::Bytes::new()).unwrap_or_default();
            assert_eq!(if_match(&req), want, "{values:?}");
        }
    }

    #[test]
    fn a_create_body_gets_defaults_and_normalised_values() {
        let req = request(
            Method::POST,
            "/api/todos",
            json!({"title": " Buy milk ", "priority": "HIGH", "tags": ["Shopping", "shopping"],
                   "due_at": "2026-12-01T18:00:00+01:00", "description": null}),
        );
        let new = parse_json::<TodoBody>(&req).and_then(TodoBody::parse);
        let Ok(new) = new else {
            unreachable!("{new:?}");
        };
        assert_eq!(new.title.as_str(), "Buy milk");
        assert_eq!(new.priority, Priority::High);
        assert_eq!(new.tags.as_slice(), ["shopping"]);
        assert_eq!(new.description.as_str(), "");
        assert_eq!(new.recurrence, Recurrence::None);
        assert_eq!(
            new.due_at.map(|d| d.time().to_rfc3339()),
            Some("2026-12-01T17:00:00+00:00".into())
        );
    }

    #[test]
    fn every_invalid_field_of_a_create_body_is_named() {
        let req = request(
            Method::POST,
            "/api/todos",
            json!({"title": "", "description": "x".repeat(2001), "priority": "asap",
                   "due_at": "soon", "tags": ["", "ok"], "recurrence": "hourly"}),
        );
        let err = parse_json::<TodoBody>(&req).and_then(TodoBody::parse);
        assert_eq!(
            err.map_err(field_errors).err(),
            Some(
                [
                    "description",
                    "due_at",
                    "priority",
                    "recurrence",
                    "tags",
                    "title"
                ]
                .map(String::from)
                .to_vec()
            )
        );
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let cases = [
            (json!({"title": "a", "titel": "b"}), "titel"),
            (json!({"title": "a", "completed": true}), "completed"),
            (json!({"title": 5}), "title"),
            (json!({"title": "a", "tags": "x"}), "tags"),
            (json!({}), "title"),
        ];
        for (body, field) in cases {
            let req = request(Method::POST, "/api/todos", body.clone());
            let err = parse_json::<TodoBody>(&req).map(|_| ());
            assert_eq!(
                err.map_err(field_errors),
                Err(vec![field.to_owned()]),
                "{body}"
            );
        }
    }

    #[test]
    fn a_patch_distinguishes_absent_from_null() {
        let req = request(
            Method::PATCH,
            "/api/todos/x",
            json!({"due_at": null, "priority": "urgent", "tags": null}),
        );
        let changes = parse_json::<PatchBody>(&req).and_then(PatchBody::parse);
        let Ok(changes) = changes else {
            unreachable!("{changes:?}");
        };
        assert_eq!(changes.due_at, Some(None));
        assert_eq!(changes.priority, Some(Priority::Urgent));
        assert_eq!(changes.tags, Some(Tags::default()));
        assert_eq!(changes.title, None);
        assert_eq!(changes.description, None);
        assert_eq!(changes.recurrence, None);

        let req = request(Method::PATCH, "/api/todos/x", json!({"title": null}));
        let err = parse_json::<PatchBody>(&req).and_then(PatchBody::parse);
        assert_eq!(err.map_err(field_errors).err(), Some(vec!["title".into()]));

        let req = request(Method::PATCH, "/api/todos/x", json!({"version": 3}));
        let err = parse_json::<PatchBody>(&req).map(|_| ());
        assert_eq!(err.map_err(field_errors), Err(vec!["version".into()]));
    }
}
