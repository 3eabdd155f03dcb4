//! Values crossing the [`Db`](crate::ports::Db) port and small helpers to read rows.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A statement parameter. See the typing convention on [`crate::ports::Db`].
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

impl From<&str> for SqlParam {
    fn from(v: &str) -> Self {
        SqlParam::Text(v.to_owned())
    }
}
impl From<String> for SqlParam {
    fn from(v: String) -> Self {
        SqlParam::Text(v)
    }
}
impl From<i64> for SqlParam {
    fn from(v: i64) -> Self {
        SqlParam::Int(v)
    }
}
impl From<bool> for SqlParam {
    fn from(v: bool) -> Self {
        SqlParam::Bool(v)
    }
}
impl From<Uuid> for SqlParam {
    fn from(v: Uuid) -> Self {
        SqlParam::Text(v.to_string())
    }
}
/// Timestamps travel as RFC 3339 text: write `$n::text::timestamptz`.
impl From<DateTime<Utc>> for SqlParam {
    fn from(v: DateTime<Utc>) -> Self {
        SqlParam::Text(v.to_rfc3339())
    }
}
impl<T: Into<SqlParam>> From<Option<T>> for SqlParam {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlParam::Null, Into::into)
    }
}

/// A column value as the core sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// One result row; columns are looked up by name.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("cannot reach the database: {0}")]
    Connection(String),
    /// A statement failed; `code` is the SQLSTATE when the server sent one.
    #[error("query failed ({code:?}): {message}")]
    Query {
        code: Option<String>,
        message: String,
    },
    #[error("unexpected result: {0}")]
    Decode(String),
}

impl DbError {
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            DbError::Query { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// `23505`: a unique constraint said no.
    pub fn is_unique_violation(&self) -> bool {
        self.sqlstate() == Some("23505")
    }
}

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<SqlValue>) -> Self {
        Self { columns, values }
    }

    fn value(&self, name: &str) -> Result<&SqlValue, DbError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Decode(format!("no column {name}")))
    }

    fn mismatch(name: &str, want: &str, got: &SqlValue) -> DbError {
        DbError::Decode(format!("column {name}: expected {want}, got {got:?}"))
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<String>, DbError> {
        match self.value(name)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) => Ok(Some(s.clone())),
            other => Err(Self::mismatch(name, "text", other)),
        }
    }

    pub fn text(&self, name: &str) -> Result<String, DbError> {
        self.opt_text(name)?
            .ok_or_else(|| DbError::Decode(format!("column {name} is null")))
    }

    pub fn int(&self, name: &str) -> Result<i64, DbError> {
        match self.value(name)? {
            SqlValue::Int(i) => Ok(*i),
            other => Err(Self::mismatch(name, "integer", other)),
        }
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, DbError> {
        match self.value(name)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(i) => Ok(Some(*i)),
            other => Err(Self::mismatch(name, "integer", other)),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, DbError> {
        match self.value(name)? {
            SqlValue::Bool(b) => Ok(*b),
            other => Err(Self::mismatch(name, "bool", other)),
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid, DbError> {
        let s = self.text(name)?;
        Uuid::parse_str(&s).map_err(|e| DbError::Decode(format!("column {name}: {e}")))
    }

    /// Timestamps are selected as text with the SQL function `api_ts(t)`
    /// (RFC 3339, UTC), see the first migration.
    pub fn opt_timestamp(&self, name: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        self.opt_text(name)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| DbError::Decode(format!("column {name}: {e}")))
            })
            .transpose()
    }

    pub fn timestamp(&self, name: &str) -> Result<DateTime<Utc>, DbError> {
        self.opt_timestamp(name)?
            .ok_or_else(|| DbError::Decode(format!("column {name} is null")))
    }
}
