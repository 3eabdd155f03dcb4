//! The harness does what Spin does for a component: routes, request headers,
//! the component's own variables, its mounted files and its outbound rules.
//! A small manifest with an echoing handler makes all of that visible.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use http::StatusCode;
use native::manifest::Manifest;
use native::testing::{client, manifest_path};
use native::{App, AppVariables, Server};
use serde_json::{json, Value};
use todo_core::ports::Variables;
use todo_core::{ApiError, Ctx, Handler, Request, Response};

const MANIFEST: &str = r#"
spin_manifest_version = 2

[application]
name = "echo"

[variables]
greeting = { default = "hello" }
hidden = { default = "not for components" }
db_host = { default = "127.0.0.1" }
db_port = { default = "1" }
upstream = { default = "http://127.0.0.1:9" }

[[trigger.http]]
route = "/echo/..."
component = "echo"

[[trigger.http]]
route = "/exact"
component = "echo"

[component.echo]
source = "echo.wasm"
files = [{ source = "public", destination = "/" }]
allowed_outbound_hosts = ["{{ upstream }}"]

[component.echo.variables]
greeting = "{{ greeting }}, world"
db_host = "{{ db_host }}"
db_port = "{{ db_port }}"
"#;

/// Answers with what the component was given.
#[allow(clippy::result_large_err)] // the signature is todo_core::Handler's
fn echo(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("spin-"))
        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap())))
        .collect();
    let db_error = ctx.db.query_json("select 1::text", &[]).err();
    let http_error = ctx
        .http
        .send(
            http::Request::get("https://example.com/")
                .body(Vec::new())
                .unwrap(),
            std::time::Duration::from_secs(1),
        )
        .err();
    Ok(todo_core::api::json(
        StatusCode::OK,
        &json!({
            "uri": req.uri().to_string(),
            "headers": headers,
            "values_of_repeated": req.headers().get_all("spin-test-repeated").iter().count(),
            "greeting": ctx.vars.get("greeting"),
            "hidden": ctx.vars.get("hidden"),
            "db_error": db_error.map(|e| e.to_string()),
            "http_error": http_error.map(|e| e.to_string()),
        }),
    ))
}

#[allow(clippy::result_large_err)] // the signature is todo_core::Handler's
fn panics(_: &Request, _: &Ctx) -> Result<Response, ApiError> {
    panic!("the handler fell over");
}

#[allow(clippy::result_large_err)] // the signature is todo_core::Handler's
fn hello(_: &Request, _: &Ctx) -> Result<Response, ApiError> {
    Ok(todo_core::api::json(
        StatusCode::OK,
        &json!({"hello": "world"}),
    ))
}

fn serve(handler: Handler, overrides: &[(&str, &str)]) -> Server {
    let manifest = Manifest::parse(MANIFEST, Path::new("/srv/echo")).unwrap();
    let overrides: HashMap<String, String> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let vars = AppVariables::resolve_with(&manifest, |_| None, &overrides).unwrap();
    let app = App::with_handlers(&manifest, &vars, &[("echo", handler)]).unwrap();
    Server::start(app, "127.0.0.1:0").unwrap()
}

fn get(server: &Server, path: &str) -> (u16, Value) {
    let mut response = client()
        .get(format!("http://{}{path}", server.addr))
        .call()
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[test]
fn the_component_gets_spins_request_headers_and_an_absolute_uri() {
    let server = serve(echo, &[]);
    let (status, body) = get(&server, "/echo/a/b?x=1");
    assert_eq!(status, 200);
    let base = format!("http://{}", server.addr);
    assert_eq!(body["uri"], format!("{base}/echo/a/b?x=1"));
    let h = &body["headers"];
    assert_eq!(h["spin-full-url"], format!("{base}/echo/a/b?x=1"));
    assert_eq!(h["spin-path-info"], "/a/b");
    assert_eq!(h["spin-matched-route"], "/echo/...");
    assert_eq!(h["spin-raw-component-route"], "/echo/...");
    assert_eq!(h["spin-component-route"], "/echo");
    assert_eq!(h["spin-base-path"], "/");
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
}

/// What a client sends cannot pass for what Spin adds, and a header sent on
/// several lines arrives once, with its last value, as under Spin.
#[test]
fn spin_headers_cannot_be_forged_and_repeated_headers_keep_their_last_value() {
    let server = serve(echo, &[]);
    let mut response = client()
        .get(format!("http://{}/echo/x", server.addr))
        .header("spin-client-addr", "203.0.113.66:1")
        .header("spin-test-repeated", "first")
        .header("spin-test-repeated", "last")
        .call()
        .unwrap();
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let h = &body["headers"];
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(h["spin-test-repeated"], "last");
    assert_eq!(body["values_of_repeated"], 1);
}

#[test]
fn an_exact_route_has_no_path_info_and_unrouted_paths_are_404() {
    let server = serve(echo, &[]);
    let (status, body) = get(&server, "/exact");
    assert_eq!(status, 200);
    assert_eq!(body["headers"]["spin-path-info"], "");
    assert_eq!(body["headers"]["spin-matched-route"], "/exact");

    let (status, _) = get(&server, "/exact/more");
    assert_eq!(status, 404);
    let (status, _) = get(&server, "/elsewhere");
    assert_eq!(status, 404);
}

#[test]
fn the_component_sees_only_its_variables_with_templates_resolved() {
    let server = serve(echo, &[("greeting", "hi")]);
    let (_, body) = get(&server, "/echo");
    assert_eq!(body["greeting"], "hi, world");
    assert_eq!(body["hidden"], Value::Null);
}

#[test]
fn outbound_connections_outside_allowed_hosts_are_refused() {
    let server = serve(echo, &[]);
    let (_, body) = get(&server, "/echo");
    let db_error = body["db_error"].as_str().unwrap();
    assert!(
        db_error.contains("postgres://127.0.0.1:1 is not allowed"),
        "{db_error}"
    );
    let http_error = body["http_error"].as_str().unwrap();
    assert!(http_error.contains("not allowed"), "{http_error}");
}

#[test]
fn allowed_hosts_follow_the_variables_they_are_templated_from() {
    // db_port 1 is now allowed, so the refusal comes from the server instead.
    let server = serve(echo, &[("upstream", "postgres://127.0.0.1:1")]);
    let (_, body) = get(&server, "/echo");
    let db_error = body["db_error"].as_str().unwrap();
    assert!(!db_error.contains("not allowed"), "{db_error}");
    assert!(
        db_error.starts_with("cannot reach the database"),
        "{db_error}"
    );
}

#[test]
fn a_panicking_handler_is_a_500_with_an_empty_body() {
    let server = serve(panics, &[]);
    let mut response = client()
        .get(format!("http://{}/echo", server.addr))
        .call()
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.body_mut().read_to_string().unwrap(), "");
}

#[test]
fn a_component_without_a_handler_stops_startup() {
    let manifest = Manifest::parse(MANIFEST, Path::new(".")).unwrap();
    let vars = AppVariables::resolve_with(&manifest, |_| None, &HashMap::new()).unwrap();
    let err = App::with_handlers(&manifest, &vars, &[]).err().unwrap();
    assert!(
        err.to_string().contains("component echo has no handler"),
        "{err}"
    );
}

#[test]
fn an_allowed_host_template_that_resolves_to_nothing_stops_startup() {
    let manifest = Manifest::parse(MANIFEST, Path::new(".")).unwrap();
    let overrides = HashMap::from([("upstream".to_owned(), String::new())]);
    let vars = AppVariables::resolve_with(&manifest, |_| None, &overrides).unwrap();
    assert!(App::with_handlers(&manifest, &vars, &[("echo", echo)]).is_err());
}

#[test]
fn the_repositorys_spin_toml_loads_with_every_component_handled() {
    let app = App::load(&manifest_path(), &HashMap::new()).unwrap();
    let components: Vec<&str> = app.routes().map(|(_, c)| c).collect();
    for id in [
        "auth",
        "todos",
        "chat",
        "health",
        "internal",
        "mcp",
        "notifications",
        "web",
    ] {
        assert!(components.contains(&id), "{id} has no route");
    }
}

/// Every component that reaches PostgreSQL reads its six settings as one
/// variable, `database` (see `todo_core::config::database_url`): the
/// repository's spin.toml joins exactly the six, in order, so that the URL
/// built from it is the one built from the six, whatever their values.
#[test]
fn each_database_component_joins_its_six_settings_into_database() {
    let manifest = Manifest::load(&manifest_path()).unwrap();
    let separator = todo_core::config::DATABASE_SEPARATOR;
    let six = todo_core::config::DATABASE_SETTINGS.map(|(name, _)| name);
    let expected = six
        .map(|name| format!("{{{{ {name} }}}}"))
        .join(&separator.to_string());
    let overrides = HashMap::from([
        ("db_host".to_owned(), "db.example".to_owned()),
        ("db_password".to_owned(), "p@ss/w:rd".to_owned()),
        ("db_sslmode".to_owned(), "require".to_owned()),
    ]);
    let vars = AppVariables::resolve_with(&manifest, |_| None, &overrides).unwrap();
    let mut checked = 0;
    for (id, component) in &manifest.components {
        if !component.variables.contains_key("db_host") {
            continue;
        }
        assert_eq!(component.variables.get("database"), Some(&expected), "{id}");
        for name in six {
            assert_eq!(
                component.variables[name],
                format!("{{{{ {name} }}}}"),
                "{id}"
            );
        }
        let resolved = vars.for_component(component).unwrap();
        let only_six: HashMap<String, String> = six
            .iter()
            .map(|name| (name.to_string(), resolved.get(name).unwrap()))
            .collect();
        assert_eq!(
            todo_core::config::database_url(&resolved),
            todo_core::config::database_url(&Six(only_six)),
            "{id}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} components reach the database");
}

struct Six(HashMap<String, String>);
impl Variables for Six {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Sends a keep-alive `GET path` on `stream` and reads its answer (head,
/// then the body by `Content-Length`), leaving the connection open.
fn get_keeping_alive(stream: &TcpStream, path: &str) -> std::io::Result<u16> {
    let host = stream.peer_addr()?;
    (&*stream).write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    reader.read_exact(&mut vec![0; length])?;
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not a status line: {status_line:?}")))
}

/// A browser opens several connections at once and keeps each alive; no
/// connection may wait for another to close (tiny_http's pool could queue a
/// burst of new connections behind one idle worker, so page loads hung).
/// Whether a burst lands that way depends on timing, so the scene is played
/// on several fresh servers.
#[test]
fn new_connections_are_answered_while_others_stay_open() {
    for _ in 0..10 {
        a_burst_of_connections_is_answered_while_others_stay_open();
    }
}

fn a_burst_of_connections_is_answered_while_others_stay_open() {
    const KEPT_OPEN: usize = 3;
    const AT_ONCE: usize = 12;
    const DEADLINE: Duration = Duration::from_secs(5);

    let server = serve(hello, &[]);
    let connect = || {
        let stream = TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream
    };
    let kept: Vec<TcpStream> = (0..KEPT_OPEN)
        .map(|_| {
            let stream = connect();
            assert_eq!(get_keeping_alive(&stream, "/exact").unwrap(), 200);
            stream
        })
        .collect();

    // Each new connection asks once and then stays open, as the kept ones do.
    let started = Instant::now();
    let burst: Vec<TcpStream> = (0..AT_ONCE).map(|_| connect()).collect();
    let answers: Vec<Result<u16, String>> = thread::scope(|scope| {
        let asking: Vec<_> = burst
            .iter()
            .map(|stream| scope.spawn(|| get_keeping_alive(stream, "/exact")))
            .collect();
        asking
            .into_iter()
            .map(|asked| asked.join().unwrap().map_err(|e| e.to_string()))
            .collect()
    });
    let waited = started.elapsed();
    let answered = answers.iter().filter(|a| a == &&Ok(200)).count();
    assert_eq!(
        answered, AT_ONCE,
        "{answered} of {AT_ONCE} new connections answered within {waited:?}: {answers:?}"
    );
    assert!(waited < DEADLINE, "answered after {waited:?}");
    drop((kept, burst));
}
