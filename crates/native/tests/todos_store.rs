//! The todos library API (`todo_core::todos::store`), as the chat assistant
//! and the MCP server call it in process, against a fresh database per test
//! and with a clock the test controls. Also: every list query is served by an
//! index on a user holding 10,000 todos.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use native::testing::{parse_time, TestClock, TestDb, TestVars};
use native::{AllowedHosts, NativeDb, NativeHttp};
use todo_core::auth::Caller;
use todo_core::db::Json;
use todo_core::ports::Db;
use todo_core::ports::{Clock, Ctx};
use todo_core::todos::store::{self, list_sql, ListSql, TodoError};
use todo_core::todos::{
    Description, DueAt, HistoryQuery, ListQuery, NewTodo, Priority, Recurrence, SyncToken, Tags,
    TodoChanges, TodoTitle,
};
use uuid::Uuid;

fn at(rfc3339: &str) -> DateTime<Utc> {
    parse_time(rfc3339)
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
        Ctx::new(&self.db, &self.http, &self.vars, &self.clock)
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

    let stats = store::stats(&ctx, &ada, None).unwrap();
    assert_eq!((stats.total, stats.done, stats.by_priority.high), (1, 1, 1));

    assert_eq!(store::clear_completed(&ctx, &ada, None, None).unwrap(), 1);
    assert!(matches!(
        store::get(&ctx, &ada, todo.id),
        Err(TodoError::NotFound)
    ));
    let history = store::history(&ctx, &ada, todo.id, &HistoryQuery::default())
        .unwrap()
        .items;
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["delete", "toggle", "update", "create"]);
    assert_eq!(history[0].at, at("2026-06-01T13:00:00Z"));
    assert_eq!(history[3].at, at("2026-06-01T12:00:00Z"));
    assert!(matches!(
        store::history(&ctx, &ada, Uuid::new_v4(), &HistoryQuery::default()),
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
    let stats = store::stats(&ctx, &ada, None).unwrap();
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
                    let ctx = Ctx::new(&db, &world.http, &world.vars, &world.clock);
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
                let ctx = Ctx::new(&db, &world.http, &world.vars, &world.clock);
                store::toggle(&ctx, &ada, todo.id, None).unwrap();
            });
        }
    });
    let after = store::get(&world.ctx(), &ada, todo.id).unwrap();
    assert_eq!(after.version, 7);
    assert!(!after.completed, "an even number of flips");
    // Each audit row shows the state it really changed from.
    let history = store::history(&world.ctx(), &ada, todo.id, &HistoryQuery::default())
        .unwrap()
        .items;
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
/// scoped statement with that part alone, planned once for any arguments
/// (a generic plan names the parameters, where a custom one shows values).
fn plan(db: &NativeDb, sql: &ListSql, part: Json<'_>) -> String {
    let ctes: Vec<&str> = sql.ctes.iter().map(String::as_str).collect();
    let plan = db
        .explain(&Caller::statement(
            &ctes,
            &[("part", part)],
            sql.params.clone(),
        ))
        .unwrap();
    assert!(plan.contains("($1)::uuid"), "not a generic plan: {plan}");
    plan
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
        let cursor = store::open_cursor(&ctx, q).unwrap();
        let sql = list_sql(&ada, q, cursor.as_ref(), now);
        let short_search = q.q.as_ref().is_some_and(|s| s.chars().count() < 3);
        let page_db = if short_search {
            &discouraged
        } else {
            &world.db
        };
        let page_plan = plan(page_db, &sql, Json::Rows(&sql.page));
        assert!(
            !page_plan.contains(seq_scan),
            "{q:?}\n{}\n{page_plan}",
            sql.page
        );
        let total_plan = plan(&discouraged, &sql, Json::Value(&sql.total));
        assert!(
            !total_plan.contains(seq_scan),
            "{q:?}\n{}\n{total_plan}",
            sql.total
        );
        // The audit table is tiny here; show that its index can serve it.
        let deleted_plan = plan(&discouraged, &sql, Json::Value(&sql.deleted));
        assert!(
            !deleted_plan.contains("Seq Scan on todo_audit"),
            "{deleted_plan}"
        );
    }
    // The plain first page, the most common request, reads at most a page
    // of each list, in order, from the list's index (and sorts only those).
    let first = list_sql(&ada, &ListQuery::default(), None, now);
    let first_plan = plan(&world.db, &first, Json::Rows(&first.page));
    assert!(
        first_plan.contains("Index Scan using todos_list_created on todos"),
        "{first_plan}"
    );
    let per_list = first_plan.split("Nested Loop").nth(1).unwrap_or_default();
    assert!(per_list.contains("Limit"), "{first_plan}");
    assert!(!per_list.contains("Sort"), "{first_plan}");
}

/// A long-poll sends the delta sync's statement every half second while it
/// waits, so that statement must read only the rows after the token, through
/// `todos_user_change` and `todo_audit_deleted_seq`: here for a user holding
/// 10,000 todos and 5,000 tombstones, among other users' changes.
#[test]
fn the_long_poll_check_reads_changes_through_their_indexes() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    world
        .db
        .execute(
            "WITH todos_seeded AS (
                INSERT INTO todos (user_id, title, created_at, updated_at, change_seq)
                SELECT $1::text::uuid, 'todo ' || i,
                       '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute',
                       '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute', i
                FROM generate_series(1, 9999) AS i),
             tombstones AS (
                INSERT INTO todo_audit (user_id, todo_id, action, at, change_seq)
                SELECT $1::text::uuid, gen_random_uuid(), 'delete',
                       '2026-03-01T00:00:00Z'::timestamptz + i * interval '1 minute', 10000 + i
                FROM generate_series(1, 5000) AS i)
             , counted AS (UPDATE users SET todo_count = 9999 WHERE id = $1::text::uuid)
             UPDATE lists SET change_seq = 15000 WHERE owner_id = $1::text::uuid AND inbox",
            &[ada.user_id.into()],
        )
        .unwrap();
    for i in 0..20 {
        let todo = store::create(&ctx, &bob, &new_todo(&format!("bob {i}"))).unwrap();
        store::delete(&ctx, &bob, todo.id, None).unwrap();
    }
    let mine = store::create(&ctx, &ada, &new_todo("seen")).unwrap();
    store::delete(&ctx, &ada, mine.id, None).unwrap();
    world.db.execute("VACUUM ANALYZE todos", &[]).unwrap();
    world.db.execute("VACUUM ANALYZE todo_audit", &[]).unwrap();

    // Caught up: Ada's latest change is that delete.
    let feed = store::changes(&ctx, &ada, &opened(&ctx, &ada, "0000000000003a99"), 10).unwrap();
    let caught_up = opened(&ctx, &ada, &feed.sync_token);
    assert_eq!(caught_up.positions.len(), 1);
    assert_eq!(caught_up.positions[0].seq, 15_002);
    let statement = store::changes_statement(&ada, &caught_up, 50);
    let plan = world.db.explain(&statement).unwrap();
    assert!(plan.contains("todos_list_change"), "{plan}");
    assert!(plan.contains("todo_audit_list_gone"), "{plan}");
    assert!(plan.contains("todo_audit_list_reminders"), "{plan}");
    // The todos of a list the caller lost are read once, whole: with one
    // list holding the whole table a sequential read is the cheapest plan
    // for them, so the check is that an index can serve every part.
    let discouraged = world.test_db.db();
    discouraged
        .execute("SET enable_seqscan = off", &[])
        .unwrap();
    let plan = discouraged.explain(&statement).unwrap();
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

// ------------------------------------------------------------ limits that cannot be raced

fn set_todo_count(world: &World, user: &Caller, n: i32) {
    world
        .test_db
        .client()
        .execute(
            "UPDATE users SET todo_count = $1 WHERE id = $2::text::uuid",
            &[&n, &user.user_id.to_string()],
        )
        .unwrap();
}

/// Each thread has a connection of its own, as concurrent requests do.
fn in_parallel<T: Send>(world: &World, n: usize, run: impl Fn(&Ctx, usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let run = &run;
                s.spawn(move || {
                    let db = world.test_db.db();
                    let ctx = Ctx::new(&db, &world.http, &world.vars, &world.clock);
                    run(&ctx, i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_creates_never_pass_the_limit() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ada = world.user("ada@example.com");
    // The limit counts the user's todos on the user row; start just below it.
    set_todo_count(
        &world,
        &ada,
        (todo_core::todos::MAX_TODOS_PER_USER - 3) as i32,
    );
    let results = in_parallel(&world, 12, |ctx, i| {
        store::create(ctx, &ada, &new_todo(&format!("racer {i}")))
    });
    let created = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(TodoError::LimitReached { .. })))
        .count();
    assert_eq!((created, refused), (3, 9), "{results:?}");
    // Deleting gives room back, exactly.
    let one = results.iter().find_map(|r| r.as_ref().ok()).unwrap();
    store::delete(&world.ctx(), &ada, one.id, None).unwrap();
    store::create(&world.ctx(), &ada, &new_todo("after a delete")).unwrap();
    assert!(matches!(
        store::create(&world.ctx(), &ada, &new_todo("one too many")),
        Err(TodoError::LimitReached { .. })
    ));
}

/// The user row's todo counter and latest change number.
/// A sync token as the API handed it out, opened.
fn opened(ctx: &Ctx, user: &Caller, raw: &str) -> SyncToken {
    store::open_token(ctx, user, raw, "since").unwrap()
}

/// The user's todo count and their Inbox's change number.
fn counters(world: &World, user: &Caller) -> (i32, i64) {
    let row = world
        .test_db
        .client()
        .query_one(
            "SELECT u.todo_count, l.change_seq FROM users u JOIN lists l ON l.owner_id = u.id
             WHERE u.id = $1::text::uuid AND l.inbox",
            &[&user.user_id.to_string()],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn many_todos_are_created_in_their_order_as_one_change() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let before = store::list(&ctx, &ada, &ListQuery::default()).unwrap();

    let mut first = new_todo("water the plants");
    first.priority = Priority::Urgent;
    first.tags = Tags::parse(&["Home", "garden"]).unwrap();
    first.due_at = Some(DueAt::parse("2026-06-02").unwrap());
    first.recurrence = Recurrence::Weekly;
    let news = [first, new_todo("pay rent"), new_todo("call mom")];
    let created = store::create_many(&ctx, &ada, &news).unwrap();
    let titles: Vec<&str> = created.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["water the plants", "pay rent", "call mom"]);
    assert_eq!(created[0].priority, Priority::Urgent);
    assert_eq!(created[0].tags, ["home", "garden"]);
    assert_eq!(created[0].due_at, Some(at("2026-06-02T00:00:00Z")));
    assert_eq!(created[0].recurrence, Recurrence::Weekly);
    assert_eq!(created[1].priority, Priority::Medium);
    assert_eq!(created[0].created_at, at("2026-06-01T12:00:00Z"));
    for (todo, next) in created.iter().zip(&created[1..]) {
        assert!(todo.created_at < next.created_at, "{created:?}");
    }
    for todo in &created {
        assert_eq!(store::get(&ctx, &ada, todo.id).unwrap(), *todo);
        assert_eq!(audit_rows(&world, todo.id), 1);
    }
    // Newest first, as any list: the message's order, reversed.
    let listed = store::list(&ctx, &ada, &ListQuery::default()).unwrap();
    let ids: Vec<Uuid> = listed.items.iter().rev().map(|t| t.id).collect();
    assert_eq!(ids, created.iter().map(|t| t.id).collect::<Vec<_>>());
    // One change: counted once, and followed by sync like any other.
    assert_eq!(counters(&world, &ada), (3, 1));
    let feed = store::changes(&ctx, &ada, &opened(&ctx, &ada, &before.sync_token), 2).unwrap();
    assert_eq!(feed.items.len(), 2);
    assert!(feed.has_more);
    let rest = store::changes(&ctx, &ada, &opened(&ctx, &ada, &feed.sync_token), 2).unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(!rest.has_more);
    // Nothing to create is nothing done.
    assert_eq!(store::create_many(&ctx, &ada, &[]).unwrap(), Vec::new());
    assert_eq!(counters(&world, &ada), (3, 1));
}

#[test]
fn many_todos_that_would_pass_the_limit_are_none_of_them_created() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let max = todo_core::todos::MAX_TODOS_PER_USER as i32;
    set_todo_count(&world, &ada, max - 2);
    let three = [new_todo("a"), new_todo("b"), new_todo("c")];
    assert!(matches!(
        store::create_many(&ctx, &ada, &three),
        Err(TodoError::LimitReached { limit: 10_000 })
    ));
    let page = store::list(&ctx, &ada, &ListQuery::parse("status=all").unwrap()).unwrap();
    assert_eq!(page.total, 0);
    assert_eq!(counters(&world, &ada), (max - 2, 0));
    // Exactly up to the limit fits.
    assert_eq!(
        store::create_many(&ctx, &ada, &three[..2]).unwrap().len(),
        2
    );
    assert_eq!(counters(&world, &ada), (max, 1));
    assert!(matches!(
        store::create(&ctx, &ada, &new_todo("d")),
        Err(TodoError::LimitReached { .. })
    ));
}

#[test]
fn concurrent_deletes_of_one_todo_answer_one_success_and_404s() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ada = world.user("ada@example.com");
    let todo = store::create(&world.ctx(), &ada, &new_todo("once")).unwrap();
    let results = in_parallel(&world, 8, |ctx, _| {
        store::delete(ctx, &ada, todo.id, Some(&[1]))
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(TodoError::NotFound))));
}

#[test]
fn an_occurrence_spawns_its_successor_once_however_often_it_is_completed() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let mut new = new_todo("water plants");
    new.recurrence = Recurrence::Daily;
    new.due_at = Some(DueAt::parse("2026-06-01T18:00:00Z").unwrap());
    let todo = store::create(&ctx, &ada, &new).unwrap();
    let first = store::toggle(&ctx, &ada, todo.id, None).unwrap();
    assert!(first.next.is_some());
    let reopened = store::toggle(&ctx, &ada, todo.id, None).unwrap();
    assert!(!reopened.todo.completed && reopened.next.is_none());
    let again = store::toggle(&ctx, &ada, todo.id, None).unwrap();
    assert!(again.todo.completed);
    assert!(again.next.is_none(), "a second successor: {:?}", again.next);
    assert_eq!(
        store::list(&ctx, &ada, &ListQuery::default())
            .unwrap()
            .total,
        2
    );
}

#[test]
fn monthly_recurrence_keeps_the_day_of_the_month() {
    let world = World::new("2026-01-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let mut new = new_todo("pay rent");
    new.recurrence = Recurrence::Monthly;
    new.due_at = Some(DueAt::parse("2026-01-31T09:30:00Z").unwrap());
    let mut id = store::create(&ctx, &ada, &new).unwrap().id;
    let mut dues = Vec::new();
    for _ in 0..4 {
        let next = store::toggle(&ctx, &ada, id, None).unwrap().next.unwrap();
        dues.push(next.due_at.unwrap().to_rfc3339());
        id = next.id;
    }
    assert_eq!(
        dues,
        [
            "2026-02-28T09:30:00+00:00",
            "2026-03-31T09:30:00+00:00",
            "2026-04-30T09:30:00+00:00",
            "2026-05-31T09:30:00+00:00",
        ]
    );
    // A new due date starts a new series with its own day.
    let changes = TodoChanges {
        due_at: Some(Some(DueAt::parse("2026-06-15T09:30:00Z").unwrap())),
        ..TodoChanges::default()
    };
    store::update(&ctx, &ada, id, &changes, None).unwrap();
    let next = store::toggle(&ctx, &ada, id, None).unwrap().next.unwrap();
    assert_eq!(
        next.due_at.unwrap().to_rfc3339(),
        "2026-07-15T09:30:00+00:00"
    );
}

#[test]
fn a_successor_past_the_last_accepted_day_is_not_created() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let mut new = new_todo("far future");
    new.recurrence = Recurrence::Weekly;
    new.due_at = Some(DueAt::parse("9999-12-28T00:00:00Z").unwrap());
    let todo = store::create(&ctx, &ada, &new).unwrap();
    let toggled = store::toggle(&ctx, &ada, todo.id, None).unwrap();
    assert!(toggled.todo.completed);
    assert!(toggled.next.is_none());
    // The list still reads everything back.
    assert_eq!(
        store::list(&ctx, &ada, &ListQuery::default())
            .unwrap()
            .total,
        1
    );
}

#[test]
fn a_change_that_changes_nothing_is_not_a_new_version() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let mut new = new_todo("same");
    new.tags = Tags::parse(&["a", "b"]).unwrap();
    let todo = store::create(&ctx, &ada, &new).unwrap();
    world.clock.set("2026-06-02T12:00:00Z");
    let same = TodoChanges {
        title: Some(title("same")),
        tags: Some(Tags::parse(&["a", "b"]).unwrap()),
        ..TodoChanges::default()
    };
    assert_eq!(
        store::update(&ctx, &ada, todo.id, &same, Some(&[1])).unwrap(),
        todo
    );
    assert_eq!(
        store::replace(&ctx, &ada, todo.id, new, None).unwrap(),
        todo
    );
    assert_eq!(audit_rows(&world, todo.id), 1);
    // A stale If-Match is still refused, change or not.
    assert!(matches!(
        store::update(&ctx, &ada, todo.id, &same, Some(&[9])),
        Err(TodoError::VersionMismatch { current: 1 })
    ));
}

// ------------------------------------------------------------ sync

/// A client that follows the sync tokens while writers change todos
/// concurrently ends up with exactly the server's todos: no change is
/// skipped, however the writes interleave with the reads.
#[test]
fn following_sync_tokens_never_misses_a_concurrent_change() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    let world = World::new("2026-06-01T12:00:00Z");
    let ada = world.user("ada@example.com");
    let start = store::list(&world.ctx(), &ada, &ListQuery::default()).unwrap();
    let mut token = opened(&world.ctx(), &ada, &start.sync_token);
    let mut mirror: BTreeMap<Uuid, i64> = BTreeMap::new();
    let writing = AtomicBool::new(true);

    std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let world = &world;
                s.spawn(move || {
                    let db = world.test_db.db();
                    let ctx = Ctx::new(&db, &world.http, &world.vars, &world.clock);
                    for i in 0..25 {
                        let todo =
                            store::create(&ctx, &ada, &new_todo(&format!("w{w} {i}"))).unwrap();
                        if i % 3 == 0 {
                            store::toggle(&ctx, &ada, todo.id, None).unwrap();
                        }
                        if i % 5 == 0 {
                            store::delete(&ctx, &ada, todo.id, None).unwrap();
                        }
                    }
                })
            })
            .collect();
        let db = world.test_db.db();
        let ctx = Ctx::new(&db, &world.http, &world.vars, &world.clock);
        let mut sync = |token: &mut SyncToken| loop {
            let feed = store::changes(&ctx, &ada, token, 7).unwrap();
            for todo in feed.items {
                mirror.insert(todo.id, todo.version);
            }
            for id in feed.deleted {
                mirror.remove(&id);
            }
            *token = opened(&ctx, &ada, &feed.sync_token);
            if !feed.has_more {
                break;
            }
        };
        while writing.load(Ordering::Relaxed) {
            sync(&mut token);
            if writers.iter().all(|w| w.is_finished()) {
                writing.store(false, Ordering::Relaxed);
            }
        }
        sync(&mut token);
    });

    let server: BTreeMap<Uuid, i64> =
        store::list(&world.ctx(), &ada, &ListQuery::parse("limit=100").unwrap())
            .unwrap()
            .items
            .into_iter()
            .map(|t| (t.id, t.version))
            .collect();
    assert_eq!(server.len(), 80);
    assert_eq!(mirror, server);
}

#[test]
fn one_change_larger_than_a_page_is_split_across_pages_without_loss() {
    let world = World::new("2026-06-01T12:00:00Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let mut ids = Vec::new();
    for i in 0..5 {
        let todo = store::create(&ctx, &ada, &new_todo(&format!("t{i}"))).unwrap();
        store::toggle(&ctx, &ada, todo.id, None).unwrap();
        ids.push(todo.id);
    }
    let token = store::list(&ctx, &ada, &ListQuery::default())
        .unwrap()
        .sync_token;
    assert_eq!(store::clear_completed(&ctx, &ada, None, None).unwrap(), 5);
    let mut token = opened(&ctx, &ada, &token);
    let mut deleted = Vec::new();
    let mut pages = 0;
    loop {
        let feed = store::changes(&ctx, &ada, &token, 2).unwrap();
        assert!(feed.items.is_empty());
        assert!(feed.deleted.len() <= 2);
        deleted.extend(feed.deleted);
        pages += 1;
        token = opened(&ctx, &ada, &feed.sync_token);
        if !feed.has_more {
            break;
        }
    }
    assert_eq!(pages, 3);
    deleted.sort();
    ids.sort();
    assert_eq!(deleted, ids);
    // Nothing more after the last token.
    let feed = store::changes(&ctx, &ada, &token, 2).unwrap();
    assert!(feed.items.is_empty() && feed.deleted.is_empty() && !feed.has_more);
}

/// The REST list writes a page from PostgreSQL's rows (`list_json`)
/// rather than through `Todo`: the same bytes as the library's page
/// serialized, for todos that use every field, on every kind of page.
#[test]
fn the_rest_list_writes_each_page_as_the_library_reads_it() {
    #[derive(serde::Deserialize)]
    struct Items<'a> {
        #[serde(borrow)]
        items: &'a serde_json::value::RawValue,
    }
    let world = World::new("2026-06-01T12:00:00.123456Z");
    let ctx = world.ctx();
    let ada = world.user("ada@example.com");
    let titles = [
        "pay \"rent\" \\ now",
        "café ünïcödé 😀 </script> & 'quotes'",
        "plain",
    ];
    let mut ids = Vec::new();
    for (i, title_text) in titles.iter().enumerate() {
        let mut new = new_todo(title_text);
        new.description = Description::parse("line one\nline two\ttabbed \u{1} \"q\" \\").unwrap();
        new.priority = Priority::ALL[i % 4];
        new.tags = Tags::parse(&["Home", "café"]).unwrap();
        new.due_at = Some(
            DueAt::parse(
                [
                    "2026-06-02",
                    "2026-06-03T08:30:00.5+02:00",
                    "2026-07-01T00:00:00.000001Z",
                ][i],
            )
            .unwrap(),
        );
        new.remind_at = (i == 1).then(|| DueAt::parse("2026-06-02T07:00:00Z").unwrap());
        new.recurrence =
            Recurrence::parse(["daily", "rrule:freq=daily;interval=3", "none"][i]).unwrap();
        ids.push(store::create(&ctx, &ada, &new).unwrap().id);
    }
    store::toggle(&ctx, &ada, ids[0], None).unwrap();
    store::delete(&ctx, &ada, ids[2], None).unwrap();
    for query in [
        "",
        "limit=1",
        "sort=title&limit=2",
        "status=open",
        "updated_since=2026-01-01T00:00:00Z",
        "sort=-due_at&priority=urgent,low",
    ] {
        let q = ListQuery::parse(query).unwrap();
        let page = store::list(&ctx, &ada, &q).unwrap();
        let bytes = store::list_json(&ctx, &ada, &q).unwrap();
        // The items to the byte.
        let items: Items = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            items.items.get(),
            serde_json::to_string(&page.items).unwrap(),
            "{query}"
        );
        // The rest as values: cursors and sync tokens are sealed with a
        // fresh nonce each time, so a cursor is compared by where it leads.
        let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let read = serde_json::to_value(&page).unwrap();
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&written), keys(&read), "{query}");
        assert_eq!(written["total"], read["total"], "{query}");
        assert_eq!(written["deleted"], read["deleted"], "{query}");
        let first_after = |page: &serde_json::Value| {
            let cursor = page["next_cursor"].as_str()?;
            let next = ListQuery::parse(&format!("{query}&cursor={cursor}")).unwrap();
            Some(
                store::list(&ctx, &ada, &next)
                    .unwrap()
                    .items
                    .first()
                    .map(|t| t.id),
            )
        };
        assert_eq!(first_after(&written), first_after(&read), "{query}");
        assert!(written["sync_token"].is_string(), "{query}");
    }
}
