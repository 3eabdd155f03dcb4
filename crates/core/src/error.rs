//! The one error type of the API and its JSON shape:
//! `{"error":{"code":"...","message":"...","fields":{"name":["..."]}}}`.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use serde_json::json;

use crate::db::DbError;

pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Option<FieldErrors>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// What went wrong inside, for the log line only; never sent to the client.
    pub internal: Option<String>,
    /// The body to answer instead of the `{"error":{...}}` shape (see
    /// [`with_body`](Self::with_body)).
    body: Option<serde_json::Value>,
    /// More members of the error object (see [`with_member`](Self::with_member)).
    members: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: None,
            headers: Vec::new(),
            internal: None,
            body: None,
            members: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The same error with one more member in its object, beside `code`
    /// and `message` (a login's `challenge`).
    pub fn with_member(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.members.push((name, value));
        self
    }

    /// The same error (status, headers, log line) answered with `body`
    /// instead of the API's error shape: `/mcp` answers JSON-RPC errors.
    pub fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn method_not_allowed(allowed: &[Method]) -> Self {
        let allow = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let err = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("method not allowed; use {allow}"),
        );
        match HeaderValue::from_str(&allow) {
            Ok(v) => err.with_header(header::ALLOW, v),
            Err(_) => err,
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        )
    }

    /// 422 with one or more messages per field.
    pub fn validation(fields: FieldErrors) -> Self {
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "some fields are invalid",
        );
        err.fields = Some(fields);
        err
    }

    /// 422 for a single field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }

    pub fn too_many_requests(retry_after_secs: i64) -> Self {
        let secs = retry_after_secs.max(1);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many attempts; retry in {secs} seconds"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            format!("{what} is not implemented yet"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A setting the operator must fix (for example a missing `jwt_secret`).
    pub fn misconfigured(detail: impl Into<String>) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "misconfigured",
            "the server is misconfigured; the operator has been told in the log",
        );
        err.internal = Some(detail.into());
        err
    }

    /// Anything unexpected: logged in full, answered generically.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        );
        err.internal = Some(detail.to_string());
        err
    }

    pub fn into_response(self) -> http::Response<Bytes> {
        let body = self.body.unwrap_or_else(|| {
            let mut error = json!({"code": self.code, "message": self.message});
            if let Some(fields) = &self.fields {
                error["fields"] = json!(fields);
            }
            for (name, value) in self.members {
                error[name] = value;
            }
            json!({ "error": error })
        });
        let mut response = crate::api::json(self.status, &body);
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// A database failure the caller did not expect: 503 when the database is
/// unreachable, 500 otherwise.
impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Connection(_) => {
                let mut e = ApiError::unavailable("the database is unavailable");
                e.internal = Some(err.to_string());
                e
            }
            other => ApiError::internal(other),
        }
    }
}

/// Collects per-field messages while parsing a request.
#[derive(Default)]
pub struct Fields(FieldErrors);

impl Fields {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Keeps the value of a parse, or records its error under `field`.
    pub fn take<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(msg) => {
                self.add(field, msg);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_error(self) -> ApiError {
        ApiError::validation(self.0)
    }
}
