//! The todos library API (`todo_core::todos::store`) against real Postgres:
//! list, a long-poll's check, create, update and toggle, each one statement
//! round trip through the native `Db` port.
//!
//! Needs `TEST_DATABASE_URL` (as the tests do); without it the benchmark says
//! so and measures nothing. Run with `cargo bench -p native --bench todos`;
//! criterion writes the figures (medians included) to `target/criterion/`.

// Benchmark set-up: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use native::testing::{TestDb, TEST_DATABASE_URL};
use native::{AllowedHosts, NativeHttp};
use todo_core::auth::Caller;
use todo_core::ports::{Ctx, Db, SystemClock};
use todo_core::todos::store;
use todo_core::todos::{ListQuery, NewTodo, TodoChanges, TodoTitle};
use uuid::Uuid;

/// Todos held by the user whose list, updates and toggles are measured.
const HELD: i64 = 10_000;

fn bench_todos(c: &mut Criterion) {
    if std::env::var(TEST_DATABASE_URL).is_err() {
        eprintln!(
            "{TEST_DATABASE_URL} is not set: the todos benchmark needs a PostgreSQL; skipped"
        );
        return;
    }
    let test_db = TestDb::fresh();
    let db = test_db.db();
    let http = NativeHttp::new(Arc::new(AllowedHosts::none()));
    let vars = test_db.vars();
    let clock = SystemClock;
    let ctx = Ctx::new(&db, &http, &vars, &clock);

    // One user holding 10,000 todos (the most allowed), with varied fields,
    // and statistics as autovacuum would leave them.
    // As an HTTP request calls it: a token whose revocation is checked.
    let user = Caller::token(test_db.insert_user("bench@example.com"), Uuid::new_v4());
    db.execute(
        "INSERT INTO todos (user_id, title, description, priority, completed, due_at, tags,
                            created_at, updated_at)
         SELECT $1::text::uuid, 'todo ' || i, 'about ' || (i % 97), i % 4, i % 3 = 0,
                CASE WHEN i % 5 <> 0 THEN now() + (i - 5000) * interval '1 hour' END,
                ARRAY['tag' || (i % 20)],
                now() - i * interval '1 minute', now() - i * interval '1 minute'
         FROM generate_series(1, $2::int8 - 1) AS i",
        &[user.user_id.into(), HELD.into()],
    )
    .unwrap();
    let target = store::create(
        &ctx,
        &user,
        &NewTodo::new(TodoTitle::parse("target").unwrap()),
    )
    .unwrap()
    .id;
    db.execute("VACUUM ANALYZE todos", &[]).unwrap();

    let mut group = c.benchmark_group("todos");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(8));

    let first_page = ListQuery::default();
    group.bench_function("list (first page of 50, user holding 10,000)", |b| {
        b.iter(|| store::list(&ctx, &user, &first_page).unwrap())
    });
    let filtered = ListQuery::parse("status=open&priority=high,urgent&sort=due_at").unwrap();
    group.bench_function(
        "list (open, high+urgent, by due date, user holding 10,000)",
        |b| b.iter(|| store::list(&ctx, &user, &filtered).unwrap()),
    );

    // What a waiting long-poll sends every 500 ms: the sync after the
    // latest change, which finds nothing.
    let caught_up = store::list(&ctx, &user, &first_page).unwrap();
    let latest = store::open_token(&ctx, &user, &caught_up.sync_token, "since").unwrap();
    group.bench_function("long-poll check, nothing new (user holding 10,000)", |b| {
        b.iter(|| {
            let feed = store::changes(&ctx, &user, &latest, 100).unwrap();
            assert!(feed.items.is_empty() && feed.deleted.is_empty());
        })
    });

    let titles = [
        TodoTitle::parse("target A").unwrap(),
        TodoTitle::parse("target B").unwrap(),
    ];
    let flip = Cell::new(0usize);
    group.bench_function("update (title, user holding 10,000)", |b| {
        b.iter(|| {
            let n = flip.get();
            flip.set(n + 1);
            let changes = TodoChanges {
                title: Some(titles[n % 2].clone()),
                ..TodoChanges::default()
            };
            store::update(&ctx, &user, target, &changes, None).unwrap()
        })
    });
    group.bench_function("toggle (user holding 10,000)", |b| {
        b.iter(|| store::toggle(&ctx, &user, target, None).unwrap())
    });

    // Creating counts the user's todos against the limit; a fresh user takes
    // over every 2,000 creates, so this measures users holding 0 to 2,000.
    let new_creator = |email: &str| Caller::token(test_db.insert_user(email), Uuid::new_v4());
    let creator = Cell::new(new_creator("creator-0@example.com"));
    let created = Cell::new(0u32);
    let new = NewTodo::new(TodoTitle::parse("Buy milk").unwrap());
    group.bench_function("create (user holding up to 2,000)", |b| {
        b.iter(|| {
            let n = created.get() + 1;
            created.set(n);
            if n % 2_000 == 0 {
                creator.set(new_creator(&format!("creator-{n}@example.com")));
            }
            store::create(&ctx, &creator.get(), &new).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_todos);
criterion_main!(benches);
