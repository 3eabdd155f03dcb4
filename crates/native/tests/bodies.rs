//! Request bodies are capped where they are read, as spin-host caps them
//! under Spin: a `Content-Length` over the limit is refused before a byte of
//! body is read, a body that keeps coming is cut off one byte past the limit
//! and answered 413 while the client is still sending, and a body up to the
//! limit reaches the handler. A GET's or HEAD's body is not read at all.
//! Raw sockets show what an HTTP client hides.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use native::testing::TestApp;
use serde_json::{json, Value};
use todo_core::api::MAX_BODY_BYTES;

/// How long a test waits for an answer before calling it hung.
const PATIENCE: Duration = Duration::from_secs(10);

/// One response read off a raw connection.
#[derive(Debug)]
struct RawReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    fn assert_too_large(&self) {
        assert_eq!(self.status, 413, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.body["error"]["code"], "payload_too_large", "{self:?}");
        assert!(self.body["error"]["message"].is_string(), "{self:?}");
        // Answered by the core like any other error.
        assert!(self.header("x-request-id").is_some(), "{self:?}");
    }
}

/// A connection to the app with a read timeout, so a hang fails the test.
fn connect(app: &TestApp) -> TcpStream {
    let stream = TcpStream::connect(app.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads the first response on `stream` (its body by `Content-Length`).
fn read_reply(stream: &TcpStream) -> RawReply {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    RawReply {
        status,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// The request line and headers of a JSON request, ending the head.
fn head(app: &TestApp, method: &str, path: &str, framing: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n",
        app.addr
    )
}

/// A sign-up body of exactly `len` bytes, valid but for an unknown
/// `padding` field that makes up the length.
fn signup_body_of(len: usize) -> Vec<u8> {
    let mut body = json!({
        "email": "padded@example.com",
        "password": "correct horse battery staple",
        "name": "Padded",
        "padding": "",
    });
    let bare = body.to_string().len();
    body["padding"] = "x".repeat(len - bare).into();
    let bytes = body.to_string().into_bytes();
    assert_eq!(bytes.len(), len);
    bytes
}

#[test]
fn a_body_one_byte_over_the_limit_is_refused_with_the_json_error() {
    let app = TestApp::spawn();
    let req = http::Request::post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body(signup_body_of(MAX_BODY_BYTES + 1))
        .unwrap();
    let reply = app.send_raw(req);
    reply.assert_error(413, "payload_too_large");
    assert!(reply.header("x-request-id").is_some(), "{reply:?}");
}

#[test]
fn a_content_length_over_the_limit_is_refused_before_any_body_is_sent() {
    let app = TestApp::spawn();
    let stream = connect(&app);
    // The client asks before sending (`Expect: 100-continue`) and never does.
    let framing = format!(
        "Content-Length: {}\r\nExpect: 100-continue",
        MAX_BODY_BYTES + 1
    );
    (&stream)
        .write_all(head(&app, "POST", "/api/todos", &framing).as_bytes())
        .unwrap();
    let reply = read_reply(&stream);
    // Not `100 Continue`: the body is not wanted at all.
    reply.assert_too_large();
}

#[test]
fn an_endless_chunked_body_is_answered_413_while_the_client_is_still_sending() {
    // Far more than the server and the socket buffers between them hold.
    const WOULD_SEND: usize = 256 * 1024 * 1024;
    const CHUNK: usize = 16 * 1024;

    let app = TestApp::spawn();
    let stream = connect(&app);
    let mut writer = stream.try_clone().unwrap();
    writer
        .write_all(head(&app, "POST", "/api/todos", "Transfer-Encoding: chunked").as_bytes())
        .unwrap();

    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
        thread::spawn(move || {
            let chunk = format!("{CHUNK:x}\r\n{}\r\n", "x".repeat(CHUNK));
            // Never the last chunk (`0\r\n\r\n`): as far as the server can
            // tell, this body does not end.
            while !stop.load(Ordering::Relaxed) && sent.load(Ordering::Relaxed) < WOULD_SEND {
                if writer.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                sent.fetch_add(CHUNK, Ordering::Relaxed);
            }
        })
    };

    let started = Instant::now();
    let reply = read_reply(&stream);
    let waited = started.elapsed();
    let sent_by_then = sent.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    // Unblocks the sender if it is stuck on a full socket.
    let _ = stream.shutdown(Shutdown::Both);
    sender.join().unwrap();

    reply.assert_too_large();
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    assert!(
        sent_by_then > MAX_BODY_BYTES && sent_by_then < WOULD_SEND,
        "answered after {sent_by_then} bytes of body"
    );
}

#[test]
fn a_gets_body_is_not_read_so_one_that_never_ends_is_answered_at_once() {
    let app = TestApp::spawn();
    let stream = connect(&app);
    let request = head(&app, "GET", "/health", "Transfer-Encoding: chunked");
    // One chunk, and never the last one.
    (&stream)
        .write_all(format!("{request}4\r\nxxxx\r\n").as_bytes())
        .unwrap();
    let reply = read_reply(&stream);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!({"status": "ok"}));
}

#[test]
fn a_body_of_exactly_the_limit_reaches_the_handler() {
    let app = TestApp::spawn();
    let req = http::Request::post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body(signup_body_of(MAX_BODY_BYTES))
        .unwrap();
    let reply = app.send_raw(req).expect_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), vec!["padding"]);
}

#[test]
fn a_chunked_body_of_exactly_the_limit_reaches_the_handler() {
    let app = TestApp::spawn();
    let stream = connect(&app);
    let mut request = head(
        &app,
        "POST",
        "/api/auth/signup",
        "Transfer-Encoding: chunked",
    )
    .into_bytes();
    for chunk in signup_body_of(MAX_BODY_BYTES).chunks(100_000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    (&stream).write_all(&request).unwrap();
    let reply = read_reply(&stream);
    assert_eq!(reply.status, 422, "{reply:?}");
    assert_eq!(reply.body["error"]["code"], "validation_failed");
    assert!(
        reply.body["error"]["fields"]["padding"].is_array(),
        "{reply:?}"
    );
}
