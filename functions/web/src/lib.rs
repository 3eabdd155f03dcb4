//! Spin component for the web routes; all behaviour lives in `todo_core::web`.

// Only the Wasm build exports the handler: its export name cannot be linked
// into a host cdylib, and `cargo build --workspace` builds this crate there too.
#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(req: http::Request<bytes::Bytes>) -> http::Response<bytes::Bytes> {
    spin_host::serve(req, todo_core::web::handle)
}
