//! The narrow interfaces through which the core reaches the outside world.
//! Each has a Spin implementation (`spin-host`) and a native one (`native`).

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{DbError, SqlParam};
use crate::trace::TraceParent;

/// A PostgreSQL connection. Every statement runs on its own (autocommit);
/// changes that must be atomic are written as one statement (data-modifying
/// CTEs), which behaves the same under Spin's pooled connections. The core
/// builds its statements with [`crate::db::Statement`], which explains why
/// the port is this narrow.
pub trait Db {
    /// Runs a statement that answers exactly one row of one text column
    /// (JSON) and returns that text. Any other shape is an error; zero rows
    /// in particular, which would hang Spin 4.0.0–4.0.2 for good.
    fn query_json(&self, sql: &str, params: &[SqlParam]) -> Result<String, DbError>;
    /// Runs a statement that returns no rows; the number of rows it changed.
    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError>;
    /// Lets go of the connection until the next statement opens one again
    /// (under Spin it goes back to the host's pool), so that a request
    /// that waits between statements holds none meanwhile.
    fn release(&self);
}

/// Outbound HTTP with a total deadline (Spin's plain `http::send` has none).
pub trait HttpClient {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, OutboundError>;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("host not allowed by allowed_outbound_hosts: {0}")]
    NotAllowed(String),
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Failed(String),
}

/// Redis (Spin's outbound Redis), for the events stream. Only the component
/// that relays events has one: the others get [`NoRedis`], so that only its
/// Wasm module imports Spin's Redis interface.
pub trait Redis {
    /// `XADD <stream> MAXLEN ~ <max_len> <id> <field> <value>` on the server
    /// at `url` (`redis://[:password@]host:port[/db]`): appends one entry
    /// under the explicit entry id `id` and trims the stream to about
    /// `max_len` entries. Redis refuses an id that is not above the
    /// stream's last one; that refusal is [`Appended::NotAboveTop`], not an
    /// error.
    fn xadd(
        &self,
        url: &str,
        stream: &str,
        max_len: u64,
        id: &str,
        field: &str,
        value: &[u8],
    ) -> Result<Appended, OutboundError>;
}

/// What an `XADD` with an explicit id did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The entry is in the stream.
    Added,
    /// Redis refused the id: the stream already ends at it or past it.
    NotAboveTop,
}

impl Appended {
    /// Whether Redis's error text is its refusal of an id that is not above
    /// the stream's last one (`ERR The ID specified in XADD is equal or
    /// smaller than the target stream top item`, as Redis words it); each host
    /// wraps the text in its own.
    pub fn is_not_above_top(error_text: &str) -> bool {
        error_text.contains("equal or smaller than the target stream top item")
    }
}

/// The Redis of a component that has none.
pub struct NoRedis;

impl Redis for NoRedis {
    fn xadd(
        &self,
        _: &str,
        _: &str,
        _: u64,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> Result<Appended, OutboundError> {
        Err(OutboundError::NotAllowed(
            "this component has no Redis (only the internal component relays events)".into(),
        ))
    }
}

/// Spin application variables (`spin_sdk::variables::get`).
pub trait Variables {
    /// `None` when the variable is not declared for the component.
    fn get(&self, name: &str) -> Option<String>;
}

pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    /// Blocks the request for `duration` (a long-poll between looks; a
    /// login never waits).
    /// Call it through [`Ctx::pause`], which holds no connection meanwhile.
    fn sleep(&self, duration: Duration);
    /// A monotonic clock's reading, to measure how long something took:
    /// only the difference between two readings means anything.
    fn monotonic(&self) -> Duration {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

/// The wall clock, natively. (Under Spin, spin-host's clock reads WASI's
/// clocks directly.)
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Under Spin (wasm32-wasip1) this is WASI's `poll_oneoff` on the
    /// monotonic clock: the instance waits, using no CPU.
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Where the components' log lines go: one JSON object per line, which
/// Spin keeps per component (`spin up`'s logs, the pod's output under
/// SpinKube).
pub trait Log {
    fn line(&self, line: &str);
}

/// The process's standard output.
pub struct Stdout;

impl Log for Stdout {
    fn line(&self, line: &str) {
        println!("{line}");
    }
}

/// Everything a handler may use, for one request.
pub struct Ctx<'a> {
    pub db: &'a dyn Db,
    pub http: &'a dyn HttpClient,
    pub vars: &'a dyn Variables,
    pub clock: &'a dyn Clock,
    /// [`NoRedis`] unless the host gives one ([`Ctx::with_redis`]).
    pub redis: &'a dyn Redis,
    /// [`Stdout`] unless the host gives another ([`Ctx::with_log`]).
    pub log: &'a dyn Log,
    /// Set once a statement confirms the caller, read by the request log line.
    pub user_id: Cell<Option<Uuid>>,
    /// The request's valid `traceparent`, set by [`crate::api::serve`]: its
    /// trace id goes into the log line, and the LLM calls pass it on.
    pub trace: Cell<Option<TraceParent>>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        db: &'a dyn Db,
        http: &'a dyn HttpClient,
        vars: &'a dyn Variables,
        clock: &'a dyn Clock,
    ) -> Self {
        Self {
            db,
            http,
            vars,
            clock,
            redis: &NoRedis,
            log: &Stdout,
            user_id: Cell::new(None),
            trace: Cell::new(None),
        }
    }

    /// The same context with a Redis (the events relay's component).
    pub fn with_redis(mut self, redis: &'a dyn Redis) -> Self {
        self.redis = redis;
        self
    }

    /// The same context with its log lines going to `log`.
    pub fn with_log(mut self, log: &'a dyn Log) -> Self {
        self.log = log;
        self
    }

    /// Waits `duration` without holding a database connection: a waiting
    /// request must not keep one of the pool's connections from others.
    pub fn pause(&self, duration: Duration) {
        self.db.release();
        self.clock.sleep(duration);
    }

    /// A variable's value, or `""` when it is not set.
    pub fn var(&self, name: &str) -> String {
        self.vars.get(name).unwrap_or_default()
    }
}
