//! The auth API over real HTTP, through the native harness, against a fresh database.

use chrono::{Duration, Utc};
use native::testing::{Reply, TestApp};
use serde_json::{json, Value};
use todo_core::auth::proof::{self, Challenge, Proof};
use todo_core::auth::token;
use todo_core::config::JwtConfig;

fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    app.send(method, path, token, &[], body.as_ref())
}

fn signup(app: &TestApp, email: &str, password: &str) -> Reply {
    call(
        app,
        "POST",
        "/api/auth/signup",
        None,
        Some(json!({"email": email, "password": password, "name": "Ada"})),
    )
}

fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    call(
        app,
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
}

fn token_of(reply: &Reply) -> String {
    reply.body["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn signup_creates_an_account_and_returns_a_working_token() {
    let app = TestApp::spawn();
    let reply = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(
            json!({"email": "  Ada@Example.COM ", "password": "correct horse", "name": "  Ada Lovelace "}),
        ),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["token_type"], "bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    let user = &reply.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert!(user["id"].as_str().unwrap().len() == 36);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none());

    let me = call(&app, "GET", "/api/auth/me", Some(&token_of(&reply)), None);
    assert_eq!(me.status, 200);
    assert_eq!(&me.body, user);
}

#[test]
fn passwords_are_stored_as_argon2id_hashes() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    let hash: String = app
        .db
        .client()
        .query_one("SELECT password_hash FROM users", &[])
        .unwrap()
        .get(0);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("correct horse"));
}

#[test]
fn signup_reports_every_invalid_field() {
    let app = TestApp::spawn();
    let reply = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(json!({"email": "not-an-email", "password": "short", "name": "   "})),
    );
    reply.assert_error(422, "validation_failed");
    let fields = reply.body["error"]["fields"].as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["email", "name", "password"]
    );

    let long = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(
            json!({"email": "a@example.com", "password": "x".repeat(129), "name": "n".repeat(101)}),
        ),
    );
    long.assert_error(422, "validation_failed");
    assert!(long.body["error"]["fields"]["password"].is_array());
    assert!(long.body["error"]["fields"]["name"].is_array());
}

#[test]
fn signup_names_missing_unknown_and_mistyped_fields() {
    let app = TestApp::spawn();
    let missing = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(json!({"email": "a@example.com", "password": "correct horse"})),
    );
    missing.assert_error(422, "validation_failed");
    assert!(
        missing.body["error"]["fields"]["name"].is_array(),
        "{}",
        missing.body
    );

    let unknown = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(
            json!({"email": "a@example.com", "password": "correct horse", "name": "A", "nmae": "typo"}),
        ),
    );
    unknown.assert_error(422, "validation_failed");
    assert!(
        unknown.body["error"]["fields"]["nmae"].is_array(),
        "{}",
        unknown.body
    );

    let mistyped = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(json!({"email": "a@example.com", "password": 12345678, "name": "A"})),
    );
    mistyped.assert_error(422, "validation_failed");
    assert!(
        mistyped.body["error"]["fields"]["password"].is_array(),
        "{}",
        mistyped.body
    );

    let not_object = call(&app, "POST", "/api/auth/signup", None, Some(json!(["a"])));
    not_object.assert_error(422, "validation_failed");
}

#[test]
fn signup_rejects_malformed_json_and_other_content_types() {
    let app = TestApp::spawn();
    let malformed = app.send_raw(
        http::Request::post(app.url("/api/auth/signup"))
            .header("content-type", "application/json")
            .body(b"{\"email\": ".to_vec())
            .unwrap(),
    );
    malformed.assert_error(400, "bad_request");

    let form = app.send_raw(
        http::Request::post(app.url("/api/auth/signup"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"email=a".to_vec())
            .unwrap(),
    );
    form.assert_error(415, "unsupported_media_type");

    let none = app.send_raw(
        http::Request::post(app.url("/api/auth/signup"))
            .body(b"{}".to_vec())
            .unwrap(),
    );
    none.assert_error(415, "unsupported_media_type");
}

#[test]
fn a_second_signup_with_the_same_email_in_any_case_is_a_conflict() {
    let app = TestApp::spawn();
    assert_eq!(signup(&app, "ada@example.com", "correct horse").status, 201);
    let again = signup(&app, "ADA@example.com", "another password");
    again.assert_error(409, "email_taken");
}

#[test]
fn login_with_the_right_password_returns_a_token() {
    let app = TestApp::spawn();
    let created = signup(&app, "ada@example.com", "correct horse");
    let reply = login(&app, " ADA@example.com", "correct horse");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"], created.body["user"]);
    let me = call(&app, "GET", "/api/auth/me", Some(&token_of(&reply)), None);
    assert_eq!(me.status, 200);
}

#[test]
fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    let wrong = login(&app, "ada@example.com", "wrong horse");
    let unknown = login(&app, "bob@example.com", "correct horse");
    wrong.assert_error(401, "unauthorized");
    assert_eq!(wrong.body, unknown.body);
}

#[test]
fn five_failed_logins_lock_that_address_out_of_the_email_until_the_window_passes() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    for _ in 0..5 {
        assert_eq!(login(&app, "ada@example.com", "wrong horse").status, 401);
    }
    // Even the right password waits now.
    let locked = login(&app, "ada@example.com", "correct horse");
    locked.assert_error(429, "too_many_requests");
    let retry: i64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60 + 1).contains(&retry), "{retry}");

    // Another email is not affected.
    signup(&app, "bob@example.com", "correct horse");
    assert_eq!(login(&app, "bob@example.com", "correct horse").status, 200);

    // Move the window 16 minutes into the past: it has passed.
    let db = app.db.db();
    todo_core::ports::Db::execute(
        &db,
        "UPDATE throttle SET window_start = window_start - interval '16 minutes'",
        &[],
    )
    .unwrap();
    assert_eq!(login(&app, "ada@example.com", "correct horse").status, 200);
}

#[test]
fn me_refuses_missing_malformed_and_foreign_tokens() {
    let app = TestApp::spawn();
    let token = token_of(&signup(&app, "ada@example.com", "correct horse"));

    (call(&app, "GET", "/api/auth/me", None, None)).assert_error(401, "unauthorized");
    for bad in [
        "garbage",
        "a.b.c",
        &format!("{token}x"),
        &token[..token.len() - 2],
    ] {
        (call(&app, "GET", "/api/auth/me", Some(bad), None)).assert_error(401, "unauthorized");
    }
    let basic = app.send_raw(
        http::Request::get(app.url("/api/auth/me"))
            .header("authorization", format!("Basic {token}"))
            .body(Vec::new())
            .unwrap(),
    );
    basic.assert_error(401, "unauthorized");

    // Signed with another key.
    let other = JwtConfig {
        secret: b"some-other-secret-some-other-secret".to_vec(),
        ttl_seconds: 3600,
    };
    let user_id = signup_user_id(&app, "bob@example.com");
    let foreign = token::issue(&other, user_id, Utc::now()).unwrap().token;
    (call(&app, "GET", "/api/auth/me", Some(&foreign), None)).assert_error(401, "unauthorized");
}

fn signup_user_id(app: &TestApp, email: &str) -> uuid::Uuid {
    let reply = signup(app, email, "correct horse");
    reply.body["user"]["id"].as_str().unwrap().parse().unwrap()
}

#[test]
fn expired_and_unsigned_tokens_are_refused() {
    let app = TestApp::spawn();
    let user_id = signup_user_id(&app, "ada@example.com");
    let cfg = JwtConfig {
        secret: app.jwt_secret.clone().into_bytes(),
        ttl_seconds: 3600,
    };

    let fresh = token::issue(&cfg, user_id, Utc::now()).unwrap().token;
    assert_eq!(
        call(&app, "GET", "/api/auth/me", Some(&fresh), None).status,
        200
    );

    let expired = token::issue(&cfg, user_id, Utc::now() - Duration::hours(2))
        .unwrap()
        .token;
    (call(&app, "GET", "/api/auth/me", Some(&expired), None)).assert_error(401, "unauthorized");

    // The same claims with `alg: none` and no signature.
    let parts: Vec<&str> = fresh.split('.').collect();
    use base64::Engine;
    let none =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none}.{}.", parts[1]);
    (call(&app, "GET", "/api/auth/me", Some(&unsigned), None)).assert_error(401, "unauthorized");
}

#[test]
fn a_token_of_a_deleted_account_is_refused() {
    let app = TestApp::spawn();
    let token = token_of(&signup(&app, "ada@example.com", "correct horse"));
    todo_core::ports::Db::execute(&app.db.db(), "DELETE FROM users", &[]).unwrap();
    (call(&app, "GET", "/api/auth/me", Some(&token), None)).assert_error(401, "unauthorized");
}

#[test]
fn logout_revokes_exactly_that_token() {
    let app = TestApp::spawn();
    let first = token_of(&signup(&app, "ada@example.com", "correct horse"));
    let second = token_of(&login(&app, "ada@example.com", "correct horse"));

    let out = call(&app, "POST", "/api/auth/logout", Some(&first), None);
    assert_eq!(out.status, 204);
    (call(&app, "GET", "/api/auth/me", Some(&first), None)).assert_error(401, "unauthorized");
    (call(&app, "POST", "/api/auth/logout", Some(&first), None)).assert_error(401, "unauthorized");
    assert_eq!(
        call(&app, "GET", "/api/auth/me", Some(&second), None).status,
        200
    );
}

#[test]
fn a_missing_or_short_jwt_secret_is_reported_as_misconfiguration() {
    for secret in ["", "too-short-secret"] {
        let app = TestApp::spawn_with(&[("jwt_secret", secret)]);
        let reply = signup(&app, "ada@example.com", "correct horse");
        reply.assert_error(500, "misconfigured");
        assert!(!reply.body.to_string().contains(secret) || secret.is_empty());
        (call(&app, "GET", "/api/auth/me", Some("x.y.z"), None)).assert_error(500, "misconfigured");
    }
}

#[test]
fn auth_routes_answer_405_and_404_like_the_rest_of_the_api() {
    let app = TestApp::spawn();
    let reply = call(&app, "GET", "/api/auth/login", None, None);
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.headers["allow"], "POST");
    (call(&app, "GET", "/api/auth/nope", None, None)).assert_error(404, "not_found");
}

#[test]
fn every_response_carries_a_request_id() {
    let app = TestApp::spawn();
    let reply = signup(&app, "ada@example.com", "correct horse");
    assert!(!reply.headers["x-request-id"].is_empty());
}

#[test]
fn parallel_wrong_passwords_are_counted_one_after_another() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| login(&app, "ada@example.com", "wrong horse").status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((refused, throttled), (5, 11), "{statuses:?}");
}

/// Calls the auth component directly, as if from `address` (the harness
/// always reports the loopback address the test connects from), with the
/// app's clock; `proof` as the login's proof of work.
fn login_reply_from(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
    proof: Option<&Proof>,
) -> Reply {
    use native::NativeHttp;
    use todo_core::ports::Ctx;
    let vars = app.db.vars().with("jwt_secret", app.jwt_secret.clone());
    let db = app.db.db();
    let http = NativeHttp::new(std::sync::Arc::new(native::AllowedHosts::none()));
    let ctx = Ctx::new(&db, &http, &vars, &*app.clock);
    let mut body = json!({"email": email, "password": password});
    if let Some(proof) = proof {
        body["proof"] = json!({"challenge": proof.challenge, "nonce": proof.nonce});
    }
    let req = http::Request::post("http://localhost/api/auth/login")
        .header("content-type", "application/json")
        .header("spin-client-addr", address)
        .body(bytes::Bytes::from(body.to_string()))
        .unwrap();
    let response = todo_core::serve(req, &ctx, todo_core::auth::handle);
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    }
}

/// The challenge a login's answer carries, if any.
fn challenge_of(reply: &Reply) -> Option<Challenge> {
    let c = &reply.body["error"]["challenge"];
    Some(Challenge {
        token: c["token"].as_str()?.to_owned(),
        difficulty: u32::try_from(c["difficulty"].as_u64()?).unwrap(),
    })
}

/// A login as the web UI makes it: when the email is under attack and the
/// answer asks for a proof, it solves the challenge and sends the login
/// again with it. The status of the last answer.
fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> u16 {
    login_solving_from(app, address, email, password).status
}

fn login_solving_from(app: &TestApp, address: &str, email: &str, password: &str) -> Reply {
    let reply = login_reply_from(app, address, email, password, None);
    if reply.body["error"]["code"] != "proof_required" {
        return reply;
    }
    let proof = proof::solve(&challenge_of(&reply).unwrap(), password);
    login_reply_from(app, address, email, password, Some(&proof))
}

#[test]
fn a_strangers_wrong_passwords_do_not_lock_the_owner_out() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, "203.0.113.9:4000", "ada@example.com", "guess!guess"),
            401
        );
    }
    assert_eq!(
        login_from(&app, "203.0.113.9:4001", "ada@example.com", "correct horse"),
        429
    );
    // Ada, from her own address, logs in as usual.
    assert_eq!(
        login_from(
            &app,
            "198.51.100.7:5000",
            "ada@example.com",
            "correct horse"
        ),
        200
    );
    // One address cannot try more than 50 logins in the window, whatever the
    // emails (five so far: the refused one did not count).
    for i in 0..45 {
        let email = format!("user{i}@example.com");
        assert_eq!(
            login_from(&app, "203.0.113.9:4000", &email, "guess!guess"),
            401
        );
    }
    assert_eq!(
        login_from(&app, "203.0.113.9:4000", "new@example.com", "guess!guess"),
        429
    );
}

/// `(key, attempts)` of every login counter, by key.
fn login_counters(app: &TestApp) -> Vec<(String, i32)> {
    app.db
        .client()
        .query(
            "SELECT key, attempts FROM throttle WHERE key LIKE 'login%' ORDER BY key",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn strangers_guessing_from_many_addresses_never_lock_the_owner_out() {
    use todo_core::auth::MAX_LOGIN_FAILURES;
    let app = TestApp::spawn();
    signup(&app, "victim@example.com", "correct horse");
    for i in 1..=60 {
        let stranger = format!("203.0.113.{i}:4000");
        assert_eq!(
            login_from(&app, &stranger, "victim@example.com", "guess!guess"),
            401,
            "{stranger}"
        );
    }
    // One stranger goes on guessing: five tries, then it is refused.
    for i in 0..20 {
        let expected = if i < MAX_LOGIN_FAILURES { 401 } else { 429 };
        assert_eq!(
            login_from(
                &app,
                "198.51.100.9:4000",
                "victim@example.com",
                "guess!guess"
            ),
            expected,
            "try {i}"
        );
    }
    // The owner logs in at once, from her own address or from next door to
    // the strangers.
    let waited = app.clock.sleeps();
    for owner in ["192.0.2.7:5000", "203.0.113.61:5000", "198.51.100.10:5000"] {
        assert_eq!(
            login_from(&app, owner, "victim@example.com", "correct horse"),
            200,
            "{owner}"
        );
    }
    assert_eq!(app.clock.sleeps(), waited, "the owner did not wait");
}

#[test]
fn refused_logins_count_nowhere_and_do_not_extend_the_block() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    signup(&app, "bob@example.com", "correct horse");
    let stranger = "203.0.113.9:4000";
    app.clock.set("2026-12-01T10:00:00Z");
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, stranger, "ada@example.com", "guess!guess"),
            401
        );
    }
    // A hundred more, wrong or right, over the next 13 minutes: all refused.
    for i in 0..100 {
        app.clock.advance(8);
        let password = if i % 2 == 0 {
            "guess!guess"
        } else {
            "correct horse"
        };
        assert_eq!(login_from(&app, stranger, "ada@example.com", password), 429);
    }
    let counted = |key: &str| (key.to_owned(), 5);
    assert_eq!(
        login_counters(&app),
        [
            counted("login-address:203.0.113.9"),
            counted("login-email:ada@example.com"),
            counted("login:ada@example.com|203.0.113.9"),
        ]
    );
    // So the address keeps its allowance for other emails.
    assert_eq!(
        login_from(&app, stranger, "bob@example.com", "correct horse"),
        200
    );
    // The block ends with the window of the first failure: 10:15.
    app.clock.set("2026-12-01T10:14:59Z");
    assert_eq!(
        login_from(&app, stranger, "ada@example.com", "correct horse"),
        429
    );
    app.clock.set("2026-12-01T10:15:00Z");
    assert_eq!(
        login_from(&app, stranger, "ada@example.com", "correct horse"),
        200
    );
}

#[test]
fn parallel_refused_logins_take_a_counter_no_further_than_one_past_its_limit() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| login_from(&app, "203.0.113.9:4000", "ada@example.com", "guess!guess"));
        }
    });
    let pair = login_counters(&app)
        .into_iter()
        .find(|(key, _)| key == "login:ada@example.com|203.0.113.9")
        .map(|(_, attempts)| attempts);
    assert!(matches!(pair, Some(5 | 6)), "{pair:?}");
}

/// Puts `email` under attack: 50 strangers, one wrong guess each (the
/// last attempts without a proof).
fn put_under_attack(app: &TestApp, email: &str) {
    for i in 1..=todo_core::auth::LOGINS_PER_EMAIL_UNDER_ATTACK {
        let stranger = format!("203.0.113.{i}:4000");
        let reply = login_reply_from(app, &stranger, email, "guess!guess", None);
        reply.assert_error(401, "unauthorized");
    }
}

#[test]
fn under_attack_no_login_sleeps_and_an_address_that_must_wait_is_told_so_at_once() {
    let app = TestApp::spawn();
    signup(&app, "victim@example.com", "correct horse");
    put_under_attack(&app, "victim@example.com");
    // An address that failed goes on guessing, each guess with its proof:
    // every answer comes at once, and past its 5 the address is told how
    // long to wait.
    let address = "198.51.100.7:5000";
    for password in ["typo", "typo!", "typo?!", "typo?!!", "typo?!!!"] {
        let reply = login_solving_from(&app, address, "victim@example.com", password);
        reply.assert_error(401, "unauthorized");
        assert!(challenge_of(&reply).is_some(), "{}", reply.body);
    }
    let refused = login_solving_from(&app, address, "victim@example.com", "correct horse");
    refused.assert_error(429, "too_many_requests");
    let retry_after: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((800..=901).contains(&retry_after), "{retry_after}");
    assert!(
        app.clock.sleeps().is_empty(),
        "no login asked the clock for a sleep"
    );
}

#[test]
fn under_attack_a_login_without_a_proof_counts_nowhere_and_its_password_is_not_checked() {
    let app = TestApp::spawn();
    signup(&app, "victim@example.com", "correct horse");
    put_under_attack(&app, "victim@example.com");
    let counted = login_counters(&app);
    // The owner, from an address that never failed, with the right password
    // but no proof: asked for one, and nothing is counted.
    let owner = "192.0.2.7:5000";
    let asked = login_reply_from(&app, owner, "victim@example.com", "correct horse", None);
    asked.assert_error(401, "proof_required");
    let challenge = challenge_of(&asked).unwrap();
    assert_eq!(challenge.difficulty, proof::BASE_BITS);
    assert_eq!(login_counters(&app), counted);
    // A proof made for another password proves nothing (nor does one for
    // another email: there it is not needed, and not looked at).
    let for_another_password = proof::solve(&challenge, "guess!guess");
    let reply = login_reply_from(
        &app,
        owner,
        "victim@example.com",
        "correct horse",
        Some(&for_another_password),
    );
    reply.assert_error(401, "proof_required");
    signup(&app, "other@example.com", "correct horse");
    let mine = proof::solve(&challenge, "correct horse");
    let reply = login_reply_from(
        &app,
        owner,
        "other@example.com",
        "correct horse",
        Some(&mine),
    );
    assert_eq!(reply.status, 200, "not under attack, a proof is not needed");
    assert_eq!(login_counters(&app).len(), counted.len() + 2);
    // With its proof, the owner gets in at once.
    let reply = login_reply_from(
        &app,
        owner,
        "victim@example.com",
        "correct horse",
        Some(&mine),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(app.clock.sleeps().is_empty());
}

#[test]
fn the_proof_an_email_under_attack_needs_grows_as_its_attempts_double() {
    let app = TestApp::spawn();
    signup(&app, "victim@example.com", "correct horse");
    put_under_attack(&app, "victim@example.com");
    let attempts = |n: i64| {
        app.db
            .client()
            .execute(
                "UPDATE throttle SET attempts = $1 WHERE key = 'login-email:victim@example.com'",
                &[&i32::try_from(n).unwrap()],
            )
            .unwrap();
    };
    let needed = |address: &str| {
        let reply = login_reply_from(&app, address, "victim@example.com", "guess!guess", None);
        reply.assert_error(401, "proof_required");
        challenge_of(&reply).unwrap()
    };
    let easy = needed("192.0.2.1:4000");
    assert_eq!(easy.difficulty, 15);
    // 100 attempts in the window: a 15-bit proof is no longer enough, and
    // the password behind it is not checked.
    attempts(100);
    let reply = login_reply_from(
        &app,
        "192.0.2.1:4000",
        "victim@example.com",
        "correct horse",
        Some(&proof::solve(&easy, "correct horse")),
    );
    reply.assert_error(401, "proof_required");
    assert_eq!(challenge_of(&reply).unwrap().difficulty, 16);
    for (n, bits) in [
        (199, 16),
        (200, 17),
        (400, 18),
        (1_000_000, proof::MAX_BITS),
    ] {
        attempts(n);
        assert_eq!(needed("192.0.2.1:4000").difficulty, bits, "{n} attempts");
    }
    // The owner still gets in: half a second or so of a browser's work.
    assert_eq!(
        login_from(
            &app,
            "192.0.2.9:4000",
            "victim@example.com",
            "correct horse"
        ),
        200
    );
}

#[test]
fn sign_ups_are_limited_per_client_address() {
    let app = TestApp::spawn();
    for i in 0..todo_core::auth::MAX_SIGNUPS_PER_ADDRESS {
        assert_eq!(
            signup(&app, &format!("u{i}@example.com"), "correct horse").status,
            201
        );
    }
    let reply = signup(&app, "one-more@example.com", "correct horse");
    reply.assert_error(429, "too_many_requests");
    assert!(reply.headers.contains_key("retry-after"));
}

#[test]
fn behind_a_trusted_proxy_sign_ups_are_counted_per_forwarded_client() {
    // The harness's peer is loopback: here it plays the ingress.
    let app = TestApp::spawn_with(&[("trusted_proxies", "127.0.0.1, ::1")]);
    let from = |client: &str, email: &str| {
        let body = json!({"email": email, "password": "correct horse", "name": "Ada"});
        app.send(
            "POST",
            "/api/auth/signup",
            None,
            &[("x-forwarded-for", client)],
            Some(&body),
        )
    };
    for i in 0..todo_core::auth::MAX_SIGNUPS_PER_ADDRESS {
        // A forged address left of the proxy's entry changes nothing.
        let forwarded = format!("192.0.2.{i}, 203.0.113.9");
        assert_eq!(from(&forwarded, &format!("u{i}@example.com")).status, 201);
    }
    from("203.0.113.9", "one-more@example.com").assert_error(429, "too_many_requests");
    // Another client behind the same proxy has a budget of its own.
    assert_eq!(from("198.51.100.7", "other@example.com").status, 201);
}

#[test]
fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = TestApp::spawn();
    for i in 0..=todo_core::auth::MAX_SIGNUPS_PER_ADDRESS {
        let body = json!({"email": format!("u{i}@example.com"), "password": "correct horse", "name": "Ada"});
        let reply = app.send(
            "POST",
            "/api/auth/signup",
            None,
            &[("x-forwarded-for", &format!("192.0.2.{i}"))],
            Some(&body),
        );
        let expected = if i < todo_core::auth::MAX_SIGNUPS_PER_ADDRESS {
            201
        } else {
            429
        };
        assert_eq!(reply.status, expected, "{}", reply.body);
    }
}

#[test]
fn a_malformed_trusted_proxies_list_is_reported_as_misconfiguration() {
    let app = TestApp::spawn_with(&[("trusted_proxies", "ingress-controller")]);
    let reply = login(&app, "ada@example.com", "correct horse");
    reply.assert_error(500, "misconfigured");
}

#[test]
fn login_emails_with_control_characters_or_kilobytes_are_refused_as_invalid() {
    let app = TestApp::spawn();
    for email in [
        "ada\u{0}@example.com".to_owned(),
        format!("{}@example.com", "x".repeat(4000)),
    ] {
        let reply = login(&app, &email, "correct horse");
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), ["email"]);
    }
    let reply = signup(&app, "ada\u{0}@example.com", "correct horse");
    reply.assert_error(422, "validation_failed");
    let reply = call(
        &app,
        "POST",
        "/api/auth/signup",
        None,
        Some(json!({"email": "ada@example.com", "password": "correct horse", "name": "A\u{0}da"})),
    );
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.field_errors(), ["name"]);
}

#[test]
fn a_login_with_a_malformed_proof_is_refused_as_invalid() {
    let app = TestApp::spawn();
    signup(&app, "ada@example.com", "correct horse");
    for nonce in ["", "12 34", "ü", &"7".repeat(33)] {
        let reply = call(
            &app,
            "POST",
            "/api/auth/login",
            None,
            Some(
                json!({"email": "ada@example.com", "password": "correct horse",
                        "proof": {"challenge": "", "nonce": nonce}}),
            ),
        );
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field_errors(), ["proof"], "{nonce:?}");
    }
}
