//! Spin-backed implementations of todo-core's ports, and [`serve`], the one
//! function every component calls.
//!
//! Postgres goes through `spin_sdk::pg4`, variables through
//! `spin_sdk::variables`. Outbound HTTP deliberately bypasses
//! `spin_sdk::http::send`, which passes no request options and so has no time
//! limit: [`SpinHttp`] calls `wasi:http/outgoing-handler` directly with
//! connect/first-byte/between-bytes timeouts and polls against a monotonic
//! clock timer for a total deadline (see [`outbound`]).
//!
//! Everything compiles on the host too (the wasi and spin-sdk bindings have
//! host stubs), so `cargo build --workspace` links the component crates and the
//! pure mapping functions are unit-tested natively. Calling a port on the host
//! would hit those stubs; only the native harness runs the core natively, with
//! its own ports.

mod outbound;
mod pg;

use std::path::PathBuf;

use todo_core::ports::{Ctx, SystemClock, Variables};

pub use outbound::SpinHttp;
pub use pg::SpinDb;

/// Spin component variables (`[component.X.variables]` in `spin.toml`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Option<String> {
        spin_sdk::variables::get(name).ok()
    }
}

/// Where `spin.toml` mounts `static/` in the web component.
const FILES_ROOT: &str = "/";

/// Runs one request through `handler` with the Spin-backed ports.
///
/// The database connection is opened on first use only, so components and
/// requests that never touch Postgres never open one.
pub fn serve(
    req: http::Request<bytes::Bytes>,
    handler: todo_core::Handler,
) -> http::Response<bytes::Bytes> {
    let vars = SpinVariables;
    let db = SpinDb::new();
    let http = SpinHttp;
    let clock = SystemClock;
    let ctx = Ctx::new(&db, &http, &vars, &clock, PathBuf::from(FILES_ROOT));
    todo_core::serve(req, &ctx, handler)
}
