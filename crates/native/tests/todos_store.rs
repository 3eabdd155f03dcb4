//! The todos library API (`todo_core::todos::store`), as the chat assistant
//! and the MCP server call it in process, against a fresh database per test
//! and with a clock the test controls. Also: every list query is served by an
//! index on a user holding 10,000 todos.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use native::testing::{TestDb, TestVars};
use native::{AllowedHosts, NativeDb, NativeHttp};
use todo_core::auth::Caller;
use todo_core::db::{Json, Params};
use todo_core::ports::Db;
use todo_core::ports::{Clock, Ctx};
use todo_core::todos::store::{self, list_sql, TodoError};
use todo_core::todos::{
    DueAt, ListQuery, NewTodo, Priority, Recurrence, Tags, TodoChanges, TodoTitle,
};
use uuid::Uuid;

/// A clock that stands still until the test moves it.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn at(rfc3339: &str) -> Self {
        Self(Mutex::new(at(rfc3339)))
    }
    fn set(&self, rfc3339: &str) {
        *self.0.lock().unwrap() = at(rfc3339);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// Everything a `Ctx` borrows, for one test.
struct World {
    test_db: TestDb,
    db: NativeDb,
    http: NativeHttp,
    vars: TestVars,
    clock: TestClock,
}

impl World {
    fn new(now: &str) -> Self {
        let test_db = TestDb::fresh();
        World {
            db: test_db.db(),
            vars: test_db.vars(),
            test_db,
            http: NativeHttp::new(Arc::new(AllowedHosts::none())),
            clock: TestClock::at(now),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx::new(
            &self.db,
            &self.http,
            &self.vars,
            &self.clock,
            PathBuf::from("static"),
        )
    }

    fn user(&self, email: &str) -> Caller {
        Caller::user(self.test_db.insert_user(email))
    }
}

fn title(t: &str) -> TodoTitle {
    TodoTitle::parse(t).unwrap()
}

fn new_todo(t: &str) -> NewTodo {
    NewTodo::new(title(t))
}

fn audit_rows(world: &World, todo: Uuid) -> i64 {
    world
        .test_db
        .client()
        .query_one(
            "SELECT count(*) FROM todo_audit WHERE todo_id = $1::text::uuid",
            &[&todo.to_string()],
        )
        .unwrap()
        .get(0)
}

#[test]
fn the_library_api_covers_a_todos_whole_life() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");

    let mut new = new_todo("Buy milk");
    new.priority = Priority::High;
    new.tags = Tags::parse(&["Shopping"]).unwrap();
    new.due_at = Some(DueAt::parse("2026-06-02").unwrap());
    let todo = store::create(&ctx, &ada, &new).unwrap();
    assert_eq!(todo.created_at, at("2026-06-01T12:00:00Z"));
    assert_eq!(todo.tags, ["shopping"]);
    assert_eq!(store::get(&ctx, &ada, todo.id).unwrap(), todo);

    world.clock.set("2026-06-01T13:00:00Z");
    let changes = TodoChanges {
        title: Some(title("Buy oat milk")),
        due_at: Some(None),
        ..TodoChanges::default()
    };
    let updated = store::update(&ctx, &ada, todo.id, &changes, Some(&[1])).unwrap();
    assert_eq!(updated.title, "Buy oat milk");
    assert_eq!(updated.due_at, None);
    assert_eq!(updated.priority, Priority::High);
    assert_eq!(updated.updated_at, at("2026-06-01T13:00:00Z"));
    assert_eq!(updated.version, 2);

    let toggled = store::toggle(&ctx, &ada, todo.id, None).unwrap();
    assert_eq!(toggled.todo.completed_at, Some(at("2026-06-01T13:00:00Z")));
    assert!(toggled.next.is_none());

    let page = store::list(&ctx, &ada, &ListQuery::default()).unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items, vec![toggled.todo.clone()]);

    let stats = store::stats(&ctx, &ada).unwrap();
    assert_eq!((stats.total, stats.done, stats.by_priority.high), (1, 1, 1));

    assert_eq!(store::clear_completed(&ctx, &ada).unwrap(), 1);
    assert!(matches!(
        store::get(&ctx, &ada, todo.id),
        Err(TodoError::NotFound)
    ));
    let history = store::history(&ctx, &ada, todo.id).unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["delete", "toggle", "update", "create"]);
    assert_eq!(history[0].at, at("2026-06-01T13:00:00Z"));
    assert_eq!(history[3].at, at("2026-06-01T12:00:00Z"));
    assert!(matches!(
        store::history(&ctx, &ada, Uuid::new_v4()),
        Err(TodoError::NotFound)
    ));
}

#[test]
fn recurrence_advances_the_due_date_in_utc_or_counts_from_now() {
    let world = World::new("2026-03-10T08:15:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let cases = [
        (
            Recurrence::Daily,
            Some("2026-03-28T23:30:00Z"),
            "2026-03-29T23:30:00Z",
        ),
        (
            Recurrence::Weekly,
            Some("2026-12-29T10:00:00Z"),
            "2027-01-05T10:00:00Z",
        ),
        (
            Recurrence::Monthly,
            Some("2026-01-31T09:00:00Z"),
            "2026-02-28T09:00:00Z",
        ),
        (
            Recurrence::Monthly,
            Some("2028-01-31T09:00:00Z"),
            "2028-02-29T09:00:00Z",
        ),
        // Overdue by weeks: still one period after the old due date.
        (
            Recurrence::Weekly,
            Some("2026-01-01T00:00:00Z"),
            "2026-01-08T00:00:00Z",
        ),
        (Recurrence::Daily, None, "2026-03-11T08:15:00Z"),
        (Recurrence::Weekly, None, "2026-03-17T08:15:00Z"),
        (Recurrence::Monthly, None, "2026-04-10T08:15:00Z"),
    ];
    for (recurrence, due, next_due) in cases {
        let mut new = new_todo("chore");
        new.recurrence = recurrence;
        new.due_at = due.map(|d| DueAt::parse(d).unwrap());
        let todo = store::create(&ctx, &ada, &new).unwrap();
        let toggled = store::toggle(&ctx, &ada, todo.id, None).unwrap();
        let next = toggled
            .next
            .expect("a recurring todo has a next occurrence");
        assert_eq!(
            next.due_at,
            Some(at(next_due)),
            "{recurrence:?} from {due:?}"
        );
        assert_eq!(next.recurrence, recurrence);
        assert_eq!(next.created_at, at("2026-03-10T08:15:00Z"));
        // Both changes are in the trail: the toggle and the new todo's create.
        assert_eq!(audit_rows(&world, todo.id), 2);
        assert_eq!(audit_rows(&world, next.id), 1);
    }
}

#[test]
fn stats_use_the_clock_for_overdue_and_due_today() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    for (due, priority) in [
        ("2026-05-31T23:59:59Z", Priority::Urgent), // overdue, yesterday
        ("2026-06-01T00:00:00Z", Priority::High),   // overdue and due today
        ("2026-06-01T12:00:01Z", Priority::Low),    // due today
        ("2026-06-02T00:00:00Z", Priority::Low),    // tomorrow
    ] {
        let mut new = new_todo("t");
        new.due_at = Some(DueAt::parse(due).unwrap());
        new.priority = priority;
        store::create(&ctx, &ada, &new).unwrap();
    }
    let stats = store::stats(&ctx, &ada).unwrap();
    assert_eq!((stats.total, stats.open, stats.done), (4, 4, 0));
    assert_eq!(stats.overdue, 2);
    assert_eq!(stats.due_today, 2);
    assert_eq!(
        (
            stats.by_priority.low,
            stats.by_priority.medium,
            stats.by_priority.high,
            stats.by_priority.urgent
        ),
        (2, 0, 1, 1)
    );
    let q = ListQuery::parse("overdue=true").unwrap();
    assert_eq!(store::list(&ctx, &ada, &q).unwrap().total, 2);
}

#[test]
fn concurrent_updates_with_the_same_if_match_let_exactly_one_through() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ada = world.user("ada@example.com");
    let todo = store::create(&world.ctx(), &ada, &new_todo("contended")).unwrap();
    let results: Vec<Result<i64, TodoError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let world = &world;
                s.spawn(move || {
                    // Each thread has a connection of its own.
                    let db = world.test_db.db();
                    let ctx = Ctx::new(
                        &db,
                        &world.http,
                        &world.vars,
                        &world.clock,
                        PathBuf::from("static"),
                    );
                    let changes = TodoChanges {
                        title: Some(title(&format!("writer {i}"))),
                        ..TodoChanges::default()
                    };
                    store::update(&ctx, &ada, todo.id, &changes, Some(&[1])).map(|t| t.version)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wins = results.iter().filter(|r| matches!(r, Ok(2))).count();
    let stale = results
        .iter()
        .filter(|r| matches!(r, Err(TodoError::VersionMismatch { current: 2 })))
        .count();
    assert_eq!((wins, stale), (1, 7), "{results:?}");
    assert_eq!(store::get(&world.ctx(), &ada, todo.id).unwrap().version, 2);
    // One create and one update in the trail: losers wrote nothing.
    assert_eq!(audit_rows(&world, todo.id), 2);
}

#[test]
fn concurrent_toggles_apply_one_after_another() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ada = world.user("ada@example.com");
    let todo = store::create(&world.ctx(), &ada, &new_todo("flip")).unwrap();
    std::thread::scope(|s| {
        for _ in 0..6 {
            let world = &world;
            s.spawn(move || {
                let db = world.test_db.db();
                let ctx = Ctx::new(&db, &world.http, &world.vars, &world.clock, PathBuf::new());
                store::toggle(&ctx, &ada, todo.id, None).unwrap();
            });
        }
    });
    let after = store::get(&world.ctx(), &ada, todo.id).unwrap();
    assert_eq!(after.version, 7);
    assert!(!after.completed, "an even number of flips");
    // Each audit row shows the state it really changed from.
    let history = store::history(&world.ctx(), &ada, todo.id).unwrap();
    let flips: Vec<(bool, bool)> = history
        .iter()
        .filter(|h| h.action == "toggle")
        .map(|h| {
            let c = &h.changes["completed"];
            (c["old"].as_bool().unwrap(), c["new"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(flips.len(), 6);
    assert!(flips.iter().all(|(old, new)| old != new));
    assert_eq!(flips.iter().filter(|(_, new)| *new).count(), 3);
}

#[test]
fn a_refused_change_writes_no_audit_row() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let todo = store::create(&ctx, &ada, &new_todo("mine")).unwrap();
    let changes = TodoChanges {
        priority: Some(Priority::Urgent),
        ..TodoChanges::default()
    };
    assert!(matches!(
        store::update(&ctx, &ada, todo.id, &changes, Some(&[7])),
        Err(TodoError::VersionMismatch { current: 1 })
    ));
    assert!(matches!(
        store::update(&ctx, &bob, todo.id, &changes, None),
        Err(TodoError::NotFound)
    ));
    assert!(matches!(
        store::delete(&ctx, &bob, todo.id, None),
        Err(TodoError::NotFound)
    ));
    assert!(matches!(
        store::toggle(&ctx, &ada, todo.id, Some(&[])),
        Err(TodoError::VersionMismatch { current: 1 })
    ));
    assert_eq!(audit_rows(&world, todo.id), 1);
    assert_eq!(store::get(&ctx, &ada, todo.id).unwrap(), todo);
}

// ------------------------------------------------------------ query plans

/// The plan of one part of a list statement, run as the app runs it: a
/// scoped statement with that part alone.
fn plan(db: &NativeDb, part: Json<'_>, params: &Params) -> String {
    db.explain(&Caller::statement(&[], &[("part", part)], params.clone()))
        .unwrap()
}

/// Every list query (each sort, with and without a cursor, and each filter)
/// reads the todos of a user holding 10,000 of them through an index.
///
/// The page statements are checked with the planner's defaults. The count
/// statements read every matching todo of the user; with one user owning
/// the whole test table, a sequential read is genuinely the cheapest plan and
/// Postgres would rightly pick it, so they are checked with sequential scans
/// discouraged (`enable_seqscan = off`), which still shows a Seq Scan when no
/// index can serve the query. (In a table shared by many users the user's
/// index is selective and wins without help.)
#[test]
fn every_list_query_is_served_by_an_index() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let seeded = world
        .db
        .execute(
            "INSERT INTO todos (user_id, title, description, priority, completed, completed_at,
                                due_at, tags, recurrence, created_at, updated_at)
             SELECT $1::text::uuid, 'todo ' || i, 'about ' || (i % 97), i % 4, i % 3 = 0,
                    CASE WHEN i % 3 = 0 THEN now() END,
                    CASE WHEN i % 5 <> 0
                         THEN '2026-06-01T12:00:00Z'::timestamptz + (i - 5000) * interval '1 hour'
                    END,
                    ARRAY['tag' || (i % 20), 'all'], 'none',
                    '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute',
                    '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute'
             FROM generate_series(1, 10000) AS i",
            &[ada.user_id.into()],
        )
        .unwrap();
    assert_eq!(seeded, 10_000);
    for i in 0..20 {
        store::create(&ctx, &bob, &new_todo(&format!("bob {i}"))).unwrap();
    }
    store::delete(
        &ctx,
        &bob,
        store::list(&ctx, &bob, &ListQuery::default())
            .unwrap()
            .items[0]
            .id,
        None,
    )
    .unwrap();
    // As autovacuum leaves a table: statistics gathered, GIN pending lists merged.
    world.db.execute("VACUUM ANALYZE todos", &[]).unwrap();
    world.db.execute("ANALYZE todo_audit", &[]).unwrap();

    let sorts = [
        "-created_at",
        "created_at",
        "due_at",
        "-due_at",
        "priority",
        "-priority",
        "title",
        "-title",
    ];
    let filters = [
        "",
        "status=open",
        "status=done",
        "priority=high,urgent",
        "tag=tag7",
        "q=todo%2099",
        "due_before=2026-05-01",
        "due_after=2026-07-01",
        "overdue=true",
        "overdue=false",
        "updated_since=2026-01-07T00:00:00Z",
        "status=open&priority=low&tag=all&due_after=2026-01-01",
    ];
    // Searches of one or two characters are too short for a trigram index;
    // they are read through the user's index (checked like the counts).
    let short_searches = ["q=a", "q=99"];
    let mut queries = Vec::new();
    for sort in sorts {
        for filter in filters.iter().chain(&short_searches) {
            let q = ListQuery::parse(&format!("sort={sort}&{filter}")).unwrap();
            // The same query one page further on, through its cursor.
            let page = store::list(&ctx, &ada, &q).unwrap();
            if let Some(cursor) = page.next_cursor {
                let next = format!("sort={sort}&{filter}&cursor={cursor}");
                queries.push(ListQuery::parse(&next).unwrap());
            }
            queries.push(q);
        }
    }

    let discouraged = world.test_db.db();
    discouraged
        .execute("SET enable_seqscan = off", &[])
        .unwrap();
    let now = world.clock.now();
    let seq_scan = "Seq Scan on todos";
    for q in &queries {
        let sql = list_sql(&ada, q, now);
        let short_search = q.q.as_ref().is_some_and(|s| s.chars().count() < 3);
        let page_db = if short_search {
            &discouraged
        } else {
            &world.db
        };
        let page_plan = plan(page_db, Json::Rows(&sql.page), &sql.params);
        assert!(
            !page_plan.contains(seq_scan),
            "{q:?}\n{}\n{page_plan}",
            sql.page
        );
        let total_plan = plan(&discouraged, Json::Value(&sql.total), &sql.params);
        assert!(
            !total_plan.contains(seq_scan),
            "{q:?}\n{}\n{total_plan}",
            sql.total
        );
        if let Some(deleted) = &sql.deleted {
            // The audit table is tiny here; show that its index can serve it.
            let deleted_plan = plan(&discouraged, Json::Value(deleted), &sql.params);
            assert!(
                !deleted_plan.contains("Seq Scan on todo_audit"),
                "{deleted_plan}"
            );
        }
    }
    // The plain first page, the most common request, reads only its rows.
    let first = list_sql(&ada, &ListQuery::default(), now);
    let first_plan = plan(&world.db, Json::Rows(&first.page), &first.params);
    assert!(first_plan.contains("Index Scan"), "{first_plan}");
    assert!(!first_plan.contains("Sort"), "{first_plan}");
}
