//! Spin component for the auth routes; all behaviour lives in `todo_core::auth`.

use bytes::Bytes;
use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Bytes>) -> http::Response<Bytes> {
    spin_host::serve(req, todo_core::auth::handle)
}
