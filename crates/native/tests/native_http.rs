//! NativeHttp against local servers: what comes back, deadlines, and the
//! allowed_outbound_hosts check that happens before anything is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use native::{AllowedHosts, NativeHttp};
use todo_core::ports::{HttpClient, OutboundError};

/// A server answering every request with `status` and the request body
/// (one request per connection, its body read by `Content-Length`).
fn echo_server(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let head = format!(
                "HTTP/1.1 {status} Echo\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = (&stream).write_all(head.as_bytes());
            let _ = (&stream).write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn client_for(entries: &[&str]) -> NativeHttp {
    NativeHttp::new(Arc::new(AllowedHosts::parse(entries).unwrap()))
}

#[test]
fn a_successful_exchange_returns_status_and_body() {
    let base = echo_server(200);
    let http = client_for(&[&base]);
    let request = http::Request::post(format!("{base}/echo"))
        .header("content-type", "text/plain")
        .body(b"ping".to_vec())
        .unwrap();
    let response = http.send(request, Duration::from_secs(5)).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"ping");
}

#[test]
fn error_statuses_are_responses_not_errors() {
    for status in [404, 429, 503] {
        let base = echo_server(status);
        let http = client_for(&[&base]);
        let request = http::Request::get(format!("{base}/"))
            .body(Vec::new())
            .unwrap();
        let response = http.send(request, Duration::from_secs(5)).unwrap();
        assert_eq!(response.status().as_u16(), status);
    }
}

#[test]
fn a_server_that_never_answers_times_out_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold connections without ever answering.
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let http = client_for(&[&base]);
    let started = Instant::now();
    let request = http::Request::get(format!("{base}/slow"))
        .body(Vec::new())
        .unwrap();
    let result = http.send(request, Duration::from_millis(300));
    assert_eq!(result.unwrap_err(), OutboundError::Timeout);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[test]
fn a_host_not_allowed_is_refused_without_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    // Same host, other port: not allowed.
    let http = client_for(&["http://127.0.0.1:1"]);
    let request = http::Request::get(format!("http://{addr}/"))
        .body(Vec::new())
        .unwrap();
    let err = http.send(request, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed(_)), "{err:?}");
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "something connected"
    );
}

#[test]
fn a_relative_url_is_not_allowed() {
    let http = client_for(&["*://*:*"]);
    let request = http::Request::get("/relative").body(Vec::new()).unwrap();
    let err = http.send(request, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed(_)), "{err:?}");
}

#[test]
fn a_refused_connection_is_a_failure() {
    let http = client_for(&["http://127.0.0.1:1"]);
    let request = http::Request::get("http://127.0.0.1:1/")
        .body(Vec::new())
        .unwrap();
    let err = http.send(request, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, OutboundError::Failed(_)), "{err:?}");
}
