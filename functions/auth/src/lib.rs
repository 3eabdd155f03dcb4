//! Spin component for the auth routes; all behaviour lives in `todo_core::auth`.

// Only the Wasm build exports the handler: its export name cannot be linked
// into a host cdylib, and `cargo build --workspace` builds this crate there too.
// The request stays a streaming `IncomingRequest` so that spin-host can cap
// its body; an `http::Request` argument would make spin-sdk buffer it whole.
// The answer goes out through the outparam (`spin_host::serve` says why).
#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    spin_host::serve(req, out, todo_core::auth::handle)
}
