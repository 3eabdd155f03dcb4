//! The todo app's logic, shared by every Spin component and by the native harness.
//!
//! Nothing here knows about Spin: the outside world is reached through the
//! ports in [`ports`], which the `spin-host` crate implements with spin-sdk and
//! the `native` crate implements with ordinary Rust clients.

pub mod api;
pub mod auth;
pub mod chat;
pub mod config;
pub mod dav;
pub mod db;
pub mod error;
pub mod events;
pub mod health;
pub mod internal;
pub mod lists;
pub mod mcp;
pub mod notifications;
pub mod ports;
pub mod reminders;
pub mod sealed;
pub mod stamp;
pub mod throttle;
pub mod todos;
pub mod trace;
pub mod waits;
pub mod web;

pub use api::{serve, Handler, Request, Response};
pub use error::ApiError;
pub use ports::Ctx;

/// The newest migration in `migrations/`; `/health/ready` reports not ready
/// until the database has it. A test keeps it in step with the folder.
pub const LATEST_MIGRATION: i64 = 23;
