//! Spin component for the chat routes; all behaviour lives in `todo_core::chat`.

use bytes::Bytes;
use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Bytes>) -> http::Response<Bytes> {
    spin_host::serve(req, todo_core::chat::handle)
}
