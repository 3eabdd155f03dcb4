//! Runs the todo app's components natively, the way Spin runs them: a harness
//! that reads `spin.toml`, the native implementations of todo-core's ports,
//! the migrations, and the helpers every integration test uses.
//!
//! The workspace's no-panic lints are not inherited (integration tests here
//! unwrap freely), but the library itself keeps them: the harness stands in
//! for Spin, which does not fall over when one request goes wrong.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod db;
pub mod harness;
pub mod http_client;
pub mod manifest;
pub mod migrations;
pub mod outbound;
pub mod redis;
pub mod routes;
pub mod testing;
pub mod variables;

pub use db::{NativeDb, Pool};
pub use harness::{App, Server};
pub use http_client::NativeHttp;
pub use migrations::migrate;
pub use outbound::AllowedHosts;
pub use redis::NativeRedis;
pub use variables::{AppVariables, ComponentVariables};
