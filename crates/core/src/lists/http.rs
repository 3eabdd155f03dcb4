//! The lists HTTP API (`/api/lists`, `/api/invitations`), over [`super::store`].

use http::{header, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::domain::{Color, InvitedRole, ListName, Role};
use super::store::{self, ListChanges, ListError};
use crate::api::{allow_route, empty, json, parse_json, Request, Response, RouteSpec};
use crate::auth::{self, require_caller, Email};
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;

/// The endpoints of lists and invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Lists,
    List,
    Members,
    Member,
    Invitations,
    Invitation,
    Feed,
    Received,
    Accept,
    Decline,
}

/// Every lists endpoint. The router answers exactly these (405 with `Allow`
/// for other methods) and a test checks the API document against them.
pub const ROUTES: &[RouteSpec<Route>] = &[
    RouteSpec {
        route: Route::Lists,
        path: "/api/lists",
        methods: &[Method::GET, Method::POST],
    },
    RouteSpec {
        route: Route::List,
        path: "/api/lists/{id}",
        methods: &[Method::GET, Method::PATCH, Method::DELETE],
    },
    RouteSpec {
        route: Route::Members,
        path: "/api/lists/{id}/members",
        methods: &[Method::GET],
    },
    RouteSpec {
        route: Route::Member,
        path: "/api/lists/{id}/members/{user_id}",
        methods: &[Method::PATCH, Method::DELETE],
    },
    RouteSpec {
        route: Route::Invitations,
        path: "/api/lists/{id}/invitations",
        methods: &[Method::GET, Method::POST],
    },
    RouteSpec {
        route: Route::Invitation,
        path: "/api/lists/{id}/invitations/{invitation_id}",
        methods: &[Method::DELETE],
    },
    RouteSpec {
        route: Route::Feed,
        path: "/api/lists/{id}/feed",
        methods: &[Method::POST, Method::DELETE],
    },
    RouteSpec {
        route: Route::Received,
        path: "/api/invitations",
        methods: &[Method::GET],
    },
    RouteSpec {
        route: Route::Accept,
        path: "/api/invitations/{id}/accept",
        methods: &[Method::POST],
    },
    RouteSpec {
        route: Route::Decline,
        path: "/api/invitations/{id}/decline",
        methods: &[Method::POST],
    },
];

/// The route of a path and its raw id segments, in order.
pub fn match_route(path: &str) -> Option<(Route, Vec<&str>)> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let route = match segments.as_slice() {
        ["api", "lists"] => (Route::Lists, vec![]),
        ["api", "lists", id] => (Route::List, vec![*id]),
        ["api", "lists", id, "members"] => (Route::Members, vec![*id]),
        ["api", "lists", id, "members", user] => (Route::Member, vec![*id, *user]),
        ["api", "lists", id, "invitations"] => (Route::Invitations, vec![*id]),
        ["api", "lists", id, "invitations", inv] => (Route::Invitation, vec![*id, *inv]),
        ["api", "lists", id, "feed"] => (Route::Feed, vec![*id]),
        ["api", "invitations"] => (Route::Received, vec![]),
        ["api", "invitations", id, "accept"] => (Route::Accept, vec![*id]),
        ["api", "invitations", id, "decline"] => (Route::Decline, vec![*id]),
        _ => return None,
    };
    Some(route).filter(|(_, ids)| ids.iter().all(|id| !id.is_empty()))
}

impl From<ListError> for ApiError {
    fn from(err: ListError) -> Self {
        match err {
            ListError::Unauthorized => auth::rejected(),
            ListError::NotFound => ApiError::not_found(),
            ListError::Forbidden { needed } => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("only the list's {needed} may do that"),
            ),
            ListError::Conflict { code, message } => ApiError::conflict(code, message),
            ListError::LimitReached { what, limit } => {
                ApiError::conflict("limit_reached", format!("{what}: at most {limit}"))
            }
            ListError::SessionRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "session_required",
                "inviting, changing a role and accepting an invitation need a session token: \
                 a personal access token never gives anyone access; log in first",
            ),
            ListError::Db(e) => e.into(),
        }
    }
}

/// The entry point for `/api/lists...` and `/api/invitations...`.
pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (route, raw_ids) = match_route(req.uri().path()).ok_or_else(ApiError::not_found)?;
    allow_route(req, ROUTES, &route)?;
    let caller = &require_caller(req, ctx)?;
    // A malformed id names nothing: 404, like someone else's list.
    let ids = raw_ids
        .iter()
        .map(|raw| Uuid::parse_str(raw).ok())
        .collect::<Option<Vec<Uuid>>>()
        .ok_or_else(ApiError::not_found)?;
    let method = req.method().clone();
    match (route, ids.as_slice()) {
        (Route::Lists, []) if method == Method::POST => {
            let body: NewListBody = parse_json(req)?;
            let (name, color) = body.parse()?;
            let list = store::create(ctx, caller, &name, color.as_ref())?;
            let mut response = json(StatusCode::CREATED, &list);
            if let Ok(location) = HeaderValue::from_str(&format!("/api/lists/{}", list.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        (Route::Lists, []) => ok(&json!({ "items": store::all(ctx, caller)? })),
        (Route::List, [id]) if method == Method::PATCH => {
            let body: PatchListBody = parse_json(req)?;
            ok(&store::update(ctx, caller, *id, &body.parse()?)?)
        }
        (Route::List, [id]) if method == Method::DELETE => {
            store::delete(ctx, caller, *id)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (Route::List, [id]) => ok(&store::get(ctx, caller, *id)?),
        (Route::Members, [id]) => ok(&json!({ "items": store::members(ctx, caller, *id)? })),
        (Route::Member, [id, user]) if method == Method::PATCH => {
            let body: RoleBody = parse_json(req)?;
            let role = Role::parse(&body.role).map_err(|e| ApiError::invalid_field("role", e))?;
            ok(&store::set_role(ctx, caller, *id, *user, role)?)
        }
        (Route::Member, [id, user]) => {
            store::remove_member(ctx, caller, *id, *user)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (Route::Invitations, [id]) if method == Method::GET => {
            ok(&json!({ "items": store::sent(ctx, caller, *id)? }))
        }
        (Route::Invitations, [id]) => {
            let body: InvitationBody = parse_json(req)?;
            let (email, role) = body.parse()?;
            let sent = store::invite(ctx, caller, *id, &email, role)?;
            Ok(json(StatusCode::CREATED, &sent))
        }
        (Route::Invitation, [id, invitation]) => {
            store::revoke(ctx, caller, *id, *invitation)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (Route::Feed, [id]) if method == Method::POST => {
            let feed = crate::dav::feed::mint().map_err(ApiError::internal)?;
            store::set_feed(ctx, caller, *id, Some(&feed.sha256))?;
            Ok(json(
                StatusCode::CREATED,
                &json!({ "url": crate::dav::feed::url(req, &feed.token), "path": feed.path() }),
            ))
        }
        (Route::Feed, [id]) => {
            store::set_feed(ctx, caller, *id, None)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (Route::Received, []) => ok(&json!({ "items": store::received(ctx, caller)? })),
        (Route::Accept, [id]) => ok(&store::accept(ctx, caller, *id)?),
        (Route::Decline, [id]) => {
            store::decline(ctx, caller, *id)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn ok<T: serde::Serialize>(body: &T) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, body))
}

/// `POST /api/lists`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewListBody {
    name: String,
    #[serde(default)]
    color: Option<String>,
}

impl NewListBody {
    fn parse(self) -> Result<(ListName, Option<Color>), ApiError> {
        let mut f = Fields::default();
        let name = f.take("name", ListName::parse(&self.name));
        let color = f.take("color", self.color.as_deref().map(Color::parse).transpose());
        match (name, color) {
            (Some(name), Some(color)) if f.is_empty() => Ok((name, color)),
            _ => Err(f.into_error()),
        }
    }
}

/// `PATCH /api/lists/{id}`: an absent field stays; `color: null` removes
/// the colour.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchListBody {
    #[serde(default, deserialize_with = "crate::api::nullable")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::nullable")]
    color: Option<Option<String>>,
}

impl PatchListBody {
    fn parse(self) -> Result<ListChanges, ApiError> {
        let mut f = Fields::default();
        let name = match self.name {
            Some(None) => {
                f.add("name", "must not be null");
                None
            }
            name => f.take(
                "name",
                name.flatten().as_deref().map(ListName::parse).transpose(),
            ),
        };
        let color = f.take(
            "color",
            self.color
                .map(|c| c.as_deref().map(Color::parse).transpose())
                .transpose(),
        );
        match (name, color) {
            (Some(name), Some(color)) if f.is_empty() => Ok(ListChanges { name, color }),
            _ => Err(f.into_error()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationBody {
    email: String,
    role: String,
}

impl InvitationBody {
    fn parse(self) -> Result<(Email, InvitedRole), ApiError> {
        let mut f = Fields::default();
        let email = f.take("email", Email::parse(&self.email));
        let role = f.take("role", InvitedRole::parse(&self.role));
        match (email, role) {
            (Some(email), Some(role)) if f.is_empty() => Ok((email, role)),
            _ => Err(f.into_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_of_the_route_table_matches_its_route() {
        for spec in ROUTES {
            let path = spec.path.replace("{id}", "a").replace("{user_id}", "b");
            let path = path.replace("{invitation_id}", "c");
            assert_eq!(
                match_route(&path).map(|(r, _)| r),
                Some(spec.route),
                "{path}"
            );
            assert_eq!(
                match_route(&format!("{path}/")).map(|(r, _)| r),
                Some(spec.route)
            );
        }
        assert_eq!(
            match_route("/api/lists/x/members/y"),
            Some((Route::Member, vec!["x", "y"]))
        );
        for other in [
            "/api/lists//members",
            "/api/listsx",
            "/api/lists/x/y",
            "/api/invitations/x",
        ] {
            assert_eq!(match_route(other), None, "{other}");
        }
    }
}
