//! NativeDb against a real PostgreSQL: the value conversions of the Db port
//! (the same ones Spin's pg4 makes), error mapping and the host check.

use std::sync::Arc;

use native::testing::TestDb;
use native::{AllowedHosts, NativeDb};
use todo_core::db::{DbError, SqlParam};
use todo_core::ports::Db;

#[test]
fn parameters_and_columns_convert_both_ways() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let rows = db
        .query(
            "select $1::bool as b, $2::int8 as i, $3::text as t, \
             $4::int8 is null as null_int, $4::text as null_text, \
             2::int2 as small, 4::int4 as medium, 'v'::varchar as v, 'c'::char(2) as c",
            &[
                SqlParam::Bool(true),
                SqlParam::Int(-42),
                SqlParam::Text("héllo".into()),
                SqlParam::Null,
            ],
        )
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.bool("b").unwrap());
    assert_eq!(row.int("i").unwrap(), -42);
    assert_eq!(row.text("t").unwrap(), "héllo");
    assert!(row.bool("null_int").unwrap());
    assert_eq!(row.opt_text("null_text").unwrap(), None);
    assert_eq!(row.int("small").unwrap(), 2);
    assert_eq!(row.int("medium").unwrap(), 4);
    assert_eq!(row.text("v").unwrap(), "v");
    assert_eq!(row.text("c").unwrap(), "c ");
}

#[test]
fn floats_come_back_as_floats() {
    let test_db = TestDb::fresh();
    let rows = test_db
        .db()
        .query("select 1.5::float4 as f4, 2.25::float8 as f8", &[])
        .unwrap();
    // Row has no float accessor (the core needs none); its debug view shows the values.
    let row = format!("{:?}", rows[0]);
    assert!(
        row.contains("Float(1.5)") && row.contains("Float(2.25)"),
        "{row}"
    );
}

#[test]
fn a_column_of_another_type_must_be_selected_as_text() {
    let test_db = TestDb::fresh();
    // `name` too: Spin's outbound-pg does not read it as a string.
    let err = test_db
        .db()
        .query("select 'n'::name as n", &[])
        .unwrap_err();
    assert!(matches!(err, todo_core::db::DbError::Decode(_)), "{err:?}");
    let err = test_db.db().query("select now() as at", &[]).unwrap_err();
    assert_eq!(
        err,
        DbError::Decode("column at has type timestamptz; select it as text".into())
    );
}

#[test]
fn an_empty_result_is_an_empty_list() {
    let test_db = TestDb::fresh();
    let rows = test_db
        .db()
        .query("select id::text from users where false", &[])
        .unwrap();
    assert!(rows.is_empty());
}

#[test]
fn execute_counts_rows_and_a_unique_violation_keeps_its_sqlstate() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let insert = "insert into users (email, name, password_hash) values ($1::text, 'A', 'x')";
    assert_eq!(db.execute(insert, &["a@example.com".into()]).unwrap(), 1);
    let err = db.execute(insert, &["a@example.com".into()]).unwrap_err();
    assert!(err.is_unique_violation(), "{err:?}");
    // The connection is still usable after a failed statement.
    assert_eq!(
        db.execute(
            "delete from users where email = $1::text",
            &["a@example.com".into()]
        )
        .unwrap(),
        1
    );
}

#[test]
fn a_syntax_error_is_a_query_error_with_its_sqlstate() {
    let test_db = TestDb::fresh();
    let err = test_db.db().query("selec 1", &[]).unwrap_err();
    assert_eq!(err.sqlstate(), Some("42601"), "{err:?}");
}

#[test]
fn a_host_not_in_allowed_outbound_hosts_is_refused_before_connecting() {
    let test_db = TestDb::fresh();
    let db = NativeDb::new(test_db.url.clone(), Arc::new(AllowedHosts::none()));
    match db.query("select 1::int8 as one", &[]) {
        Err(DbError::Connection(message)) => {
            assert!(message.contains("not allowed"), "{message}")
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_a_connection_error() {
    let allowed = AllowedHosts::parse(&["postgres://127.0.0.1:1"]).unwrap();
    let db = NativeDb::new(
        "postgres://todo@127.0.0.1:1/todo?sslmode=disable",
        Arc::new(allowed),
    );
    assert!(matches!(
        db.execute("select 1", &[]),
        Err(DbError::Connection(_))
    ));
}
