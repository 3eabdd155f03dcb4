//! The caps on requests that wait, against a fresh database: 20 long-polls
//! per user, exact when they start together, and one events relay that
//! follows the queue.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use native::testing::{TestApp, TestClock, TestDb, TestVars};
use native::{AllowedHosts, NativeDb, NativeHttp};
use todo_core::auth::Caller;
use todo_core::waits::{self, Taken, MAX_PER_USER};
use todo_core::Ctx;

const INTERNAL: &str = "internal-test-token-0123456789";

/// A session token and a sync token with nothing after it.
fn user_with_sync_token(app: &TestApp) -> (String, String) {
    let token = app.signup("ada@example.com").token;
    let page = app
        .send("GET", "/api/todos", Some(&token), &[], None)
        .expect(200);
    let since = page.body["sync_token"].as_str().unwrap().to_owned();
    (token, since)
}

/// `(wait_count, live leases)` of every user, by email.
fn slots(db: &TestDb) -> Vec<(i32, i64)> {
    db.client()
        .query(
            "SELECT u.wait_count, (SELECT count(*) FROM waits w WHERE w.user_id = u.id)
             FROM users u ORDER BY u.email",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn twenty_long_polls_wait_at_once_and_the_twenty_first_is_refused_even_when_started_together() {
    let app = TestApp::spawn();
    let (token, since) = user_with_sync_token(&app);
    // The waits are real, so that all of them are open at once; 10 s leaves
    // a busy machine time to start all 21 before the first one ends.
    app.clock.sleep_for_real();
    let path = format!("/api/todos?since={since}&wait=10");
    let n = usize::try_from(MAX_PER_USER).unwrap() + 1;
    let start = Barrier::new(n);
    let replies: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    app.send("GET", &path, Some(&token), &[], None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let waited = replies.iter().filter(|r| r.status == 200).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!((waited, refused.len()), (n - 1, 1), "{replies:?}");
    refused[0].assert_error(429, "too_many_waits");
    let retry_after: i64 = refused[0].header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    // Every slot was given back.
    assert_eq!(slots(&app.db), [(0, 0)]);
    // A long-poll that finds changes at once answers them, full or not.
    app.send(
        "POST",
        "/api/todos",
        Some(&token),
        &[],
        Some(&serde_json::json!({"title": "new"})),
    )
    .expect(201);
    let feed = app.send("GET", &path, Some(&token), &[], None).expect(200);
    assert_eq!(feed.body["items"].as_array().unwrap().len(), 1);
}

/// The core's view: a user's slots taken and given back directly.
struct Slots {
    db: TestDb,
    native: NativeDb,
    http: NativeHttp,
    vars: TestVars,
    clock: TestClock,
    caller: Caller,
}

impl Slots {
    fn new() -> Self {
        let db = TestDb::fresh();
        let user = db.insert_user("ada@example.com");
        Slots {
            native: db.db(),
            http: NativeHttp::new(Arc::new(AllowedHosts::none())),
            vars: db.vars(),
            clock: TestClock::at("2026-12-06T10:00:00Z"),
            caller: Caller::user(user),
            db,
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(&self.native, &self.http, &self.vars, &self.clock)
    }

    fn acquire(&self) -> Taken {
        waits::acquire(&self.ctx(), &self.caller, Duration::from_secs(25))
            .unwrap()
            .unwrap()
    }

    fn lease(&self) -> waits::Lease {
        match self.acquire() {
            Taken::Lease(lease) => lease,
            full => panic!("no slot: {full:?}"),
        }
    }
}

#[test]
fn a_slot_given_back_or_run_out_is_free_again_and_counted_off_once() {
    let slots = Slots::new();
    let mut leases: Vec<_> = (0..MAX_PER_USER).map(|_| slots.lease()).collect();
    assert_eq!(slots.acquire(), Taken::Full { retry_after: 25 });
    // Given back: free again.
    waits::release(&slots.ctx(), leases.pop().unwrap());
    assert_eq!(slots.db_slots(), (19, 19));
    leases.push(slots.lease());
    assert_eq!(slots.acquire(), Taken::Full { retry_after: 25 });
    // Ten seconds later, the oldest ends in 15.
    slots.clock.advance(10);
    assert_eq!(slots.acquire(), Taken::Full { retry_after: 15 });
    // Their requests died: past the longest wait and its slack, they have run
    // out, and the next long-poll deletes them and takes a slot.
    slots.clock.advance(26);
    let fresh = slots.lease();
    assert_eq!(slots.db_slots(), (1, 1));
    // A request that gives back a lease that ran out counts nothing off.
    for lease in leases {
        waits::release(&slots.ctx(), lease);
    }
    assert_eq!(slots.db_slots(), (1, 1));
    waits::release(&slots.ctx(), fresh);
    assert_eq!(slots.db_slots(), (0, 0));
}

impl Slots {
    fn db_slots(&self) -> (i32, i64) {
        slots(&self.db)[0]
    }
}

#[test]
fn a_revoked_caller_takes_no_slot() {
    let slots = Slots::new();
    let stranger = Caller::user(uuid::Uuid::new_v4());
    let taken = waits::acquire(&slots.ctx(), &stranger, Duration::from_secs(1)).unwrap();
    assert_eq!(taken, None);
}

#[test]
fn one_relay_follows_the_queue_at_a_time_and_the_others_are_told_when_to_retry() {
    let app = TestApp::spawn_with(&[("internal_token", INTERNAL)]);
    let relay = |path: &str| app.send("POST", path, Some(INTERNAL), &[], None);
    // A relay is following (its lease as it holds it).
    let mut db = app.db.client();
    db.execute(
        "UPDATE relay_follower SET holder = gen_random_uuid(), until = $1::text::timestamptz",
        &[&(chrono::Utc::now() + chrono::Duration::seconds(75)).to_rfc3339()],
    )
    .unwrap();
    let refused = relay("/internal/events/relay?wait=55");
    refused.assert_error(429, "too_many_waits");
    let retry_after: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((60..=66).contains(&retry_after), "{retry_after}");
    // A relay that does not wait is never refused: relays take turns.
    relay("/internal/events/relay").expect(200);
    // Once the follower's lease has run out (it died), another follows and
    // gives the lease back when it is done.
    db.execute(
        "UPDATE relay_follower SET until = now() - interval '1 second'",
        &[],
    )
    .unwrap();
    relay("/internal/events/relay?wait=1").expect(200);
    let row = db
        .query_one(
            "SELECT holder IS NULL, until = '-infinity' FROM relay_follower",
            &[],
        )
        .unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, bool>(1)), (true, true));
}

#[test]
fn a_second_relay_that_would_follow_while_one_follows_is_refused() {
    let db = TestDb::fresh();
    let native = db.db();
    let http = NativeHttp::new(Arc::new(AllowedHosts::none()));
    let vars = db.vars();
    let clock = TestClock::running();
    let ctx = Ctx::new(&native, &http, &vars, &clock);
    let longest = Duration::from_secs(115);
    let inner = waits::as_the_follower(&ctx, longest, || {
        let second = Ctx::new(&native, &http, &vars, &clock);
        Ok(waits::as_the_follower(&second, longest, || Ok(())).map_err(|e| (e.status, e.code)))
    })
    .unwrap();
    assert_eq!(
        inner,
        Err((http::StatusCode::TOO_MANY_REQUESTS, "too_many_waits"))
    );
    // Given back: the next one follows.
    assert!(waits::as_the_follower(&ctx, longest, || Ok(())).is_ok());
}
