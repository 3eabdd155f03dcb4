//! [`Db`] over the synchronous `postgres` client, as strict as the strictest
//! Spin host, so that a statement that works here works under Spin too:
//!
//! - a query that answers zero rows is an error naming the statement (under
//!   Spin 4.0.0–4.0.2 it never returns, spinframework/spin issue 3671);
//! - a query's error carries no SQLSTATE (under Spin an error raised while
//!   rows stream reaches the guest as text only); `execute` keeps it;
//! - the answer must be one row of one text column, read as Spin's `pg4`
//!   reads strings (text, varchar, bpchar).
//!
//! Like a `pg4::Connection`, one instance serves one request; it connects on
//! first use, or takes an idle connection from a [`Pool`] when it has one.

use std::collections::HashMap;
use std::error::Error as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::config::Host;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls};
use todo_core::db::{statement_name, DbError, SqlParam, Statement};
use todo_core::ports::Db;

use crate::outbound::AllowedHosts;

/// How long to wait for a connection when the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct NativeDb {
    url: String,
    allowed: Arc<AllowedHosts>,
    client: Mutex<Option<Client>>,
    statements: Arc<AtomicU64>,
    pool: Option<Arc<Pool>>,
}

/// Idle connections kept between requests, per connection string, as Spin
/// keeps them: a [`NativeDb`] made [`pooled`](NativeDb::pooled) takes one on
/// first use and gives it back when released or dropped.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<Client>>>,
}

impl Pool {
    /// Idle connections kept per connection string; more are closed.
    const MAX_IDLE: usize = 64;

    /// What Spin's pool (deadpool-postgres, `RecyclingMethod::Clean`) sends
    /// on a connection before handing it out again: one more round trip per
    /// request. It leaves prepared statements in place.
    const CLEAN: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
                         SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;";

    /// An idle connection, cleaned as Spin cleans it; one that fails the
    /// cleaning is closed.
    fn take(&self, url: &str) -> Option<Client> {
        let mut idle = self.idle.lock().ok()?;
        let clients = idle.get_mut(url)?;
        std::iter::from_fn(|| clients.pop())
            .find_map(|mut c| c.batch_execute(Self::CLEAN).is_ok().then_some(c))
    }

    fn give(&self, url: &str, client: Client) {
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            let clients = idle.entry(url.to_owned()).or_default();
            if clients.len() < Self::MAX_IDLE {
                clients.push(client);
            }
        }
    }
}

impl NativeDb {
    /// A connection to `url`, opened on first use if `allowed` lets the
    /// component reach its host and port.
    pub fn new(url: impl Into<String>, allowed: Arc<AllowedHosts>) -> Self {
        Self {
            url: url.into(),
            allowed,
            client: Mutex::new(None),
            statements: Arc::default(),
            pool: None,
        }
    }

    /// Takes its connection from `pool`, and gives it back there.
    pub fn pooled(mut self, pool: Arc<Pool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Adds one to `statements` for every statement sent from now on (how
    /// the harness counts round trips).
    pub fn counting(mut self, statements: Arc<AtomicU64>) -> Self {
        self.statements = statements;
        self
    }

    fn with_client<T>(
        &self,
        run: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let mut guard = self
            .client
            .lock()
            .map_err(|_| DbError::Connection("connection lock poisoned".into()))?;
        let client = match guard.take() {
            Some(client) if !client.is_closed() => guard.insert(client),
            _ => guard.insert(self.connect()?),
        };
        self.statements.fetch_add(1, Ordering::Relaxed);
        run(client).map_err(query_error)
    }

    fn connect(&self) -> Result<Client, DbError> {
        let mut config = Config::from_str(&self.url)
            .map_err(|e| DbError::Connection(format!("invalid connection string: {e}")))?;
        self.check_allowed(&config)?;
        if let Some(client) = self.pool.as_ref().and_then(|p| p.take(&self.url)) {
            return Ok(client);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        config
            .connect(NoTls)
            .map_err(|e| DbError::Connection(error_text(&e)))
    }

    /// PostgreSQL's plan for `statement`, as `EXPLAIN` prints it, for tests
    /// that check which indexes the app's statements use. It is the plan
    /// they run with: generic, for a statement prepared with text
    /// parameters (see `run_prepared`, migration V20). A part of a
    /// statement that leaves some of its parameters unused can be explained
    /// too.
    pub fn explain(&self, statement: &Statement) -> Result<String, DbError> {
        let rows = self.with_client(|c| {
            c.batch_execute("SET plan_cache_mode = force_generic_plan")?;
            let rows = explain_prepared(c, statement);
            c.batch_execute("RESET plan_cache_mode")?;
            rows
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<_, String>(0).ok())
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Spin checks every host of the connection string against
    /// `allowed_outbound_hosts` as `postgres://host:port`.
    fn check_allowed(&self, config: &Config) -> Result<(), DbError> {
        let ports = config.get_ports();
        for (i, host) in config.get_hosts().iter().enumerate() {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            let host = match host {
                Host::Tcp(host) => host,
                Host::Unix(path) => {
                    return Err(DbError::Connection(format!(
                        "unix socket {} not allowed: Spin connects over TCP only",
                        path.display()
                    )))
                }
            };
            if !self.allowed.allows("postgres", host, Some(port)) {
                return Err(DbError::Connection(format!(
                    "postgres://{host}:{port} is not allowed by this component's allowed_outbound_hosts"
                )));
            }
        }
        Ok(())
    }
}

impl Db for NativeDb {
    fn query_json(&self, sql: &str, params: &[SqlParam]) -> Result<String, DbError> {
        let params = to_sql_params(params);
        let rows = self
            .with_client(|c| c.query(sql, &params))
            .map_err(|e| match e {
                DbError::Query { message, .. } => DbError::Query {
                    code: None,
                    message,
                },
                other => other,
            })?;
        let wrong = |what: &str| {
            DbError::Decode(format!(
                "{what}; a query must answer one row of one text column \
                 (build it with todo_core::db::Statement): {}",
                statement_name(sql)
            ))
        };
        let row = match rows.as_slice() {
            [row] => row,
            [] => {
                return Err(DbError::Query {
                    code: None,
                    message: format!(
                        "the query answered zero rows, which never returns under Spin 4.0.0–4.0.2 \
                         (spinframework/spin issue 3671); build it with todo_core::db::Statement: {}",
                        statement_name(sql)
                    ),
                })
            }
            more => return Err(wrong(&format!("the query answered {} rows", more.len()))),
        };
        match row.columns() {
            [column] if [Type::TEXT, Type::VARCHAR, Type::BPCHAR].contains(column.type_()) => row
                .try_get::<_, Option<String>>(0)
                .map_err(|e| DbError::Decode(e.to_string()))?
                .ok_or_else(|| wrong("the query answered NULL")),
            [column] => Err(wrong(&format!(
                "the query answered a column of type {}",
                column.type_().name()
            ))),
            columns => Err(wrong(&format!(
                "the query answered {} columns",
                columns.len()
            ))),
        }
    }

    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError> {
        let params = to_sql_params(params);
        self.with_client(|c| c.execute(sql, &params))
    }

    /// Gives the connection back to the pool, or closes it without one.
    fn release(&self) {
        let client = self.client.lock().ok().and_then(|mut c| c.take());
        if let (Some(pool), Some(client)) = (&self.pool, client) {
            pool.give(&self.url, client);
        }
    }
}

impl Drop for NativeDb {
    fn drop(&mut self) {
        self.release();
    }
}

/// Prepares `statement` as `todo_explain` and explains its execution, as
/// `run_prepared` (migration V20) prepares and executes it.
fn explain_prepared(
    c: &mut Client,
    statement: &Statement,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    let types = vec!["text"; statement.params.len()].join(", ");
    let types = if types.is_empty() {
        types
    } else {
        format!("({types})")
    };
    c.batch_execute(&format!("PREPARE todo_explain{types} AS {}", statement.sql))?;
    let rows = c.query(&format!("EXPLAIN {}", statement.call("todo_explain")), &[]);
    c.batch_execute("DEALLOCATE todo_explain")?;
    rows
}

/// `NULL` for a placeholder of any type (`Option::<T>::None` only fits `T`'s types).
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn to_sql_params(params: &[SqlParam]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn ToSql + Sync) {
            match p {
                SqlParam::Null => &Null,
                SqlParam::Bool(b) => b,
                SqlParam::Int(i) => i,
                SqlParam::Text(s) => s,
            }
        })
        .collect()
}

/// A server error keeps its SQLSTATE; a lost connection is a connection error.
fn query_error(e: postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        return DbError::Query {
            code: Some(db.code().code().to_owned()),
            message: db.message().to_owned(),
        };
    }
    let io = e
        .source()
        .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
    if e.is_closed() || io {
        DbError::Connection(error_text(&e))
    } else {
        DbError::Query {
            code: None,
            message: error_text(&e),
        }
    }
}

/// The error with its causes (`postgres::Error`'s `Display` omits them).
fn error_text(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
