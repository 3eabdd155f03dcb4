//! [`Db`] over the synchronous `postgres` client, converting values exactly as
//! Spin's `pg4` port does for the types the core uses, so a query that works
//! here works under Spin. Like a `pg4::Connection`, one instance serves one
//! request; it connects on first use.

use std::error::Error as _;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::config::Host;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls};
use todo_core::db::{DbError, Row, SqlParam, SqlValue};
use todo_core::ports::Db;

use crate::outbound::AllowedHosts;

/// How long to wait for a connection when the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct NativeDb {
    url: String,
    allowed: Arc<AllowedHosts>,
    client: Mutex<Option<Client>>,
}

impl NativeDb {
    /// A connection to `url`, opened on first use if `allowed` lets the
    /// component reach its host and port.
    pub fn new(url: impl Into<String>, allowed: Arc<AllowedHosts>) -> Self {
        Self {
            url: url.into(),
            allowed,
            client: Mutex::new(None),
        }
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
        run(client).map_err(query_error)
    }

    fn connect(&self) -> Result<Client, DbError> {
        let mut config = Config::from_str(&self.url)
            .map_err(|e| DbError::Connection(format!("invalid connection string: {e}")))?;
        self.check_allowed(&config)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        config
            .connect(NoTls)
            .map_err(|e| DbError::Connection(error_text(&e)))
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
    fn query(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<Row>, DbError> {
        let params = to_sql_params(params);
        let rows = self.with_client(|c| c.query(sql, &params))?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let columns: Arc<[String]> = first
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        rows.iter()
            .map(|row| {
                let values = (0..row.len())
                    .map(|i| column_value(row, i))
                    .collect::<Result<_, _>>()?;
                Ok(Row::new(Arc::clone(&columns), values))
            })
            .collect()
    }

    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError> {
        let params = to_sql_params(params);
        self.with_client(|c| c.execute(sql, &params))
    }
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

fn column_value(row: &postgres::Row, i: usize) -> Result<SqlValue, DbError> {
    let column = &row.columns()[i];
    let ty = column.type_();
    let decode = |e: postgres::Error| DbError::Decode(format!("column {}: {e}", column.name()));
    let value = match *ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(decode)?
            .map(SqlValue::Bool),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(decode)?
            .map(|v| SqlValue::Int(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(decode)?
            .map(|v| SqlValue::Int(v.into())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(decode)?
            .map(SqlValue::Int),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(decode)?
            .map(|v| SqlValue::Float(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(decode)?
            .map(SqlValue::Float),
        // Exactly the string types Spin's outbound-pg reads as `str` (not `name`).
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => row
            .try_get::<_, Option<String>>(i)
            .map_err(decode)?
            .map(SqlValue::Text),
        _ => {
            return Err(DbError::Decode(format!(
                "column {} has type {}; select it as text",
                column.name(),
                ty.name()
            )))
        }
    };
    Ok(value.unwrap_or(SqlValue::Null))
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
