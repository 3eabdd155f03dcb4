//! What integration tests across the workspace share: a fresh, migrated
//! database per test ([`TestDb`]), the whole app served over HTTP on a free
//! port ([`TestApp`]), and plain variables for tests that build a `Ctx`
//! themselves ([`TestVars`]). Tests never share state, so they run in parallel.
//!
//! Needs `TEST_DATABASE_URL`: an admin connection to a PostgreSQL server that
//! may create databases (`scripts/test` starts one and sets it).

// Test support: failing loudly, with a message, is the point.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::config::Host;
use todo_core::ports::{Clock, Variables};
use uuid::Uuid;

use crate::db::NativeDb;
use crate::harness::{App, LogLines, Server};
use crate::migrations::{migrate, redact};
use crate::outbound::AllowedHosts;

/// The HTTP client the tests use, re-exported so other crates need not pin a version.
pub use ureq;

/// The environment variable naming the admin connection.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A database of its own for one test, migrated to the latest schema and
/// dropped when the test passes (kept for inspection when it fails).
pub struct TestDb {
    /// Connection string, in the form the app builds it (`todo_core::config::database_url`).
    pub url: String,
    /// The database's name, `test_<uuid>`.
    pub name: String,
    admin_url: String,
    vars: TestVars,
}

impl TestDb {
    /// Creates and migrates a new database on the server at `TEST_DATABASE_URL`.
    pub fn fresh() -> TestDb {
        let admin_url = std::env::var(TEST_DATABASE_URL).unwrap_or_else(|_| {
            panic!(
                "{TEST_DATABASE_URL} is not set. Run the tests with scripts/test, which starts \
                 a throwaway PostgreSQL, or set {TEST_DATABASE_URL} to an admin connection \
                 (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)"
            )
        });
        let config = postgres::Config::from_str(&admin_url)
            .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL} is not a valid connection URL: {e}"));
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            _ => panic!("{TEST_DATABASE_URL} must name a TCP host (the app connects over TCP)"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres").to_owned();
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();

        let name = format!("test_{}", Uuid::new_v4().simple());
        admin_execute(&admin_url, &format!("CREATE DATABASE \"{name}\""));

        let vars = TestVars::from_pairs(&[
            ("db_host", &host),
            ("db_port", &port.to_string()),
            ("db_name", &name),
            ("db_user", &user),
            ("db_password", &password),
            ("db_sslmode", "disable"),
        ]);
        let url = todo_core::config::database_url(&vars);
        migrate(&url).unwrap_or_else(|e| panic!("migrating {name} failed: {e:#}"));
        TestDb {
            url,
            name,
            admin_url,
            vars,
        }
    }

    /// A connection to this database, allowed as a component whose
    /// `allowed_outbound_hosts` lists its host and port.
    pub fn db(&self) -> NativeDb {
        NativeDb::new(self.url.clone(), Arc::new(self.allowed_hosts()))
    }

    /// `postgres://host:port` of this database, as `allowed_outbound_hosts`.
    pub fn allowed_hosts(&self) -> AllowedHosts {
        let entry = format!(
            "postgres://{}:{}",
            self.vars.get("db_host").unwrap_or_default(),
            self.vars.get("db_port").unwrap_or_default()
        );
        AllowedHosts::parse(&[entry]).expect("the test database's host is a valid entry")
    }

    /// The `db_*` variables that point the app at this database.
    pub fn vars(&self) -> TestVars {
        self.vars.clone()
    }

    /// A plain client of this database, for tests that look underneath the
    /// app (counts, plans, seeding) with SQL the app itself would not send.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.name))
    }

    /// Makes the database refuse (`false`) or accept new connections, as a
    /// database that is down would refuse them: the app connects anew for
    /// every request, so its next statement fails to connect.
    pub fn accept_connections(&self, accept: bool) {
        admin_execute(
            &self.admin_url,
            &format!(
                "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS {accept}",
                self.name
            ),
        );
    }

    /// A user row as sign-up would leave it (without a usable password), for
    /// tests and benchmarks that call the core's library API directly.
    pub fn insert_user(&self, email: &str) -> Uuid {
        self.client()
            .query_one(
                "INSERT INTO users (email, name, password_hash) VALUES ($1, 'Test', 'x') \
                 RETURNING id::text",
                &[&email],
            )
            .expect("inserting a test user")
            .get::<_, String>(0)
            .parse()
            .expect("a user id")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept database {} for inspection ({})",
                self.name,
                redact(&self.url)
            );
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Ok(mut client) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = client.batch_execute(&sql);
        }
    }
}

fn admin_execute(admin_url: &str, sql: &str) {
    let mut client = postgres::Client::connect(admin_url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot connect to {TEST_DATABASE_URL} ({}): {e}",
            redact(admin_url)
        )
    });
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql} failed: {e}"));
}

/// A clock the test moves: stopped at a time ([`at`](Self::at)), or
/// following the wall clock ([`running`](Self::running), what [`TestApp`]
/// serves with). Sleeping never waits: it moves the clock ahead by the
/// duration and records it, so a test can see each delay without waiting
/// (unless the test asks for [real sleeps](Self::sleep_for_real)).
pub struct TestClock(Mutex<ClockState>);

struct ClockState {
    /// `None` while the clock follows the wall clock.
    stopped_at: Option<DateTime<Utc>>,
    /// How far the test (or a sleep) has moved the clock.
    ahead: chrono::Duration,
    sleeps: Vec<Duration>,
    /// Whether a sleep waits (see [`TestClock::sleep_for_real`]).
    real_sleeps: bool,
}

impl TestClock {
    /// Stopped at an RFC 3339 time.
    pub fn at(rfc3339: &str) -> Self {
        Self::new(Some(parse_time(rfc3339)))
    }

    /// Following the wall clock, until the test moves it.
    pub fn running() -> Self {
        Self::new(None)
    }

    fn new(stopped_at: Option<DateTime<Utc>>) -> Self {
        Self(Mutex::new(ClockState {
            stopped_at,
            ahead: chrono::Duration::zero(),
            sleeps: Vec::new(),
            real_sleeps: false,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.0.lock().expect("the clock's lock")
    }

    /// Stops the clock at an RFC 3339 time.
    pub fn set(&self, rfc3339: &str) {
        let mut state = self.state();
        state.stopped_at = Some(parse_time(rfc3339));
        state.ahead = chrono::Duration::zero();
    }

    pub fn advance(&self, seconds: i64) {
        self.state().ahead += chrono::Duration::seconds(seconds);
    }

    /// From now on a sleep waits as long as it says (and is still
    /// recorded), while a running clock follows the wall clock through it:
    /// for tests in which another request must land during a wait.
    pub fn sleep_for_real(&self) {
        self.state().real_sleeps = true;
    }

    /// Every [`sleep`](Clock::sleep) so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let state = self.state();
        state.stopped_at.unwrap_or_else(Utc::now) + state.ahead
    }

    fn sleep(&self, duration: Duration) {
        let mut state = self.state();
        state.sleeps.push(duration);
        if state.real_sleeps {
            drop(state);
            std::thread::sleep(duration);
        } else {
            state.ahead += chrono::Duration::from_std(duration).expect("a sleep of a sane length");
        }
    }
}

/// An RFC 3339 time, in UTC.
pub fn parse_time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Variables from a map, for tests that build a `Ctx` directly.
#[derive(Clone, Default)]
pub struct TestVars(HashMap<String, String>);

/// Names only: the values include `jwt_secret` and `db_password`.
impl std::fmt::Debug for TestVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_struct("TestVars")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl TestVars {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// The same variables with `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_owned(), value.into());
    }

    pub fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }
}

impl Variables for TestVars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// The whole app (the repository's `spin.toml`) served over HTTP on a free
/// port, against its own fresh database. Variables are spin.toml's defaults
/// plus the test's own; `SPIN_VARIABLE_*` in the environment is ignored.
pub struct TestApp {
    server: Server,
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    pub db: TestDb,
    /// The `jwt_secret` the app signs tokens with.
    pub jwt_secret: String,
    /// The app's clock: the wall clock until the test moves it; a request
    /// that sleeps moves it instead of waiting.
    pub clock: Arc<TestClock>,
    statements: Arc<AtomicU64>,
    log: Arc<LogLines>,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        Self::spawn_with(&[])
    }

    /// Like [`spawn`](Self::spawn), with application variables set (they win
    /// over the test defaults, e.g. `("jwt_secret", "")` to test misconfiguration).
    pub fn spawn_with(vars: &[(&str, &str)]) -> TestApp {
        let db = TestDb::fresh();
        let mut overrides: HashMap<String, String> = db.vars().0;
        overrides.insert("jwt_secret".into(), random_secret(48));
        for (name, value) in vars {
            overrides.insert((*name).to_owned(), (*value).to_owned());
        }
        let jwt_secret = overrides.get("jwt_secret").cloned().unwrap_or_default();
        let clock = Arc::new(TestClock::running());
        let app = App::load_isolated(&manifest_path(), &overrides)
            .unwrap_or_else(|e| panic!("cannot load spin.toml: {e:#}"))
            .with_clock(Arc::clone(&clock) as Arc<dyn Clock + Send + Sync>);
        let statements = app.statement_counter();
        let log = app.log();
        let server =
            Server::start(app, "127.0.0.1:0").unwrap_or_else(|e| panic!("cannot serve: {e:#}"));
        let addr = server.addr;
        TestApp {
            server,
            base_url: format!("http://{addr}"),
            addr,
            db,
            jwt_secret,
            clock,
            statements,
            log,
        }
    }

    /// Signs `email` up (as "Ada", with [`TEST_PASSWORD`]) and answers the
    /// account's session token and id; panics unless the answer is 201.
    pub fn signup(&self, email: &str) -> SignedUp {
        let body = serde_json::json!({"email": email, "password": TEST_PASSWORD, "name": "Ada"});
        let reply = self
            .send("POST", "/api/auth/signup", None, &[], Some(&body))
            .expect(201);
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        SignedUp {
            token: text(&reply.body["access_token"]),
            id: text(&reply.body["user"]["id"]),
        }
    }

    /// Logs `email` in with [`TEST_PASSWORD`] and answers a new session
    /// token; panics unless the answer is 200.
    pub fn login(&self, email: &str) -> String {
        let body = serde_json::json!({"email": email, "password": TEST_PASSWORD});
        let reply = self
            .send("POST", "/api/auth/login", None, &[], Some(&body))
            .expect(200);
        reply.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The components' log lines so far (the last thousand), oldest first,
    /// each parsed as the JSON it is.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.log
            .lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| line.as_str().into()))
            .collect()
    }

    /// How many SQL statements (round trips to PostgreSQL) the app has sent
    /// so far; the difference around one request is that request's count.
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops serving; also happens on drop.
    pub fn stop(&self) {
        self.server.stop();
    }
}

/// The password [`TestApp::signup`] gives every account.
pub const TEST_PASSWORD: &str = "correct horse battery";

/// An account made by [`TestApp::signup`].
pub struct SignedUp {
    /// Its session token.
    pub token: String,
    pub id: String,
}

/// An answer of the app, with its body parsed as JSON when it is JSON
/// (`Null` when empty, a `String` otherwise).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The field names of a 422's `error.fields`.
    pub fn field_errors(&self) -> Vec<String> {
        self.body["error"]["fields"]
            .as_object()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// Asserts the status and the standard error shape with `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
    }

    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        self.assert_error(status, code);
        self
    }
}

impl TestApp {
    /// Sends a request to the app: `token` as a bearer token, `body` as JSON
    /// (with `content-type: application/json` unless `headers` set one).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let mut req = http::Request::builder().method(method).uri(self.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let has_type = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        let bytes = match body {
            Some(b) => {
                if !has_type {
                    req = req.header("content-type", "application/json");
                }
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        self.send_raw(req.body(bytes).expect("a valid request"))
    }

    /// Sends a request exactly as built (e.g. a malformed body).
    pub fn send_raw(&self, req: http::Request<Vec<u8>>) -> Reply {
        let mut resp = client().run(req).expect("the app answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.body_mut().read_to_string().expect("a readable body");
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// The repository's `spin.toml`.
pub fn manifest_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../spin.toml")
        .canonicalize()
        .expect("spin.toml exists at the repository root")
}

/// An HTTP client for tests: every status is a response (ureq 3 treats 4xx
/// and 5xx as errors by default), redirects are not followed, 30 s at most.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // WebDAV's methods (PROPFIND, REPORT, ...), as CalDAV clients send them.
        .allow_non_standard_methods(true)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .proxy(None)
        .build()
        .into()
}

/// A random string of lowercase hex digits (from v4 UUIDs).
pub fn random_secret(len: usize) -> String {
    let mut s = String::with_capacity(len + 32);
    while s.len() < len {
        s.push_str(&Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

/// The environment variable naming a Redis server the tests may share
/// (`scripts/test` starts one); without it each test starts its own.
pub const TEST_REDIS_URL: &str = "TEST_REDIS_URL";

/// A Redis server for one test and a stream of its own on it: the shared
/// server at [`TEST_REDIS_URL`], or a `redis-server` this test starts on a
/// free loopback port (and stops when it is dropped).
pub struct TestRedis {
    pub host: String,
    pub port: u16,
    /// `redis://host:port`.
    pub url: String,
    /// The stream the app writes to (`events_redis_stream`).
    pub stream: String,
    own: Option<RedisServer>,
}

/// A `redis-server` a test started.
struct RedisServer {
    child: Option<std::process::Child>,
    dir: PathBuf,
}

impl TestRedis {
    /// The shared server if there is one, else a server of this test's own.
    pub fn start() -> TestRedis {
        match std::env::var(TEST_REDIS_URL) {
            Ok(url) if !url.trim().is_empty() => {
                let parsed = url::Url::parse(url.trim())
                    .unwrap_or_else(|e| panic!("{TEST_REDIS_URL} is no URL: {e}"));
                TestRedis {
                    host: parsed.host_str().unwrap_or("127.0.0.1").to_owned(),
                    port: parsed.port().unwrap_or(6379),
                    url: url.trim().trim_end_matches('/').to_owned(),
                    stream: format!("test-{}", Uuid::new_v4().simple()),
                    own: None,
                }
            }
            _ => Self::own(),
        }
    }

    /// A `redis-server` of this test's own, which it may stop and start again.
    pub fn own() -> TestRedis {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("test-redis-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a folder for redis-server");
        let mut redis = TestRedis {
            host: "127.0.0.1".into(),
            port,
            url: format!("redis://127.0.0.1:{port}"),
            stream: "todo-events".into(),
            own: Some(RedisServer { child: None, dir }),
        };
        redis.start_again();
        redis
    }

    /// Starts this test's own server (again, on the same port), and waits
    /// until it answers.
    pub fn start_again(&mut self) {
        let port = self.port;
        let server = self
            .own
            .as_mut()
            .expect("only a test's own Redis starts again");
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&server.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): install it (Debian: apt-get install \
                     redis-server) or set {TEST_REDIS_URL} (scripts/test does)"
                )
            });
        server.child = Some(child);
        for _ in 0..100 {
            let pong = redis::Client::open(self.url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {port} does not answer");
    }

    /// Stops this test's own server, as a Redis that went down.
    pub fn stop(&mut self) {
        let server = self.own.as_mut().expect("only a test's own Redis stops");
        if let Some(mut child) = server.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The app's variables for a Redis sink on this server.
    pub fn sink_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("events_sink", "redis".into()),
            ("events_redis_url", self.url.clone()),
            ("events_redis_host", self.host.clone()),
            ("events_redis_port", self.port.to_string()),
            ("events_redis_stream", self.stream.clone()),
        ]
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("cannot connect to Redis at {}: {e}", self.url))
    }

    /// Every entry of the stream, oldest first: its id and its fields.
    pub fn entries(&self) -> Vec<(String, Vec<(String, String)>)> {
        let answer: redis::Value = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg("-")
            .arg("+")
            .query(&mut self.client())
            .expect("XRANGE");
        let text = |v: &redis::Value| match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            redis::Value::SimpleString(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        };
        let redis::Value::Array(entries) = answer else {
            panic!("XRANGE answered {answer:?}");
        };
        entries
            .iter()
            .map(|entry| match entry {
                redis::Value::Array(parts) if parts.len() == 2 => {
                    let redis::Value::Array(fields) = &parts[1] else {
                        panic!("an entry without fields: {entry:?}");
                    };
                    let pairs = fields
                        .chunks(2)
                        .map(|pair| (text(&pair[0]), text(&pair[1])))
                        .collect();
                    (text(&parts[0]), pairs)
                }
                other => panic!("not a stream entry: {other:?}"),
            })
            .collect()
    }

    /// The events in the stream, oldest first (each entry's one field, `event`).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.entries()
            .into_iter()
            .map(|(id, fields)| {
                assert_eq!(fields.len(), 1, "entry {id} has one field: {fields:?}");
                assert_eq!(fields[0].0, "event", "entry {id}");
                serde_json::from_str(&fields[0].1).expect("an event is JSON")
            })
            .collect()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(server) = &mut self.own {
            if let Some(mut child) = server.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = std::fs::remove_dir_all(&server.dir);
        } else if let Ok(mut client) = redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        {
            let _ = redis::cmd("DEL")
                .arg(&self.stream)
                .query::<i64>(&mut client);
        }
    }
}

/// A TCP port on loopback that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_variables_show_their_names_but_not_their_values() {
        let vars = TestVars::from_pairs(&[("jwt_secret", "a-secret"), ("db_password", "pw-1")]);
        let shown = format!("{vars:?}");
        assert!(shown.contains("jwt_secret"), "{shown}");
        assert!(!shown.contains("a-secret"), "{shown}");
        assert!(!shown.contains("pw-1"), "{shown}");
    }
}
