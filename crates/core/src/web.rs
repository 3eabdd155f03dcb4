//! The web component: serves the files of `static/` (mounted at `/` under Spin).

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::{header, Method, StatusCode};

use crate::api::{allow, Request, Response};
use crate::error::ApiError;
use crate::ports::Ctx;

/// The OpenAPI 3.1 document of the whole API (kept in the repository; a
/// test checks it against the real routes and responses).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Where [`OPENAPI_JSON`] is served (its own route in `spin.toml`).
pub const OPENAPI_PATH: &str = "/api/openapi.json";

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.uri().path();
    if path.trim_end_matches('/') == OPENAPI_PATH {
        allow(req, &[Method::GET, Method::HEAD])?;
        return ok(
            req,
            "application/json",
            Bytes::from_static(OPENAPI_JSON.as_bytes()),
        );
    }
    if path.starts_with("/api/") {
        return Err(ApiError::not_found());
    }
    allow(req, &[Method::GET, Method::HEAD])?;
    let file = resolve(&ctx.files_root, path).ok_or_else(ApiError::not_found)?;
    let body = std::fs::read(&file).map_err(|_| ApiError::not_found())?;
    ok(req, content_type(&file), Bytes::from(body))
}

/// 200 with `body` (or just its headers for HEAD), revalidated on every use.
fn ok(req: &Request, content_type: &str, body: Bytes) -> Result<Response, ApiError> {
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        body
    };
    http::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-content-type-options", "nosniff")
        .body(body)
        .map_err(ApiError::internal)
}

/// Maps a URL path to a file under `root`, refusing anything that would leave it.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in Path::new(url_path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => path.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if path.is_dir() {
        path.push("index.html");
    }
    path.is_file().then_some(path)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_climb_out_of_the_root_are_refused() {
        let root = std::env::temp_dir();
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/a/../../etc/passwd"), None);
    }
}
