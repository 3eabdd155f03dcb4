//! Spin-backed implementations of todo-core's ports, and [`serve`], the one
//! function every component calls with Spin's streaming request.
//!
//! Postgres goes through `spin_sdk::pg4`, variables through
//! `spin_sdk::variables`, Redis (the events relay's component only, see
//! [`serve_with_redis`]) through `spin_sdk::redis`. Outbound HTTP deliberately bypasses
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

mod incoming;
mod outbound;
mod outgoing;
mod pg;
mod redis;
mod sys;

use std::cell::RefCell;

use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use todo_core::ports::{Ctx, NoRedis, Redis, Variables};

use incoming::Incoming;

pub use outbound::SpinHttp;
pub use pg::SpinDb;
pub use redis::SpinRedis;
pub use sys::{WasiClock, WasiStdout};

/// Spin component variables (`[component.X.variables]` in `spin.toml`),
/// each asked of the host once per request: a request reads some of them
/// more than once, and every ask is a host call that resolves the variable
/// through Spin's providers. A list, not a `HashMap`: a request asks for a
/// handful, and a `HashMap`'s seed is a draw of randomness (see [`sys`]).
#[derive(Debug, Default)]
pub struct SpinVariables {
    asked: RefCell<Vec<(String, Option<String>)>>,
}

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Option<String> {
        if let Some((_, value)) = self.asked.borrow().iter().find(|(n, _)| n == name) {
            return value.clone();
        }
        let value = spin_sdk::variables::get(name).ok();
        self.asked
            .borrow_mut()
            .push((name.to_owned(), value.clone()));
        value
    }
}

/// Runs one request through `handler` with the Spin-backed ports and sends
/// its answer through `out`.
///
/// Takes Spin's streaming request, not an `http::Request<Bytes>`: for that,
/// spin-sdk would read the whole body before this runs, however large or
/// endless. Here the body is read up to [`todo_core::api::MAX_BODY_BYTES`]
/// and a larger one is answered 413 at once (see [`incoming`]). The answer
/// goes out through the outparam, not back to spin-sdk (see [`outgoing`]).
///
/// The database connection is opened on first use only, so components and
/// requests that never touch Postgres never open one.
pub fn serve(req: IncomingRequest, out: ResponseOutparam, handler: todo_core::Handler) {
    outgoing::send(out, answer(req, handler, &NoRedis));
}

/// [`serve`] with Spin's outbound Redis, for the one component that relays
/// events: a component that calls only [`serve`] never imports the Redis
/// interface, which `scripts/wasm-imports` holds it to.
pub fn serve_with_redis(req: IncomingRequest, out: ResponseOutparam, handler: todo_core::Handler) {
    outgoing::send(out, answer(req, handler, &SpinRedis::default()));
}

fn answer(
    req: IncomingRequest,
    handler: todo_core::Handler,
    redis: &dyn Redis,
) -> http::Response<bytes::Bytes> {
    let vars = SpinVariables::default();
    let db = SpinDb::new();
    let http = SpinHttp;
    let clock = WasiClock;
    let ctx = Ctx::new(&db, &http, &vars, &clock)
        .with_redis(redis)
        .with_log(&WasiStdout);
    match incoming::read_request(req) {
        Incoming::Whole(req) => todo_core::serve(req, &ctx, handler),
        Incoming::Refused { head, error } => todo_core::api::refuse(head, &ctx, error),
        Incoming::Malformed(error) => error.into_response(),
    }
}
