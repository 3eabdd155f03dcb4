//! The web component: serves the single-page app in `static/` (mounted at `/`
//! under Spin) and the OpenAPI document. Every answer carries the security
//! headers; files are revalidated by a strong `ETag` on every use.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::api::{allow, Request, Response};
use crate::error::ApiError;
use crate::ports::Ctx;

/// The OpenAPI 3.1 document of the whole API (kept in the repository; a
/// test checks it against the real routes and responses).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Where [`OPENAPI_JSON`] is served (its own route in `spin.toml`).
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The page may load scripts, styles, images and API answers from its own
/// origin only: no inline script or style, no plugins, no framing, no
/// `<base>` tricks, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Sent with every answer of this component, errors and 304s included.
const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
];

/// File names are not fingerprinted (there is no build step), so a cached
/// copy is always revalidated; an unchanged file costs a 304 and no body.
const CACHE_CONTROL: &str = "no-cache";

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let mut response = match route(req, ctx) {
        Ok(response) => response,
        // Internal errors go back to `serve`, which logs what went wrong.
        Err(e) if e.internal.is_some() => return Err(e),
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

fn route(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.uri().path();
    if path.trim_end_matches('/') == OPENAPI_PATH {
        allow(req, &[Method::GET, Method::HEAD])?;
        return file_response(
            req,
            "application/json",
            Bytes::from_static(OPENAPI_JSON.as_bytes()),
        );
    }
    if path == "/api" || path.starts_with("/api/") {
        return Err(ApiError::not_found());
    }
    allow(req, &[Method::GET, Method::HEAD])?;
    let file = match resolve(&ctx.files_root, path) {
        Resolved::File(file) => file,
        Resolved::Missing => return Err(ApiError::not_found()),
    };
    let body = std::fs::read(&file).map_err(|_| ApiError::not_found())?;
    file_response(req, content_type(&file), Bytes::from(body))
}

/// 200 with `body` (only its headers for HEAD), or 304 when the client's
/// `If-None-Match` names the body's `ETag`.
fn file_response(req: &Request, content_type: &str, body: Bytes) -> Result<Response, ApiError> {
    let etag = etag(&body);
    let builder = http::Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, CACHE_CONTROL);
    if none_match(req.headers(), &etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Bytes::new())
            .map_err(ApiError::internal);
    }
    let length = body.len();
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        body
    };
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, length)
        .body(body)
        .map_err(ApiError::internal)
}

/// A strong validator: the first 128 bits of the body's SHA-256.
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

/// `If-None-Match` uses the weak comparison (RFC 9110, 13.1.2): `W/"x"` matches `"x"`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    File(PathBuf),
    Missing,
}

/// Maps a URL path to a file under `root`. The path is percent-decoded
/// first, so `%2e%2e` and `%2f` are seen for what they are; a `..` or
/// dot-file segment, a backslash, NUL or other control character, or an
/// escape that is not valid UTF-8 is refused outright. A path whose last
/// segment has no extension is a route of the app: `index.html` answers it
/// unless a file of that name exists.
fn resolve(root: &Path, url_path: &str) -> Resolved {
    let Some(decoded) = percent_decode(url_path) else {
        return Resolved::Missing;
    };
    let mut path = root.to_path_buf();
    let mut last = "";
    for segment in decoded.split('/') {
        if segment.is_empty() || segment == "." {
            continue;
        }
        let safe = !segment.starts_with('.')
            && !segment
                .chars()
                .any(|c| c == '\\' || c == ':' || c.is_control());
        if !safe {
            return Resolved::Missing;
        }
        path.push(segment);
        last = segment;
    }
    if path.is_dir() {
        let index = path.join("index.html");
        if index.is_file() {
            return Resolved::File(index);
        }
    } else if path.is_file() {
        return Resolved::File(path);
    }
    let index = root.join("index.html");
    if !last.contains('.') && index.is_file() {
        Resolved::File(index)
    } else {
        Resolved::Missing
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are
/// not UTF-8 (stricter than the `percent-encoding` crate, which passes a
/// malformed escape through as text).
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway `static/` with an index, a script, a folder and a secret
    /// beside it (outside the root).
    fn site() -> (PathBuf, PathBuf) {
        let base = std::env::temp_dir().join(format!("web-test-{}", uuid::Uuid::new_v4()));
        let root = base.join("static");
        std::fs::create_dir_all(root.join("js")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(root.join("js/app.js"), "export {}").unwrap();
        std::fs::write(root.join("docs/index.html"), "docs").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        (base, root)
    }

    #[test]
    fn files_folders_and_routes_resolve_inside_the_root() {
        let (base, root) = site();
        let file = |p: &str| Resolved::File(root.join(p));
        assert_eq!(resolve(&root, "/"), file("index.html"));
        assert_eq!(resolve(&root, "/js/app.js"), file("js/app.js"));
        assert_eq!(resolve(&root, "/js//./app.js"), file("js/app.js"));
        assert_eq!(resolve(&root, "/docs"), file("docs/index.html"));
        assert_eq!(resolve(&root, "/docs/"), file("docs/index.html"));
        // Client-side routes: no extension, no such file.
        assert_eq!(resolve(&root, "/login"), file("index.html"));
        assert_eq!(resolve(&root, "/todos/some/route"), file("index.html"));
        assert_eq!(resolve(&root, "/js"), file("index.html"));
        // A missing file with an extension is missing.
        assert_eq!(resolve(&root, "/js/nope.js"), Resolved::Missing);
        assert_eq!(resolve(&root, "/favicon.ico"), Resolved::Missing);
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn paths_that_climb_out_of_the_root_are_refused() {
        let (base, root) = site();
        for path in [
            "/../secret.txt",
            "/js/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/.%2e/secret.txt",
            "/%2e%2e%2fsecret.txt",
            "/js%2f..%2f..%2fsecret.txt",
            "/..%5csecret.txt",
            "/%5c..%5csecret.txt",
            "/..\\secret.txt",
            "/js/app.js%00.html",
            "/%00",
            "/.env",
            "/%2eenv",
            "/%252e%252e/secret.txt",
            "/%e0%a4%a.js",
            "/%ff%fe.js",
            "/%zz.js",
            "/%2",
            "/c:/windows",
            "/js/..",
            "/..",
        ] {
            assert_eq!(resolve(&root, path), Resolved::Missing, "{path}");
        }
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn percent_escapes_are_decoded_before_resolving() {
        let (base, root) = site();
        assert_eq!(
            resolve(&root, "/js%2fapp%2Ejs"),
            Resolved::File(root.join("js/app.js"))
        );
        assert_eq!(percent_decode("/a%20b"), Some("/a b".into()));
        assert_eq!(percent_decode("/%C3%A9"), Some("/é".into()));
        assert_eq!(percent_decode("/%"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%c3"), None);
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn etags_are_strong_and_follow_the_content() {
        let a = etag(b"one");
        assert!(
            a.starts_with('"') && a.ends_with('"') && a.len() > 10,
            "{a}"
        );
        assert_eq!(a, etag(b"one"));
        assert_ne!(a, etag(b"two"));
    }

    #[test]
    fn if_none_match_uses_the_weak_comparison_and_lists() {
        let tag = etag(b"x");
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(none_match(&headers(&tag), &tag));
        assert!(none_match(&headers(&format!("W/{tag}")), &tag));
        assert!(none_match(&headers(&format!("\"other\", {tag}")), &tag));
        assert!(none_match(&headers("*"), &tag));
        assert!(!none_match(&headers("\"other\""), &tag));
        assert!(!none_match(&HeaderMap::new(), &tag));
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type(Path::new("a/index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("app.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("app.css")),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("icon.svg")), "image/svg+xml");
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
    }

    #[test]
    fn the_policy_forbids_inline_code_and_framing() {
        assert!(CONTENT_SECURITY_POLICY.contains("default-src 'self'"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
    }
}
