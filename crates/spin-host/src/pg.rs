//! The [`Db`] port over Spin's `spin:postgres@4.0.0` (`spin_sdk::pg4`).
//!
//! Spin pools connections per connection string, so one lazily opened
//! connection per request is cheap; it is never opened by requests that do not
//! touch the database, and a request that waits gives it back meanwhile
//! (`Db::release`).

use std::cell::{OnceCell, RefCell};

use spin_sdk::pg4::{Connection, DbValue, ParameterValue, PgError, QueryError};
use todo_core::db::{statement_name, DbError, SqlParam};
use todo_core::ports::Db;

use crate::SpinVariables;

/// A Postgres connection for one request, opened on first use with the
/// connection string from `todo_core::config::database_url`.
#[derive(Default)]
pub struct SpinDb {
    connection: RefCell<Option<Connection>>,
    /// Built from six variables, once per request (a request that waits
    /// opens a connection again after each wait).
    url: OnceCell<String>,
}

impl SpinDb {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `run` on the request's connection, opened on first use; a
    /// failed open is not kept, so a later statement tries again.
    fn with_connection<T>(
        &self,
        run: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut slot = self.connection.borrow_mut();
        let connection = match slot.take() {
            Some(connection) => connection,
            None => Connection::open(
                self.url
                    .get_or_init(|| todo_core::config::database_url(&SpinVariables::default())),
            )
            .map_err(open_error)?,
        };
        run(slot.insert(connection))
    }
}

impl Db for SpinDb {
    fn query_json(&self, sql: &str, params: &[SqlParam]) -> Result<String, DbError> {
        let params: Vec<ParameterValue> = params.iter().map(parameter_value).collect();
        let rows = self.with_connection(|c| c.query(sql, &params).map_err(query_error))?;
        single_text(rows.rows)
            .map_err(|what| DbError::Decode(format!("{what}: {}", statement_name(sql))))
    }

    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError> {
        let params: Vec<ParameterValue> = params.iter().map(parameter_value).collect();
        self.with_connection(|c| c.execute(sql, &params).map_err(query_error))
    }

    /// Drops the connection resource, which gives it back to Spin's pool.
    fn release(&self) {
        self.connection.borrow_mut().take();
    }
}

/// Parameters keep the types the SQL casts them to (`$1::text`, `$2::int8`, `$3::bool`).
pub(crate) fn parameter_value(param: &SqlParam) -> ParameterValue {
    match param {
        SqlParam::Null => ParameterValue::DbNull,
        SqlParam::Bool(b) => ParameterValue::Boolean(*b),
        SqlParam::Int(i) => ParameterValue::Int64(*i),
        SqlParam::Text(s) => ParameterValue::Str(s.clone()),
    }
}

/// The one text value of a one-row, one-column answer (see `todo_core::db`).
pub(crate) fn single_text(rows: Vec<Vec<DbValue>>) -> Result<String, String> {
    let [row] = <[Vec<DbValue>; 1]>::try_from(rows)
        .map_err(|rows| format!("expected one row, got {}", rows.len()))?;
    let [value] = <[DbValue; 1]>::try_from(row)
        .map_err(|row| format!("expected one column, got {}", row.len()))?;
    match value {
        DbValue::Str(s) => Ok(s),
        other => Err(format!("expected a text column, got {other:?}")),
    }
}

/// Any failure to open means the database cannot be reached (this includes
/// Spin refusing a host missing from `allowed_outbound_hosts`).
pub(crate) fn open_error(error: PgError) -> DbError {
    DbError::Connection(error_text(error))
}

/// A failed statement keeps the SQLSTATE when Spin passes it on (for
/// `execute`; a query's error raised while rows stream arrives as text).
pub(crate) fn query_error(error: PgError) -> DbError {
    match error {
        PgError::ConnectionFailed(message) => DbError::Connection(message),
        PgError::QueryFailed(QueryError::DbError(e)) => DbError::Query {
            code: Some(e.code),
            message: e.message,
        },
        other => DbError::Query {
            code: None,
            message: error_text(other),
        },
    }
}

fn error_text(error: PgError) -> String {
    match error {
        PgError::ConnectionFailed(m) => m,
        PgError::BadParameter(m) => format!("bad parameter: {m}"),
        PgError::QueryFailed(QueryError::Text(m)) => m,
        PgError::QueryFailed(QueryError::DbError(e)) => e.as_text,
        PgError::ValueConversionFailed(m) => format!("value conversion failed: {m}"),
        PgError::Other(m) => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_map_to_the_types_the_sql_casts_to() {
        assert!(matches!(
            parameter_value(&SqlParam::Null),
            ParameterValue::DbNull
        ));
        assert!(matches!(
            parameter_value(&SqlParam::Bool(true)),
            ParameterValue::Boolean(true)
        ));
        assert!(matches!(
            parameter_value(&SqlParam::Int(-7)),
            ParameterValue::Int64(-7)
        ));
        assert!(
            matches!(parameter_value(&SqlParam::Text("a".into())), ParameterValue::Str(s) if s == "a")
        );
    }

    #[test]
    fn the_answer_is_the_text_of_one_row_and_one_column() {
        assert_eq!(
            single_text(vec![vec![DbValue::Str("{}".into())]]).unwrap(),
            "{}"
        );
        let err = single_text(vec![]).unwrap_err();
        assert!(err.contains("got 0"), "{err}");
        let two_rows = vec![
            vec![DbValue::Str("a".into())],
            vec![DbValue::Str("b".into())],
        ];
        assert!(single_text(two_rows).unwrap_err().contains("got 2"));
        let two_columns = vec![vec![DbValue::Str("a".into()), DbValue::Int32(1)]];
        assert!(single_text(two_columns).unwrap_err().contains("column"));
        assert!(single_text(vec![vec![DbValue::DbNull]])
            .unwrap_err()
            .contains("text"));
    }

    #[test]
    fn errors_map_to_their_kinds() {
        let unique = query_error(PgError::QueryFailed(QueryError::DbError(
            spin_sdk::pg4::DbError {
                as_text: "duplicate key".into(),
                severity: "ERROR".into(),
                code: "23505".into(),
                message: "duplicate key value violates unique constraint".into(),
                detail: None,
                extras: vec![],
            },
        )));
        assert_eq!(
            unique,
            DbError::Query {
                code: Some("23505".into()),
                message: "duplicate key value violates unique constraint".into()
            }
        );
        assert_eq!(
            query_error(PgError::ConnectionFailed("gone".into())),
            DbError::Connection("gone".into())
        );
        assert_eq!(
            query_error(PgError::QueryFailed(QueryError::Text("syntax".into()))),
            DbError::Query {
                code: None,
                message: "syntax".into()
            }
        );
        assert_eq!(
            open_error(PgError::Other("address not permitted".into())),
            DbError::Connection("address not permitted".into())
        );
    }
}
