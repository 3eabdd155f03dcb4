//! The routes a scheduler calls (`/internal/...`) over real HTTP: off
//! without `internal_token`, and only for a caller that sends it.

use native::testing::TestApp;

const TOKEN: &str = "internal-test-token-0123456789";
const ROUTES: [&str; 2] = ["/internal/reminders/run", "/internal/events/relay"];

#[test]
fn internal_routes_are_off_until_internal_token_is_set() {
    let app = TestApp::spawn();
    for path in ROUTES {
        app.send("POST", path, Some(TOKEN), &[], None)
            .expect_error(404, "not_found");
        app.send("POST", path, Some(""), &[], None)
            .expect_error(404, "not_found");
    }
}

#[test]
fn internal_routes_answer_only_the_internal_token() {
    let app = TestApp::spawn_with(&[("internal_token", TOKEN)]);
    let wrong = format!("{TOKEN}x");
    let short = &TOKEN[..TOKEN.len() - 1];
    for path in ROUTES {
        for token in [None, Some(wrong.as_str()), Some(short)] {
            app.send("POST", path, token, &[], None)
                .expect_error(401, "unauthorized");
        }
        let answer = app.send("POST", path, Some(TOKEN), &[], None).expect(200);
        assert!(answer.body.is_object(), "{}", answer.body);
        let get = app.send("GET", path, Some(TOKEN), &[], None);
        assert_eq!(get.status, 405, "{}", get.body);
    }
    app.send("POST", "/internal/nothing", Some(TOKEN), &[], None)
        .expect_error(404, "not_found");
}

/// A CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) from `origin`.
fn preflight(app: &TestApp, path: &str, origin: &str) -> native::testing::Reply {
    app.send(
        "OPTIONS",
        path,
        None,
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ],
        None,
    )
}

#[test]
fn a_cors_preflight_on_the_internal_routes_gets_what_any_request_there_gets() {
    let origins = ("cors_allowed_origins", "https://app.example");
    let off = TestApp::spawn_with(&[origins]);
    let on = TestApp::spawn_with(&[origins, ("internal_token", TOKEN)]);
    for path in ROUTES.iter().copied().chain(["/internal/nothing"]) {
        for origin in ["https://app.example", "https://evil.example"] {
            // Off: 404, like everything else there, so a preflight tells
            // nobody the routes exist.
            let reply = preflight(&off, path, origin).expect_error(404, "not_found");
            assert_eq!(
                reply.header("access-control-allow-methods"),
                None,
                "{path} from {origin}"
            );
            // On: a preflight carries no token, so it is refused like any
            // request without one; no browser is ever invited in.
            let reply = preflight(&on, path, origin).expect_error(401, "unauthorized");
            assert_eq!(
                reply.header("access-control-allow-methods"),
                None,
                "{path} from {origin}"
            );
        }
    }
    // Elsewhere preflights are answered as before.
    let api = preflight(&off, "/api/todos", "https://app.example");
    assert_eq!(api.status, 204);
}
