//! Spin component for the todos routes; all behaviour lives in `todo_core::todos`.

use bytes::Bytes;
use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Bytes>) -> http::Response<Bytes> {
    spin_host::serve(req, todo_core::todos::handle)
}
