//! `spin:postgres/postgres@4.0.0` over the native port (`native::NativeDb`),
//! so that the wasm host is exactly as strict as the native harness: a query
//! that answers zero rows is an error naming the statement (Spin 4.0.0–4.0.2
//! never return there), a query's error carries no SQLSTATE, the answer is
//! one row of one text column, and the connection string's host must be in
//! the component's `allowed_outbound_hosts`. Only what the components call is
//! implemented: `open`, `query`, `execute`, and the parameter types of
//! `spin_host::pg` (null, bool, int64, text).

use std::sync::Arc;

use native::{AllowedHosts, NativeDb, Pool};
use todo_core::db::{DbError, SqlParam};
use todo_core::ports::Db;
use wasmtime::component::Resource;

use crate::spin::postgres::postgres::{
    self, Column, DbDataType, DbValue, Error, HostConnection, ParameterValue, QueryError, RowSet,
};
use crate::HostState;

/// One `connection` resource: a native connection, taken from the host's
/// pool (or opened) on first use and given back when the guest drops it.
pub struct PgConnection(Arc<NativeDb>);

impl PgConnection {
    pub fn open(address: String, allowed: Arc<AllowedHosts>, pool: Arc<Pool>) -> Self {
        Self(Arc::new(NativeDb::new(address, allowed).pooled(pool)))
    }

    /// `query`, as the guest sees it.
    pub fn query(&self, statement: &str, params: Vec<ParameterValue>) -> Result<RowSet, Error> {
        let params = sql_params(params)?;
        let text = self.0.query_json(statement, &params).map_err(pg_error)?;
        Ok(RowSet {
            columns: vec![Column {
                name: "json".into(),
                data_type: DbDataType::Str,
            }],
            rows: vec![vec![DbValue::Str(text)]],
        })
    }

    /// `execute`, as the guest sees it.
    pub fn execute(&self, statement: &str, params: Vec<ParameterValue>) -> Result<u64, Error> {
        let params = sql_params(params)?;
        self.0.execute(statement, &params).map_err(pg_error)
    }
}

impl postgres::Host for HostState {}

impl HostConnection for HostState {
    async fn open(&mut self, address: String) -> Result<Resource<PgConnection>, Error> {
        let connection =
            PgConnection::open(address, Arc::clone(&self.allowed), Arc::clone(&self.pool));
        self.table
            .push(connection)
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn query(
        &mut self,
        this: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<RowSet, Error> {
        let db = self.connection(&this)?;
        blocking(move || PgConnection(db).query(&statement, params)).await
    }

    async fn execute(
        &mut self,
        this: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<u64, Error> {
        let db = self.connection(&this)?;
        blocking(move || PgConnection(db).execute(&statement, params)).await
    }

    async fn drop(&mut self, this: Resource<PgConnection>) -> wasmtime::Result<()> {
        let connection = self.table.delete(this)?;
        // Closing (when the pool is full) talks to the server: not on the
        // async threads.
        tokio::task::spawn_blocking(move || drop(connection));
        Ok(())
    }
}

impl HostState {
    fn connection(&self, this: &Resource<PgConnection>) -> Result<Arc<NativeDb>, Error> {
        self.table
            .get(this)
            .map(|c| Arc::clone(&c.0))
            .map_err(|e| Error::Other(e.to_string()))
    }
}

/// The synchronous `postgres` client starts a runtime of its own, which it
/// cannot do on the host's async threads.
async fn blocking<T: Send + 'static>(
    run: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(run)
        .await
        .unwrap_or_else(|e| Err(Error::Other(format!("the statement's thread failed: {e}"))))
}

fn sql_params(params: Vec<ParameterValue>) -> Result<Vec<SqlParam>, Error> {
    params
        .into_iter()
        .map(|p| match p {
            ParameterValue::DbNull => Ok(SqlParam::Null),
            ParameterValue::Boolean(b) => Ok(SqlParam::Bool(b)),
            ParameterValue::Int64(i) => Ok(SqlParam::Int(i)),
            ParameterValue::Str(s) => Ok(SqlParam::Text(s)),
            other => Err(Error::BadParameter(format!(
                "the wasm host takes null, boolean, int64 and str parameters only, not {other:?}"
            ))),
        })
        .collect()
}

/// The native port's error as Spin's `pg4` reports it: a SQLSTATE only
/// where the native port kept one (`execute`).
fn pg_error(error: DbError) -> Error {
    match error {
        DbError::Connection(message) => Error::ConnectionFailed(message),
        DbError::Query {
            code: Some(code),
            message,
        } => Error::QueryFailed(QueryError::DbError(postgres::DbError {
            as_text: message.clone(),
            severity: "ERROR".into(),
            code,
            message,
            detail: None,
            extras: vec![],
        })),
        DbError::Query {
            code: None,
            message,
        } => Error::QueryFailed(QueryError::Text(message)),
        DbError::Decode(message) => Error::ValueConversionFailed(message),
    }
}
