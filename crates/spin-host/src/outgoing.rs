//! Sends a component's answer through Spin's `ResponseOutparam` directly.
//!
//! spin-sdk's own route for an `http::Response` (a handler that returns
//! one) goes through its `Response` type, whose headers are a `HashMap`:
//! a draw of randomness for the map's seed in every request, which sets up
//! the WASI adapter's state (see [`crate::sys`]). Here the headers go
//! straight into `Fields`, every value of every name, as the native
//! harness sends them; spin-sdk kept only the last value of a name.

use bytes::Bytes;
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use todo_core::error::ApiError;
use todo_core::ports::Log;

use crate::sys::{write_all, WasiStdout};

pub(crate) fn send(out: ResponseOutparam, response: http::Response<Bytes>) {
    let (head, body) = response.into_parts();
    let (response, body) = match outgoing(&head) {
        Ok(outgoing) => (outgoing, body),
        Err(error) => {
            let line = serde_json::json!({"event": "response_refused", "error": error});
            WasiStdout.line(&line.to_string());
            let (head, body) = ApiError::internal(error).into_response().into_parts();
            match outgoing(&head) {
                Ok(outgoing) => (outgoing, body),
                // Not even the error answer: Spin answers 500 itself.
                Err(_) => return,
            }
        }
    };
    let Ok(outgoing_body) = response.body() else {
        return;
    };
    out.set(response);
    if let Ok(stream) = outgoing_body.write() {
        if write_all(&stream, &body).is_err() {
            // The client went away: nothing more to send it.
            return;
        }
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
}

/// The response's status and headers as WASI HTTP's.
fn outgoing(head: &http::response::Parts) -> Result<OutgoingResponse, String> {
    let headers: Vec<(String, Vec<u8>)> = head
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&headers).map_err(|e| format!("response headers: {e:?}"))?;
    let response = OutgoingResponse::new(fields);
    // A new response's status is 200 (WASI HTTP): setting it again would
    // cost a host call.
    if head.status != http::StatusCode::OK {
        response
            .set_status_code(head.status.as_u16())
            .map_err(|()| format!("status {}", head.status))?;
    }
    Ok(response)
}
