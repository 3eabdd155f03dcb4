//! The migrations: idempotent, recorded by refinery, safe to run twice at
//! once (a deploy's migration Job may overlap the last one), and in step with
//! `todo_core::LATEST_MIGRATION`.

use std::process::{Command, Stdio};
use std::str::FromStr;

use native::testing::TEST_DATABASE_URL;

fn admin_url() -> String {
    std::env::var(TEST_DATABASE_URL)
        .unwrap_or_else(|_| panic!("{TEST_DATABASE_URL} is not set; run scripts/test"))
}

/// An empty database (no migrations), dropped at the end.
struct EmptyDb {
    name: String,
    url: String,
}

impl EmptyDb {
    fn create() -> Self {
        let admin = admin_url();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Self {
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for EmptyDb {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&admin_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn migrating_twice_applies_everything_once() {
    let db = EmptyDb::create();
    let first = native::migrate(&db.url).unwrap();
    assert!(
        first.contains(&"V1__initial_schema".to_owned()),
        "{first:?}"
    );
    let second = native::migrate(&db.url).unwrap();
    assert_eq!(second, Vec::<String>::new());

    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let versions: Vec<i32> = client
        .query(
            "select version from refinery_schema_history order by version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(versions.len(), first.len());
    // The schema is there.
    client.query("select id from users limit 1", &[]).unwrap();
}

/// The versions recorded in `refinery_schema_history`, in order.
fn recorded_versions(url: &str) -> Vec<i32> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query(
            "select version from refinery_schema_history order by version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn two_migrate_processes_started_together_both_succeed_and_apply_each_migration_once() {
    let expected = folder_versions();
    // Several fresh databases: a race that one pair misses, another hits.
    for _ in 0..4 {
        let db = EmptyDb::create();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_migrate"))
                    .args(["--database-url", &db.url])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut applied = Vec::new();
        for run in runs {
            let output = run.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                output.status.success(),
                "migrate failed: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            // "<url>: applied V1__a, V2__b" or "<url>: schema is up to date"
            if let Some((_, names)) = stdout.trim().split_once(": applied ") {
                applied.extend(names.split(", ").map(str::to_owned));
            }
        }
        applied.sort();
        let mut once = applied.clone();
        once.dedup();
        assert_eq!(applied, once, "a migration was applied twice");
        assert_eq!(applied.len(), expected.len(), "{applied:?}");
        assert_eq!(recorded_versions(&db.url), expected);
    }
}

/// `url` with its `sslmode` set to `mode`.
fn with_sslmode(url: &str, mode: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "sslmode")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(others)
        .append_pair("sslmode", mode);
    url.to_string()
}

/// A stand-in for a PostgreSQL that accepts only TLS: it answers the
/// client's SSLRequest with `S`, completes a TLS handshake with a test-only
/// certificate, reads the startup message through TLS and refuses it with a
/// FATAL error that says so. Its address.
fn tls_only_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let certs = CertificateDer::pem_file_iter(fixtures.join("test-only-tls.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixtures.join("test-only-tls.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let mut ssl_request = [0; 8];
            if tcp.read_exact(&mut ssl_request).is_err()
                || ssl_request != [0, 0, 0, 8, 4, 210, 22, 47]
            {
                continue; // a client that did not ask for TLS gets nothing
            }
            tcp.write_all(b"S").unwrap();
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut length = [0; 4];
            if tls.read_exact(&mut length).is_err() {
                continue;
            }
            let mut startup = vec![0; u32::from_be_bytes(length) as usize - 4];
            let _ = tls.read_exact(&mut startup);
            let mut fields = Vec::new();
            for (code, value) in [
                (b'S', "FATAL"),
                (b'C', "28000"),
                (b'M', "startup message arrived over TLS"),
            ] {
                fields.push(code);
                fields.extend_from_slice(value.as_bytes());
                fields.push(0);
            }
            fields.push(0);
            let mut error = vec![b'E'];
            error.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
            error.extend_from_slice(&fields);
            let _ = tls.write_all(&error);
            let _ = tls.flush();
        }
    });
    addr
}

/// A managed PostgreSQL often accepts nothing but TLS. With
/// `sslmode=require` (and `prefer`), migrate speaks TLS to it, accepting its
/// certificate as libpq does without PGSSLROOTCERT (a real TLS-only server,
/// with and without PGSSLROOTCERT, was checked by hand).
#[test]
fn migrate_speaks_tls_to_a_server_that_accepts_only_tls() {
    let addr = tls_only_server();
    for mode in ["require", "prefer"] {
        let url = format!("postgres://todo@{addr}/todo?sslmode={mode}");
        let err = native::migrate(&url).unwrap_err();
        assert!(
            format!("{err:#}").contains("startup message arrived over TLS"),
            "{mode}: {err:#}"
        );
    }
}

/// Against a server without TLS, `require` refuses to go on in plain text
/// and `prefer` does (the test server has no TLS unless configured so).
#[test]
fn without_tls_on_the_server_require_refuses_and_prefer_falls_back_to_plain_text() {
    let db = EmptyDb::create();
    let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap();
    let ssl: String = admin.query_one("SHOW ssl", &[]).unwrap().get(0);
    if ssl == "off" {
        let err = native::migrate(&with_sslmode(&db.url, "require")).unwrap_err();
        assert!(
            format!("{err:#}").contains("server does not support TLS"),
            "{err:#}"
        );
    }
    let applied = native::migrate(&with_sslmode(&db.url, "prefer")).unwrap();
    assert!(applied.contains(&"V1__initial_schema".to_owned()));
}

/// The versions of the files in `migrations/`, in order.
fn folder_versions() -> Vec<i32> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut versions: Vec<i32> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let version = name.strip_prefix('V')?.split_once("__")?.0.to_owned();
            Some(i32::from_str(&version).unwrap())
        })
        .collect();
    versions.sort_unstable();
    versions
}

#[test]
fn latest_migration_matches_the_migrations_folder() {
    let highest = i64::from(*folder_versions().last().unwrap());
    assert_eq!(
        todo_core::LATEST_MIGRATION,
        highest,
        "todo_core::LATEST_MIGRATION is out of step with migrations/"
    );
    assert_eq!(native::migrations::latest_version(), highest);
}

/// The files in `migrations/` up to `last` (inclusive) from `first`, run as
/// plain SQL, each in a transaction as refinery runs them.
fn apply_files(client: &mut postgres::Client, first: i32, last: i32) {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<(i32, std::path::PathBuf)> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            let version = i32::from_str(name.strip_prefix('V')?.split_once("__")?.0).ok()?;
            Some((version, path))
        })
        .filter(|(version, _)| (first..=last).contains(version))
        .collect();
    files.sort();
    for (_, path) in files {
        let sql = std::fs::read_to_string(&path).unwrap();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        tx.commit().unwrap();
    }
}

#[test]
fn the_lists_migration_moves_every_users_todos_and_history_into_their_inbox() {
    let db = EmptyDb::create();
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    apply_files(&mut client, 1, 15);
    // Two users as the release before lists left them: todos, their trail,
    // and the change number the users' sync tokens carry.
    client
        .batch_execute(
            "INSERT INTO users (email, name, password_hash, change_seq) VALUES
                 ('ada@example.com', 'Ada', 'x', 7), ('bob@example.com', 'Bob', 'x', 0);
             INSERT INTO todos (user_id, title, change_seq)
                 SELECT id, 'todo of ' || name, 7 FROM users WHERE name = 'Ada';
             INSERT INTO todo_audit (user_id, todo_id, action, change_seq)
                 SELECT user_id, id, 'create', 7 FROM todos;",
        )
        .unwrap();
    apply_files(&mut client, 16, 16);

    let inboxes = client
        .query(
            "SELECT u.name, l.name, l.change_seq, l.member_count,
                    (SELECT count(*) FROM list_members m WHERE m.list_id = l.id AND m.user_id = u.id)
             FROM users u JOIN lists l ON l.owner_id = u.id AND l.inbox ORDER BY u.name",
            &[],
        )
        .unwrap();
    let inboxes: Vec<(String, String, i64, i32, i64)> = inboxes
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        inboxes,
        [
            ("Ada".into(), "Inbox".into(), 7, 1, 1),
            ("Bob".into(), "Inbox".into(), 0, 1, 1)
        ]
    );
    let misplaced: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM todos t
                     WHERE t.list_id IS DISTINCT FROM
                           (SELECT id FROM lists WHERE owner_id = t.user_id AND inbox))
                  + (SELECT count(*) FROM todo_audit a
                     WHERE a.actor_id IS DISTINCT FROM a.user_id
                        OR a.list_id IS DISTINCT FROM
                           (SELECT id FROM lists WHERE owner_id = a.user_id AND inbox))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(misplaced, 0);
    // The rest applies on top, as refinery would.
    apply_files(&mut client, 17, i32::MAX);
}

/// V22 moves the CHECK constraints of todos and lists into domains: the
/// rows already stored keep their values, every rule still refuses what it
/// refused (SQLSTATE 23514), no table CHECK is left on either table (each
/// was read again for every row written), and what was dropped and created
/// again around the change of type (todo_fields, the CalDAV triggers)
/// works.
#[test]
fn the_domains_migration_keeps_the_rows_and_every_rule() {
    let db = EmptyDb::create();
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    apply_files(&mut client, 1, 21);
    client
        .batch_execute(
            "INSERT INTO users (email, name, password_hash) VALUES ('ada@example.com', 'Ada', 'x');
             INSERT INTO todos (user_id, list_id, title, priority, recurrence, dav_name, dav_uid)
                 SELECT u.id, l.id, 'before', 2, 'RRULE:FREQ=DAILY', 'mine.ics', 'uid-1'
                 FROM users u JOIN lists l ON l.owner_id = u.id;",
        )
        .unwrap();
    apply_files(&mut client, 22, 22);

    let kept = client
        .query_one(
            "SELECT title::text, priority::int4, recurrence::text, todo_fields(t)::text
             FROM todos t",
            &[],
        )
        .unwrap();
    assert_eq!(kept.get::<_, String>(0), "before");
    assert_eq!(kept.get::<_, i32>(1), 2);
    assert_eq!(kept.get::<_, String>(2), "RRULE:FREQ=DAILY");
    let fields: serde_json::Value = serde_json::from_str(&kept.get::<_, String>(3)).unwrap();
    assert_eq!(fields["title"], "before");
    assert_eq!(fields["priority"], "high");
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_constraint
             WHERE contype = 'c' AND conrelid IN ('todos'::regclass, 'lists'::regclass)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    let todo = "UPDATE todos SET";
    let list = "UPDATE lists SET";
    let refused = [
        (todo, "title = ''"),
        (todo, "title = repeat('x', 201)"),
        (todo, "description = repeat('x', 2001)"),
        (todo, "priority = 4"),
        (todo, "priority = -1"),
        (todo, "recurrence = 'hourly'"),
        (todo, "recurrence = 'RRULE:FREQ=DAILY;' || repeat('X', 300)"),
        (todo, "occurrence = 0"),
        (todo, "due_anchor_day = 32"),
        (todo, "dav_name = 'a/b.ics'"),
        (todo, "dav_name = 'b.txt'"),
        (todo, "dav_uid = ''"),
        (todo, "ical = repeat('x', 262145)"),
        (list, "name = ''"),
        (list, "name = repeat('x', 101)"),
        (list, "color = 'red'"),
        (list, "member_count = 0"),
        (list, "member_count = 51"),
        (list, "invitation_count = -1"),
        (list, "invitation_count = 51"),
    ];
    for (update, set) in refused {
        let err = client
            .batch_execute(&format!("{update} {set}"))
            .expect_err(set);
        assert_eq!(
            err.code(),
            Some(&postgres::error::SqlState::CHECK_VIOLATION),
            "{set}: {err}"
        );
    }
    let inserted = client.batch_execute(
        "INSERT INTO todos (user_id, list_id, title) SELECT owner_id, id, '' FROM lists",
    );
    assert_eq!(
        inserted.unwrap_err().code(),
        Some(&postgres::error::SqlState::CHECK_VIOLATION)
    );
    // The edges of each rule still go in.
    client
        .batch_execute(
            "UPDATE todos SET title = repeat('x', 200), description = repeat('x', 2000),
                 priority = 3, recurrence = 'monthly', occurrence = 1, due_anchor_day = 31,
                 dav_name = repeat('x', 196) || '.ics', dav_uid = repeat('x', 255);
             UPDATE lists SET name = repeat('x', 100), color = '#00ff7f', member_count = 50,
                 invitation_count = 50;",
        )
        .unwrap();

    // The CalDAV triggers: a deleted todo that a client named is recorded.
    client.batch_execute("DELETE FROM todos").unwrap();
    let gone: i64 = client
        .query_one("SELECT count(*) FROM dav_gone", &[])
        .unwrap()
        .get(0);
    assert_eq!(gone, 1);
    // The rest applies on top, as refinery would.
    apply_files(&mut client, 23, i32::MAX);
}

/// The SQL functions the app's statements call are inlined into them (a
/// function that is not is planned again at every execution of the
/// statement): EXPLAIN VERBOSE shows each call as its body's expression.
/// PostgreSQL declines when a function is declared less volatile than what
/// it calls, as event_data was until V23.
#[test]
fn the_sql_functions_the_statements_call_are_inlined() {
    let db = EmptyDb::create();
    native::migrate(&db.url).unwrap();
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    for (function, call) in [
        (
            "event_data",
            "event_data(x.id, x.fields) FROM (SELECT gen_random_uuid() AS id, '{}'::jsonb AS fields OFFSET 0) x",
        ),
        ("todo_fields", "todo_fields(t) FROM todos t"),
        ("api_ts", "api_ts(x.at) FROM (SELECT now() AS at OFFSET 0) x"),
    ] {
        let plan: String = client
            .query(&format!("EXPLAIN (VERBOSE) SELECT {call}"), &[])
            .unwrap()
            .iter()
            .map(|row| row.get::<_, String>(0) + "\n")
            .collect();
        assert!(!plan.contains(function), "{function} is not inlined:\n{plan}");
    }
}
