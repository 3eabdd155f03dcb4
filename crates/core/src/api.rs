//! HTTP plumbing shared by every component: the request wrapper (`serve`),
//! JSON bodies, method checks, CORS, request ids and the access log.

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::ports::Ctx;
use crate::trace::TraceParent;

pub type Request = http::Request<Bytes>;
pub type Response = http::Response<Bytes>;
/// A component's entry point in the core.
pub type Handler = fn(&Request, &Ctx) -> Result<Response, ApiError>;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Whether a request's body is read at all: not for GET or HEAD, whose
/// content has no meaning (RFC 9110, 9.3.1) and which no handler reads.
/// Under Spin, taking the body, its stream, a read and dropping both would
/// cost every such request five host calls, for an empty body.
pub fn reads_body(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

const REQUEST_ID: &str = "x-request-id";
const CORS_ALLOW_HEADERS: &str = "authorization, content-type, if-match, if-none-match, \
    x-request-id, x-timezone, mcp-protocol-version, mcp-method, mcp-name";
const CORS_EXPOSE_HEADERS: &str = "etag, location, retry-after, x-request-id";

/// Runs one request through a component's handler with everything every
/// response needs: body limit, CORS, `x-request-id`, JSON errors, one log line.
pub fn serve(req: Request, ctx: &Ctx, handler: Handler) -> Response {
    let run = if req.body().len() > MAX_BODY_BYTES {
        Err(ApiError::payload_too_large(MAX_BODY_BYTES))
    } else {
        Ok(handler)
    };
    answer(req, ctx, run)
}

/// Answers `error` to a request the host would not read to the end (a body
/// over [`MAX_BODY_BYTES`], or one that broke off), with the headers and log
/// line [`serve`] gives every answer. `req` carries the request's head; its
/// body is not looked at.
pub fn refuse(req: Request, ctx: &Ctx, error: ApiError) -> Response {
    answer(req, ctx, Err(error))
}

fn answer(req: Request, ctx: &Ctx, run: Result<Handler, ApiError>) -> Response {
    let started = ctx.clock.monotonic();
    let request_id = request_id(&req);
    ctx.trace.set(TraceParent::from_headers(req.headers()));
    let origin = allowed_origin(&req, ctx);

    let result = match run {
        Err(refused) => Err(refused),
        Ok(_) if is_preflight(&req) => preflight(origin.as_deref()),
        Ok(handler) => handler(&req, ctx),
    };
    let (mut response, internal) = match result {
        Ok(r) => (r, None),
        Err(e) => {
            let internal = e.internal.clone();
            (e.into_response(), internal)
        }
    };

    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSE_HEADERS),
        );
    }
    // Always: with CORS on, an answer differs by `Origin`; with it off the
    // header is harmless, and finding out which would cost every request a
    // host call (reading `cors_allowed_origins`).
    headers.append(header::VARY, HeaderValue::from_static("origin"));

    let duration_ms = ctx.clock.monotonic().saturating_sub(started).as_secs_f64() * 1000.0;
    if let Some(line) = log_line(&req, &response, ctx, &request_id, duration_ms, internal) {
        ctx.log.line(&line);
    }
    response
}

/// Marks an answer that gets no access-log line: a health probe's success,
/// which the orchestrator asks for every few seconds and which tells a log
/// reader nothing (a failed probe is logged). Writing a line to stdout is a
/// host call and the largest part of what a liveness probe costs.
#[derive(Debug, Clone, Copy)]
pub struct Unlogged;

/// The LLM tiers an answer skipped and why (not configured, paused after
/// failures, or failed just now), for its access-log line: a chat request
/// tells them there, beside its request id, rather than in a line of
/// their own per tier (each line is a host call, and a rule-tier answer
/// with the default settings skipped two tiers).
#[derive(Debug, Clone)]
pub struct LlmSkipped(pub serde_json::Value);

/// The request's access-log line: what was asked and answered, never a
/// header, query string or body (where tokens and passwords travel).
#[derive(Serialize)]
struct LogLine<'a> {
    time: String,
    method: &'a str,
    path: &'a str,
    status: u16,
    duration_ms: f64,
    request_id: &'a str,
    /// The incoming `traceparent`'s trace id: the trace Spin exported for
    /// this request, when it joined one.
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    llm_skipped: Option<&'a serde_json::Value>,
}

/// The request's access-log line, unless its answer is [`Unlogged`].
fn log_line(
    req: &Request,
    response: &Response,
    ctx: &Ctx,
    request_id: &str,
    duration_ms: f64,
    internal: Option<String>,
) -> Option<String> {
    if response.extensions().get::<Unlogged>().is_some() {
        return None;
    }
    let line = LogLine {
        time: ctx.clock.now().to_rfc3339(),
        method: req.method().as_str(),
        path: req.uri().path(),
        status: response.status().as_u16(),
        duration_ms,
        request_id,
        trace_id: ctx.trace.get().map(|t| t.trace_id()),
        user_id: ctx.user_id.get(),
        error: internal,
        llm_skipped: response.extensions().get::<LlmSkipped>().map(|s| &s.0),
    };
    serde_json::to_string(&line).ok()
}

/// The caller's `x-request-id` when it is sane, else a fresh one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned)
}

/// The request's `Origin` if `cors_allowed_origins` lists it.
pub fn allowed_origin(req: &Request, ctx: &Ctx) -> Option<String> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    let allowed = ctx.var("cors_allowed_origins");
    allowed
        .split(',')
        .map(|o| o.trim().trim_end_matches('/'))
        .any(|o| !o.is_empty() && (o == "*" || o.eq_ignore_ascii_case(origin)))
        .then(|| origin.to_owned())
}

/// Whether `req` is a CORS preflight that CORS answers. Not under the
/// scheduler's routes ([`crate::internal`]): no browser has business there,
/// so a preflight reaches their handler like any other request and gets
/// what any request gets (404 while they are off, 401 without the token),
/// never a 204 or 403 that would tell a page they exist.
fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && !crate::internal::owns(req.uri().path())
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn preflight(origin: Option<&str>) -> Result<Response, ApiError> {
    if origin.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this origin may not call the API (see cors_allowed_origins)",
        ));
    }
    Ok(http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        )
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_ALLOW_HEADERS)
        .header(header::ACCESS_CONTROL_MAX_AGE, "600")
        .body(Bytes::new())
        .unwrap_or_default())
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    json_text(
        status,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

/// A response of JSON already written.
pub fn json_text(status: StatusCode, bytes: Vec<u8>) -> Response {
    http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Bytes::from(bytes))
        .unwrap_or_default()
}

/// An empty response (204 and the like).
pub fn empty(status: StatusCode) -> Response {
    http::Response::builder()
        .status(status)
        .body(Bytes::new())
        .unwrap_or_default()
}

/// An endpoint of a route table: its route, its path as the API document
/// spells it, and its methods. A component's router answers exactly these
/// (405 with `Allow` for other methods), and a test checks the API document
/// against them.
#[derive(Debug)]
pub struct RouteSpec<R> {
    pub route: R,
    pub path: &'static str,
    pub methods: &'static [Method],
}

/// 405 with `Allow` unless the request uses one of the methods `routes`
/// gives `route`.
pub fn allow_route<R: PartialEq>(
    req: &Request,
    routes: &[RouteSpec<R>],
    route: &R,
) -> Result<(), ApiError> {
    let methods = routes
        .iter()
        .find(|spec| spec.route == *route)
        .map_or(&[][..], |spec| spec.methods);
    allow(req, methods)
}

/// 405 with `Allow` unless the request uses one of `allowed`.
pub fn allow(req: &Request, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(req.method()) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(allowed))
    }
}

/// Reads a JSON request body into `T`.
///
/// 415 unless the content type is JSON, 400 for malformed JSON, 422 naming the
/// field for a well-formed body of the wrong shape (missing, unknown or
/// mistyped fields; request types use `deny_unknown_fields`).
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::unsupported_media_type());
    }
    let value: serde_json::Value = serde_json::from_slice(req.body())
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid_field("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        shape_error(&path, &inner)
    })
}

/// For `#[serde(default, deserialize_with = "crate::api::nullable")]` on an
/// `Option<Option<T>>`: present-and-null is not absent in a merge patch,
/// `Some(None)` is null.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Names the offending field of a serde error.
fn shape_error(path: &str, message: &str) -> ApiError {
    let quoted = message
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_default();
    if message.starts_with("unknown field") {
        // serde_path_to_error's path already ends with the unknown key.
        let field = if path == "." || path.is_empty() {
            quoted
        } else {
            path.to_owned()
        };
        ApiError::invalid_field(&field, "unknown field")
    } else if message.starts_with("missing field") {
        ApiError::invalid_field(&quoted, "is required")
    } else {
        let field = if path == "." { "body" } else { path };
        let message = message.split(" at line ").next().unwrap_or(message);
        ApiError::invalid_field(field, message)
    }
}

/// The value of a bearer `Authorization` header, if any.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Marks the request headers that carry credentials (a bearer token, a
/// cookie) as sensitive, so that a request's `Debug` output, in a panic
/// message or a log line, shows `Sensitive` instead of them. Both hosts
/// call it on every request they build.
pub fn hide_credentials(headers: &mut http::HeaderMap) {
    for (name, value) in headers.iter_mut() {
        if [
            header::AUTHORIZATION,
            header::PROXY_AUTHORIZATION,
            header::COOKIE,
        ]
        .contains(name)
        {
            value.set_sensitive(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{DbError, SqlParam};
    use crate::ports::{Clock, Db, HttpClient, OutboundError, Variables};
    use chrono::{DateTime, TimeZone, Utc};
    use std::time::Duration;

    #[test]
    fn only_get_and_head_leave_their_body_unread() {
        for method in ["GET", "HEAD"] {
            assert!(!reads_body(&method.parse().unwrap()), "{method}");
        }
        for method in [
            "POST",
            "PUT",
            "PATCH",
            "DELETE",
            "OPTIONS",
            "PROPFIND",
            "PROPPATCH",
            "REPORT",
        ] {
            assert!(reads_body(&method.parse().unwrap()), "{method}");
        }
    }

    struct NoDb;
    impl Db for NoDb {
        fn query_json(&self, _: &str, _: &[SqlParam]) -> Result<String, DbError> {
            Err(DbError::Connection("no database in this test".into()))
        }
        fn execute(&self, _: &str, _: &[SqlParam]) -> Result<u64, DbError> {
            Err(DbError::Connection("no database in this test".into()))
        }
        fn release(&self) {}
    }
    struct NoHttp;
    impl HttpClient for NoHttp {
        fn send(
            &self,
            _: http::Request<Vec<u8>>,
            _: Duration,
        ) -> Result<http::Response<Vec<u8>>, OutboundError> {
            Err(OutboundError::Failed("no network in this test".into()))
        }
    }
    struct Origins(&'static str);
    impl Variables for Origins {
        fn get(&self, name: &str) -> Option<String> {
            (name == "cors_allowed_origins").then(|| self.0.to_owned())
        }
    }
    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
        }
        fn sleep(&self, _: Duration) {}
    }

    fn with_ctx<T>(origins: &'static str, f: impl FnOnce(&Ctx) -> T) -> T {
        let vars = Origins(origins);
        let ctx = Ctx::new(&NoDb, &NoHttp, &vars, &Fixed);
        f(&ctx)
    }

    fn ok(_: &Request, _: &Ctx) -> Result<Response, ApiError> {
        Ok(empty(StatusCode::NO_CONTENT))
    }

    fn request(method: Method, uri: &str) -> http::request::Builder {
        http::Request::builder().method(method).uri(uri)
    }

    #[test]
    fn the_log_line_never_carries_headers_queries_or_bodies() {
        with_ctx("", |ctx| {
            let user = Uuid::new_v4();
            ctx.user_id.set(Some(user));
            let req = request(
                Method::POST,
                "http://h/api/auth/login?token=secret-in-query",
            )
            .header("authorization", "Bearer secret-token")
            .body(Bytes::from_static(br#"{"password":"secret-password"}"#))
            .unwrap();
            let text = log_line(&req, &empty(StatusCode::OK), ctx, "rid-1", 1.5, None).unwrap();
            assert!(!text.contains("secret"), "{text}");
            let line: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(line["method"], "POST");
            assert_eq!(line.get("error"), None);
            assert_eq!(line.get("llm_skipped"), None);
            assert_eq!(line["path"], "/api/auth/login");
            assert_eq!(line["status"], 200);
            assert_eq!(line["request_id"], "rid-1");
            assert_eq!(line["user_id"], user.to_string());
            assert_eq!(line["time"], "2026-11-25T12:00:00+00:00");
        });
    }

    #[test]
    fn the_log_line_tells_the_llm_tiers_an_answer_skipped() {
        with_ctx("", |ctx| {
            let req = request(Method::POST, "http://h/api/chat")
                .body(Bytes::new())
                .unwrap();
            let skipped = serde_json::json!([{"tier": "qwen", "reason": "not configured"}]);
            let mut answer = empty(StatusCode::OK);
            answer.extensions_mut().insert(LlmSkipped(skipped.clone()));
            let text = log_line(&req, &answer, ctx, "rid-2", 1.0, None).unwrap();
            let line: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(line["llm_skipped"], skipped);
            assert_eq!(line["request_id"], "rid-2");
        });
    }

    #[test]
    fn the_log_line_carries_the_trace_id_of_a_valid_traceparent_only() {
        fn logged(traceparent: Option<&str>) -> serde_json::Value {
            with_ctx("", |ctx| {
                let mut req = request(Method::GET, "http://h/api/todos");
                if let Some(value) = traceparent {
                    req = req.header(crate::trace::TRACEPARENT, value);
                }
                let req = req.body(Bytes::new()).unwrap();
                // What serve does first: read the request's trace context.
                ctx.trace.set(TraceParent::from_headers(req.headers()));
                let text = log_line(&req, &empty(StatusCode::OK), ctx, "rid-1", 0.1, None).unwrap();
                serde_json::from_str(&text).unwrap()
            })
        }
        let line = logged(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        // Invalid, or none: no trace id, and the request is served as usual.
        let line = logged(Some(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(line.get("trace_id"), None);
        assert_eq!(logged(None).get("trace_id"), None);
    }

    #[test]
    fn serve_reads_the_requests_traceparent_into_the_context() {
        with_ctx("", |ctx| {
            let req = request(Method::GET, "http://h/api/todos")
                .header(
                    crate::trace::TRACEPARENT,
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .body(Bytes::new())
                .unwrap();
            fn traced(_: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
                let trace = ctx.trace.get().map(|t| t.trace_id()).unwrap_or_default();
                Ok(http::Response::builder()
                    .status(StatusCode::OK)
                    .body(Bytes::from(trace))
                    .unwrap())
            }
            let answer = serve(req, ctx, traced);
            assert_eq!(answer.body(), "4bf92f3577b34da6a3ce929d0e0e4736");
        });
    }

    #[test]
    fn an_unlogged_answer_has_no_log_line() {
        with_ctx("", |ctx| {
            let req = request(Method::GET, "http://h/health")
                .body(Bytes::new())
                .unwrap();
            let mut answer = empty(StatusCode::OK);
            assert!(log_line(&req, &answer, ctx, "rid-1", 0.1, None).is_some());
            answer.extensions_mut().insert(Unlogged);
            assert_eq!(log_line(&req, &answer, ctx, "rid-1", 0.1, None), None);
        });
    }

    #[test]
    fn a_health_probe_is_logged_only_when_it_fails() {
        with_ctx("", |ctx| {
            let get = |uri: &str| request(Method::GET, uri).body(Bytes::new()).unwrap();
            let live = crate::health::handle(&get("http://h/health"), ctx).unwrap();
            assert_eq!(live.status(), StatusCode::OK);
            assert!(live.extensions().get::<Unlogged>().is_some());
            // No database here: not ready, and that is worth a line.
            let ready = crate::health::handle(&get("http://h/health/ready"), ctx).unwrap();
            assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(ready.extensions().get::<Unlogged>().is_none());
        });
    }

    #[test]
    fn an_oversized_body_is_refused_before_the_handler_runs() {
        fn must_not_run(_: &Request, _: &Ctx) -> Result<Response, ApiError> {
            panic!("the handler ran");
        }
        with_ctx("", |ctx| {
            let req = request(Method::POST, "http://h/api/todos")
                .body(Bytes::from(vec![b'x'; MAX_BODY_BYTES + 1]))
                .unwrap();
            assert_eq!(
                serve(req, ctx, must_not_run).status(),
                StatusCode::PAYLOAD_TOO_LARGE
            );
        });
    }

    #[test]
    fn a_refused_request_gets_the_error_and_the_headers_of_every_answer() {
        with_ctx("https://app.example", |ctx| {
            // A head whose body the host would not read, even as a preflight.
            let head = request(Method::OPTIONS, "http://h/api/todos")
                .header(header::ORIGIN, "https://app.example")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(REQUEST_ID, "abc-123")
                .body(Bytes::new())
                .unwrap();
            let error = ApiError::payload_too_large(MAX_BODY_BYTES);
            let response = refuse(head, ctx, error);
            assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(response.headers()[REQUEST_ID], "abc-123");
            assert_eq!(
                response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "https://app.example"
            );
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["error"]["code"], "payload_too_large");
        });
    }

    #[test]
    fn request_ids_are_echoed_only_when_sane() {
        with_ctx("", |ctx| {
            let sent = request(Method::GET, "http://h/")
                .header(REQUEST_ID, "abc-123")
                .body(Bytes::new())
                .unwrap();
            assert_eq!(serve(sent, ctx, ok).headers()[REQUEST_ID], "abc-123");
            let odd = request(Method::GET, "http://h/")
                .header(REQUEST_ID, "a b\"<script>")
                .body(Bytes::new())
                .unwrap();
            let answered = serve(odd, ctx, ok);
            let id = answered.headers()[REQUEST_ID].to_str().unwrap();
            assert!(Uuid::parse_str(id).is_ok(), "{id}");
        });
    }

    #[test]
    fn cors_headers_go_only_to_listed_origins() {
        with_ctx("https://app.example, https://other.example/", |ctx| {
            let listed = request(Method::GET, "http://h/")
                .header(header::ORIGIN, "https://other.example")
                .body(Bytes::new())
                .unwrap();
            let response = serve(listed, ctx, ok);
            assert_eq!(
                response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "https://other.example"
            );
            let unlisted = request(Method::GET, "http://h/")
                .header(header::ORIGIN, "https://evil.example")
                .body(Bytes::new())
                .unwrap();
            let response = serve(unlisted, ctx, ok);
            assert!(!response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        });
    }

    #[test]
    fn without_listed_origins_every_preflight_is_refused() {
        with_ctx("", |ctx| {
            let preflight = request(Method::OPTIONS, "http://h/api/todos")
                .header(header::ORIGIN, "https://app.example")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .body(Bytes::new())
                .unwrap();
            assert_eq!(serve(preflight, ctx, ok).status(), StatusCode::FORBIDDEN);
        });
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_trimmed() {
        let req = |value: &str| {
            request(Method::GET, "http://h/")
                .header(header::AUTHORIZATION, value)
                .body(Bytes::new())
                .unwrap()
        };
        assert_eq!(bearer_token(&req("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&req("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&req("Basic abc")), None);
        assert_eq!(bearer_token(&req("Bearer ")), None);
    }

    #[test]
    fn a_requests_debug_output_hides_its_credentials_once_marked() {
        let mut req = request(Method::GET, "http://h/")
            .header(header::AUTHORIZATION, "Bearer todo_pat_secret")
            .header(header::COOKIE, "session=cookie-secret")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::new())
            .unwrap();
        hide_credentials(req.headers_mut());
        let shown = format!("{req:?}");
        assert!(!shown.contains("todo_pat_secret"), "{shown}");
        assert!(!shown.contains("cookie-secret"), "{shown}");
        assert!(shown.contains("application/json"), "{shown}");
        // Only the Debug output: the token still reads as before.
        assert_eq!(bearer_token(&req), Some("todo_pat_secret"));
    }
}
