//! Spin's HTTP routing: `/x` matches only `/x` (a trailing slash is ignored),
//! `/x/...` matches `/x` and everything under it, `/...` matches everything.
//! An exact route beats a wildcard one, a longer wildcard prefix beats a
//! shorter one, and when a route is listed twice the last entry wins.

use anyhow::{bail, Result};

use crate::manifest::HttpRoute;

#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Route {
    /// Without the trailing `/...` (wildcards) or trailing slash; `/` is `""`.
    prefix: String,
    wildcard: bool,
    /// As written in the manifest.
    raw: String,
    component: String,
}

/// The route that matched a request path, and what Spin tells the component about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub component: &'a str,
    /// `spin-matched-route`: the route with the base (`/`) applied.
    pub matched_route: String,
    /// `spin-raw-component-route`: the route as written.
    pub raw_route: &'a str,
    /// `spin-component-route`: the route as written, without `/...`.
    pub component_route: &'a str,
    /// `spin-path-info`: what the wildcard captured (empty for exact routes).
    pub path_info: &'a str,
}

impl RouteMatch<'_> {
    /// Adds the headers Spin adds to every request it passes to a
    /// component (`uri` absolute, as Spin hands it over); shared by the
    /// native harness and the wasm host.
    pub fn add_spin_headers(
        &self,
        headers: &mut http::HeaderMap,
        client_addr: std::net::SocketAddr,
        uri: &http::Uri,
    ) {
        let full_url = uri.to_string();
        let values = [
            ("spin-full-url", full_url.as_str()),
            ("spin-path-info", self.path_info),
            ("spin-matched-route", self.matched_route.as_str()),
            ("spin-component-route", self.component_route),
            ("spin-raw-component-route", self.raw_route),
            ("spin-base-path", "/"),
            ("spin-client-addr", &client_addr.to_string()),
        ];
        for (name, value) in values {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(http::HeaderName::from_static(name), value);
            }
        }
    }
}

impl Router {
    pub fn new(routes: &[HttpRoute]) -> Result<Self> {
        let mut parsed: Vec<Route> = Vec::new();
        for r in routes {
            let absolute = if r.route.starts_with('/') {
                r.route.clone()
            } else {
                format!("/{}", r.route)
            };
            let (prefix, wildcard) = match absolute.strip_suffix("/...") {
                Some(prefix) => (prefix.to_owned(), true),
                None => (
                    absolute.strip_suffix('/').unwrap_or(&absolute).to_owned(),
                    false,
                ),
            };
            if prefix.contains("...") || prefix.split('/').any(|s| s.starts_with(':')) {
                bail!(
                    "route {:?}: only exact routes and a trailing /... are supported",
                    r.route
                );
            }
            let route = Route {
                prefix,
                wildcard,
                raw: r.route.clone(),
                component: r.component.clone(),
            };
            // Spin keeps the last of duplicate routes.
            parsed.retain(|p| p.raw != route.raw);
            parsed.push(route);
        }
        Ok(Self { routes: parsed })
    }

    /// The best route for a request path, if any.
    pub fn route<'a>(&'a self, path: &'a str) -> Option<RouteMatch<'a>> {
        let best = self
            .routes
            .iter()
            .filter(|r| r.matches(path))
            .max_by_key(|r| (!r.wildcard, segments(&r.prefix)))?;
        let path_info = if best.wildcard {
            &path[best.prefix.len()..]
        } else {
            ""
        };
        Some(RouteMatch {
            component: &best.component,
            matched_route: if best.wildcard {
                format!("{}/...", best.prefix)
            } else {
                best.prefix.clone()
            },
            raw_route: &best.raw,
            component_route: best.raw.strip_suffix("/...").unwrap_or(&best.raw),
            path_info,
        })
    }

    /// `(route, component)` pairs in manifest order, for the startup banner.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes
            .iter()
            .map(|r| (r.raw.as_str(), r.component.as_str()))
    }
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        if self.wildcard {
            path == self.prefix
                || path
                    .strip_prefix(self.prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        } else {
            path.strip_suffix('/').unwrap_or(path) == self.prefix
        }
    }
}

fn segments(prefix: &str) -> usize {
    prefix.split('/').filter(|s| !s.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let routes: Vec<HttpRoute> = routes
            .iter()
            .map(|(route, component)| HttpRoute {
                route: (*route).into(),
                component: (*component).into(),
            })
            .collect();
        Router::new(&routes).unwrap()
    }

    /// The routes of this app's spin.toml.
    fn app() -> Router {
        router(&[
            ("/api/auth/...", "auth"),
            ("/api/todos", "todos"),
            ("/api/todos/...", "todos"),
            ("/api/chat/...", "chat"),
            ("/health", "health"),
            ("/health/...", "health"),
            ("/...", "web"),
        ])
    }

    #[test]
    fn paths_go_to_the_most_specific_route() {
        let table = [
            ("/", "web", "/..."),
            ("/index.html", "web", "/..."),
            ("/api/nope", "web", "/..."),
            ("/api/auth", "auth", "/api/auth/..."),
            ("/api/auth/login", "auth", "/api/auth/..."),
            ("/api/authx", "web", "/..."),
            ("/api/todos", "todos", "/api/todos"),
            ("/api/todos/", "todos", "/api/todos"),
            ("/api/todos/123", "todos", "/api/todos/..."),
            ("/api/todos/123/toggle", "todos", "/api/todos/..."),
            ("/api/todosx", "web", "/..."),
            ("/api/chat/messages", "chat", "/api/chat/..."),
            ("/health", "health", "/health"),
            ("/health/ready", "health", "/health/..."),
        ];
        let r = app();
        for (path, component, route) in table {
            let m = r.route(path).unwrap();
            assert_eq!((m.component, m.raw_route), (component, route), "{path}");
        }
    }

    #[test]
    fn without_a_catch_all_unknown_paths_match_nothing() {
        let r = router(&[("/api/todos", "todos"), ("/x/...", "x")]);
        assert_eq!(r.route("/api/todos/1"), None);
        assert_eq!(r.route("/"), None);
        assert_eq!(r.route("/xy"), None);
    }

    #[test]
    fn longer_wildcard_prefixes_win_regardless_of_order() {
        let r = router(&[
            ("/one/two/...", "two"),
            ("/one/...", "one"),
            ("/one/two/three/...", "three"),
        ]);
        assert_eq!(r.route("/one/two/three/four").unwrap().component, "three");
        assert_eq!(r.route("/one/two/x").unwrap().component, "two");
        assert_eq!(r.route("/one/x").unwrap().component, "one");
    }

    #[test]
    fn the_last_duplicate_route_wins() {
        let r = router(&[("/foo", "first"), ("/foo", "second")]);
        assert_eq!(r.route("/foo").unwrap().component, "second");
    }

    #[test]
    fn route_details_are_those_spin_sends_in_headers() {
        // (route, path, path-info, matched, component-route)
        let table = [
            ("/foo/...", "/foo", "", "/foo/...", "/foo"),
            ("/foo/...", "/foo/", "/", "/foo/...", "/foo"),
            ("/foo/...", "/foo/bar", "/bar", "/foo/...", "/foo"),
            ("/foo/...", "/foo/bar/", "/bar/", "/foo/...", "/foo"),
            ("/...", "/", "/", "/...", ""),
            ("/...", "/a/b", "/a/b", "/...", ""),
            ("/foo", "/foo", "", "/foo", "/foo"),
            ("/", "/", "", "", "/"),
        ];
        for (route, path, info, matched, component_route) in table {
            let r = router(&[(route, "c")]);
            let m = r.route(path).unwrap();
            assert_eq!(m.path_info, info, "{route} {path}");
            assert_eq!(m.matched_route, matched, "{route} {path}");
            assert_eq!(m.component_route, component_route, "{route} {path}");
            assert_eq!(m.raw_route, route);
        }
    }

    #[test]
    fn route_parameters_are_refused() {
        let routes = [HttpRoute {
            route: "/users/:id".into(),
            component: "c".into(),
        }];
        assert!(Router::new(&routes).is_err());
    }
}
