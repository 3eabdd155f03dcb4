//! Spin's streaming `IncomingRequest` made into the `http::Request` the core
//! serves, reading at most [`MAX_BODY_BYTES`] + 1 bytes of body.
//!
//! With an `http::Request<Bytes>` argument, `#[http_component]` has spin-sdk
//! read the whole body before our code runs: a huge body is buffered whole
//! and a chunked body that never ends is never answered. Taking the
//! `IncomingRequest` instead, a `Content-Length` over the limit is refused
//! before a byte is read, and reading stops as soon as the body passes it.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use spin_sdk::http::IncomingRequest;
use todo_core::api::{hide_credentials, reads_body, MAX_BODY_BYTES};
use todo_core::{ApiError, Request};
use wasi::io::streams::StreamError;

/// Largest piece of body asked for at a time (spin-sdk asks for 16 KiB).
const READ_BYTES: usize = 64 * 1024;

/// A request as read from Spin.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// Head and whole body, for the handler.
    Whole(Request),
    /// Not for the handler: `head` has no body, and the core answers
    /// `error` through it so that the refusal gets a request id, CORS headers
    /// and a log line like every other answer.
    Refused { head: Request, error: ApiError },
    /// A head that is not a valid `http::Request` (Spin's hyper front end
    /// lets none through; this is the answer if one ever comes).
    Malformed(ApiError),
}

/// Why a body was not read to its end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError<E> {
    /// More bytes arrived than the limit allows.
    TooLarge,
    /// The stream broke off (the client went away, or sent a bad chunk).
    Read(E),
}

/// The whole request, or why it does not reach the handler: a
/// `Content-Length` over the limit, more body than the limit, or a body
/// that broke off.
pub(crate) fn read_request(req: IncomingRequest) -> Incoming {
    let mut request = match head(&req) {
        Ok(request) => request,
        Err(e) => {
            return Incoming::Malformed(ApiError::bad_request(format!(
                "malformed request head: {e}"
            )))
        }
    };
    if declares_too_large(request.headers(), MAX_BODY_BYTES) {
        return too_large(request);
    }
    if !reads_body(request.method()) {
        return Incoming::Whole(request);
    }
    match read_body(&req) {
        Ok(body) => {
            *request.body_mut() = Bytes::from(body);
            Incoming::Whole(request)
        }
        Err(BodyError::TooLarge) => too_large(request),
        Err(BodyError::Read(detail)) => {
            let mut error = ApiError::bad_request("the request body could not be read");
            error.internal = Some(detail);
            Incoming::Refused {
                head: request,
                error,
            }
        }
    }
}

fn too_large(head: Request) -> Incoming {
    Incoming::Refused {
        head,
        error: ApiError::payload_too_large(MAX_BODY_BYTES),
    }
}

/// Method, URI and headers, with an empty body.
fn head(req: &IncomingRequest) -> Result<Request, http::Error> {
    // `Fields` is a child resource of the request: `entries` copies them out
    // and the temporary handle is dropped at the end of the statement.
    let headers = req.headers().entries();
    request_head(&req.method().to_string(), &req.uri(), headers)
}

/// The request as spin-sdk 5.2's own conversion builds it
/// (`TryNonRequestFromRequest for http::Request`): the URI of
/// `IncomingRequest::uri()` (absolute: scheme, authority, path and query),
/// and each header once, with its last value. Spin appends its `spin-*`
/// headers after the client's, so keeping the last value is what stops a
/// client from forging `spin-client-addr` or `spin-path-info`.
pub(crate) fn request_head(
    method: &str,
    uri: &str,
    headers: Vec<(String, Vec<u8>)>,
) -> Result<Request, http::Error> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Bytes::new())?;
    let map = request.headers_mut();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())?;
        let value = HeaderValue::from_bytes(&value)?;
        map.insert(name, value);
    }
    hide_credentials(map);
    Ok(request)
}

/// Whether a `Content-Length` announces more than `limit` bytes. A value
/// that is not a number is left to the stream, which enforces the limit anyway.
pub(crate) fn declares_too_large(headers: &http::HeaderMap, limit: usize) -> bool {
    headers.get_all(CONTENT_LENGTH).iter().any(|value| {
        let digits = value.to_str().unwrap_or_default().trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        // Digits too many for a u64 are certainly too many bytes.
        digits.parse::<u64>().map_or(true, |length| {
            length > u64::try_from(limit).unwrap_or(u64::MAX)
        })
    })
}

/// Reads the body from its `wasi:io` stream, blocking for each chunk.
fn read_body(req: &IncomingRequest) -> Result<Vec<u8>, BodyError<String>> {
    let body = req
        .consume()
        .map_err(|()| BodyError::Read("the request body was already taken".to_owned()))?;
    let stream = body
        .stream()
        .map_err(|()| BodyError::Read("the request body stream was already taken".to_owned()))?;
    let read = read_limited(MAX_BODY_BYTES, |wanted| {
        match stream.blocking_read(u64::try_from(wanted).unwrap_or(u64::MAX)) {
            Ok(chunk) => Ok(Some(chunk)),
            Err(StreamError::Closed) => Ok(None),
            Err(StreamError::LastOperationFailed(e)) => Err(e.to_debug_string()),
        }
    });
    // The stream is a child of the body and must go first; dropping the body
    // unread tells the host to stop receiving it.
    drop(stream);
    drop(body);
    read
}

/// Collects the chunks `read` returns (`None` at the end of the body) until
/// the end, or until more than `limit` bytes have arrived. `read` is told
/// how many bytes are still wanted, never more than one past the limit, so
/// at most `limit + 1` bytes are ever held.
pub(crate) fn read_limited<E>(
    limit: usize,
    mut read: impl FnMut(usize) -> Result<Option<Vec<u8>>, E>,
) -> Result<Vec<u8>, BodyError<E>> {
    let mut body = Vec::new();
    loop {
        // `body.len() <= limit` here, so at least one byte is wanted.
        let wanted = (limit - body.len()).saturating_add(1).min(READ_BYTES);
        match read(wanted).map_err(BodyError::Read)? {
            None => return Ok(body),
            Some(chunk) => {
                if chunk.len() > limit - body.len() {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader handing out `chunks` in turn (each cut to what is wanted,
    /// the rest kept for the next call), and counting how much it was asked for.
    fn chunks(
        chunks: Vec<Vec<u8>>,
        asked: &mut Vec<usize>,
    ) -> impl FnMut(usize) -> Result<Option<Vec<u8>>, String> + '_ {
        let mut pending: std::collections::VecDeque<Vec<u8>> = chunks.into();
        move |wanted| {
            asked.push(wanted);
            let Some(mut chunk) = pending.pop_front() else {
                return Ok(None);
            };
            if chunk.len() > wanted {
                pending.push_front(chunk.split_off(wanted));
            }
            Ok(Some(chunk))
        }
    }

    #[test]
    fn a_body_up_to_the_limit_is_read_whole() {
        let mut asked = Vec::new();
        let body = read_limited(
            10,
            chunks(vec![b"hello".to_vec(), b"world".to_vec()], &mut asked),
        );
        assert_eq!(body, Ok(b"helloworld".to_vec()));
        // After the tenth byte only one more is asked for, to see the end.
        assert_eq!(asked, vec![11, 6, 1]);
    }

    #[test]
    fn a_body_past_the_limit_stops_at_the_chunk_that_passes_it() {
        let mut asked = Vec::new();
        let endless = |wanted: usize| -> Result<Option<Vec<u8>>, String> {
            asked.push(wanted);
            Ok(Some(vec![b'x'; wanted.min(4)]))
        };
        assert_eq!(read_limited(10, endless), Err(BodyError::TooLarge));
        // 4 + 4 bytes, then 3 where only 2 more were allowed: nothing after.
        assert_eq!(asked, vec![11, 7, 3]);
    }

    #[test]
    fn one_byte_past_the_limit_is_too_large() {
        let mut asked = Vec::new();
        let body = vec![vec![b'x'; 10], vec![b'y']];
        assert_eq!(
            read_limited(10, chunks(body, &mut asked)),
            Err(BodyError::TooLarge)
        );
        assert_eq!(asked, vec![11, 1]);
    }

    #[test]
    fn a_chunk_larger_than_asked_for_is_still_counted() {
        let oversized = |_: usize| -> Result<Option<Vec<u8>>, String> { Ok(Some(vec![0; 100])) };
        assert_eq!(read_limited(10, oversized), Err(BodyError::TooLarge));
    }

    #[test]
    fn reads_never_ask_for_more_than_a_chunk() {
        let mut asked = Vec::new();
        let body = vec![vec![1; READ_BYTES * 2]];
        let read = read_limited(MAX_BODY_BYTES, chunks(body, &mut asked));
        assert_eq!(read.map(|b| b.len()), Ok(READ_BYTES * 2));
        assert!(asked.iter().all(|&n| n == READ_BYTES), "{asked:?}");
    }

    #[test]
    fn an_empty_body_is_empty() {
        let mut asked = Vec::new();
        assert_eq!(read_limited(10, chunks(vec![], &mut asked)), Ok(vec![]));
    }

    #[test]
    fn a_broken_stream_is_a_read_error_not_a_body() {
        let mut calls = 0;
        let broken = |_: usize| -> Result<Option<Vec<u8>>, String> {
            calls += 1;
            if calls == 1 {
                Ok(Some(b"par".to_vec()))
            } else {
                Err("connection reset".to_owned())
            }
        };
        assert_eq!(
            read_limited(10, broken),
            Err(BodyError::Read("connection reset".to_owned()))
        );
    }

    fn content_length(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for v in values {
            headers.append(CONTENT_LENGTH, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn a_content_length_over_the_limit_is_refused_before_reading() {
        let limit = MAX_BODY_BYTES;
        assert!(!declares_too_large(&content_length(&[]), limit));
        assert!(!declares_too_large(&content_length(&["0"]), limit));
        assert!(!declares_too_large(
            &content_length(&[&limit.to_string()]),
            limit
        ));
        assert!(declares_too_large(
            &content_length(&[&(limit + 1).to_string()]),
            limit
        ));
        assert!(declares_too_large(
            &content_length(&["18446744073709551615"]),
            limit
        ));
        assert!(declares_too_large(
            &content_length(&["99999999999999999999"]),
            limit
        ));
        // Any announced length over the limit is enough.
        assert!(declares_too_large(
            &content_length(&["1", "2000000"]),
            limit
        ));
    }

    #[test]
    fn a_content_length_that_is_not_a_number_is_left_to_the_stream() {
        assert!(!declares_too_large(&content_length(&["lots"]), 10));
        assert!(!declares_too_large(&content_length(&["-5"]), 10));
    }

    fn header_pairs(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_head_keeps_the_method_the_absolute_uri_and_the_headers() {
        let req = request_head(
            "PATCH",
            "http://127.0.0.1:3000/api/todos/1?x=1",
            header_pairs(&[("content-type", "application/json"), ("x-request-id", "r1")]),
        )
        .unwrap();
        assert_eq!(req.method(), http::Method::PATCH);
        assert_eq!(
            req.uri().to_string(),
            "http://127.0.0.1:3000/api/todos/1?x=1"
        );
        assert_eq!(req.uri().path(), "/api/todos/1");
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.headers()["x-request-id"], "r1");
        assert!(req.body().is_empty());
    }

    #[test]
    fn the_heads_debug_output_shows_no_bearer_token() {
        let req = request_head(
            "GET",
            "http://h/mcp",
            header_pairs(&[("authorization", "Bearer todo_pat_secret")]),
        )
        .unwrap();
        assert_eq!(req.headers()["authorization"], "Bearer todo_pat_secret");
        let shown = format!("{:?}", Incoming::Whole(req));
        assert!(!shown.contains("todo_pat_secret"), "{shown}");
    }

    #[test]
    fn a_repeated_header_keeps_its_last_value_so_spins_own_headers_win() {
        // Spin appends its headers after the client's (spin-sdk 5.2 then
        // keeps the last value of each, and so do we).
        let req = request_head(
            "GET",
            "http://h/",
            header_pairs(&[
                ("spin-client-addr", "6.6.6.6:1"),
                ("accept", "text/html"),
                ("spin-client-addr", "127.0.0.1:5555"),
            ]),
        )
        .unwrap();
        let addrs: Vec<_> = req.headers().get_all("spin-client-addr").iter().collect();
        assert_eq!(addrs, vec!["127.0.0.1:5555"]);
        assert_eq!(req.headers()["accept"], "text/html");
    }

    #[test]
    fn an_extension_method_is_kept_and_a_malformed_head_is_an_error() {
        let req = request_head("PROPFIND", "http://h/", vec![]).unwrap();
        assert_eq!(req.method().as_str(), "PROPFIND");
        assert!(request_head("GET", "http://h/", header_pairs(&[("bad name", "v")])).is_err());
        assert!(request_head("GE T", "http://h/", vec![]).is_err());
    }
}
