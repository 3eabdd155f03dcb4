//! Spin component for the web routes; all behaviour lives in `todo_core::web`.

use bytes::Bytes;
use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Bytes>) -> http::Response<Bytes> {
    spin_host::serve(req, todo_core::web::handle)
}
