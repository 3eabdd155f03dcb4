//! The wasm host's `spin:postgres@4.0.0` is as strict as the native port:
//! what a component sees from `query` and `execute` here is what it would
//! see from the strictest Spin.

use std::sync::Arc;

use native::testing::TestDb;
use native::{AllowedHosts, Pool};
use wasm_host::pg::PgConnection;
use wasm_host::spin::postgres::postgres::{DbValue, Error, ParameterValue, QueryError};

fn connection(db: &TestDb) -> PgConnection {
    PgConnection::open(db.url.clone(), Arc::new(db.allowed_hosts()), Arc::default())
}

fn text(pg: &PgConnection, sql: &str) -> String {
    match pg.query(sql, vec![]).unwrap().rows[0][0] {
        DbValue::Str(ref text) => text.clone(),
        ref other => panic!("expected text, got {other:?}"),
    }
}

fn backend_pid(pg: &PgConnection) -> String {
    text(pg, "SELECT pg_backend_pid()::text")
}

#[test]
fn a_dropped_connection_goes_back_to_the_pool_for_the_next_request() {
    let db = TestDb::fresh();
    let pool = Arc::new(Pool::default());
    let open = |allowed: AllowedHosts| {
        PgConnection::open(db.url.clone(), Arc::new(allowed), Arc::clone(&pool))
    };
    let first = open(db.allowed_hosts());
    let pid = backend_pid(&first);
    first
        .execute("SET statement_timeout = '7s'", vec![])
        .unwrap();
    first
        .execute("PREPARE kept AS SELECT 'kept'::text", vec![])
        .unwrap();
    drop(first);
    let second = open(db.allowed_hosts());
    assert_eq!(backend_pid(&second), pid);
    // Cleaned as Spin's pool cleans it: the session's settings are reset,
    // its prepared statements stay (what `run_statement` relies on).
    assert_eq!(
        text(&second, "SELECT current_setting('statement_timeout')"),
        "0"
    );
    assert_eq!(
        text(
            &second,
            "SELECT count(*)::text FROM pg_prepared_statements WHERE name = 'kept'"
        ),
        "1"
    );
    // A pooled connection is no way around allowed_outbound_hosts.
    let err = open(AllowedHosts::none())
        .query("SELECT 'x'::text", vec![])
        .unwrap_err();
    assert!(matches!(&err, Error::ConnectionFailed(_)), "{err:?}");
}

#[test]
fn a_query_that_answers_zero_rows_is_an_error_naming_the_statement() {
    let db = TestDb::fresh();
    let err = connection(&db)
        .query("/* nothing_here */ SELECT 'x'::text WHERE false", vec![])
        .unwrap_err();
    match err {
        Error::QueryFailed(QueryError::Text(message)) => {
            assert!(message.contains("zero rows"), "{message}");
            assert!(message.contains("nothing_here"), "{message}");
        }
        other => panic!("expected a query error, got {other:?}"),
    }
}

#[test]
fn a_query_answers_its_one_text_value_with_the_parameters_bound() {
    let db = TestDb::fresh();
    let rows = connection(&db)
        .query(
            "SELECT json_build_array($1::text, $2::int8, $3::bool, $4::text)::text",
            vec![
                ParameterValue::Str("a".into()),
                ParameterValue::Int64(7),
                ParameterValue::Boolean(true),
                ParameterValue::DbNull,
            ],
        )
        .unwrap();
    assert_eq!(rows.rows.len(), 1);
    assert!(
        matches!(&rows.rows[0][..], [DbValue::Str(s)] if s == r#"["a", 7, true, null]"#),
        "{:?}",
        rows.rows
    );
}

#[test]
fn a_failed_query_carries_no_sqlstate_but_a_failed_execute_does() {
    let db = TestDb::fresh();
    let pg = connection(&db);
    let err = pg.query("SELECT (1 / 0)::text", vec![]).unwrap_err();
    assert!(
        matches!(&err, Error::QueryFailed(QueryError::Text(m)) if m.contains("division by zero")),
        "{err:?}"
    );
    let err = pg.execute("SELECT 1 / 0", vec![]).unwrap_err();
    assert!(
        matches!(&err, Error::QueryFailed(QueryError::DbError(e)) if e.code == "22012"),
        "{err:?}"
    );
}

#[test]
fn a_host_missing_from_allowed_outbound_hosts_is_refused() {
    let db = TestDb::fresh();
    let pg = PgConnection::open(
        db.url.clone(),
        Arc::new(AllowedHosts::none()),
        Arc::default(),
    );
    let err = pg.query("SELECT 'x'::text", vec![]).unwrap_err();
    assert!(
        matches!(&err, Error::ConnectionFailed(m) if m.contains("allowed_outbound_hosts")),
        "{err:?}"
    );
}

#[test]
fn parameter_types_the_components_never_send_are_refused() {
    let db = TestDb::fresh();
    let err = connection(&db)
        .query("SELECT $1::text", vec![ParameterValue::Floating64(1.5)])
        .unwrap_err();
    assert!(matches!(err, Error::BadParameter(_)), "{err:?}");
}
