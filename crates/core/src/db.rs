//! The one way the core talks to PostgreSQL, shaped so that no host can trip
//! over it:
//!
//! - Every statement that returns data answers **exactly one row** holding
//!   one JSON text value ([`Statement::object`]): a top-level `SELECT`
//!   without `FROM` over scalar subqueries, which yields one row whatever the
//!   subqueries match. Spin 4.0.0–4.0.2 never return from a `query` whose
//!   result has zero rows (spinframework/spin issue 3671), and the native
//!   harness refuses one, so a "not found" is an empty array or a `null`
//!   inside the JSON, never an empty result.
//! - Conflicts are data (`ON CONFLICT DO NOTHING`, then look at what came
//!   back), never a `query`'s SQLSTATE: Spin loses the SQLSTATE of an error
//!   raised while rows stream. Statements that need nothing back use
//!   [`Db::execute`], which keeps it.
//! - Rows reach Rust through serde, so Spin's `pg4` and the native client
//!   convert nothing but one text value.

use serde::de::DeserializeOwned;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use crate::ports::Db;

/// A statement parameter. Every placeholder is typed in the SQL (`$1::text`,
/// `$2::int8`, `$3::bool`, then cast further, e.g. `$1::text::uuid`).
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("cannot reach the database: {0}")]
    Connection(String),
    /// A statement failed. `code` is the SQLSTATE, which only
    /// [`Db::execute`] reliably has: never branch on it after a query.
    #[error("query failed ({code:?}): {message}")]
    Query {
        code: Option<String>,
        message: String,
    },
    #[error("unexpected result: {0}")]
    Decode(String),
}

/// What one field of a statement's JSON object holds.
#[derive(Debug, Clone, Copy)]
pub enum Json<'a> {
    /// Every row of a `SELECT`, in its order, as an array (`[]` when none).
    Rows(&'a str),
    /// [`Rows`](Json::Rows) with each row an array of the listed columns
    /// (`"a, b"`) instead of an object: no key repeated in every row for
    /// PostgreSQL to write and the app to read. A struct deriving
    /// `Deserialize` reads its fields in their order from an array as from
    /// an object (missing trailing `#[serde(default)]` fields take their
    /// default), so a reader takes either.
    Arrays(&'a str, &'a str),
    /// The one row of a `SELECT` as an object, or `null` when it has none
    /// (more than one is an error).
    Row(&'a str),
    /// A scalar SQL expression, e.g. `(SELECT count(*) FROM ...)` or `$3::text`.
    Value(&'a str),
}

impl Json<'_> {
    fn to_sql(self) -> String {
        match self {
            Json::Rows(select) => {
                format!("(SELECT coalesce(json_agg(r), '[]') FROM ({select}) AS r)")
            }
            Json::Arrays(select, columns) => format!(
                "(SELECT coalesce(json_agg(json_build_array({columns})), '[]') FROM ({select}) AS r)"
            ),
            Json::Row(select) => format!("(SELECT row_to_json(r) FROM ({select}) AS r)"),
            Json::Value(expr) => expr.to_owned(),
        }
    }
}

/// `json_build_object('<name>', <field>, ...)`, an expression.
pub fn json_object(fields: &[(&str, Json<'_>)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(name, field)| format!("'{name}', {}", field.to_sql()))
        .collect();
    format!("json_build_object({})", fields.join(", "))
}

/// A statement and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

impl Statement {
    /// `WITH <ctes> SELECT json_build_object('<name>', <field>, ...)::text`:
    /// exactly one row, one text column. The CTEs may modify data (they run
    /// to completion whatever the object reads of them); `ctes` may be empty.
    pub fn object(ctes: &[&str], fields: &[(&str, Json<'_>)], params: Vec<SqlParam>) -> Self {
        let with = if ctes.is_empty() {
            String::new()
        } else {
            format!("WITH {} ", ctes.join(", "))
        };
        Statement {
            sql: format!("{with}SELECT {}::text", json_object(fields)),
            params,
        }
    }

    /// Runs the statement and reads its object into `T`. It runs through
    /// `run_prepared` (migration V20): PostgreSQL prepares it once per
    /// connection, under a name derived from its text, and plans it once,
    /// where a plain query is parsed and planned on every request.
    pub fn fetch<T: DeserializeOwned>(&self, db: &dyn Db) -> Result<T, DbError> {
        let name = prepared_name(&self.sql);
        let text = db.query_json(
            "SELECT run_prepared($1::text, $2::text, $3::text, $4::int8)",
            &[
                SqlParam::Text(self.call(&name)),
                SqlParam::Text(self.sql.clone()),
                SqlParam::Text(name),
                SqlParam::Int(self.params.len() as i64),
            ],
        )?;
        serde_json::from_str(&text).map_err(|e| {
            DbError::Decode(format!(
                "{e} in the answer to: {}",
                statement_name(&self.sql)
            ))
        })
    }

    /// `EXECUTE name(E'…', NULL, …)`, which runs the statement prepared as
    /// `name` with its parameters: each as a string literal (every
    /// placeholder casts its text in the SQL), quotes and backslashes
    /// doubled in an `E''` string, which reads the same whatever the
    /// server's `standard_conforming_strings`. A NUL, which no PostgreSQL
    /// text can hold, is written `\000`, which PostgreSQL refuses as a
    /// value it cannot take (SQLSTATE 22021).
    pub fn call(&self, name: &str) -> String {
        let mut call = format!("EXECUTE {name}");
        for (i, param) in self.params.iter().enumerate() {
            call.push_str(if i == 0 { "(" } else { ", " });
            match param {
                SqlParam::Null => call.push_str("NULL"),
                SqlParam::Bool(b) => write_literal(&mut call, &b.to_string()),
                SqlParam::Int(i) => write_literal(&mut call, &i.to_string()),
                SqlParam::Text(s) => write_literal(&mut call, s),
            }
        }
        if !self.params.is_empty() {
            call.push(')');
        }
        call
    }
}

fn write_literal(call: &mut String, text: &str) {
    call.push_str("E'");
    for c in text.chars() {
        match c {
            '\'' => call.push_str("''"),
            '\\' => call.push_str("\\\\"),
            '\0' => call.push_str("\\000"),
            c => call.push(c),
        }
    }
    call.push('\'');
}

/// The name a statement is prepared under: `todo_` and the 128-bit XXH3
/// of its text, so that two statements never share one. The texts are the
/// app's own (no caller's input is ever part of one), so a hash that no
/// adversary is up against will do. SHA-256 of a chat request's 6 KB
/// statement took about 8% of the guest's own code in a profile of the
/// rule-tier chat (a Wasm guest has no SHA instructions).
pub fn prepared_name(sql: &str) -> String {
    format!("todo_{:032x}", xxhash_rust::xxh3::xxh3_128(sql.as_bytes()))
}

/// Numbers placeholders as they are added, after the ones a statement
/// already uses (e.g. the caller's, see `auth::Caller`).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<SqlParam>);

impl Params {
    /// Adds a parameter, returning its placeholder with the cast, e.g. `$3::text::uuid`.
    pub fn add(&mut self, value: impl Into<SqlParam>, cast: &str) -> String {
        self.0.push(value.into());
        format!("${}{cast}", self.0.len())
    }
}

/// The start of a statement, to name it in errors and logs without
/// quoting a whole page of SQL.
pub fn statement_name(sql: &str) -> String {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name PostgreSQL keeps as given (lower case, under 64 bytes), that
    /// `run_prepared` recognises as the app's (`todo_`), and that tells
    /// texts apart down to one character.
    #[test]
    fn a_prepared_name_is_todo_and_128_bits_of_its_text() {
        let name = prepared_name("SELECT 1");
        assert_eq!(name.len(), 5 + 32, "{name}");
        assert!(name.starts_with("todo_"), "{name}");
        assert!(
            name[5..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{name}"
        );
        assert_eq!(prepared_name("SELECT 1"), name);
        assert_ne!(prepared_name("SELECT 2"), name);
        assert_ne!(prepared_name("SELECT 1 "), name);
    }

    #[test]
    fn an_object_statement_selects_one_json_text_value_without_from() {
        let s = Statement::object(
            &["gone AS (DELETE FROM t WHERE id = $1::int8 RETURNING id)"],
            &[
                ("items", Json::Rows("SELECT id FROM gone ORDER BY id")),
                ("first", Json::Row("SELECT id FROM gone LIMIT 1")),
                ("n", Json::Value("(SELECT count(*) FROM gone)")),
            ],
            vec![SqlParam::Int(7)],
        );
        assert_eq!(
            s.sql,
            "WITH gone AS (DELETE FROM t WHERE id = $1::int8 RETURNING id) \
             SELECT json_build_object(\
             'items', (SELECT coalesce(json_agg(r), '[]') FROM (SELECT id FROM gone ORDER BY id) AS r), \
             'first', (SELECT row_to_json(r) FROM (SELECT id FROM gone LIMIT 1) AS r), \
             'n', (SELECT count(*) FROM gone))::text"
        );
        let plain = Statement::object(&[], &[("v", Json::Value("1"))], vec![]);
        assert_eq!(plain.sql, "SELECT json_build_object('v', 1)::text");
    }

    #[test]
    fn a_call_quotes_every_argument_as_an_escaped_string_literal() {
        let s = Statement {
            sql: "SELECT $1::text, $2::int8, $3::bool, $4::text".into(),
            params: vec![
                SqlParam::Text("it's a \\ and a \\' and a NUL: \0".into()),
                SqlParam::Int(-7),
                SqlParam::Bool(true),
                SqlParam::Null,
            ],
        };
        assert_eq!(
            s.call("todo_x"),
            r"EXECUTE todo_x(E'it''s a \\ and a \\'' and a NUL: \000', E'-7', E'true', NULL)"
        );
        let none = Statement {
            sql: "SELECT 1".into(),
            params: vec![],
        };
        assert_eq!(none.call("todo_y"), "EXECUTE todo_y");
    }

    #[test]
    fn params_number_their_placeholders_after_the_existing_ones() {
        let mut p = Params(vec![SqlParam::Null, SqlParam::Null]);
        assert_eq!(p.add(Uuid::nil(), "::text::uuid"), "$3::text::uuid");
        assert_eq!(p.add(5_i64, "::int8"), "$4::int8");
        assert_eq!(p.0.len(), 4);
    }

    #[test]
    fn a_statement_is_named_by_its_first_words() {
        assert_eq!(statement_name("SELECT\n   1"), "SELECT 1");
        let long = "x ".repeat(200);
        let name = statement_name(&long);
        assert_eq!(name.chars().count(), 161);
        assert!(name.ends_with('…'));
    }
}
