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
