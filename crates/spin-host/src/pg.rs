//! The [`Db`] port over Spin's `spin:postgres@4.0.0` (`spin_sdk::pg4`).
//!
//! Spin pools connections per connection string, so one lazily opened
//! connection per request is cheap; it is never opened by requests that do not
//! touch the database.

use std::cell::OnceCell;
use std::sync::Arc;

use spin_sdk::pg4::{Column, Connection, DbValue, ParameterValue, PgError, QueryError};
use todo_core::db::{DbError, Row, SqlParam, SqlValue};
use todo_core::ports::Db;

use crate::SpinVariables;

/// A Postgres connection for one request, opened on first use with the
/// connection string from `todo_core::config::database_url`.
#[derive(Default)]
pub struct SpinDb {
    connection: OnceCell<Connection>,
}

impl SpinDb {
    pub fn new() -> Self {
        Self::default()
    }

    /// The request's connection; a failed open is not cached, so a later
    /// statement tries again.
    fn connection(&self) -> Result<&Connection, DbError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let url = todo_core::config::database_url(&SpinVariables);
        let connection = Connection::open(&url).map_err(open_error)?;
        Ok(self.connection.get_or_init(|| connection))
    }
}

impl Db for SpinDb {
    fn query(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<Row>, DbError> {
        let params: Vec<ParameterValue> = params.iter().map(parameter_value).collect();
        let rows = self
            .connection()?
            .query(sql, &params)
            .map_err(query_error)?;
        rows_from(rows.columns, rows.rows)
    }

    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError> {
        let params: Vec<ParameterValue> = params.iter().map(parameter_value).collect();
        self.connection()?
            .execute(sql, &params)
            .map_err(query_error)
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

/// Converts a result set into the core's rows, sharing one column list.
pub(crate) fn rows_from(
    columns: Vec<Column>,
    rows: Vec<Vec<DbValue>>,
) -> Result<Vec<Row>, DbError> {
    let names: Arc<[String]> = columns.iter().map(|c| c.name.clone()).collect();
    rows.into_iter()
        .map(|row| {
            let values = columns
                .iter()
                .zip(row)
                .map(|(column, value)| sql_value(column, value))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row::new(Arc::clone(&names), values))
        })
        .collect()
}

/// The core selects only text, integers, floats and booleans (see
/// `todo_core::ports::Db`); anything else is a bug in a query, named here.
pub(crate) fn sql_value(column: &Column, value: DbValue) -> Result<SqlValue, DbError> {
    Ok(match value {
        DbValue::DbNull => SqlValue::Null,
        DbValue::Boolean(b) => SqlValue::Bool(b),
        DbValue::Int8(i) => SqlValue::Int(i64::from(i)),
        DbValue::Int16(i) => SqlValue::Int(i64::from(i)),
        DbValue::Int32(i) => SqlValue::Int(i64::from(i)),
        DbValue::Int64(i) => SqlValue::Int(i),
        DbValue::Floating32(f) => SqlValue::Float(f64::from(f)),
        DbValue::Floating64(f) => SqlValue::Float(f),
        DbValue::Str(s) => SqlValue::Text(s),
        _ => {
            return Err(DbError::Decode(format!(
                "column {name} has type {kind:?}, which the Spin adapter does not read; \
                 select it as text ({name}::text)",
                name = column.name,
                kind = column.data_type,
            )))
        }
    })
}

/// Any failure to open means the database cannot be reached (this includes
/// Spin refusing a host missing from `allowed_outbound_hosts`).
pub(crate) fn open_error(error: PgError) -> DbError {
    DbError::Connection(error_text(error))
}

/// A failed statement keeps the SQLSTATE when Postgres sent one.
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
    use spin_sdk::pg4::DbDataType;

    fn column(name: &str, data_type: DbDataType) -> Column {
        Column {
            name: name.to_owned(),
            data_type,
        }
    }

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
    fn rows_are_read_by_column_name() {
        let columns = vec![
            column("id", DbDataType::Str),
            column("n", DbDataType::Int32),
            column("done", DbDataType::Boolean),
            column("note", DbDataType::Str),
        ];
        let rows = vec![vec![
            DbValue::Str("x".into()),
            DbValue::Int32(3),
            DbValue::Boolean(true),
            DbValue::DbNull,
        ]];
        let rows = rows_from(columns, rows).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text("id").unwrap(), "x");
        assert_eq!(rows[0].int("n").unwrap(), 3);
        assert!(rows[0].bool("done").unwrap());
        assert_eq!(rows[0].opt_text("note").unwrap(), None);
    }

    #[test]
    fn every_integer_and_float_width_is_widened() {
        let c = column("c", DbDataType::Int8);
        assert_eq!(sql_value(&c, DbValue::Int8(-1)).unwrap(), SqlValue::Int(-1));
        assert_eq!(sql_value(&c, DbValue::Int16(2)).unwrap(), SqlValue::Int(2));
        assert_eq!(
            sql_value(&c, DbValue::Int64(i64::MAX)).unwrap(),
            SqlValue::Int(i64::MAX)
        );
        assert_eq!(
            sql_value(&c, DbValue::Floating32(0.5)).unwrap(),
            SqlValue::Float(0.5)
        );
        assert_eq!(
            sql_value(&c, DbValue::Floating64(1.25)).unwrap(),
            SqlValue::Float(1.25)
        );
    }

    #[test]
    fn an_unsupported_type_names_the_column_and_the_fix() {
        let c = column("created_at", DbDataType::Datetime);
        let err = sql_value(&c, DbValue::Datetime((2026, 1, 2, 3, 4, 5, 0))).unwrap_err();
        let DbError::Decode(message) = err else {
            panic!("expected a decode error, got {err:?}");
        };
        assert!(message.contains("created_at"), "{message}");
        assert!(message.contains("created_at::text"), "{message}");
    }

    #[test]
    fn a_postgres_error_keeps_its_sqlstate() {
        let err = query_error(PgError::QueryFailed(QueryError::DbError(
            spin_sdk::pg4::DbError {
                as_text: "duplicate key".into(),
                severity: "ERROR".into(),
                code: "23505".into(),
                message: "duplicate key value violates unique constraint".into(),
                detail: None,
                extras: vec![],
            },
        )));
        assert!(err.is_unique_violation());
    }

    #[test]
    fn connection_and_other_errors_map_to_their_kinds() {
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
