//! NativeDb against a real PostgreSQL: as strict as the strictest Spin host
//! (zero-row queries and SQLSTATEs of queries refused), the one-JSON-value
//! answers of `todo_core::db::Statement` for every kind of statement that
//! matches nothing, error mapping and the host check.

use std::sync::Arc;

use native::testing::TestDb;
use native::{AllowedHosts, NativeDb};
use serde_json::{json, Value};
use todo_core::auth::Caller;
use todo_core::db::{prepared_name, DbError, Json, SqlParam, Statement};
use todo_core::ports::Db;
use uuid::Uuid;

#[test]
fn a_query_that_answers_zero_rows_is_refused_and_named() {
    let test_db = TestDb::fresh();
    let err = test_db
        .db()
        .query_json("select email from users where false", &[])
        .unwrap_err();
    let DbError::Query {
        code: None,
        message,
    } = err
    else {
        panic!("expected a query error without SQLSTATE, got {err:?}");
    };
    assert!(message.contains("zero rows"), "{message}");
    assert!(message.contains("3671"), "{message}");
    assert!(
        message.contains("select email from users where false"),
        "{message}"
    );
}

#[test]
fn a_query_must_answer_one_row_of_one_text_column() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    for sql in [
        "select 'a'::text union all select 'b'::text",
        "select 'a'::text, 'b'::text",
        "select 1::int8",
        "select now()",
        "select 'n'::name",
        "select null::text",
    ] {
        let err = db.query_json(sql, &[]).unwrap_err();
        assert!(
            matches!(&err, DbError::Decode(m) if m.contains(sql)),
            "{sql}: {err:?}"
        );
    }
    // The string types Spin's pg4 reads as strings.
    for sql in [
        "select 'v'::varchar",
        "select 'c'::char(1)",
        "select 't'::text",
    ] {
        assert_eq!(db.query_json(sql, &[]).unwrap().len(), 1, "{sql}");
    }
}

#[test]
fn a_query_error_loses_its_sqlstate_as_under_spin_and_execute_keeps_it() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let insert = "insert into users (email, name, password_hash) values ($1::text, 'A', 'x')";
    assert_eq!(db.execute(insert, &["a@example.com".into()]).unwrap(), 1);
    let err = db.execute(insert, &["a@example.com".into()]).unwrap_err();
    assert!(
        matches!(&err, DbError::Query { code: Some(c), .. } if c == "23505"),
        "{err:?}"
    );
    // The same violation raised while a query's rows stream: text only.
    let err = db
        .query_json(
            "with ins as (insert into users (email, name, password_hash) \
             values ($1::text, 'A', 'x') returning email) select email from ins",
            &["a@example.com".into()],
        )
        .unwrap_err();
    assert!(
        matches!(&err, DbError::Query { code: None, message } if message.contains("duplicate")),
        "{err:?}"
    );
    // Even a syntax error, which Spin may report with its code.
    let err = db.query_json("selec 1", &[]).unwrap_err();
    assert!(matches!(err, DbError::Query { code: None, .. }), "{err:?}");
    // The connection is still usable after failed statements.
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
fn parameters_and_values_round_trip_through_the_json_answer() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    // Timestamps come with the session's offset, whatever it is.
    db.execute("SET TIME ZONE 'Asia/Kathmandu'", &[]).unwrap();
    let answer: Value = Statement::object(
        &[],
        &[
            ("b", Json::Value("$1::bool")),
            ("i", Json::Value("$2::int8")),
            ("t", Json::Value("$3::text")),
            ("null", Json::Value("$4::text")),
            ("at", Json::Value("'2026-06-01T12:00:00.5Z'::timestamptz")),
            ("tags", Json::Value("ARRAY['a', 'b']")),
        ],
        vec![
            SqlParam::Bool(true),
            SqlParam::Int(-42),
            SqlParam::Text("héllo \"quoted\"".into()),
            SqlParam::Null,
        ],
    )
    .fetch(&db)
    .unwrap();
    assert_eq!(answer["b"], true);
    assert_eq!(answer["i"], -42);
    assert_eq!(answer["t"], "héllo \"quoted\"");
    assert_eq!(answer["null"], Value::Null);
    assert_eq!(answer["tags"], json!(["a", "b"]));
    let at: chrono::DateTime<chrono::Utc> = serde_json::from_value(answer["at"].clone()).unwrap();
    assert!(
        answer["at"].as_str().unwrap().ends_with("+05:45"),
        "{answer}"
    );
    assert_eq!(at.to_rfc3339(), "2026-06-01T12:00:00.500+00:00");
}

/// Statements run prepared (`run_prepared`, migration V20): a statement is
/// prepared once on a connection and then executed there with its generic
/// plan, and its arguments, sent as quoted literals, arrive exactly,
/// whatever characters they hold. A NUL, which no PostgreSQL text holds,
/// is refused as a value the statement cannot take.
#[test]
fn a_statement_is_prepared_once_per_connection_and_its_arguments_arrive_intact() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let statement = |value: &str, n: i64| {
        Statement::object(
            &[],
            &[
                ("v", Json::Value("$1::text")),
                ("n", Json::Value("$2::int8")),
            ],
            vec![value.into(), SqlParam::Int(n)],
        )
    };
    let values = [
        "it's",
        r"back\slash\",
        r"\'",
        "$$ dollar $q$",
        "'); DROP TABLE users; --",
        "E'\\x41'",
        "héllo \"quoted\" 🦀",
        "",
        r"\000",
        r"\",
        "''",
        "tab\tnewline\ncr\r\u{7f}",
    ];
    for (n, value) in (0..).zip(values) {
        let answer: Value = statement(value, n).fetch(&db).unwrap();
        assert_eq!(answer, json!({"v": value, "n": n}));
    }
    // The same on a server that reads backslashes in plain '' strings.
    db.execute("SET standard_conforming_strings = off", &[])
        .unwrap();
    let answer: Value = statement(r"\'", 1).fetch(&db).unwrap();
    assert_eq!(answer, json!({"v": r"\'", "n": 1}));
    match statement("a\0b", 0).fetch::<Value>(&db) {
        Err(DbError::Query { message, .. }) => {
            assert!(message.contains("cannot take"), "{message}");
            assert!(!message.contains("a\0b"), "{message}");
        }
        other => panic!("a NUL was not refused: {other:?}"),
    }
    let name = prepared_name(&statement("", 0).sql);
    let plans: Value = Statement::object(
        &[],
        &[(
            "plans",
            Json::Row(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
                 WHERE name = $1::text",
            ),
        )],
        vec![name.into()],
    )
    .fetch(&db)
    .unwrap();
    assert_eq!(
        plans["plans"],
        json!({"generic_plans": values.len() + 1, "custom_plans": 0})
    );
}

/// The previous release's components call `run_statement` (V12) with the
/// arguments as a jsonb array; while a deployment rolls out they share the
/// database with this release's, and their statements still answer, on
/// the statement this release prepared under the same name.
#[test]
fn the_previous_releases_run_statement_call_still_answers() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let statement = Statement::object(
        &[],
        &[
            ("v", Json::Value("$1::text")),
            ("n", Json::Value("$2::int8")),
            ("none", Json::Value("$3::text")),
        ],
        vec!["it's \\ here".into(), SqlParam::Int(7), SqlParam::Null],
    );
    let answer: Value = statement.fetch(&db).unwrap();
    assert_eq!(answer, json!({"v": "it's \\ here", "n": 7, "none": null}));
    let old = |statement: &Statement, args: Value| -> Value {
        let text = db
            .query_json(
                "SELECT run_statement($1::text, $2::text, $3::text::jsonb)",
                &[
                    prepared_name(&statement.sql).into(),
                    statement.sql.clone().into(),
                    args.to_string().into(),
                ],
            )
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    assert_eq!(
        old(&statement, json!(["'; --", "8", null])),
        json!({"v": "'; --", "n": 8, "none": null})
    );
    // A statement this connection has not prepared yet.
    let fresh = Statement::object(&[], &[("w", Json::Value("$1::text"))], vec![]);
    assert_eq!(old(&fresh, json!(["x"])), json!({"w": "x"}));
}

/// A connection keeps at most 200 of the app's prepared statements: a new
/// one past that lets go of those it holds first.
#[test]
fn a_connection_holds_a_bounded_number_of_prepared_statements() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let held = || -> i64 {
        let answer: Value = Statement::object(
            &[],
            &[(
                "n",
                Json::Value(
                    "(SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'todo\\_%')",
                ),
            )],
            vec![],
        )
        .fetch(&db)
        .unwrap();
        answer["n"].as_i64().unwrap()
    };
    for i in 0..199 {
        let answer: Value = Statement::object(&[], &[("i", Json::Value(&i.to_string()))], vec![])
            .fetch(&db)
            .unwrap();
        assert_eq!(answer["i"], i);
    }
    assert_eq!(held(), 200); // 199 and the count's own
    let answer: Value = Statement::object(&[], &[("i", Json::Value("1000"))], vec![])
        .fetch(&db)
        .unwrap();
    assert_eq!(answer["i"], 1000);
    assert_eq!(held(), 2);
}

/// Every kind of statement that matches nothing still answers one row
/// through the real port: a select by id, an update, a delete, a list of an
/// empty table, a duplicate insert, and a caller who does not exist.
#[test]
fn statements_that_match_nothing_answer_null_or_an_empty_array() {
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let ada = test_db.insert_user("ada@example.com");
    let missing = Uuid::new_v4();
    let answer = |ctes: &[&str], fields: &[(&str, Json<'_>)], params: Vec<SqlParam>| -> Value {
        Statement::object(ctes, fields, params).fetch(&db).unwrap()
    };

    let select = answer(
        &[],
        &[(
            "todo",
            Json::Row("SELECT id, title FROM todos WHERE id = $1::text::uuid"),
        )],
        vec![missing.into()],
    );
    assert_eq!(select, json!({"todo": null}));

    let update = answer(
        &["upd AS (UPDATE todos SET title = 'x' WHERE id = $1::text::uuid RETURNING id)"],
        &[
            ("todo", Json::Row("SELECT id FROM upd")),
            ("n", Json::Value("(SELECT count(*) FROM upd)")),
        ],
        vec![missing.into()],
    );
    assert_eq!(update, json!({"todo": null, "n": 0}));

    let delete = answer(
        &["del AS (DELETE FROM todos WHERE id = $1::text::uuid RETURNING id)"],
        &[("deleted", Json::Value("EXISTS (SELECT FROM del)"))],
        vec![missing.into()],
    );
    assert_eq!(delete, json!({"deleted": false}));

    let list = answer(
        &[],
        &[
            (
                "items",
                Json::Rows("SELECT id FROM todos WHERE user_id = $1::text::uuid ORDER BY id"),
            ),
            (
                "total",
                Json::Value("(SELECT count(*) FROM todos WHERE user_id = $1::text::uuid)"),
            ),
        ],
        vec![ada.into()],
    );
    assert_eq!(list, json!({"items": [], "total": 0}));

    let duplicate = answer(
        &["ins AS (INSERT INTO users (email, name, password_hash) \
           VALUES ('ada@example.com', 'Again', 'x') ON CONFLICT (email) DO NOTHING \
           RETURNING id)"],
        &[("user", Json::Row("SELECT id FROM ins"))],
        vec![],
    );
    assert_eq!(duplicate, json!({"user": null}));

    // A caller whose account does not exist: no row from `auth`, and the
    // statement's own CTEs, which reach the data only through it, change nothing.
    let stranger = Caller::user(Uuid::new_v4());
    let mut params = stranger.params();
    let title = params.add("sneaky", "::text");
    let insert = format!(
        "ins AS (INSERT INTO todos (user_id, title) SELECT id, {title} FROM auth RETURNING id)"
    );
    let scoped: Value = Caller::statement(
        &[&insert],
        &[("todo", Json::Row("SELECT id FROM ins"))],
        params,
    )
    .fetch(&db)
    .unwrap();
    assert_eq!(scoped, json!({"caller": null, "result": null}));
    let count: i64 = test_db
        .client()
        .query_one("SELECT count(*) FROM todos", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

#[test]
fn a_host_not_in_allowed_outbound_hosts_is_refused_before_connecting() {
    let test_db = TestDb::fresh();
    let db = NativeDb::new(test_db.url.clone(), Arc::new(AllowedHosts::none()));
    match db.query_json("select '1'::text", &[]) {
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

/// The server's log from now on: the file `TEST_DATABASE_LOG` names
/// (scripts/test's own cluster exports it), read from its present end.
struct ServerLog {
    path: std::path::PathBuf,
    start: u64,
}

impl ServerLog {
    fn from_here() -> Option<ServerLog> {
        let path = std::path::PathBuf::from(std::env::var_os("TEST_DATABASE_LOG")?);
        let start = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("TEST_DATABASE_LOG {}: {e}", path.display()))
            .len();
        Some(ServerLog { path, start })
    }

    /// What the server logged since, once it holds `expected` (the server
    /// writes it as the error happens; other tests' lines come in between).
    fn until(&self, expected: &str) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut file = std::fs::File::open(&self.path).unwrap();
            file.seek(SeekFrom::Start(self.start)).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            if text.contains(expected) || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// A statement that fails leaks none of its arguments (emails, names,
/// password hashes, todo text) into PostgreSQL's log, nor into the error the
/// app receives (migration V13): not in a CONTEXT line quoting the call, not
/// in a unique violation's DETAIL, not in a data exception's message; on a
/// statement's first use (when it is prepared) and on later ones.
#[test]
fn a_failed_statement_leaves_none_of_its_arguments_in_the_server_log() {
    let test_db = TestDb::fresh();
    let mut admin = test_db.client();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET lock_timeout = '200ms'",
            test_db.name
        ))
        .unwrap();
    let log = ServerLog::from_here();
    let db = test_db.db();
    let secret = format!("secret-{}@example.com", Uuid::new_v4().simple());
    let mut errors = Vec::new();

    // A data exception, whose message would quote the value, twice: the
    // first call prepares the statement, the second runs it prepared.
    let bad_uuid = Statement::object(
        &[],
        &[("id", Json::Value("$1::text::uuid"))],
        vec![secret.as_str().into()],
    );
    for _ in 0..2 {
        errors.push(bad_uuid.fetch::<Value>(&db).unwrap_err());
    }
    // A unique violation, whose DETAIL would quote the key.
    let insert = Statement::object(
        &["ins AS (INSERT INTO users (email, name, password_hash) \
           VALUES ($1::text, $2::text, 'x') RETURNING id)"],
        &[("id", Json::Value("(SELECT id FROM ins)"))],
        vec![secret.as_str().into(), secret.as_str().into()],
    );
    insert.fetch::<Value>(&db).unwrap();
    errors.push(insert.fetch::<Value>(&db).unwrap_err());
    // A lock timeout: another transaction holds the row.
    let mut holder = test_db.client();
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "SELECT 1 FROM users WHERE email = $1 FOR UPDATE",
        &[&secret],
    )
    .unwrap();
    let rename = Statement::object(
        &["up AS (UPDATE users SET name = $2::text WHERE email = $1::text RETURNING id)"],
        &[("id", Json::Value("(SELECT id FROM up)"))],
        vec![secret.as_str().into(), format!("{secret} renamed").into()],
    );
    errors.push(rename.fetch::<Value>(&db).unwrap_err());
    tx.rollback().unwrap();

    for err in &errors {
        assert!(matches!(err, DbError::Query { .. }), "{err:?}");
        assert!(!format!("{err:?}").contains("secret-"), "{err:?}");
    }
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(messages[0].contains("22P02"), "{messages:?}");
    assert!(messages[2].contains("duplicate key"), "{messages:?}");
    assert!(messages[3].contains("lock timeout"), "{messages:?}");

    match log {
        Some(log) => {
            let text = log.until("canceling statement due to lock timeout");
            assert!(
                text.contains("canceling statement due to lock timeout")
                    && text.contains("duplicate key"),
                "the server did not log the errors:\n{text}"
            );
            assert!(
                !text.contains("secret-"),
                "the server logged an argument:\n{text}"
            );
        }
        None => eprintln!(
            "TEST_DATABASE_LOG is not set: the server's log was not read (scripts/test sets it)"
        ),
    }
}
