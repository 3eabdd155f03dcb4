//! The web component: serves the single-page app in `static/`, embedded in
//! the build by `build.rs`, and the OpenAPI document. Every answer carries
//! the security headers; files are revalidated by a strong `ETag` on every use.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use crate::api::{allow, Request, Response};
use crate::error::ApiError;
use crate::ports::Ctx;

#[cfg(test)]
mod embed;

/// A file served from memory, with what `build.rs` computed for it.
#[derive(Debug)]
pub struct StaticFile {
    /// Relative to `static/`, `/`-separated: `js/app.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    /// Strong: the first 128 bits of the body's SHA-256, quoted.
    pub etag: &'static str,
    pub body: &'static [u8],
}

mod embedded {
    use super::StaticFile;
    include!(concat!(env!("OUT_DIR"), "/static_files.rs"));
}
pub use embedded::STATIC_FILES;

/// The OpenAPI 3.1 document of the whole API (kept in the repository; a
/// test checks it against the real routes and responses).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Where [`OPENAPI_JSON`] is served (its own route in `spin.toml`).
pub const OPENAPI_PATH: &str = "/api/openapi.json";

const OPENAPI: StaticFile = StaticFile {
    path: "openapi.json",
    content_type: "application/json",
    etag: embedded::OPENAPI_ETAG,
    body: OPENAPI_JSON.as_bytes(),
};

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

/// File names are not fingerprinted, so a cached copy is always
/// revalidated; an unchanged file costs a 304 and no body.
const CACHE_CONTROL: &str = "no-cache";

pub fn handle(req: &Request, _ctx: &Ctx) -> Result<Response, ApiError> {
    serve(req, STATIC_FILES)
}

/// [`handle`] over any table of files (the tests use a small one).
fn serve(req: &Request, files: &'static [StaticFile]) -> Result<Response, ApiError> {
    let mut response = match route(req, files) {
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

fn route(req: &Request, files: &'static [StaticFile]) -> Result<Response, ApiError> {
    let path = req.uri().path();
    if path.trim_end_matches('/') == OPENAPI_PATH {
        allow(req, &[Method::GET, Method::HEAD])?;
        return file_response(req, &OPENAPI);
    }
    if path == "/api" || path.starts_with("/api/") {
        return Err(ApiError::not_found());
    }
    // A CalDAV client given the app's address asks it for the principal
    // (the `caldav` library never tries /.well-known/caldav then): send it
    // to the CalDAV root, as /.well-known/caldav does.
    if path == "/" && req.method().as_str() == "PROPFIND" {
        return Ok(http::Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, crate::dav::ROOT)
            .body(Bytes::new())
            .unwrap_or_default());
    }
    allow(req, &[Method::GET, Method::HEAD])?;
    let file = resolve(files, path).ok_or_else(ApiError::not_found)?;
    file_response(req, file)
}

/// 200 with the file (only its headers for HEAD), or 304 when the client's
/// `If-None-Match` names its `ETag`.
fn file_response(req: &Request, file: &'static StaticFile) -> Result<Response, ApiError> {
    let builder = http::Response::builder()
        .header(header::ETAG, file.etag)
        .header(header::CACHE_CONTROL, CACHE_CONTROL);
    if none_match(req.headers(), file.etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Bytes::new())
            .map_err(ApiError::internal);
    }
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(file.body)
    };
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, file.content_type)
        .header(header::CONTENT_LENGTH, file.body.len())
        .body(body)
        .map_err(ApiError::internal)
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

/// Maps a URL path to a file of `files`. The path is percent-decoded
/// first, so `%2e%2e` and `%2f` are seen for what they are; a `..` or
/// dot-file segment, a backslash, NUL or other control character, or an
/// escape that is not valid UTF-8 is refused outright. A folder answers its
/// `index.html`. A path whose last segment has no extension is a route of
/// the app: `index.html` answers it unless a file of that name exists.
fn resolve(files: &'static [StaticFile], url_path: &str) -> Option<&'static StaticFile> {
    let decoded = percent_decode(url_path)?;
    let mut path = String::with_capacity(decoded.len());
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
            return None;
        }
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(segment);
        last = segment;
    }
    let file = |path: &str| files.iter().find(|f| f.path == path);
    let is_folder = path.is_empty()
        || files.iter().any(|f| {
            f.path
                .strip_prefix(path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        });
    let found = if is_folder {
        file(&format!(
            "{path}{}index.html",
            if path.is_empty() { "" } else { "/" }
        ))
    } else {
        file(&path)
    };
    match found {
        Some(found) => Some(found),
        None if !last.contains('.') => file("index.html"),
        None => None,
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256};

    use super::embed::{content_type, etag};
    use super::*;

    const fn file(path: &'static str, body: &'static str) -> StaticFile {
        StaticFile {
            path,
            content_type: "text/plain; charset=utf-8",
            etag: "\"test\"",
            body: body.as_bytes(),
        }
    }

    /// A small `static/`: an index, a script, a folder with its own index,
    /// and a dot-file that must never be served even when present.
    static SITE: &[StaticFile] = &[
        file(".env", "SECRET=1"),
        file("docs/index.html", "docs"),
        file("index.html", "<!doctype html>"),
        file("js/app.js", "export {}"),
    ];

    fn resolved(url_path: &str) -> Option<&'static str> {
        resolve(SITE, url_path).map(|f| f.path)
    }

    fn static_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static")
    }

    fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = http::Request::builder().uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        serve(&req.body(Bytes::new()).unwrap(), STATIC_FILES).unwrap()
    }

    #[test]
    fn files_folders_and_routes_resolve_inside_the_root() {
        assert_eq!(resolved("/"), Some("index.html"));
        assert_eq!(resolved("/js/app.js"), Some("js/app.js"));
        assert_eq!(resolved("/js//./app.js"), Some("js/app.js"));
        assert_eq!(resolved("/docs"), Some("docs/index.html"));
        assert_eq!(resolved("/docs/"), Some("docs/index.html"));
        // Client-side routes: no extension, no such file.
        assert_eq!(resolved("/login"), Some("index.html"));
        assert_eq!(resolved("/todos/some/route"), Some("index.html"));
        assert_eq!(resolved("/js"), Some("index.html"));
        // A missing file with an extension is missing.
        assert_eq!(resolved("/js/nope.js"), None);
        assert_eq!(resolved("/favicon.ico"), None);
    }

    #[test]
    fn paths_that_climb_out_of_the_root_are_refused() {
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
            assert_eq!(resolved(path), None, "{path}");
        }
    }

    #[test]
    fn percent_escapes_are_decoded_before_resolving() {
        assert_eq!(resolved("/js%2fapp%2Ejs"), Some("js/app.js"));
        assert_eq!(percent_decode("/a%20b"), Some("/a b".into()));
        assert_eq!(percent_decode("/%C3%A9"), Some("/é".into()));
        assert_eq!(percent_decode("/%"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%c3"), None);
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
    fn the_served_etag_of_each_file_is_the_sha256_of_the_file_on_disk() {
        let on_disk = |body: &[u8]| {
            format!(
                "\"{}\"",
                URL_SAFE_NO_PAD.encode(&Sha256::digest(body)[..16])
            )
        };
        for file in STATIC_FILES {
            let body = std::fs::read(static_root().join(file.path)).unwrap();
            assert_eq!(file.body, body, "{}", file.path);
            let served = get(&format!("/{}", file.path), &[]);
            assert_eq!(
                served.headers()[header::ETAG],
                on_disk(&body),
                "{}",
                file.path
            );
        }
        let index = std::fs::read(static_root().join("index.html")).unwrap();
        assert_eq!(get("/", &[]).headers()[header::ETAG], on_disk(&index));
        let openapi = get(OPENAPI_PATH, &[]);
        assert_eq!(
            openapi.headers()[header::ETAG],
            on_disk(OPENAPI_JSON.as_bytes())
        );
    }

    #[test]
    fn every_file_of_the_static_folder_is_embedded_and_no_dot_file() {
        let embedded: Vec<&str> = STATIC_FILES.iter().map(|f| f.path).collect();
        let on_disk = embed::files(&static_root()).unwrap();
        let on_disk: Vec<&str> = on_disk.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(embedded, on_disk);
        assert!(embedded.contains(&"index.html"), "{embedded:?}");
        assert!(embedded.contains(&"js/app.js"), "{embedded:?}");
        for path in embedded {
            assert!(
                !path.split('/').any(|segment| segment.starts_with('.')),
                "{path}"
            );
        }
    }

    #[test]
    fn the_build_leaves_dot_files_and_dot_folders_out() {
        let root = std::env::temp_dir().join(format!("web-embed-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("js")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(root.join("js/app.js"), "export {}").unwrap();
        std::fs::write(root.join("js/.app.js.swp"), "draft").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::write(root.join(".git/config"), "[core]").unwrap();
        let found: Vec<String> = embed::files(&root)
            .unwrap()
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(found, ["index.html", "js/app.js"]);
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
        let served = |path: &str| {
            STATIC_FILES
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.content_type)
        };
        assert_eq!(served("index.html"), Some("text/html; charset=utf-8"));
        assert_eq!(served("js/app.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(served("app.css"), Some("text/css; charset=utf-8"));
    }

    #[test]
    fn the_policy_forbids_inline_code_and_framing() {
        assert!(CONTENT_SECURITY_POLICY.contains("default-src 'self'"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
    }
}
