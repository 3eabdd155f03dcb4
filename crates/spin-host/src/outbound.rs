//! The [`HttpClient`] port over `wasi:http/outgoing-handler@0.2.0`, with a
//! total deadline.
//!
//! `spin_sdk::http::send` passes no request options and never gives up, so a
//! hung LLM would hang the request. Here the host gets connect, first-byte and
//! between-bytes timeouts, and every wait (writing the body, the response head,
//! each body chunk) polls together with a monotonic-clock timer set to the
//! deadline. Resources are the `wasi` crate's (0.13.1, the one spin-sdk's own
//! bindings reuse for `wasi:io`); they import the same `wasi:http@0.2.0`
//! functions as spin-sdk, so the module links them once.

use std::time::Duration;

use todo_core::ports::{HttpClient, OutboundError};
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::poll::{self, Pollable};
use wasi::io::streams::{InputStream, OutputStream, StreamError};

/// Largest response body read, in bytes; more is an error, not a truncation.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Largest piece written or read at a time (the WASI limit for blocking writes).
const CHUNK_BYTES: usize = 4096;
const READ_BYTES: u64 = 64 * 1024;

/// Headers the wasi-http host refuses in an outgoing request (hop-by-hop ones
/// and `host`, which comes from the authority); sending them would fail the
/// whole request, so they are dropped.
const FORBIDDEN_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// Outbound HTTP through Spin's `wasi:http` host.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinHttp;

impl HttpClient for SpinHttp {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, OutboundError> {
        let timeout_ns = nanos(timeout);
        let deadline = monotonic_clock::now().saturating_add(timeout_ns);
        let origin = origin(request.uri());

        let outgoing = outgoing_request(&request)?;
        let body = outgoing
            .body()
            .map_err(|()| failed("the request body was already taken"))?;
        let options = RequestOptions::new();
        // Each setter fails only if the host does not support that timeout;
        // the deadline below still holds then.
        let _ = options.set_connect_timeout(Some(timeout_ns));
        let _ = options.set_first_byte_timeout(Some(timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(timeout_ns));

        let future = outgoing_handler::handle(outgoing, Some(options))
            .map_err(|code| outbound_error(code, &origin))?;
        let written = write_body(body, request.body(), deadline);
        let response = match (written, wait_for_response(&future, deadline, &origin)) {
            (Ok(()), Ok(response)) => response,
            // The host's reason (refused, timed out, ...) says more than the
            // body stream closing on us.
            (_, Err(e)) => return Err(e),
            // The body did not go out whole: do not trust the answer.
            (Err(e), Ok(_)) => return Err(e),
        };
        drop(future);
        read_response(response, deadline)
    }
}

/// Builds the wasi-http request head from an absolute URL, method and headers.
fn outgoing_request(request: &http::Request<Vec<u8>>) -> Result<OutgoingRequest, OutboundError> {
    let uri = request.uri();
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(failed(format!(
            "the request URL must be absolute, not {uri}"
        )));
    };
    let mut headers = header_list(request.headers());
    if needs_content_length(request) {
        // Without it hyper sends the body chunked, which some servers refuse.
        headers.push((
            "content-length".to_owned(),
            request.body().len().to_string().into_bytes(),
        ));
    }
    let fields = Fields::from_list(&headers)
        .map_err(|e| failed(format!("invalid request header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    outgoing
        .set_method(&method(request.method()))
        .map_err(|()| failed(format!("invalid method {}", request.method())))?;
    outgoing
        .set_scheme(Some(&scheme_of(scheme)))
        .map_err(|()| failed(format!("invalid scheme {scheme}")))?;
    outgoing
        .set_authority(Some(authority.as_str()))
        .map_err(|()| failed(format!("invalid authority {authority}")))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| failed(format!("invalid path {path}")))?;
    Ok(outgoing)
}

/// A body, or a method that expects one, goes out with its length rather
/// than chunked.
pub(crate) fn needs_content_length(request: &http::Request<Vec<u8>>) -> bool {
    let expects_body =
        [http::Method::POST, http::Method::PUT, http::Method::PATCH].contains(request.method());
    (expects_body || !request.body().is_empty())
        && !request.headers().contains_key(http::header::CONTENT_LENGTH)
}

/// Request headers as wasi-http wants them, minus those the host forbids.
pub(crate) fn header_list(headers: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(name, _)| !FORBIDDEN_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

pub(crate) fn method(method: &http::Method) -> Method {
    match method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

pub(crate) fn scheme_of(scheme: &str) -> Scheme {
    match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    }
}

/// `scheme://authority`, what `allowed_outbound_hosts` matches; the path and
/// query stay out of error messages and logs.
pub(crate) fn origin(uri: &http::Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
        _ => uri.to_string(),
    }
}

/// Writes the whole body before the deadline, then finishes it.
fn write_body(body: OutgoingBody, bytes: &[u8], deadline: u64) -> Result<(), OutboundError> {
    let stream = body
        .write()
        .map_err(|()| failed("the request body stream was already taken"))?;
    let written = write_all(&stream, bytes, deadline);
    // The stream is a child of the body: it must go before `finish`.
    drop(stream);
    written?;
    OutgoingBody::finish(body, None).map_err(|code| failed(format!("{code:?}")))
}

fn write_all(stream: &OutputStream, mut bytes: &[u8], deadline: u64) -> Result<(), OutboundError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let ready = stream.subscribe();
    while !bytes.is_empty() {
        let permitted = stream.check_write().map_err(stream_error)?;
        if permitted == 0 {
            wait(&ready, deadline)?;
            continue;
        }
        let n = usize::try_from(permitted)
            .unwrap_or(usize::MAX)
            .min(CHUNK_BYTES)
            .min(bytes.len());
        let (chunk, rest) = bytes.split_at(n);
        stream.write(chunk).map_err(stream_error)?;
        bytes = rest;
    }
    // Wait for the flush to complete: `check_write` reports 0 until then. A
    // stream closed after every byte went out is done, as in spin-sdk.
    match stream.flush() {
        Ok(()) => {}
        Err(StreamError::Closed) => return Ok(()),
        Err(e) => return Err(stream_error(e)),
    }
    loop {
        match stream.check_write() {
            Ok(0) => wait(&ready, deadline)?,
            Ok(_) | Err(StreamError::Closed) => return Ok(()),
            Err(e) => return Err(stream_error(e)),
        }
    }
}

/// The response head, or the host's error, before the deadline.
fn wait_for_response(
    future: &FutureIncomingResponse,
    deadline: u64,
    origin: &str,
) -> Result<IncomingResponse, OutboundError> {
    let ready = future.subscribe();
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(outbound_error(code, origin)),
            Some(Err(())) => return Err(failed("the response was already taken")),
            None => wait(&ready, deadline)?,
        }
    }
}

/// Status, headers and at most [`MAX_RESPONSE_BYTES`] of body, before the deadline.
fn read_response(
    response: IncomingResponse,
    deadline: u64,
) -> Result<http::Response<Vec<u8>>, OutboundError> {
    let status = http::StatusCode::from_u16(response.status())
        .map_err(|_| failed(format!("invalid status {}", response.status())))?;
    let mut builder = http::Response::builder().status(status);
    let fields = response.headers();
    for (name, value) in fields.entries() {
        let name = http::HeaderName::from_bytes(name.as_bytes());
        let value = http::HeaderValue::from_bytes(&value);
        if let (Ok(name), Ok(value)) = (name, value) {
            builder = builder.header(name, value);
        }
    }
    drop(fields);

    let body = response
        .consume()
        .map_err(|()| failed("the response body was already taken"))?;
    let stream = body
        .stream()
        .map_err(|()| failed("the response body stream was already taken"))?;
    let bytes = read_all(&stream, deadline);
    drop(stream);
    drop(IncomingBody::finish(body));
    drop(response);
    builder
        .body(bytes?)
        .map_err(|e| failed(format!("invalid response: {e}")))
}

fn read_all(stream: &InputStream, deadline: u64) -> Result<Vec<u8>, OutboundError> {
    let ready = stream.subscribe();
    let mut bytes = Vec::new();
    loop {
        match stream.read(READ_BYTES) {
            Ok(chunk) if chunk.is_empty() => wait(&ready, deadline)?,
            Ok(chunk) => {
                if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(failed(format!(
                        "the response body is larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
                // A server trickling bytes must not outlast the deadline.
                if monotonic_clock::now() >= deadline {
                    return Err(OutboundError::Timeout);
                }
            }
            Err(StreamError::Closed) => return Ok(bytes),
            Err(e) => return Err(stream_error(e)),
        }
    }
}

/// Blocks until `pollable` is ready, or fails with a timeout at `deadline`.
fn wait(pollable: &Pollable, deadline: u64) -> Result<(), OutboundError> {
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = poll::poll(&[pollable, &timer]);
    if ready.contains(&0) {
        Ok(())
    } else {
        Err(OutboundError::Timeout)
    }
}

/// A stream failure, as the host's HTTP error when it gives one.
fn stream_error(error: StreamError) -> OutboundError {
    match error {
        StreamError::Closed => failed("the connection closed"),
        StreamError::LastOperationFailed(e) => match wasi::http::types::http_error_code(&e) {
            Some(code) => outbound_error(code, ""),
            None => failed(e.to_debug_string()),
        },
    }
}

/// Timeouts and Spin's `allowed_outbound_hosts` refusal get their own kinds.
pub(crate) fn outbound_error(code: ErrorCode, origin: &str) -> OutboundError {
    match code {
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::DnsTimeout
        | ErrorCode::HttpResponseTimeout => OutboundError::Timeout,
        ErrorCode::HttpRequestDenied => OutboundError::NotAllowed(origin.to_owned()),
        other => failed(format!("{other:?}")),
    }
}

fn failed(message: impl Into<String>) -> OutboundError {
    OutboundError::Failed(message.into())
}

/// The timeout in the nanoseconds wasi clocks count in.
fn nanos(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_refusals_get_their_own_kinds() {
        for code in [
            ErrorCode::ConnectionTimeout,
            ErrorCode::ConnectionReadTimeout,
            ErrorCode::ConnectionWriteTimeout,
        ] {
            assert_eq!(outbound_error(code, "x"), OutboundError::Timeout);
        }
        assert_eq!(
            outbound_error(ErrorCode::HttpRequestDenied, "https://llm.example"),
            OutboundError::NotAllowed("https://llm.example".into())
        );
        assert!(matches!(
            outbound_error(ErrorCode::ConnectionRefused, "x"),
            OutboundError::Failed(m) if m.contains("ConnectionRefused")
        ));
    }

    #[test]
    fn forbidden_headers_are_dropped() {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "evil.example".parse().unwrap());
        headers.insert("connection", "close".parse().unwrap());
        headers.insert("authorization", "Bearer k".parse().unwrap());
        let list = header_list(&headers);
        assert_eq!(
            list,
            vec![("authorization".to_owned(), b"Bearer k".to_vec())]
        );
    }

    #[test]
    fn bodies_and_posts_carry_their_length() {
        let post = |body: &[u8]| {
            http::Request::post("http://x.example/")
                .body(body.to_vec())
                .unwrap()
        };
        assert!(needs_content_length(&post(b"")));
        assert!(needs_content_length(&post(b"{}")));
        let get = http::Request::get("http://x.example/")
            .body(Vec::new())
            .unwrap();
        assert!(!needs_content_length(&get));
        let explicit = http::Request::post("http://x.example/")
            .header("content-length", "2")
            .body(b"{}".to_vec())
            .unwrap();
        assert!(!needs_content_length(&explicit));
    }

    #[test]
    fn origin_leaves_out_path_and_query() {
        let uri: http::Uri = "https://llm.example:8443/v1/chat?key=secret"
            .parse()
            .unwrap();
        assert_eq!(origin(&uri), "https://llm.example:8443");
    }

    #[test]
    fn methods_and_schemes_map_one_to_one() {
        assert!(matches!(method(&http::Method::POST), Method::Post));
        assert!(matches!(method(&http::Method::PATCH), Method::Patch));
        assert!(matches!(scheme_of("https"), Scheme::Https));
        assert!(matches!(scheme_of("http"), Scheme::Http));
    }

    #[test]
    fn huge_timeouts_saturate() {
        assert_eq!(nanos(Duration::from_millis(700)), 700_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
